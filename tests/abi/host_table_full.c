/* The SDK test kit's host table has no NULL entry: every function pointer
 * from `log` to the end of struct dc_host (whatever minor version the
 * headers are at) is set, and struct_size covers the whole struct. A host
 * entry appended without a fake in sdk/testing/testing.c fails here. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <datachat/testing.h>

typedef void (*any_fn)(void);

int main(void)
{
    struct dc_test_host *t = dc_test_host_new();
    if (!t) {
        fprintf(stderr, "FAIL: dc_test_host_new returned NULL\n");
        return 1;
    }
    const struct dc_host *h = dc_test_host_table(t);
    int bad = 0;
    if (h->struct_size != sizeof(struct dc_host) || h->abi_major != DC_ABI_MAJOR ||
        h->abi_minor != DC_ABI_MINOR) {
        fprintf(stderr, "FAIL: struct_size %zu (want %zu), ABI %u.%u (want %d.%d)\n",
                h->struct_size, sizeof(struct dc_host), h->abi_major, h->abi_minor,
                DC_ABI_MAJOR, DC_ABI_MINOR);
        bad = 1;
    }
    /* Everything after `self` is a function pointer. */
    size_t first = offsetof(struct dc_host, log);
    size_t n = 0;
    for (size_t off = first; off + sizeof(any_fn) <= sizeof(struct dc_host);
         off += sizeof(any_fn), n++) {
        any_fn f;
        memcpy(&f, (const char *)h + off, sizeof(f));
        if (!f) {
            fprintf(stderr, "FAIL: host table entry %zu (byte offset %zu) is NULL; add a "
                            "fake for it to sdk/testing/testing.c\n",
                    n, off);
            bad = 1;
        }
    }
    dc_test_host_free(t);
    if (!bad)
        printf("ok: all %zu host entries are filled\n", n);
    return bad;
}
