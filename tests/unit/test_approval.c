/* Approvals: a token is granted once per pending request, spent once, only
 * for the exact tool and arguments it was granted for, and not after its
 * timeout; the store survives between processes (here: between calls). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <datachat/value.h>

#include "approval.h"

static char path[256];

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof(path), "/tmp/dc-approval-test-%ld.json", (long)getpid());
    unlink(path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char lock[300];
    snprintf(lock, sizeof(lock), "%s.lock", path);
    unlink(path);
    unlink(lock);
    return 0;
}

static void grant(const char *tool, const char *args, int64_t timeout, char token[65])
{
    char id[33], code[32], err[256];
    assert_int_equal(approval_request(path, tool, args, timeout, id, err, sizeof(err)), DC_OK);
    assert_int_equal(strlen(id), 32);
    assert_int_equal(approval_grant(path, id, timeout, token, code, err, sizeof(err)), DC_OK);
    assert_int_equal(strlen(token), 64);
    /* granted once only */
    char again[65];
    assert_int_equal(approval_grant(path, id, timeout, again, code, err, sizeof(err)),
                     DC_EDENIED);
    assert_string_equal(code, "E-APPROVAL-GRANTED");
}

static void test_a_token_is_spent_on_its_first_use(void **state)
{
    (void)state;
    char token[65], code[32], err[256];
    grant("update_datapoint", "{\"id\":\"a\"}", 60, token);
    assert_int_equal(approval_consume(path, token, "update_datapoint", "{\"id\":\"a\"}", code,
                                      err, sizeof(err)),
                     DC_OK);
    assert_int_equal(approval_consume(path, token, "update_datapoint", "{\"id\":\"a\"}", code,
                                      err, sizeof(err)),
                     DC_EDENIED);
    assert_string_equal(code, "E-APPROVAL-REUSED");
}

static void test_a_token_is_bound_to_the_tool_and_the_arguments(void **state)
{
    (void)state;
    char token[65], code[32], err[256];
    grant("update_datapoint", "{\"id\":\"a\"}", 60, token);
    assert_int_equal(approval_consume(path, token, "update_datapoint", "{\"id\":\"b\"}", code,
                                      err, sizeof(err)),
                     DC_EDENIED);
    assert_string_equal(code, "E-APPROVAL-MISMATCH");
    assert_int_equal(approval_consume(path, token, "other_tool", "{\"id\":\"a\"}", code, err,
                                      sizeof(err)),
                     DC_EDENIED);
    assert_string_equal(code, "E-APPROVAL-MISMATCH");
    /* a refused mismatch does not spend it */
    assert_int_equal(approval_consume(path, token, "update_datapoint", "{\"id\":\"a\"}", code,
                                      err, sizeof(err)),
                     DC_OK);
}

static void test_unknown_tokens_and_ids_are_refused(void **state)
{
    (void)state;
    char token[65], code[32], err[256];
    assert_int_equal(approval_consume(path, "00", "t", "{}", code, err, sizeof(err)),
                     DC_EDENIED);
    assert_string_equal(code, "E-APPROVAL-INVALID");
    assert_int_equal(approval_grant(path, "nope", 60, token, code, err, sizeof(err)),
                     DC_ENOTFOUND);
    assert_string_equal(code, "E-APPROVAL-UNKNOWN");
}

static void test_an_expired_token_is_refused(void **state)
{
    (void)state;
    char token[65], code[32], err[256];
    grant("update_datapoint", "{}", 1, token);
    sleep(2);
    assert_int_equal(approval_consume(path, token, "update_datapoint", "{}", code, err,
                                      sizeof(err)),
                     DC_EDENIED);
    assert_string_equal(code, "E-APPROVAL-EXPIRED");
}

static void test_the_binding_separates_tool_from_arguments(void **state)
{
    (void)state;
    char a[65], b[65];
    approval_binding("ab", "c", a);
    approval_binding("a", "bc", b);
    assert_string_not_equal(a, b);
}

static void test_a_corrupt_store_is_reported_not_overwritten(void **state)
{
    (void)state;
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("garbage", f);
    fclose(f);
    char id[33], err[256];
    assert_int_equal(approval_request(path, "t", "{}", 60, id, err, sizeof(err)), DC_EINVAL);
    assert_non_null(strstr(err, "E-APPROVAL-STORE"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_token_is_spent_on_its_first_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_token_is_bound_to_the_tool_and_the_arguments,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_tokens_and_ids_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_an_expired_token_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_binding_separates_tool_from_arguments, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_corrupt_store_is_reported_not_overwritten, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
