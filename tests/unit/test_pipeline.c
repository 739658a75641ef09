/* The pipeline walk: edges by outcome, terminal stages, max_steps, faulty
 * outcomes, stage failures and the decision trace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "ctx.h"
#include "pipeline.h"
#include "registry.h"

struct fixture {
    struct registry *reg;
    struct dc_config *cfg;
    struct pipeline *p;
    struct dc_ctx *ctx;
};

static const struct dc_plugin_descriptor *lookup(void *arg, int kind, const char *name)
{
    const struct dc_plugin_ref *r = registry_find(arg, kind, name);
    return r ? r->desc : NULL;
}

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    char err[512];
    assert_int_equal(registry_new(&f.reg), DC_OK);
    const struct dc_plugin_ref *ref = NULL;
    int rc = registry_load_file(f.reg, DC_TEST_STAGE_SO, &ref, err, sizeof(err));
    if (rc != DC_OK)
        fail_msg("cannot load test stage: %s", err);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    ctx_free(f->ctx);
    pipeline_free(f->p);
    config_free(f->cfg);
    registry_free(f->reg);
    return 0;
}

static int reset(void **state)
{
    struct fixture *f = *state;
    ctx_free(f->ctx);
    pipeline_free(f->p);
    config_free(f->cfg);
    f->ctx = NULL;
    f->p = NULL;
    f->cfg = NULL;
    return 0;
}

/* Loads a pipeline body (the YAML under `pipeline:`) and runs it once. */
static int run_graph(struct fixture *f, const char *pipeline_yaml)
{
    char text[4096];
    snprintf(text, sizeof(text),
             "version: 1\n"
             "pipeline:\n%s",
             pipeline_yaml);
    struct cfg_diags d;
    memset(&d, 0, sizeof(d));
    int rc = config_load_string(text, strlen(text), "test.yaml", &f->cfg, &d);
    if (rc != DC_OK) {
        char line[1200];
        config_diag_format(&d.d[0], line, sizeof(line));
        fail_msg("config: %s", line);
    }
    rc = config_resolve(f->cfg, lookup, f->reg, &d);
    if (rc != DC_OK) {
        char line[1200];
        config_diag_format(&d.d[0], line, sizeof(line));
        fail_msg("resolve: %s", line);
    }
    char err[512] = "";
    rc = pipeline_new(f->cfg, f->reg, NULL, NULL, 0, &f->p, err, sizeof(err));
    if (rc != DC_OK)
        fail_msg("pipeline_new: %s", err);
    f->ctx = ctx_new(NULL);
    assert_non_null(f->ctx);
    return pipeline_run(f->p, f->ctx);
}

static void test_pipeline_follows_edges_by_outcome(void **state)
{
    struct fixture *f = *state;
    int rc = run_graph(f, "  entry: a\n"
                          "  stages:\n"
                          "    a: {use: teststep, with: {mark: A, outcome: next}, "
                          "on: {next: b, done: c}}\n"
                          "    b: {use: teststep, with: {mark: B, outcome: done}, on: {done: c}}\n"
                          "    c: {use: teststep, with: {mark: C, outcome: done}}\n");
    assert_int_equal(rc, DC_OK);
    assert_string_equal(ctx_get(f->ctx, "path"), "ABC");
    assert_int_equal(ctx_ntrace(f->ctx), 3);
    assert_string_equal(ctx_trace_at(f->ctx, 1)->stage, "b");
    assert_string_equal(ctx_trace_at(f->ctx, 1)->outcome, "done");
    assert_string_equal(ctx_trace_at(f->ctx, 1)->reason, "marked B");
    assert_string_equal(ctx_trace_at(f->ctx, 0)->plugin, "teststep");
}

static void test_pipeline_takes_the_other_edge_for_another_outcome(void **state)
{
    struct fixture *f = *state;
    int rc = run_graph(f, "  entry: a\n"
                          "  stages:\n"
                          "    a: {use: teststep, with: {mark: A, outcome: done}, "
                          "on: {next: b, done: c}}\n"
                          "    b: {use: teststep, with: {mark: B}}\n"
                          "    c: {use: teststep, with: {mark: C}}\n");
    assert_int_equal(rc, DC_OK);
    assert_string_equal(ctx_get(f->ctx, "path"), "AC");
}

static void test_pipeline_stops_a_loop_at_max_steps(void **state)
{
    struct fixture *f = *state;
    int rc = run_graph(f, "  entry: a\n"
                          "  max_steps: 5\n"
                          "  stages:\n"
                          "    a: {use: teststep, with: {mark: A, outcome: loop}, on: {loop: b}}\n"
                          "    b: {use: teststep, with: {mark: B, outcome: loop}, on: {loop: a}}\n");
    assert_int_equal(rc, DC_ELIMIT);
    assert_string_equal(ctx_error_code(f->ctx), "E-PIPELINE-MAX-STEPS");
    assert_string_equal(ctx_get(f->ctx, "path"), "ABABA");
    assert_int_equal(ctx_ntrace(f->ctx), 5);
}

static void test_pipeline_rejects_an_undeclared_outcome(void **state)
{
    struct fixture *f = *state;
    int rc = run_graph(f, "  entry: a\n"
                          "  stages:\n"
                          "    a: {use: teststep, with: {mark: A, outcome: sideways}}\n");
    assert_int_equal(rc, DC_EABI);
    assert_string_equal(ctx_error_code(f->ctx), "E-PIPELINE-BAD-OUTCOME");
    assert_non_null(strstr(ctx_error_message(f->ctx), "sideways"));
}

static void test_pipeline_reports_an_outcome_without_edge(void **state)
{
    struct fixture *f = *state;
    int rc = run_graph(f, "  entry: a\n"
                          "  stages:\n"
                          "    a: {use: teststep, with: {mark: A, outcome: next}, on: {done: b}}\n"
                          "    b: {use: teststep, with: {mark: B}}\n");
    assert_int_equal(rc, DC_EINVAL);
    assert_string_equal(ctx_error_code(f->ctx), "E-PIPELINE-NO-EDGE");
    assert_non_null(strstr(ctx_error_message(f->ctx), "'next'"));
}

static void test_pipeline_keeps_the_stage_error(void **state)
{
    struct fixture *f = *state;
    int rc = run_graph(f, "  entry: a\n"
                          "  stages:\n"
                          "    a: {use: teststep, with: {mark: A, outcome: next}, on: {next: b}}\n"
                          "    b: {use: teststep, with: {mark: B, fail: true}}\n");
    assert_int_equal(rc, DC_ERR);
    assert_string_equal(ctx_error_code(f->ctx), "E-TEST-STEP");
    assert_int_equal(ctx_ntrace(f->ctx), 2);
    assert_null(ctx_trace_at(f->ctx, 1)->outcome);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_pipeline_follows_edges_by_outcome, reset),
        cmocka_unit_test_teardown(test_pipeline_takes_the_other_edge_for_another_outcome, reset),
        cmocka_unit_test_teardown(test_pipeline_stops_a_loop_at_max_steps, reset),
        cmocka_unit_test_teardown(test_pipeline_rejects_an_undeclared_outcome, reset),
        cmocka_unit_test_teardown(test_pipeline_reports_an_outcome_without_edge, reset),
        cmocka_unit_test_teardown(test_pipeline_keeps_the_stage_error, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
