/* SHA-256 against the published FIPS 180-4 test vectors, fed whole and in
 * awkward pieces so block boundaries and padding are exercised. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sha256.h"
#include "util.h"

static void digest_in_pieces(const char *msg, size_t len, size_t piece, char out[65])
{
    struct sha256 s;
    unsigned char md[32];
    sha256_init(&s);
    for (size_t i = 0; i < len; i += piece)
        sha256_update(&s, msg + i, len - i < piece ? len - i : piece);
    sha256_final(&s, md);
    sha256_hex(md, out);
}

static void test_sha256_matches_the_standard_vectors(void **state)
{
    static const struct {
        const char *msg;
        const char *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmno"
         "pqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t len = strlen(v[i].msg);
        for (size_t piece = 1; piece <= 65; piece += 7) {
            char out[65];
            digest_in_pieces(v[i].msg, len, piece, out);
            assert_string_equal(out, v[i].hex);
        }
        char one[65];
        assert_int_equal(util_sha256_hex(v[i].msg, len, one), 0);
        assert_string_equal(one, v[i].hex);
    }
}

static void test_sha256_of_a_million_a(void **state)
{
    size_t n = 1000000;
    char *m = malloc(n);
    assert_non_null(m);
    memset(m, 'a', n);
    char out[65];
    digest_in_pieces(m, n, 4099, out);
    assert_string_equal(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(m);
}

static void test_sha256_padding_edges_differ(void **state)
{
    /* Lengths around the 55/56/64-byte padding boundaries. */
    char buf[130], prev[65] = "";
    memset(buf, 'x', sizeof(buf));
    for (size_t len = 50; len < 130; len++) {
        char a[65], b[65];
        digest_in_pieces(buf, len, len, a);
        digest_in_pieces(buf, len, 3, b);
        assert_string_equal(a, b);
        assert_string_not_equal(a, prev);
        memcpy(prev, a, sizeof(prev));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_matches_the_standard_vectors),
        cmocka_unit_test(test_sha256_of_a_million_a),
        cmocka_unit_test(test_sha256_padding_edges_differ),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
