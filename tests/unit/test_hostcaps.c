/* ABI 1.3 capability groups: a plugin instance's host table holds only the
 * groups it declares; the rest fail cleanly with E-PLUGIN-CAPABILITY. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <datachat/host.h>

#include "ctx.h"
#include "hostapi.h"
#include "hostcaps.h"

static struct dc_ctx *new_ctx(void)
{
    struct ctx_backend be;
    memset(&be, 0, sizeof(be));
    struct dc_ctx *c = ctx_new(&be);
    assert_non_null(c);
    return c;
}

static void test_undeclared_groups_fail_naming_plugin_entry_and_capability(void **state)
{
    (void)state;
    struct host_self self = {.plugin_name = "probe", .min_level = -1,
                             .denied = ~(DC_CAP_DB_SCHEMA)};
    struct dc_host h;
    hostapi_init(&h, &self);
    struct dc_ctx *c = new_ctx();
    assert_int_equal(ctx_trace_begin(c, "s1", "probe"), DC_OK);
    struct dc_result *r = (struct dc_result *)&h; /* must be cleared */
    assert_int_equal(h.ctx_query(c, NULL, "SELECT 1", NULL, 0, &r), DC_EDENIED);
    assert_null(r);
    assert_string_equal(ctx_error_code(c), "E-PLUGIN-CAPABILITY");
    const char *msg = ctx_error_message(c);
    assert_non_null(strstr(msg, "plugin 'probe' called ctx_query"));
    assert_non_null(strstr(msg, "\"db.query\""));
    ctx_free(c);

    c = new_ctx();
    size_t n = 7;
    struct dc_retrieval_hit hits[1];
    assert_int_equal(h.retrieve(c, "orders", 1, hits, &n), DC_EDENIED);
    assert_int_equal(n, 0);
    assert_non_null(strstr(ctx_error_message(c), "\"retrieve\""));
    /* With no step running the message still says what and why. */
    assert_non_null(strstr(ctx_error_message(c), "the calling plugin"));
    ctx_free(c);

    c = new_ctx();
    char err[256] = "";
    struct dc_dp_rendered *out = (struct dc_dp_rendered *)&h;
    assert_int_equal(h.dp_render(c, "revenue", "sqlite", NULL, NULL, 0, &out, err, sizeof(err)),
                     DC_EDENIED);
    assert_null(out);
    assert_non_null(strstr(err, "E-PLUGIN-CAPABILITY"));
    assert_int_equal(h.dp_count(c), 0);
    const char *reply = "x";
    assert_int_equal(h.llm_complete(c, NULL, "{}", &reply, err, sizeof(err)), DC_EDENIED);
    assert_null(reply);
    ctx_free(c);
}

static void test_declared_and_undeclared_tables_keep_the_real_entries(void **state)
{
    (void)state;
    struct dc_host all, some, none;
    hostapi_init(&all, NULL);
    struct host_self s1 = {.plugin_name = "q", .min_level = -1, .denied = ~DC_CAP_DB_QUERY};
    hostapi_init(&some, &s1);
    assert_ptr_equal(some.ctx_query, all.ctx_query);
    assert_ptr_equal(some.sql_check, all.sql_check);
    assert_ptr_not_equal(some.ctx_schema, all.ctx_schema);
    /* Always available, whatever is declared. */
    struct host_self s0 = {.plugin_name = "n", .min_level = -1, .denied = ~DC_CAP_NONE};
    hostapi_init(&none, &s0);
    assert_ptr_equal(none.ctx_get, all.ctx_get);
    assert_ptr_equal(none.ctx_fail, all.ctx_fail);
    assert_ptr_equal(none.result_new, all.result_new);
    assert_ptr_equal(none.sha256_hex, all.sha256_hex);
    assert_ptr_equal(none.dp_rendered_free, all.dp_rendered_free);
    /* DC_CAP_UNDECLARED leaves the table whole. */
    struct dc_host copy = all;
    hostcaps_restrict(&copy, DC_CAP_UNDECLARED);
    assert_memory_equal(&copy, &all, sizeof(all));
}

static void test_capability_sets_are_written_for_people(void **state)
{
    (void)state;
    char buf[128];
    assert_string_equal(hostcaps_format(DC_CAP_UNDECLARED, buf, sizeof(buf)), "undeclared (all)");
    assert_string_equal(hostcaps_format(DC_CAP_NONE, buf, sizeof(buf)), "none");
    assert_string_equal(hostcaps_format(DC_CAP_DB_QUERY | DC_CAP_LLM, buf, sizeof(buf)),
                        "db.query, llm");
    assert_string_equal(hostcaps_format((uint64_t)1 << 40, buf, sizeof(buf)), "0x10000000000");
    /* Too small: cut, still terminated. */
    char tiny[6];
    hostcaps_format(DC_CAP_DB_QUERY | DC_CAP_DB_SCHEMA, tiny, sizeof(tiny));
    assert_true(strlen(tiny) < sizeof(tiny));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_undeclared_groups_fail_naming_plugin_entry_and_capability),
        cmocka_unit_test(test_declared_and_undeclared_tables_keep_the_real_entries),
        cmocka_unit_test(test_capability_sets_are_written_for_people),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
