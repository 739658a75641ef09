/* Sub-steps of a running stage (one model attempt each): a plugin sets
 * "trace.step" through the host table; the step lands after the stage's own
 * step, which stays open for its notes and its outcome. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <datachat/host.h>

#include "answerjson.h"
#include "ctx.h"
#include "hostapi.h"

static struct dc_ctx *new_ctx(void)
{
    struct ctx_backend be;
    memset(&be, 0, sizeof(be));
    return ctx_new(&be);
}

static void test_substep_follows_the_open_stage_which_keeps_its_notes(void **state)
{
    (void)state;
    struct dc_host h;
    hostapi_init(&h, NULL);
    struct dc_ctx *c = new_ctx();
    assert_non_null(c);
    assert_int_equal(ctx_trace_begin(c, "sqlgen", "sqlgen"), DC_OK);
    h.ctx_trace(c, "before");
    assert_int_equal(h.ctx_set(c, "trace.step",
                               "{\"name\":\"sqlgen.attempt\",\"outcome\":\"invalid\","
                               "\"reason\":\"attempt 1/3\",\"us\":42,"
                               "\"detail\":{\"attempt\":1,\"sql\":\"SELECT 1\"}}"),
                     DC_OK);
    h.ctx_trace(c, "after");
    ctx_trace_end(c, "ok", 100);
    assert_int_equal(ctx_ntrace(c), 2);
    const struct trace_step *stage = ctx_trace_at(c, 0), *sub = ctx_trace_at(c, 1);
    assert_string_equal(stage->stage, "sqlgen");
    assert_string_equal(stage->outcome, "ok");
    assert_string_equal(stage->reason, "before; after");
    assert_int_equal(stage->us, 100);
    assert_string_equal(sub->stage, "sqlgen.attempt");
    assert_string_equal(sub->plugin, "sqlgen");
    assert_string_equal(sub->outcome, "invalid");
    assert_string_equal(sub->reason, "attempt 1/3");
    assert_int_equal(sub->us, 42);
    assert_null(ctx_get(c, "trace.step")); /* nothing is stored under the key */

    json_t *j = answerjson_step(sub);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "detail"), "attempt")),
                     1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "detail"), "sql")),
                        "SELECT 1");
    json_decref(j);
    j = answerjson_step(stage);
    assert_null(json_object_get(j, "detail"));
    json_decref(j);
    ctx_free(c);
}

static void test_substep_of_the_wrong_shape_is_refused(void **state)
{
    (void)state;
    struct dc_host h;
    hostapi_init(&h, NULL);
    struct dc_ctx *c = new_ctx();
    assert_non_null(c);
    assert_int_equal(ctx_trace_begin(c, "intent", "intent"), DC_OK);
    const char *bad[] = {NULL, "", "not json", "[1]", "{\"outcome\":\"x\"}", "{\"name\":\"\"}",
                         "{\"name\":\"a\",\"detail\":[1]}", "{\"name\":\"a\",\"us\":\"slow\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(h.ctx_set(c, "trace.step", bad[i]), DC_EINVAL);
    assert_int_equal(ctx_ntrace(c), 1);
    assert_int_equal(h.ctx_set(c, "trace.step", "{\"name\":\"intent.llm\"}"), DC_OK);
    assert_int_equal(ctx_ntrace(c), 2);
    assert_null(ctx_trace_at(c, 1)->outcome);
    assert_string_equal(ctx_trace_at(c, 1)->plugin, "intent");
    ctx_trace_end(c, "sql", 7);
    assert_string_equal(ctx_trace_at(c, 0)->outcome, "sql");
    assert_null(ctx_trace_at(c, 1)->outcome); /* the sub-step is not closed twice */
    ctx_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_substep_follows_the_open_stage_which_keeps_its_notes),
        cmocka_unit_test(test_substep_of_the_wrong_shape_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
