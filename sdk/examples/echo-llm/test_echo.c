/* The echo provider against the SDK's fake host: the default SQL, a rule
 * that matches, and a malformed rule refused at init. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <datachat/testing.h>

const struct dc_plugin_descriptor *dc_plugin_describe(void);

static const struct dc_llm_vtable *vt(void)
{
    return dc_plugin_describe()->vtable;
}

static void test_answers_the_default_sql_or_the_matching_rule(void **state)
{
    (void)state;
    struct dc_test_host *t = dc_test_host_new();
    assert_non_null(t);
    /* The table the real host gives this plugin: only what it declares. */
    assert_int_equal(dc_test_use_descriptor(t, dc_plugin_describe()), DC_OK);
    dc_test_set_options(t, vt()->options);
    dc_test_set_opt(t, "sql", "SELECT 1");
    dc_test_add_opt_item(t, "rules", "customers => SELECT count(*) FROM customers");
    void *st = NULL;
    char err[256] = "";
    assert_int_equal(vt()->init(dc_test_host_table(t), dc_test_opts(t), &st, err, sizeof(err)),
                     DC_OK);
    assert_int_equal(vt()->complete(st, dc_test_ctx(t), "{\"messages\":[\"how many orders\"]}"),
                     DC_OK);
    assert_string_equal(dc_test_get(t, "llm.reply"), "SELECT 1");
    assert_int_equal(vt()->complete(st, dc_test_ctx(t), "{\"messages\":[\"Customers?\"]}"),
                     DC_OK);
    assert_string_equal(dc_test_get(t, "llm.reply"), "SELECT count(*) FROM customers");
    assert_int_equal(dc_test_ntraces(t), 1);
    vt()->fini(st);
    dc_test_host_free(t);
}

static void test_refuses_a_rule_without_an_arrow(void **state)
{
    (void)state;
    struct dc_test_host *t = dc_test_host_new();
    assert_non_null(t);
    /* The table the real host gives this plugin: only what it declares. */
    assert_int_equal(dc_test_use_descriptor(t, dc_plugin_describe()), DC_OK);
    dc_test_set_options(t, vt()->options);
    dc_test_set_opt(t, "sql", "SELECT 1");
    dc_test_add_opt_item(t, "rules", "customers SELECT 2");
    void *st = NULL;
    char err[256] = "";
    assert_int_equal(vt()->init(dc_test_host_table(t), dc_test_opts(t), &st, err, sizeof(err)),
                     DC_EINVAL);
    assert_non_null(strstr(err, "WORD => SQL"));
    dc_test_host_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers_the_default_sql_or_the_matching_rule),
        cmocka_unit_test(test_refuses_a_rule_without_an_arrow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
