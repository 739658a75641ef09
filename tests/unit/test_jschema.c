/* Tool argument validation: each keyword of the supported subset accepts
 * what it should, refuses what it should with the field's path, and the
 * only coercion is exact numeric text where the schema wants a number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <datachat/value.h>

#include "jschema.h"

static const char *schema =
    "{\"type\":\"object\",\"properties\":{"
    "\"sql\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":10},"
    "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000},"
    "\"ratio\":{\"type\":\"number\"},"
    "\"mode\":{\"enum\":[\"fast\",\"slow\"]},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":3}},"
    "\"opt\":{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"}},"
    "\"required\":[\"n\"]}},"
    "\"required\":[\"sql\"],\"additionalProperties\":false}";

static char *check(const char *args, char *err, size_t errlen, int *rc)
{
    char *canon = NULL;
    err[0] = '\0';
    *rc = jschema_check_text(schema, args, "arguments", &canon, err, errlen);
    return canon;
}

static void expect_error(const char *args, const char *want)
{
    char err[512];
    int rc;
    char *canon = check(args, err, sizeof(err), &rc);
    assert_int_equal(rc, DC_EINVAL);
    assert_null(canon);
    if (!strstr(err, want))
        fail_msg("for %s: wanted '%s' in '%s'", args, want, err);
}

static void expect_canon(const char *args, const char *want)
{
    char err[512];
    int rc;
    char *canon = check(args, err, sizeof(err), &rc);
    if (rc != DC_OK)
        fail_msg("for %s: %s", args, err);
    assert_string_equal(canon, want);
    free(canon);
}

static void test_valid_arguments_come_back_canonical_with_sorted_keys(void **state)
{
    (void)state;
    expect_canon("{\"sql\":\"x\", \"limit\": 5}", "{\"limit\":5,\"sql\":\"x\"}");
    expect_canon("{\"limit\":5,\"sql\":\"x\"}", "{\"limit\":5,\"sql\":\"x\"}");
    expect_canon("{\"sql\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                 "\xc3\xa9\xc3\xa9\"}",
                 "{\"sql\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                 "\xc3\xa9\xc3\xa9\"}");
}

static void test_exact_numeric_text_is_coerced_where_a_number_is_wanted(void **state)
{
    (void)state;
    expect_canon("{\"sql\":\"x\",\"limit\":\"5\"}", "{\"limit\":5,\"sql\":\"x\"}");
    expect_canon("{\"sql\":\"x\",\"ratio\":\"2.5\"}", "{\"ratio\":2.5,\"sql\":\"x\"}");
    expect_canon("{\"sql\":\"x\",\"opt\":{\"n\":\"-3\"}}", "{\"opt\":{\"n\":-3},\"sql\":\"x\"}");
    expect_error("{\"sql\":\"x\",\"limit\":\"5 \"}", "arguments.limit: must be an integer");
    expect_error("{\"sql\":\"x\",\"limit\":\" 5\"}", "arguments.limit: must be an integer");
    expect_error("{\"sql\":\"x\",\"limit\":\"0x10\"}", "arguments.limit: must be an integer");
    expect_error("{\"sql\":\"x\",\"limit\":\"2.5\"}", "arguments.limit: must be an integer");
    expect_error("{\"sql\":\"x\",\"limit\":\"\"}", "arguments.limit: must be an integer");
    expect_error("{\"sql\":5}", "arguments.sql: must be a string, not integer");
}

static void test_violations_name_the_field_path(void **state)
{
    (void)state;
    expect_error("{}", "arguments.sql: is required");
    expect_error("{\"sql\":\"x\",\"limit\":1001}", "arguments.limit: must be <= 1000");
    expect_error("{\"sql\":\"x\",\"limit\":0}", "arguments.limit: must be >= 1");
    expect_error("{\"sql\":\"x\",\"limit\":\"1001\"}", "arguments.limit: must be <= 1000");
    expect_error("{\"sql\":\"\"}", "arguments.sql: must be at least 1 characters long");
    expect_error("{\"sql\":\"01234567890\"}", "arguments.sql: must be at most 10 characters");
    expect_error("{\"sql\":\"x\",\"extra\":1}", "arguments.extra: is not a parameter");
    expect_error("{\"sql\":\"x\",\"mode\":\"medium\"}", "arguments.mode: must be one of");
    expect_error("{\"sql\":\"x\",\"tags\":[\"a\",\"abcd\"]}",
                 "arguments.tags[1]: must be at most 3 characters");
    expect_error("{\"sql\":\"x\",\"tags\":\"a\"}", "arguments.tags: must be an array");
    expect_error("{\"sql\":\"x\",\"opt\":{}}", "arguments.opt.n: is required");
    expect_error("{\"sql\":\"x\",\"limit\":true}", "must be an integer, not boolean");
}

static void test_non_objects_and_bad_json_are_refused(void **state)
{
    (void)state;
    expect_error("[1]", "arguments: must be a JSON object");
    expect_error("{\"sql\":", "arguments: must be a JSON object");
    expect_error("{\"sql\":\"a\",\"sql\":\"b\"}", "arguments: must be a JSON object");
}

static void test_a_missing_schema_accepts_any_object(void **state)
{
    (void)state;
    char err[256], *canon = NULL;
    assert_int_equal(jschema_check_text(NULL, "{\"b\":1,\"a\":2}", "arguments", &canon, err,
                                        sizeof(err)),
                     DC_OK);
    assert_string_equal(canon, "{\"a\":2,\"b\":1}");
    free(canon);
    assert_int_equal(jschema_check_text("{not json", "{}", "arguments", &canon, err,
                                        sizeof(err)),
                     DC_EINVAL);
    assert_non_null(strstr(err, "schema is not JSON"));
}

static void test_deep_nesting_is_refused_not_recursed_forever(void **state)
{
    (void)state;
    const char *deep_schema = "{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}";
    char args[400], err[256], *canon = NULL;
    /* the schema has no recursion; the instance nests 100 arrays: fine */
    size_t n = 0;
    n += (size_t)snprintf(args, sizeof(args), "{\"a\":");
    for (int i = 0; i < 100; i++)
        args[n++] = '[';
    for (int i = 0; i < 100; i++)
        args[n++] = ']';
    args[n++] = '}';
    args[n] = '\0';
    char schema2[256];
    snprintf(schema2, sizeof(schema2), "{\"properties\":{\"a\":%s}}", deep_schema);
    assert_int_equal(jschema_check_text(schema2, args, "arguments", &canon, err, sizeof(err)),
                     DC_OK);
    free(canon);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_arguments_come_back_canonical_with_sorted_keys),
        cmocka_unit_test(test_exact_numeric_text_is_coerced_where_a_number_is_wanted),
        cmocka_unit_test(test_violations_name_the_field_path),
        cmocka_unit_test(test_non_objects_and_bad_json_are_refused),
        cmocka_unit_test(test_a_missing_schema_accepts_any_object),
        cmocka_unit_test(test_deep_nesting_is_refused_not_recursed_forever),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
