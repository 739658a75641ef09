/* Unit tests of the @NAME@ stage against the SDK's fake host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <datachat/testing.h>

/* Defined by DC_PLUGIN_DEFINE in @IDENT@.c. */
const struct dc_plugin_descriptor *dc_plugin_describe(void);

static const struct dc_stage_vtable *vtable(void)
{
    const struct dc_plugin_descriptor *d = dc_plugin_describe();
    assert_int_equal(d->kind, DC_KIND_STAGE);
    assert_string_equal(d->name, "@NAME@");
    return d->vtable;
}

static void test_answers_with_the_scripted_row_count(void **state)
{
    (void)state;
    const struct dc_stage_vtable *vt = vtable();
    struct dc_test_host *t = dc_test_host_new();
    assert_non_null(t);
    /* The table the real host gives this plugin: only what it declares. */
    assert_int_equal(dc_test_use_descriptor(t, dc_plugin_describe()), DC_OK);
    const struct dc_host *h = dc_test_host_table(t);
    dc_test_set_options(t, vt->options);
    dc_test_set_opt(t, "table", "items");
    struct dc_result *r = dc_test_result_new(t);
    assert_int_equal(h->result_add_column(r, "count(*)", DC_INT, "INTEGER"), DC_OK);
    struct dc_value three = dc_value_int(3);
    assert_int_equal(h->result_append_row(r, &three, 1), DC_OK);
    assert_int_equal(dc_test_on_query(t, "SELECT count(*) FROM items", DC_OK, r, NULL, NULL),
                     DC_OK);
    dc_test_ctx_put(t, "question", "how many items?");

    void *st = NULL;
    char err[256] = "";
    assert_int_equal(vt->init(h, dc_test_opts(t), &st, err, sizeof(err)), DC_OK);
    const char *outcome = NULL;
    assert_int_equal(vt->run(st, dc_test_ctx(t), &outcome), DC_OK);
    assert_string_equal(outcome, "ok");
    assert_int_equal(dc_test_nqueries(t), 1);
    assert_string_equal(dc_test_query(t, 0), "SELECT count(*) FROM items");
    assert_string_equal(dc_test_get(t, "answer"), "items has 3 rows (you asked: how many items?)");
    assert_int_equal(dc_test_ntraces(t), 1);
    vt->fini(st);
    dc_test_host_free(t);
}

static void test_a_refused_query_fails_the_stage(void **state)
{
    (void)state;
    const struct dc_stage_vtable *vt = vtable();
    struct dc_test_host *t = dc_test_host_new();
    assert_non_null(t);
    /* The table the real host gives this plugin: only what it declares. */
    assert_int_equal(dc_test_use_descriptor(t, dc_plugin_describe()), DC_OK);
    dc_test_set_options(t, vt->options);
    dc_test_on_query(t, NULL, DC_EDENIED, NULL, "E-GATE-DENIED", "table orders is not allowed");
    void *st = NULL;
    char err[256] = "";
    assert_int_equal(vt->init(dc_test_host_table(t), dc_test_opts(t), &st, err, sizeof(err)),
                     DC_OK);
    const char *outcome = NULL;
    assert_int_equal(vt->run(st, dc_test_ctx(t), &outcome), DC_EDENIED);
    assert_string_equal(dc_test_fail_code(t), "E-GATE-DENIED");
    assert_null(dc_test_get(t, "answer"));
    vt->fini(st);
    dc_test_host_free(t);
}

static void test_refuses_a_table_option_that_is_not_an_identifier(void **state)
{
    (void)state;
    const struct dc_stage_vtable *vt = vtable();
    struct dc_test_host *t = dc_test_host_new();
    assert_non_null(t);
    /* The table the real host gives this plugin: only what it declares. */
    assert_int_equal(dc_test_use_descriptor(t, dc_plugin_describe()), DC_OK);
    dc_test_set_options(t, vt->options);
    dc_test_set_opt(t, "table", "orders; DROP TABLE x");
    void *st = NULL;
    char err[256] = "";
    assert_int_equal(vt->init(dc_test_host_table(t), dc_test_opts(t), &st, err, sizeof(err)),
                     DC_EINVAL);
    assert_non_null(strstr(err, "option table"));
    dc_test_host_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers_with_the_scripted_row_count),
        cmocka_unit_test(test_a_refused_query_fails_the_stage),
        cmocka_unit_test(test_refuses_a_table_option_that_is_not_an_identifier),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
