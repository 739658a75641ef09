/* Unit tests of the @NAME@ connector against the SDK's fake host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <datachat/testing.h>

/* Defined by DC_PLUGIN_DEFINE in @IDENT@.c. */
const struct dc_plugin_descriptor *dc_plugin_describe(void);

struct seen {
    int reads;
    int deny;
};

static int record(void *ctx, int action, const char *object, const char *detail)
{
    struct seen *s = ctx;
    (void)object;
    (void)detail;
    if (action == DC_ACT_READ)
        s->reads++;
    return s->deny ? DC_EDENIED : DC_OK;
}

static const struct dc_connector_vtable *vtable(void)
{
    const struct dc_plugin_descriptor *d = dc_plugin_describe();
    assert_int_equal(d->kind, DC_KIND_CONNECTOR);
    assert_string_equal(d->name, "@NAME@");
    return d->vtable;
}

static void test_serves_the_configured_rows_and_reports_reads(void **state)
{
    (void)state;
    const struct dc_connector_vtable *vt = vtable();
    struct dc_test_host *t = dc_test_host_new();
    assert_non_null(t);
    /* The table the real host gives this plugin: only what it declares. */
    assert_int_equal(dc_test_use_descriptor(t, dc_plugin_describe()), DC_OK);
    const struct dc_host *h = dc_test_host_table(t);
    dc_test_set_options(t, vt->options);
    dc_test_add_opt_item(t, "rows", "hi");
    dc_test_add_opt_item(t, "rows", "hey");
    void *conn = NULL, *stmt = NULL;
    char err[256] = "";
    assert_int_equal(vt->open(h, dc_test_opts(t), &conn, err, sizeof(err)), DC_OK);

    struct dc_schema *s = dc_test_schema_new(t);
    assert_int_equal(vt->introspect(conn, s, err, sizeof(err)), DC_OK);
    assert_non_null(h->schema_find(s, "greetings"));

    struct seen seen = {0, 0};
    struct dc_authorizer az = {sizeof(az), &seen, record, NULL};
    struct dc_stmt_info info = {sizeof(info), 0, 0, 0, 0};
    assert_int_equal(vt->prepare(conn, "select * from greetings;", &az, &stmt, &info, err,
                                 sizeof(err)),
                     DC_OK);
    assert_int_equal(seen.reads, 2);
    assert_int_equal(info.readonly, 1);
    struct dc_result *r = dc_test_result_new(t);
    struct dc_limits lim = {sizeof(lim), 1, 0, 0};
    assert_int_equal(vt->execute(conn, stmt, NULL, 0, &lim, r, err, sizeof(err)), DC_OK);
    assert_int_equal(h->result_nrows(r), 1);
    assert_int_equal(h->result_truncated(r), 1);
    const struct dc_value *v = h->result_get(r, 0, 1);
    assert_int_equal(v->type, DC_TEXT);
    assert_memory_equal(v->v.s.p, "hi", 2);
    vt->finalize(conn, stmt);
    vt->close(conn);
    dc_test_host_free(t);
}

static void test_a_denied_read_fails_prepare(void **state)
{
    (void)state;
    const struct dc_connector_vtable *vt = vtable();
    struct dc_test_host *t = dc_test_host_new();
    assert_non_null(t);
    /* The table the real host gives this plugin: only what it declares. */
    assert_int_equal(dc_test_use_descriptor(t, dc_plugin_describe()), DC_OK);
    dc_test_set_options(t, vt->options);
    void *conn = NULL, *stmt = NULL;
    char err[256] = "";
    assert_int_equal(vt->open(dc_test_host_table(t), dc_test_opts(t), &conn, err, sizeof(err)),
                     DC_OK);
    struct seen seen = {0, 1};
    struct dc_authorizer az = {sizeof(az), &seen, record, NULL};
    struct dc_stmt_info info = {sizeof(info), 0, 0, 0, 0};
    assert_int_equal(vt->prepare(conn, "SELECT * FROM greetings", &az, &stmt, &info, err,
                                 sizeof(err)),
                     DC_EDENIED);
    assert_int_equal(vt->prepare(conn, "DELETE FROM greetings", &az, &stmt, &info, err,
                                 sizeof(err)),
                     DC_EUNSUPPORTED);
    vt->close(conn);
    dc_test_host_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serves_the_configured_rows_and_reports_reads),
        cmocka_unit_test(test_a_denied_read_fails_prepare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
