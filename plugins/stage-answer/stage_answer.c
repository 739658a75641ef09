/*
 * stage-answer - the last pipeline stage: renders what the earlier stages
 * found into "output", the text a terminal shows: the answer sentence, the
 * result as an aligned table, and the SQL that ran.
 * When nothing answered the question it records E-NO-ANSWER and says what
 * DataChat can answer today. It never runs SQL and never changes the result
 * or the answer it renders.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "textbuf.h"

#define DEFAULT_MAX_ROWS 20
#define DEFAULT_CELL_WIDTH 40

struct answer_state {
    const struct dc_host *h;
    int64_t max_rows;
    int64_t max_width;
};

static const struct dc_option answer_options[] = {
    {"max_rows", DC_OPT_INT, 0, "20", "rows of a result shown in text output"},
    {"max_cell_width", DC_OPT_INT, 0, "40", "display columns of one cell before it is cut"},
    DC_OPTIONS_END};
static const char *const answer_outcomes[] = {"done", NULL};

static int answer_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                       char *err, size_t errlen)
{
    int64_t rows = DEFAULT_MAX_ROWS, width = DEFAULT_CELL_WIDTH;
    if (opts) {
        int rc = h->opt_int(opts, "max_rows", &rows);
        if (rc != DC_OK && rc != DC_ENOTFOUND) {
            snprintf(err, errlen, "answer: option max_rows must be a whole number");
            return DC_EINVAL;
        }
        rc = h->opt_int(opts, "max_cell_width", &width);
        if (rc != DC_OK && rc != DC_ENOTFOUND) {
            snprintf(err, errlen, "answer: option max_cell_width must be a whole number");
            return DC_EINVAL;
        }
    }
    if (rows < 0 || rows > 100000) {
        snprintf(err, errlen, "answer: max_rows is %lld; use 0 to 100000", (long long)rows);
        return DC_EINVAL;
    }
    if (width < 4 || width > 1000) {
        snprintf(err, errlen, "answer: max_cell_width is %lld; use 4 to 1000",
                 (long long)width);
        return DC_EINVAL;
    }
    struct answer_state *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "answer: out of memory");
        return DC_ENOMEM;
    }
    st->h = h;
    st->max_rows = rows;
    st->max_width = width;
    *state = st;
    return DC_OK;
}

static void answer_fini(void *state)
{
    free(state);
}

/* ---- run ---------------------------------------------------------------------------- */

static const char no_answer_text[] =
    "DataChat can't answer this kind of question yet: it needs the query compiler, which "
    "this pipeline does not have. It can answer questions about the database itself: which "
    "tables there are (\"what tables are there?\"), what a table holds (\"describe "
    "orders\"), sample rows (\"show me 5 rows from orders\") and row counts (\"how many rows "
    "are in orders?\").";

static int answer_run(void *state, struct dc_ctx *ctx, const char **outcome)
{
    struct answer_state *st = state;
    const struct dc_host *h = st->h;
    const char *answer = h->ctx_get(ctx, "answer");
    const char *intent = h->ctx_get(ctx, "intent");
    const char *refused = h->ctx_get(ctx, "refused");
    const char *sql = h->ctx_get(ctx, "sql");
    const struct dc_result *r = h->ctx_result(ctx);
    struct textbuf out = {0};

    if (refused || (intent && strcmp(intent, "refuse") == 0)) {
        /* A refusal shows its reason only: no table, no SQL. */
        textbuf_puts(&out, answer ? answer : "I can't do that: the request was refused.");
        textbuf_puts(&out, "\n");
        h->ctx_trace(ctx, "rendered a refusal (%s)", refused ? refused : "refuse");
    } else if (!answer && !r) {
        /* The message travels as the error (stderr, the JSON "error"), not
         * as an answer: nothing was answered. */
        h->ctx_fail(ctx, "E-NO-ANSWER", "%s", no_answer_text);
        h->ctx_trace(ctx, "nothing answered a '%s' question", intent ? intent : "unknown");
        return DC_EUNSUPPORTED;
    } else {
        if (answer) {
            textbuf_puts(&out, answer);
            textbuf_puts(&out, "\n");
        }
        /* A JSON caller (`--json`, the HTTP API) gets the rows themselves;
         * drawing them as a text table it never shows was most of this
         * stage's time. */
        const char *fmt = h->ctx_get(ctx, "format");
        int json = fmt && strcmp(fmt, "json") == 0;
        if (r && json) {
            h->ctx_trace(ctx, "%zu rows left to the JSON answer", h->result_nrows(r));
        } else if (r) {
            if (answer)
                textbuf_puts(&out, "\n");
            const char *table =
                h->result_render(r, (size_t)st->max_rows, (size_t)st->max_width);
            if (!table)
                out.oom = 1;
            else
                textbuf_puts(&out, table);
            size_t n = h->result_nrows(r);
            h->ctx_trace(ctx, "rendered %zu of %zu rows",
                         n < (size_t)st->max_rows ? n : (size_t)st->max_rows, n);
        }
        if (sql) {
            textbuf_puts(&out, "\nSQL: ");
            textbuf_puts(&out, sql);
            textbuf_puts(&out, "\n");
        }
    }
    if (out.oom) {
        free(out.p);
        h->ctx_fail(ctx, "E-INTERNAL", "answer: out of memory rendering the output");
        return DC_ENOMEM;
    }
    int src = h->ctx_set(ctx, "output", out.p ? out.p : "");
    free(out.p);
    if (src != DC_OK) {
        h->ctx_fail(ctx, "E-INTERNAL", "answer: cannot record the output (%d)", src);
        return src;
    }
    *outcome = "done";
    return DC_OK;
}

static const struct dc_stage_vtable answer_vtable = {
    sizeof(struct dc_stage_vtable), answer_options, answer_outcomes, answer_init,
    answer_fini, answer_run};

DC_PLUGIN_DEFINE_CAPS(DC_KIND_STAGE, "answer", "0.1.0", "MIT",
                      "Renders the answer sentence, the result table and the SQL as text",
                      &answer_vtable,
                      DC_CAP_NONE)
