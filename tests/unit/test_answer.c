/* The answer stage through its plugin vtable (dlopen of the built .so), with
 * the real host table and a ctx filled the way earlier stages fill it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>

#include "config.h"
#include "ctx.h"
#include "hostapi.h"
#include "result.h"

struct fixture {
    void *dl;
    const struct dc_stage_vtable *vt;
    struct dc_host h;
    void *state;
};

static int load(struct fixture *f, const struct dc_opts *opts)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/plugins/stage-answer.so", DC_BINARY_DIR);
    f->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!f->dl) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return -1;
    }
    dc_plugin_describe_fn fn = (dc_plugin_describe_fn)dlsym(f->dl, DC_PLUGIN_SYMBOL);
    if (!fn)
        return -1;
    const struct dc_plugin_descriptor *d = fn();
    if (d->kind != DC_KIND_STAGE || strcmp(d->name, "answer") != 0)
        return -1;
    f->vt = d->vtable;
    hostapi_init(&f->h, NULL);
    char err[256];
    if (f->vt->init(&f->h, opts, &f->state, err, sizeof(err)) != DC_OK) {
        fprintf(stderr, "init: %s\n", err);
        return -1;
    }
    return 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f || load(f, NULL) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    f->vt->fini(f->state);
    dlclose(f->dl);
    free(f);
    return 0;
}

static struct dc_ctx *new_ctx(const char *intent, const char *answer, const char *sql)
{
    struct dc_ctx *c = ctx_new(NULL);
    assert_non_null(c);
    if (intent)
        assert_int_equal(ctx_set(c, "intent", intent), DC_OK);
    if (answer)
        assert_int_equal(ctx_set(c, "answer", answer), DC_OK);
    if (sql)
        assert_int_equal(ctx_set(c, "sql", sql), DC_OK);
    assert_int_equal(ctx_set(c, "format", "text"), DC_OK);
    return c;
}

static int run(struct fixture *f, struct dc_ctx *c, const char **outcome)
{
    ctx_trace_begin(c, "reply", "answer");
    *outcome = NULL;
    int rc = f->vt->run(f->state, c, outcome);
    ctx_trace_end(c, *outcome, 0);
    return rc;
}

static struct dc_result *two_col_result(size_t nrows)
{
    struct dc_result *r = result_new();
    assert_non_null(r);
    assert_int_equal(result_add_column(r, "id", DC_INT, "INTEGER"), DC_OK);
    assert_int_equal(result_add_column(r, "name", DC_TEXT, "TEXT"), DC_OK);
    for (size_t i = 0; i < nrows; i++) {
        struct dc_value v[2] = {dc_value_int((int64_t)i), dc_value_text("x", 1)};
        assert_int_equal(result_append_row(r, v, 2), DC_OK);
    }
    return r;
}

static void test_answer_renders_sentence_aligned_table_and_sql(void **state)
{
    struct fixture *f = *state;
    struct dc_ctx *c = new_ctx("catalog", "Here are 3 rows from people.",
                               "SELECT * FROM \"people\" LIMIT 3");
    struct dc_result *r = result_new();
    assert_int_equal(result_add_column(r, "id", DC_INT, "INTEGER"), DC_OK);
    assert_int_equal(result_add_column(r, "name", DC_TEXT, "TEXT"), DC_OK);
    assert_int_equal(result_add_column(r, "score", DC_REAL, "REAL"), DC_OK);
    struct dc_value rows[3][3] = {
        {dc_value_int(1), dc_value_text("Zo\xC3\xAB", 4), dc_value_real(2.5)},
        {dc_value_int(12), dc_value_text("\xE6\x9D\xB1\xE4\xBA\xAC", 6), DC_VALUE_NULL},
        {dc_value_int(300), dc_value_text("Bob", 3), dc_value_real(10)}};
    for (int i = 0; i < 3; i++)
        assert_int_equal(result_append_row(r, rows[i], 3), DC_OK);
    ctx_set_result(c, r);
    const char *outcome;
    assert_int_equal(run(f, c, &outcome), DC_OK);
    assert_string_equal(outcome, "done");
    assert_string_equal(ctx_get(c, "output"),
                        "Here are 3 rows from people.\n"
                        "\n"
                        " id  name  score\n"
                        "---  ----  -----\n"
                        "  1  Zo\xC3\xAB     2.5\n"
                        " 12  \xE6\x9D\xB1\xE4\xBA\xAC   NULL\n"
                        "300  Bob      10\n"
                        "\n"
                        "SQL: SELECT * FROM \"people\" LIMIT 3\n");
    ctx_free(c);
}

static void test_answer_cuts_long_cells_with_ellipsis(void **state)
{
    struct fixture *f = *state;
    struct dc_ctx *c = new_ctx("catalog", NULL, NULL);
    struct dc_result *r = result_new();
    assert_int_equal(result_add_column(r, "note", DC_TEXT, "TEXT"), DC_OK);
    char longtext[200];
    memset(longtext, 'a', sizeof(longtext));
    struct dc_value v = dc_value_text(longtext, sizeof(longtext));
    assert_int_equal(result_append_row(r, &v, 1), DC_OK);
    /* Control characters and broken UTF-8 must not reach the terminal raw. */
    struct dc_value w = dc_value_text("a\nb\x1b[31m\xff", 9);
    assert_int_equal(result_append_row(r, &w, 1), DC_OK);
    ctx_set_result(c, r);
    const char *outcome;
    assert_int_equal(run(f, c, &outcome), DC_OK);
    const char *out = ctx_get(c, "output");
    char want[128];
    memset(want, 'a', 39);
    memcpy(want + 39, "\xE2\x80\xA6\n", 5);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "a b [31m\xEF\xBF\xBD\n"));
    assert_null(strchr(out, '\x1b'));
    ctx_free(c);
}

static void test_answer_shows_capped_rows_and_more_note(void **state)
{
    struct fixture *f = *state;
    struct dc_ctx *c = new_ctx("catalog", "Many rows.", NULL);
    struct dc_result *r = two_col_result(25);
    result_set_truncated(r, 1);
    ctx_set_result(c, r);
    const char *outcome;
    assert_int_equal(run(f, c, &outcome), DC_OK);
    const char *out = ctx_get(c, "output");
    assert_non_null(strstr(out, "19  x\n(5 more rows)\n(truncated at the row cap)\n"));
    assert_null(strstr(out, "20  x"));
    assert_null(strstr(out, "SQL:"));
    ctx_free(c);
}

static void test_answer_empty_result_says_no_rows(void **state)
{
    struct fixture *f = *state;
    struct dc_ctx *c = new_ctx("catalog", "regions has no rows.", "SELECT 1");
    ctx_set_result(c, two_col_result(0));
    const char *outcome;
    assert_int_equal(run(f, c, &outcome), DC_OK);
    assert_string_equal(ctx_get(c, "output"), "regions has no rows.\n\n"
                                              "id  name\n"
                                              "--  ----\n"
                                              "(no rows)\n"
                                              "\nSQL: SELECT 1\n");
    ctx_free(c);
}

static void test_answer_refusal_renders_reason_only(void **state)
{
    struct fixture *f = *state;
    struct dc_ctx *c = new_ctx("refuse", "I can't do that: DataChat only reads data.",
                               "DROP TABLE x");
    assert_int_equal(ctx_set(c, "refused", "E-INTENT-DESTRUCTIVE"), DC_OK);
    const char *outcome;
    assert_int_equal(run(f, c, &outcome), DC_OK);
    assert_string_equal(ctx_get(c, "output"), "I can't do that: DataChat only reads data.\n");
    assert_null(ctx_error_code(c));
    ctx_free(c);
}

static void test_answer_not_found_renders_answer_text(void **state)
{
    struct fixture *f = *state;
    struct dc_ctx *c = new_ctx("catalog", "I couldn't find a table named 'x' in demo.", NULL);
    ctx_fail(c, "E-CATALOG-NO-TABLE", "I couldn't find a table named 'x' in demo.");
    const char *outcome;
    assert_int_equal(run(f, c, &outcome), DC_OK);
    assert_string_equal(ctx_get(c, "output"), "I couldn't find a table named 'x' in demo.\n");
    assert_string_equal(ctx_error_code(c), "E-CATALOG-NO-TABLE");
    ctx_free(c);
}

static void test_answer_unanswered_question_fails_with_no_answer(void **state)
{
    struct fixture *f = *state;
    static const char *const intents[] = {"sql", "metric", "tool", NULL};
    for (size_t i = 0; i < 4; i++) {
        struct dc_ctx *c = new_ctx(intents[i], NULL, NULL);
        const char *outcome;
        int rc = run(f, c, &outcome);
        assert_true(rc < 0);
        assert_null(outcome);
        assert_string_equal(ctx_error_code(c), "E-NO-ANSWER");
        assert_non_null(strstr(ctx_error_message(c), "query compiler"));
        assert_non_null(strstr(ctx_error_message(c), "what tables are there"));
        assert_null(ctx_get(c, "output"));
        ctx_free(c);
    }
}

static void test_answer_clarify_with_text_is_an_answer(void **state)
{
    struct fixture *f = *state;
    struct dc_ctx *c = new_ctx("clarify", "I answer questions about your data.", NULL);
    const char *outcome;
    assert_int_equal(run(f, c, &outcome), DC_OK);
    assert_string_equal(ctx_get(c, "output"), "I answer questions about your data.\n");
    assert_null(ctx_error_code(c));
    ctx_free(c);
}

static void test_answer_honours_max_rows_option(void **state)
{
    (void)state;
    struct cfg_opt o[2] = {{.key = "max_rows", .value = "2"},
                           {.key = "max_cell_width", .value = "6"}};
    struct dc_opts opts = {o, 2, NULL};
    struct fixture f = {0};
    assert_int_equal(load(&f, &opts), 0);
    struct dc_ctx *c = new_ctx("catalog", NULL, NULL);
    struct dc_result *r = result_new();
    assert_int_equal(result_add_column(r, "word", DC_TEXT, NULL), DC_OK);
    for (int i = 0; i < 3; i++) {
        struct dc_value v = dc_value_text("abcdefghij", 10);
        assert_int_equal(result_append_row(r, &v, 1), DC_OK);
    }
    ctx_set_result(c, r);
    const char *outcome;
    assert_int_equal(run(&f, c, &outcome), DC_OK);
    assert_string_equal(ctx_get(c, "output"), "word\n"
                                              "------\n"
                                              "abcde\xE2\x80\xA6\n"
                                              "abcde\xE2\x80\xA6\n"
                                              "(1 more row)\n");
    ctx_free(c);
    f.vt->fini(f.state);
    /* A bad option value is refused at init, not silently defaulted. */
    o[0].value = "lots";
    char err[256] = "";
    void *st = NULL;
    assert_int_equal(f.vt->init(&f.h, &opts, &st, err, sizeof(err)), DC_EINVAL);
    assert_non_null(strstr(err, "max_rows"));
    dlclose(f.dl);
}

/* A JSON caller gets the rows themselves: no text table, same outcome. */
static void test_answer_for_json_skips_the_text_table(void **state)
{
    struct fixture *f = *state;
    struct dc_ctx *c = new_ctx("catalog", "Here are 2 rows.", "SELECT 1");
    assert_int_equal(ctx_set(c, "format", "json"), DC_OK);
    ctx_set_result(c, two_col_result(2));
    const char *outcome;
    assert_int_equal(run(f, c, &outcome), DC_OK);
    assert_string_equal(outcome, "done");
    assert_string_equal(ctx_get(c, "output"), "Here are 2 rows.\n\nSQL: SELECT 1\n");
    ctx_free(c);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_answer_renders_sentence_aligned_table_and_sql),
        T(test_answer_cuts_long_cells_with_ellipsis),
        T(test_answer_shows_capped_rows_and_more_note),
        T(test_answer_empty_result_says_no_rows),
        T(test_answer_refusal_renders_reason_only),
        T(test_answer_not_found_renders_answer_text),
        T(test_answer_unanswered_question_fails_with_no_answer),
        T(test_answer_clarify_with_text_is_an_answer),
        T(test_answer_for_json_skips_the_text_table),
        cmocka_unit_test(test_answer_honours_max_rows_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
