/*
 * stage-compiler - the deterministic NL->SQL stage. It builds a lexicon from
 * the request database's catalog (plus DataPoint words when the host offers
 * them), plans the question with planner.c, probes candidate values through
 * the gate, emits dialect SQL with bound parameters (sqlemit.c) and runs it
 * through h->ctx_query. Outcome "ok" with "sql", "answer" and the result, or
 * "unsure" with "answer" saying what was not understood (and E-UNSURE). It
 * never guesses, never calls a model and never pastes question text into SQL.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "lexicon.h"
#include "planner.h"
#include "question.h"
#include "sqlemit.h"
#include "stagereq.h"
#include "textbuf.h"

#define DEFAULT_MAX_PROBES 24

struct compiler_state {
    const struct dc_host *h;
    const struct sql_dialect *dialect;
    int64_t max_probes;
};

static const struct dc_option compiler_options[] = {
    {"dialect", DC_OPT_STRING, 0, "sqlite", "SQL dialect of the databases asked (sqlite, postgres)"},
    {"max_probes", DC_OPT_INT, 0, "24", "value lookups allowed per question (1 to 200)"},
    DC_OPTIONS_END};
static const char *const compiler_outcomes[] = {"ok", "unsure", NULL};

static int compiler_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                         char *err, size_t errlen)
{
    const char *dialect = "sqlite";
    int64_t probes = DEFAULT_MAX_PROBES;
    if (opts) {
        const char *d = h->opt_str(opts, "dialect");
        if (d)
            dialect = d;
        int rc = h->opt_int(opts, "max_probes", &probes);
        if (rc != DC_OK && rc != DC_ENOTFOUND) {
            snprintf(err, errlen, "compiler: option max_probes must be a whole number");
            return DC_EINVAL;
        }
    }
    if (probes < 1 || probes > 200) {
        snprintf(err, errlen, "compiler: max_probes is %lld; use 1 to 200", (long long)probes);
        return DC_EINVAL;
    }
    const struct sql_dialect *sd = emit_dialect(dialect);
    if (!sd) {
        snprintf(err, errlen, "compiler: unknown dialect '%s'; use sqlite or postgres", dialect);
        return DC_EINVAL;
    }
    struct compiler_state *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "compiler: out of memory");
        return DC_ENOMEM;
    }
    st->h = h;
    st->dialect = sd;
    st->max_probes = probes;
    *state = st;
    return DC_OK;
}

static void compiler_fini(void *state)
{
    free(state);
}

struct prober {
    const struct dc_host *h;
    struct dc_ctx *ctx;
    const struct sql_dialect *d;
};

static int probe(void *arg, const char *table, const char *column, const char *value,
                 char *canon, size_t cap)
{
    struct prober *pr = arg;
    char *sql = emit_probe_sql(pr->d, table, column);
    if (!sql)
        return DC_ENOMEM;
    struct dc_value v = dc_value_text(value, strlen(value));
    struct dc_result *r = NULL;
    int rc = pr->h->ctx_query(pr->ctx, NULL, sql, &v, 1, &r);
    free(sql);
    if (rc != DC_OK)
        return rc;
    int found = 0;
    if (pr->h->result_nrows(r) > 0 && pr->h->result_ncols(r) > 0) {
        const struct dc_value *cv = pr->h->result_get(r, 0, 0);
        if (cv && (cv->type == DC_TEXT || cv->type == DC_DATE || cv->type == DC_TIMESTAMP ||
                   cv->type == DC_NUMERIC)) {
            size_t n = cv->v.s.n < cap - 1 ? cv->v.s.n : cap - 1;
            memcpy(canon, cv->v.s.p, n);
            canon[n] = '\0';
            found = memchr(canon, '\0', n) == NULL;
        }
    }
    pr->h->result_free(r);
    return found;
}

static int build_lexicon(const struct dc_host *h, const struct dc_schema *s,
                         struct lexicon **lx)
{
    size_t n = h->schema_ntables(s);
    const struct dc_table_info **tabs = calloc(n ? n : 1, sizeof(*tabs));
    if (!tabs)
        return DC_ENOMEM;
    for (size_t i = 0; i < n; i++)
        tabs[i] = h->schema_table(s, i);
    int rc = lex_build(tabs, n, lx);
    free(tabs);
    return rc;
}

/* A field of a versioned DataPoint struct exists when struct_size covers it. */
#define DP_HAS(p, type, field) \
    ((p) && (p)->struct_size >= offsetof(type, field) + sizeof((p)->field))

/* DataPoint words for the lexicon, when the host offers DataPoints:
 * synonyms and names of DataPoints whose source is one table (or one
 * column) with no business filter, and profiled top values. A source with
 * filters is left to the metric stage: its words mean "only the rows the
 * filter keeps", which a plain column would not honour. */
static int feed_datapoints(const struct dc_host *h, struct dc_ctx *ctx, struct lexicon *lx)
{
    if (!DC_HOST_HAS(h, dp_count) || !DC_HOST_HAS(h, dp_at))
        return 0;
    const char *db = h->ctx_get(ctx, "database");
    size_t n = h->dp_count(ctx), words = 0, values = 0;
    for (size_t i = 0; i < n; i++) {
        const struct dc_datapoint_info *dp = h->dp_at(ctx, i);
        if (!DP_HAS(dp, struct dc_datapoint_info, ncolumns))
            continue;
        if (dp->database && db && strcmp(dp->database, db) != 0)
            continue;
        if (dp->type && strcmp(dp->type, "schema") == 0 && dp->table) {
            for (size_t c = 0; c < dp->ncolumns; c++) {
                const struct dc_dp_column *col = dp->columns[c];
                if (!DP_HAS(col, struct dc_dp_column, ntop_values) || !col->name)
                    continue;
                for (size_t v = 0; v < col->ntop_values; v++) {
                    const struct dc_dp_value_count *vc = col->top_values[v];
                    if (!DP_HAS(vc, struct dc_dp_value_count, value) || !vc->value)
                        continue;
                    int rc = lex_add_value(lx, dp->table, col->name, vc->value);
                    if (rc == DC_ENOMEM)
                        return rc;
                    values += rc == DC_OK;
                }
            }
            continue;
        }
        if (dp->ndata_sources != 1)
            continue;
        const struct dc_dp_source *src = dp->data_sources[0];
        if (!DP_HAS(src, struct dc_dp_source, nfilters) || !src->table || src->nfilters > 0 ||
            src->ncolumns > 1)
            continue;
        const char *column = src->ncolumns == 1 ? src->columns[0] : NULL;
        for (size_t k = 0; k <= dp->nsynonyms; k++) {
            const char *phrase = k < dp->nsynonyms ? dp->synonyms[k] : dp->name;
            if (!phrase)
                continue;
            int rc = lex_add_synonym(lx, phrase, src->table, column);
            if (rc == DC_ENOMEM)
                return rc;
            words += rc == DC_OK;
        }
    }
    if (words || values)
        h->ctx_trace(ctx, "DataPoints added %zu phrases and %zu known values", words, values);
    return 0;
}

static int say_unsure(const struct dc_host *h, struct dc_ctx *ctx, const char *why)
{
    char text[PLAN_TEXT_MAX + 256];
    snprintf(text, sizeof(text),
             "I'm not sure how to answer that without guessing: %s. Rephrase using the table "
             "and column names (\"describe <table>\" lists them).",
             why);
    int rc = h->ctx_set(ctx, "answer", text);
    if (rc == DC_OK)
        rc = h->ctx_set(ctx, "compiler.unsure", why);
    h->ctx_fail(ctx, "E-UNSURE", "the compiler could not ground every part of the question: %s",
                why);
    return rc;
}

static void trace_plan(const struct dc_host *h, struct dc_ctx *ctx, const struct lexicon *lx,
                       const struct plan *p)
{
    if (p->grounding[0])
        h->ctx_trace(ctx, "grounded: %s", p->grounding);
    if (p->njoins == 0) {
        h->ctx_trace(ctx, "join path: none (only %s)", lx->tables[p->entity].name);
        return;
    }
    char path[1024];
    size_t len = 0;
    path[0] = '\0';
    for (size_t j = 0; j < p->njoins && len + 128 < sizeof(path); j++) {
        const struct plan_join *jn = &p->joins[j];
        len += (size_t)snprintf(path + len, sizeof(path) - len, "%s%s.%s = %s.%s%s",
                                j ? ", " : "", lx->tables[jn->to_t].name,
                                lx->tables[jn->to_t].cols[jn->to_c].name,
                                lx->tables[jn->from_t].name,
                                lx->tables[jn->from_t].cols[jn->from_c].name,
                                jn->fanout ? " (one to many)" : "");
    }
    h->ctx_trace(ctx, "join path from %s: %s", lx->tables[p->entity].name, path);
}

/* Schema names may hold quotes or control bytes. */
static void json_str(struct textbuf *b, const char *s)
{
    textbuf_puts(b, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            textbuf_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            textbuf_printf(b, "\\u%04x", ch);
        else
            textbuf_add(b, s, 1);
    }
    textbuf_puts(b, "\"");
}

static void json_ref(struct textbuf *b, const struct lexicon *lx, struct plan_ref r)
{
    char name[512];
    if (r.c < 0)
        snprintf(name, sizeof(name), "%s", lx->tables[r.t].name);
    else
        snprintf(name, sizeof(name), "%s.%s", lx->tables[r.t].name,
                 lx->tables[r.t].cols[r.c].name);
    json_str(b, name);
}

/* The plan as JSON in "compiler.structure": a conversation turn records it
 * (docs/CONVERSATION.md). */
static int set_structure(const struct dc_host *h, struct dc_ctx *ctx, const struct lexicon *lx,
                         const struct plan *p)
{
    static const char *const aggs[] = {"none", "count", "count_distinct", "sum", "avg", "min",
                                       "max"};
    static const char *const units[] = {"", "day", "week", "month", "quarter", "year"};
    static const char *const ops[] = {"", "=", "<>", ">", ">=", "<", "<="};
    struct textbuf b = {0};
    textbuf_puts(&b, "{\"entity\":");
    json_str(&b, lx->tables[p->entity].name);
    textbuf_printf(&b, ",\"aggregate\":\"%s\"",
                   p->agg >= 0 && p->agg <= AGG_MAX ? aggs[p->agg] : "none");
    if (p->agg != AGG_NONE) {
        textbuf_puts(&b, ",\"measure\":");
        json_ref(&b, lx, p->measure);
    }
    textbuf_puts(&b, ",\"group_by\":[");
    for (size_t i = 0; i < p->ngroups; i++) {
        textbuf_puts(&b, i ? ",{\"column\":" : "{\"column\":");
        json_ref(&b, lx, p->groups[i].col);
        if (p->groups[i].bucket > 0 && p->groups[i].bucket <= U_YEAR)
            textbuf_printf(&b, ",\"bucket\":\"%s\"", units[p->groups[i].bucket]);
        textbuf_puts(&b, "}");
    }
    textbuf_puts(&b, "],\"filters\":[");
    for (size_t i = 0; i < p->nfilters; i++) {
        const struct plan_filter *f = &p->filters[i];
        textbuf_puts(&b, i ? ",{\"column\":" : "{\"column\":");
        json_ref(&b, lx, f->col);
        textbuf_printf(&b, ",\"op\":\"%s\"", f->op > 0 && f->op <= CMP_LE ? ops[f->op] : "");
        if (f->kind == F_DATE) {
            char day[11];
            if (f->range.has_from) {
                q_format_day(f->range.from, day);
                textbuf_printf(&b, ",\"from\":\"%s\"", day);
            }
            if (f->range.has_to) {
                q_format_day(f->range.to, day);
                textbuf_printf(&b, ",\"before\":\"%s\"", day); /* exclusive */
            }
        } else if (f->kind == F_NUM) {
            textbuf_printf(&b, ",\"value\":%.17g", f->num);
        } else {
            textbuf_puts(&b, ",\"values\":[");
            for (size_t k = 0; k < f->nvals; k++) {
                if (k)
                    textbuf_puts(&b, ",");
                json_str(&b, f->vals[k]);
            }
            textbuf_puts(&b, "]");
        }
        textbuf_puts(&b, "}");
    }
    textbuf_printf(&b, "],\"limit\":%ld}", p->limit);
    int rc = b.oom ? DC_ENOMEM : h->ctx_set(ctx, "compiler.structure", b.p);
    textbuf_free(&b);
    return rc;
}

static int compiler_run(void *state, struct dc_ctx *ctx, const char **outcome)
{
    struct compiler_state *st = state;
    const struct dc_host *h = st->h;
    struct lexicon *lx = NULL;
    struct plan *plan = NULL;
    struct emitted *em = NULL;
    struct dc_result *res = NULL;
    int rc;

    struct stage_req req;
    rc = stage_req_read(h, ctx, "E-COMPILER-TODAY", st->dialect->name, &req);
    if (rc != DC_OK)
        goto cleanup;
    const char *q = req.question;
    long today = req.today;
    /* The connector's dialect when the compiler can write it, else the
     * configured one. */
    const struct sql_dialect *dialect = emit_dialect(req.dialect);
    if (!dialect)
        dialect = st->dialect;
    const struct dc_schema *schema = DC_HOST_HAS(h, ctx_schema) ? h->ctx_schema(ctx, NULL) : NULL;
    if (!q || !schema) {
        rc = say_unsure(h, ctx, q ? "the database catalog is not available" : "no question");
        *outcome = "unsure";
        goto cleanup;
    }
    rc = build_lexicon(h, schema, &lx);
    if (rc != DC_OK) {
        h->ctx_fail(ctx, "E-INTERNAL", "compiler: out of memory building the lexicon");
        goto cleanup;
    }
    rc = feed_datapoints(h, ctx, lx);
    if (rc != DC_OK) {
        h->ctx_fail(ctx, "E-INTERNAL", "compiler: out of memory reading DataPoints");
        goto cleanup;
    }
    plan = calloc(1, sizeof(*plan));
    em = calloc(1, sizeof(*em));
    if (!plan || !em) {
        rc = DC_ENOMEM;
        h->ctx_fail(ctx, "E-INTERNAL", "compiler: out of memory");
        goto cleanup;
    }
    struct prober pr = {h, ctx, dialect};
    struct plan_opts po = {today, probe, &pr, (int)st->max_probes};
    rc = plan_question(lx, q, strlen(q), &po, plan);
    if (rc != DC_OK) {
        /* A refused or failed probe has already recorded its reason. */
        h->ctx_fail(ctx, "E-INTERNAL", "compiler: looking up a value failed (%d)", rc);
        goto cleanup;
    }
    if (plan->probes)
        h->ctx_trace(ctx, "%d value lookups", plan->probes);
    if (plan->unsure) {
        h->ctx_trace(ctx, "unsure: %s", plan->why);
        rc = say_unsure(h, ctx, plan->why);
        *outcome = "unsure";
        goto cleanup;
    }
    trace_plan(h, ctx, lx, plan);
    rc = emit_sql(lx, plan, dialect, em);
    if (rc != DC_OK) {
        h->ctx_fail(ctx, "E-INTERNAL", "compiler: cannot build the statement (%d)", rc);
        goto cleanup;
    }
    rc = h->ctx_query(ctx, NULL, em->sql, em->params, em->nparams, &res);
    if (rc != DC_OK)
        goto cleanup; /* the gate recorded why */
    rc = h->ctx_set(ctx, "sql", em->sql);
    if (rc == DC_OK)
        rc = h->ctx_set(ctx, "answer", em->summary);
    if (rc == DC_OK)
        rc = set_structure(h, ctx, lx, plan);
    if (rc != DC_OK) {
        h->ctx_fail(ctx, "E-INTERNAL", "compiler: cannot record the answer (%d)", rc);
        goto cleanup;
    }
    h->ctx_set_result(ctx, res);
    res = NULL;
    *outcome = "ok";
cleanup:
    if (res)
        h->result_free(res);
    if (em)
        emit_free(em);
    free(em);
    free(plan);
    lex_free(lx);
    return rc;
}

static const struct dc_stage_vtable compiler_vtable = {
    sizeof(struct dc_stage_vtable), compiler_options, compiler_outcomes, compiler_init,
    compiler_fini, compiler_run};

DC_PLUGIN_DEFINE_CAPS(DC_KIND_STAGE, "compiler", "0.1.0", "MIT",
                      "Deterministic NL->SQL compiler: grounded questions to SQL, else unsure",
                      &compiler_vtable,
                      DC_CAP_DB_QUERY | DC_CAP_DB_SCHEMA | DC_CAP_DATAPOINTS)
