/*
 * stage-sqlgen - asks a language model for SQL when the deterministic
 * stages are unsure, and never trusts the answer.
 *
 * The prompt comes from template files (the `prompts` directory): the
 * retrieved DataPoints, the slice of the schema the question touches, the
 * dialect, today's date and the session's last turn. The reply's SQL is
 * checked by the gate without running (h->sql_check); a failure goes back
 * to the model with the error, at most max_attempts times. A statement the
 * gate refuses for safety (writes, denied tables) is not retried: it is
 * sent to the gate once more so that the refusal is audited. Confidence
 * (docs/LLM.md) below review_threshold shows the SQL for review instead of
 * running it, unless the request says "yes". Outcomes: ok, review, failed,
 * refused.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "sqlgen_text.h"
#include "textbuf.h"

#ifndef DC_SQLGEN_PROMPTS_DIR
#define DC_SQLGEN_PROMPTS_DIR "config/prompts"
#endif

#define SQLGEN_HITS 24
#define SQLGEN_MAX_DPS 8

static const struct dc_option sqlgen_options[] = {
    {"llm", DC_OPT_STRING, 0, NULL, "llm instance to ask (default: \"default\", else the first)"},
    {"max_attempts", DC_OPT_INT, 0, "3", "model calls per question, corrections included (1..10)"},
    {"review_threshold", DC_OPT_NUMBER, 0, "0.7",
     "confidence below which the SQL is shown for review instead of run (0..1)"},
    {"prompts", DC_OPT_PATH, 0, NULL,
     "directory of sqlgen.system.txt, sqlgen.user.txt, sqlgen.retry.txt (default: the "
     "shipped config/prompts)"},
    {"max_tables", DC_OPT_INT, 0, "8", "tables in the schema slice sent to the model (1..64)"},
    DC_OPTIONS_END};

static const char *const sqlgen_outcomes[] = {"ok", "review", "failed", "refused", NULL};

/* Placeholders each template may use, and the ones it must. */
static const char *const sys_allowed[] = {"dialect", "today", NULL};
static const char *const user_allowed[] = {"question", "schema", "datapoints", "session",
                                           "dialect", "today", NULL};
static const char *const user_required[] = {"question", "schema", NULL};
static const char *const retry_allowed[] = {"error", "sql", "dialect", NULL};
static const char *const retry_required[] = {"error", NULL};

struct sqlgen_state {
    const struct dc_host *h;
    char *llm;
    int64_t max_attempts;
    double threshold;
    int64_t max_tables;
    struct sqlgen_tpl sys, user, retry;
};

static void sqlgen_fini(void *state)
{
    struct sqlgen_state *st = state;
    if (!st)
        return;
    sqlgen_tpl_free(&st->sys);
    sqlgen_tpl_free(&st->user);
    sqlgen_tpl_free(&st->retry);
    free(st->llm);
    free(st);
}

static int load_tpl(const char *dir, const char *file, const char *const *allowed,
                    const char *const *required, struct sqlgen_tpl *t, char *err, size_t errlen)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path)) {
        snprintf(err, errlen, "sqlgen: prompts directory path too long");
        return DC_EINVAL;
    }
    return sqlgen_tpl_load(path, allowed, required, t, err, errlen);
}

/* An integer option in 1..max. */
static int int_in(const struct dc_host *h, const struct dc_opts *opts, const char *key,
                  int64_t max, int64_t *out, char *err, size_t errlen)
{
    if (h->opt_int(opts, key, out) == DC_OK && *out >= 1 && *out <= max)
        return DC_OK;
    snprintf(err, errlen, "E-CFG-RANGE: sqlgen %s must be 1..%lld", key, (long long)max);
    return DC_EINVAL;
}

static int sqlgen_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                       char *err, size_t errlen)
{
    int rc = DC_OK;
    struct sqlgen_state *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "sqlgen: out of memory");
        return DC_ENOMEM;
    }
    st->h = h;
    const char *llm = h->opt_str(opts, "llm");
    if (llm && !(st->llm = strdup(llm))) {
        rc = DC_ENOMEM;
        snprintf(err, errlen, "sqlgen: out of memory");
        goto cleanup;
    }
    rc = int_in(h, opts, "max_attempts", 10, &st->max_attempts, err, errlen);
    if (rc == DC_OK)
        rc = int_in(h, opts, "max_tables", 64, &st->max_tables, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    if (h->opt_number(opts, "review_threshold", &st->threshold) != DC_OK ||
        !(st->threshold >= 0 && st->threshold <= 1)) {
        rc = DC_EINVAL;
        snprintf(err, errlen, "E-CFG-RANGE: sqlgen review_threshold must be between 0 and 1");
        goto cleanup;
    }
    const char *dir = h->opt_str(opts, "prompts");
    if (!dir || !*dir)
        dir = DC_SQLGEN_PROMPTS_DIR;
    rc = load_tpl(dir, "sqlgen.system.txt", sys_allowed, NULL, &st->sys, err, errlen);
    if (rc == DC_OK)
        rc = load_tpl(dir, "sqlgen.user.txt", user_allowed, user_required, &st->user, err,
                      errlen);
    if (rc == DC_OK)
        rc = load_tpl(dir, "sqlgen.retry.txt", retry_allowed, retry_required, &st->retry, err,
                      errlen);
    if (rc != DC_OK)
        goto cleanup;
    *state = st;
    st = NULL;
cleanup:
    sqlgen_fini(st);
    return rc;
}

/* ---- the schema slice ---------------------------------------------------------- */

struct slice {
    const struct dc_table_info *t[64];
    size_t n;
    const struct dc_datapoint_info *dp[SQLGEN_MAX_DPS];
    size_t ndp;
};

static void slice_add_table(struct slice *s, const struct dc_table_info *t, size_t max)
{
    if (!t || s->n >= max)
        return;
    for (size_t i = 0; i < s->n; i++)
        if (s->t[i] == t)
            return;
    s->t[s->n++] = t;
}

/* Does the lowercase word list of the question hold name (or its singular)? */
static int question_names(const char *q, const char *name)
{
    size_t n = strlen(name);
    if (n == 0)
        return 0;
    for (const char *p = q; *p;) {
        while (*p && !isalnum((unsigned char)*p))
            p++;
        const char *w = p;
        while (*p && (isalnum((unsigned char)*p) || *p == '_'))
            p++;
        size_t wl = (size_t)(p - w);
        if (wl && ((wl == n && strncasecmp(w, name, n) == 0) ||
                   (n > 1 && name[n - 1] == 's' && wl == n - 1 && strncasecmp(w, name, wl) == 0) ||
                   (wl > 1 && w[wl - 1] == 's' && wl - 1 == n && strncasecmp(w, name, n) == 0)))
            return 1;
    }
    return 0;
}

/* The table part of "table:T", "column:T.C" or "value:T.C=V". */
static const struct dc_table_info *hit_table(const struct dc_host *h, const struct dc_schema *s,
                                             const char *id)
{
    const char *colon = strchr(id, ':');
    if (!colon)
        return NULL;
    char name[256];
    size_t n = 0;
    for (const char *p = colon + 1; *p && *p != '.' && *p != '=' && n < sizeof(name) - 1; p++)
        name[n++] = *p;
    name[n] = '\0';
    return h->schema_find(s, name);
}

static void build_slice(struct sqlgen_state *st, struct dc_ctx *ctx, const struct dc_schema *s,
                        const char *q, struct slice *sl)
{
    const struct dc_host *h = st->h;
    size_t max = (size_t)st->max_tables;
    struct dc_retrieval_hit hits[SQLGEN_HITS];
    size_t nh = 0;
    if (!DC_HOST_HAS(h, retrieve) || h->retrieve(ctx, q, SQLGEN_HITS, hits, &nh) != DC_OK)
        nh = 0;
    for (size_t i = 0; i < nh; i++) {
        if (strcmp(hits[i].kind, "dp") == 0) {
            const struct dc_datapoint_info *d =
                DC_HOST_HAS(h, dp_find) ? h->dp_find(ctx, hits[i].id + 3) : NULL;
            if (d && sl->ndp < SQLGEN_MAX_DPS)
                sl->dp[sl->ndp++] = d;
            for (size_t k = 0; d && k < d->ndata_sources; k++)
                slice_add_table(sl, h->schema_find(s, d->data_sources[k]->table), max);
            if (d && d->table)
                slice_add_table(sl, h->schema_find(s, d->table), max);
        } else {
            slice_add_table(sl, hit_table(h, s, hits[i].id), max);
        }
    }
    size_t nt = h->schema_ntables(s);
    for (size_t i = 0; i < nt; i++)
        if (question_names(q, h->schema_table(s, i)->name))
            slice_add_table(sl, h->schema_table(s, i), max);
    /* Join partners of what was picked, so the model can write the join. */
    for (size_t i = 0, n0 = sl->n; i < n0; i++)
        for (size_t f = 0; f < sl->t[i]->nfks; f++)
            slice_add_table(sl, h->schema_find(s, sl->t[i]->fks[f].to_table), max);
    if (sl->n == 0 && nt <= max)
        for (size_t i = 0; i < nt; i++)
            slice_add_table(sl, h->schema_table(s, i), max);
}

static void render_schema(const struct slice *sl, struct textbuf *b)
{
    for (size_t i = 0; i < sl->n; i++) {
        const struct dc_table_info *t = sl->t[i];
        textbuf_printf(b, "%s %s", t->kind && strcmp(t->kind, "view") == 0 ? "VIEW" : "TABLE",
                       t->name);
        if (t->row_count >= 0)
            textbuf_printf(b, " (about %lld rows)", (long long)t->row_count);
        textbuf_puts(b, "\n");
        for (size_t c = 0; c < t->ncolumns; c++) {
            const struct dc_column_info *col = &t->columns[c];
            textbuf_printf(b, "  %s %s%s%s", col->name, col->decl_type ? col->decl_type : "",
                           col->pk ? " PRIMARY KEY" : "", col->notnull ? " NOT NULL" : "");
            for (size_t f = 0; f < t->nfks; f++)
                if (strcmp(t->fks[f].from_column, col->name) == 0)
                    textbuf_printf(b, " REFERENCES %s(%s)", t->fks[f].to_table,
                                   t->fks[f].to_column ? t->fks[f].to_column : "");
            if (col->comment)
                textbuf_printf(b, " -- %s", col->comment);
            textbuf_puts(b, "\n");
        }
    }
    if (sl->n == 0)
        textbuf_puts(b, "(no table matched the question)\n");
}

static void render_dps(const struct slice *sl, struct textbuf *b)
{
    for (size_t i = 0; i < sl->ndp; i++) {
        const struct dc_datapoint_info *d = sl->dp[i];
        textbuf_printf(b, "- %s (%s)", d->name ? d->name : d->id, d->type ? d->type : "?");
        if (d->definition)
            textbuf_printf(b, ": %s", d->definition);
        textbuf_puts(b, "\n");
        if (d->nsynonyms) {
            textbuf_puts(b, "  also called:");
            for (size_t k = 0; k < d->nsynonyms; k++)
                textbuf_printf(b, "%s %s", k ? "," : "", d->synonyms[k]);
            textbuf_puts(b, "\n");
        }
        for (size_t k = 0; k < d->ndata_sources; k++) {
            const struct dc_dp_source *src = d->data_sources[k];
            textbuf_printf(b, "  table: %s\n", src->table);
            for (size_t f = 0; f < src->nfilters; f++)
                textbuf_printf(b, "  always filter: %s\n", src->filters[f]);
        }
        if (d->sql_template)
            textbuf_printf(b, "  computed as: %s\n", d->sql_template);
    }
    if (sl->ndp == 0)
        textbuf_puts(b, "(none)\n");
}

static void render_session(const struct dc_host *h, struct dc_ctx *ctx, struct textbuf *b)
{
    static const char *const keys[][2] = {{"session.last_question", "previous question"},
                                          {"session.last_sql", "previous SQL"},
                                          {"session.last_structure", "previous structure"}};
    int any = 0;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *v = h->ctx_get(ctx, keys[i][0]);
        if (v && *v) {
            textbuf_printf(b, "%s: %s\n", keys[i][1], v);
            any = 1;
        }
    }
    if (!any)
        textbuf_puts(b, "(no earlier turn)\n");
}

/* ---- grounding --------------------------------------------------------------- */

/* Case-insensitive whole-word occurrence of word in sql. */
static int sql_has_word(const char *sql, const char *word)
{
    size_t n = strlen(word);
    if (n == 0)
        return 0;
    for (const char *p = sql; (p = strcasestr(p, word)) != NULL; p++) {
        int before = p == sql || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        int after = !(isalnum((unsigned char)p[n]) || p[n] == '_');
        if (before && after)
            return 1;
    }
    return 0;
}

/* A DataPoint counts as used when the SQL reads its table or carries one
 * of its business filters. */
static const struct dc_datapoint_info *dp_used(const struct slice *sl, const char *sql)
{
    for (size_t i = 0; i < sl->ndp; i++)
        for (size_t k = 0; k < sl->dp[i]->ndata_sources; k++) {
            const struct dc_dp_source *src = sl->dp[i]->data_sources[k];
            if (src->table && sql_has_word(sql, src->table))
                return sl->dp[i];
            for (size_t f = 0; f < src->nfilters; f++)
                if (strcasestr(sql, src->filters[f]))
                    return sl->dp[i];
        }
    return NULL;
}

/* Every "a.b" where a is a table of the schema names a column of it. The
 * gate's prepare has checked names against the engine already; this also
 * catches references the engine resolved otherwise (an alias shadowing a
 * table name). Quoted strings and comments are skipped. */
static int identifiers_valid(const struct dc_host *h, const struct dc_schema *s, const char *sql,
                             char *bad, size_t badlen)
{
    const char *p = sql;
    while (*p) {
        if (*p == '\'') {
            for (p++; *p && !(*p == '\'' && p[1] != '\''); p += (*p == '\'' ? 2 : 1))
                ;
            if (*p)
                p++;
            continue;
        }
        if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
            continue;
        }
        if (isalpha((unsigned char)*p) || *p == '_') {
            const char *w = p;
            while (isalnum((unsigned char)*p) || *p == '_')
                p++;
            if (*p == '.' && (isalpha((unsigned char)p[1]) || p[1] == '_')) {
                char t[128], c[128];
                size_t tl = (size_t)(p - w);
                const char *cb = ++p;
                while (isalnum((unsigned char)*p) || *p == '_')
                    p++;
                size_t cl = (size_t)(p - cb);
                if (tl < sizeof(t) && cl < sizeof(c)) {
                    memcpy(t, w, tl);
                    t[tl] = '\0';
                    memcpy(c, cb, cl);
                    c[cl] = '\0';
                    const struct dc_table_info *ti = h->schema_find(s, t);
                    int found = ti == NULL;
                    for (size_t i = 0; ti && i < ti->ncolumns && !found; i++)
                        found = strcasecmp(ti->columns[i].name, c) == 0;
                    if (!found) {
                        snprintf(bad, badlen, "%s.%s", t, c);
                        return 0;
                    }
                }
            }
            continue;
        }
        p++;
    }
    return 1;
}

/* ---- result checks -------------------------------------------------------------- */

static int result_has_col(const struct dc_host *h, const struct dc_result *r, const char *name)
{
    for (size_t c = 0; c < h->result_ncols(r); c++)
        if (strcasecmp(h->result_col_name(r, c), name) == 0)
            return 1;
    return 0;
}

static void check_result(const struct dc_host *h, const struct dc_result *r, const char *q,
                         const struct slice *sl, struct textbuf *flags)
{
    size_t nrows = h->result_nrows(r);
    if (nrows == 0)
        textbuf_puts(flags, "the query returned no rows: check its filters\n");
    if (h->result_truncated(r))
        textbuf_printf(flags, "the result stopped at the row cap (%zu rows): it is incomplete\n",
                       nrows);
    /* Columns the question names should be in the answer. */
    for (size_t i = 0; i < sl->n; i++)
        for (size_t c = 0; c < sl->t[i]->ncolumns; c++) {
            const char *name = sl->t[i]->columns[c].name;
            if (strlen(name) > 2 && question_names(q, name) && !question_names(q, sl->t[i]->name) &&
                !result_has_col(h, r, name))
                textbuf_printf(flags, "the question names %s but the result has no such column\n",
                               name);
        }
    /* NULLs where the schema says a value is required. */
    for (size_t c = 0; c < h->result_ncols(r); c++) {
        const char *name = h->result_col_name(r, c);
        int required = 0;
        for (size_t i = 0; i < sl->n && !required; i++)
            for (size_t k = 0; k < sl->t[i]->ncolumns && !required; k++)
                required = sl->t[i]->columns[k].notnull &&
                           strcasecmp(sl->t[i]->columns[k].name, name) == 0;
        size_t nulls = 0;
        for (size_t row = 0; required && row < nrows; row++)
            nulls += h->result_get(r, row, c)->type == DC_NULL;
        if (nulls)
            textbuf_printf(flags, "%zu NULL value%s in %s, which the schema requires (an outer "
                                  "join?)\n",
                           nulls, nulls == 1 ? "" : "s", name);
    }
}

/* ---- run ----------------------------------------------------------------------- */

/* Codes the gate uses for a statement that is unsafe or not allowed, as
 * opposed to one that is merely wrong: those are refused, not retried. */
static int is_refusal(const char *err)
{
    static const char *const codes[] = {"E-GATE-WRITE:", "E-GATE-DDL:", "E-GATE-ATTACH:",
                                        "E-GATE-PRAGMA:", "E-GATE-TXN:", "E-GATE-DENIED:",
                                        "E-GATE-FUNC-DENIED:", "E-POLICY-", NULL};
    for (size_t i = 0; codes[i]; i++)
        if (strncmp(err, codes[i], strlen(codes[i])) == 0)
            return 1;
    return 0;
}

static const char *today_text(const struct dc_host *h, struct dc_ctx *ctx, char *buf, size_t n)
{
    const char *t = h->ctx_get(ctx, "today");
    if (t && *t)
        return t;
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm) || strftime(buf, n, "%Y-%m-%d", &tm) == 0)
        return "unknown";
    return buf;
}

static int add_msg(json_t *msgs, const char *role, const char *content)
{
    json_t *m = json_pack("{s:s, s:s}", "role", role, "content", content);
    return m && json_array_append_new(msgs, m) == 0 ? DC_OK : DC_ENOMEM;
}

struct attempt_out {
    char *sql;       /* the last statement extracted */
    char err[1024];  /* why the last one failed, "" when it passed */
    int attempt;     /* 1-based attempt that passed, 0 if none */
    int refusal;     /* the last failure was a gate refusal */
    int llm_failed;  /* the model could not be asked */
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One attempt as its own trace step ("sqlgen.attempt"): its number, the
 * SQL, the error fed back to the model, and the model call's token usage
 * and latency (from "llm.usage"). A trace that cannot take the step only
 * loses the step: the attempt notes stay in sqlgen's own reason. */
static void trace_attempt(struct sqlgen_state *st, struct dc_ctx *ctx, int a, const char *outcome,
                          const char *sql, const char *err, int fed_back, int64_t t0)
{
    const struct dc_host *h = st->h;
    const char *u = h->ctx_get(ctx, "llm.usage");
    json_t *usage = u ? json_loads(u, 0, NULL) : NULL;
    json_t *detail = json_pack("{s:i, s:I, s:s?, s:s?, s:b}", "attempt", a, "max_attempts",
                               (json_int_t)st->max_attempts, "sql", sql, "error",
                               err && *err ? err : NULL, "error_fed_back", fed_back);
    if (detail && json_is_object(usage)) {
        static const char *const keys[][2] = {
            {"provider", "provider"},         {"model", "model"},
            {"input_tokens", "prompt_tokens"}, {"output_tokens", "completion_tokens"},
            {"latency_ms", "latency_ms"},     {"attempts", "http_attempts"}};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            json_t *v = json_object_get(usage, keys[i][0]);
            if (v)
                json_object_set(detail, keys[i][1], v);
        }
    }
    char reason[160];
    snprintf(reason, sizeof(reason), "attempt %d/%lld: %s", a, (long long)st->max_attempts,
             outcome);
    json_t *step = detail ? json_pack("{s:s, s:s, s:s, s:I, s:O}", "name", "sqlgen.attempt",
                                      "outcome", outcome, "reason", reason, "us",
                                      (json_int_t)(now_us() - t0), "detail", detail)
                          : NULL;
    char *text = step ? json_dumps(step, JSON_COMPACT) : NULL;
    if (!text || h->ctx_set(ctx, "trace.step", text) != DC_OK)
        h->ctx_trace(ctx, "attempt %d: could not add its trace step", a);
    free(text);
    json_decref(step);
    json_decref(detail);
    json_decref(usage);
}

static int generate(struct sqlgen_state *st, struct dc_ctx *ctx, json_t *msgs,
                    struct attempt_out *ao)
{
    const struct dc_host *h = st->h;
    const char *dialect = h->ctx_get(ctx, "database.dialect");
    for (int a = 1; a <= st->max_attempts; a++) {
        int64_t t0 = now_us();
        json_t *req = json_pack("{s:O}", "messages", msgs);
        char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
        json_decref(req);
        if (!body)
            return DC_ENOMEM;
        const char *reply = NULL;
        char lerr[1024] = "";
        int rc = h->llm_complete(ctx, st->llm, body, &reply, lerr, sizeof(lerr));
        free(body);
        if (rc != DC_OK) {
            h->ctx_trace(ctx, "attempt %d/%lld: the model call failed: %s", a,
                         (long long)st->max_attempts, lerr);
            snprintf(ao->err, sizeof(ao->err), "%s", lerr);
            ao->llm_failed = 1;
            trace_attempt(st, ctx, a, "model-failed", NULL, lerr, 0, t0);
            return DC_OK;
        }
        free(ao->sql);
        ao->sql = NULL;
        rc = sqlgen_extract_sql(reply, strlen(reply), &ao->sql);
        if (rc == DC_ENOMEM)
            return rc;
        if (rc != DC_OK) {
            snprintf(ao->err, sizeof(ao->err),
                     "E-SQLGEN-NO-SQL: the reply held no SQL statement; answer with one "
                     "SELECT in a ```sql block");
        } else {
            ao->err[0] = '\0';
            rc = h->sql_check(ctx, NULL, ao->sql, ao->err, sizeof(ao->err));
            if (rc == DC_OK) {
                h->ctx_trace(ctx, "attempt %d/%lld: the gate accepts: %s", a,
                             (long long)st->max_attempts, ao->sql);
                trace_attempt(st, ctx, a, "valid", ao->sql, NULL, 0, t0);
                ao->attempt = a;
                return DC_OK;
            }
            if (!ao->err[0])
                snprintf(ao->err, sizeof(ao->err), "E-GATE: the statement would not run");
        }
        h->ctx_trace(ctx, "attempt %d/%lld: %s%s%s", a, (long long)st->max_attempts, ao->err,
                     ao->sql ? " -- SQL: " : "", ao->sql ? ao->sql : "");
        if (ao->sql && is_refusal(ao->err)) {
            trace_attempt(st, ctx, a, "refused", ao->sql, ao->err, 0, t0);
            ao->refusal = 1;
            return DC_OK;
        }
        trace_attempt(st, ctx, a, "invalid", ao->sql, ao->err, a < st->max_attempts, t0);
        if (a == st->max_attempts)
            break;
        const char *names[] = {"error", "sql", "dialect"};
        const char *values[] = {ao->err, ao->sql ? ao->sql : "(none)", dialect};
        struct textbuf fb = {0};
        sqlgen_tpl_fill(st->retry.text, names, values, 3, &fb);
        rc = fb.oom ? DC_ENOMEM : DC_OK;
        if (rc == DC_OK)
            rc = add_msg(msgs, "assistant", reply);
        if (rc == DC_OK)
            rc = add_msg(msgs, "user", fb.p ? fb.p : "");
        textbuf_free(&fb);
        if (rc != DC_OK)
            return rc;
    }
    return DC_OK;
}

static int build_messages(struct sqlgen_state *st, struct dc_ctx *ctx, const char *q,
                          const struct slice *sl, json_t **out)
{
    const struct dc_host *h = st->h;
    char todaybuf[16];
    const char *dialect = h->ctx_get(ctx, "database.dialect");
    const char *today = today_text(h, ctx, todaybuf, sizeof(todaybuf));
    struct textbuf schema = {0}, dps = {0}, session = {0}, sys = {0}, user = {0};
    render_schema(sl, &schema);
    render_dps(sl, &dps);
    render_session(h, ctx, &session);
    const char *names[] = {"question", "schema", "datapoints", "session", "dialect", "today"};
    const char *values[] = {q, schema.p, dps.p, session.p, dialect ? dialect : "sql", today};
    sqlgen_tpl_fill(st->sys.text, names + 4, values + 4, 2, &sys);
    sqlgen_tpl_fill(st->user.text, names, values, 6, &user);
    int rc = schema.oom || dps.oom || session.oom || sys.oom || user.oom ? DC_ENOMEM : DC_OK;
    json_t *msgs = rc == DC_OK ? json_array() : NULL;
    if (rc == DC_OK && !msgs)
        rc = DC_ENOMEM;
    if (rc == DC_OK)
        rc = add_msg(msgs, "system", sys.p ? sys.p : "");
    if (rc == DC_OK)
        rc = add_msg(msgs, "user", user.p ? user.p : "");
    textbuf_free(&schema);
    textbuf_free(&dps);
    textbuf_free(&session);
    textbuf_free(&sys);
    textbuf_free(&user);
    if (rc != DC_OK) {
        json_decref(msgs);
        return rc;
    }
    *out = msgs;
    return DC_OK;
}

/* Confidence in [0,1], documented in docs/LLM.md:
 *   0.40  the gate accepts the statement (otherwise nothing is scored)
 *   0.20  on the first attempt (0.10 on the second, 0 later)
 *   0.20  every table.column reference names a real column
 *   0.15  a retrieved DataPoint was used (its table or business filter)
 *   0.05  a similar question was answered before (ctx "session.similar_ok") */
static double confidence(int attempt, int ids_ok, int dp, int similar, struct textbuf *why)
{
    double c = 0.40;
    textbuf_puts(why, "validated by the gate +0.40");
    if (attempt == 1) {
        c += 0.20;
        textbuf_puts(why, ", first attempt +0.20");
    } else if (attempt == 2) {
        c += 0.10;
        textbuf_puts(why, ", second attempt +0.10");
    } else {
        textbuf_printf(why, ", attempt %d +0", attempt);
    }
    if (ids_ok) {
        c += 0.20;
        textbuf_puts(why, ", identifiers valid +0.20");
    } else {
        textbuf_puts(why, ", an identifier does not resolve +0");
    }
    if (dp) {
        c += 0.15;
        textbuf_puts(why, ", DataPoint used +0.15");
    } else {
        textbuf_puts(why, ", no DataPoint +0");
    }
    if (similar) {
        c += 0.05;
        textbuf_puts(why, ", similar question answered before +0.05");
    }
    return c > 1.0 ? 1.0 : c;
}

static int set_text(const struct dc_host *h, struct dc_ctx *ctx, const char *key, const char *v)
{
    int rc = h->ctx_set(ctx, key, v);
    if (rc != DC_OK)
        h->ctx_fail(ctx, "E-INTERNAL", "sqlgen: cannot record %s (%d)", key, rc);
    return rc;
}

static int sqlgen_run(void *state, struct dc_ctx *ctx, const char **outcome)
{
    struct sqlgen_state *st = state;
    const struct dc_host *h = st->h;
    struct attempt_out ao;
    struct slice sl;
    json_t *msgs = NULL;
    struct dc_result *res = NULL;
    struct textbuf why = {0}, flags = {0}, answer = {0};
    int rc = DC_OK;
    memset(&ao, 0, sizeof(ao));
    memset(&sl, 0, sizeof(sl));

    const char *q = h->ctx_get(ctx, "question");
    if (!DC_HOST_HAS(h, llm_complete) || !DC_HOST_HAS(h, sql_check)) {
        h->ctx_fail(ctx, "E-SQLGEN-HOST", "sqlgen needs a host of ABI 1.3 or later");
        return DC_EUNSUPPORTED;
    }
    const struct dc_schema *s = h->ctx_schema(ctx, NULL);
    if (!q || !s) {
        h->ctx_fail(ctx, "E-SQLGEN-NO-SCHEMA", "sqlgen: %s",
                    q ? "the database catalog is not available" : "no question");
        *outcome = "failed";
        return DC_OK;
    }
    build_slice(st, ctx, s, q, &sl);
    textbuf_printf(&why, "schema slice:");
    for (size_t i = 0; i < sl.n; i++)
        textbuf_printf(&why, " %s", sl.t[i]->name);
    textbuf_printf(&why, "; DataPoints:");
    for (size_t i = 0; i < sl.ndp; i++)
        textbuf_printf(&why, " %s", sl.dp[i]->id);
    if (!why.oom)
        h->ctx_trace(ctx, "%s%s", why.p, sl.ndp ? "" : " none");
    textbuf_free(&why);
    why = (struct textbuf){0};

    rc = build_messages(st, ctx, q, &sl, &msgs);
    if (rc == DC_OK)
        rc = generate(st, ctx, msgs, &ao);
    if (rc != DC_OK) {
        h->ctx_fail(ctx, "E-INTERNAL", "sqlgen: out of memory");
        goto cleanup;
    }
    if (ao.llm_failed) {
        /* The provider recorded its E-LLM-* error; the answer says so too. */
        textbuf_printf(&answer, "The language model could not be asked: %s", ao.err);
        rc = answer.oom ? DC_ENOMEM : set_text(h, ctx, "answer", answer.p);
        *outcome = "failed";
        goto cleanup;
    }
    if (ao.refusal) {
        /* Sent to the gate once more only so that the refusal is audited:
         * the gate refuses it again without running anything. */
        rc = h->ctx_query(ctx, NULL, ao.sql, NULL, 0, &res);
        if (rc == DC_OK) {
            h->ctx_fail(ctx, "E-SQLGEN-GATE", "sqlgen: the gate accepted a statement its check "
                                              "refused");
            rc = DC_ERR;
            goto cleanup;
        }
        textbuf_printf(&answer, "I won't run the SQL the language model wrote: %s", ao.err);
        rc = answer.oom ? DC_ENOMEM : set_text(h, ctx, "answer", answer.p);
        if (rc == DC_OK && !h->ctx_get(ctx, "refused"))
            rc = set_text(h, ctx, "refused", "E-SQLGEN-REFUSED");
        *outcome = "refused";
        goto cleanup;
    }
    if (!ao.attempt) {
        h->ctx_fail(ctx, "E-SQLGEN-INVALID",
                    "the model's SQL failed validation %lld time%s; nothing was run. Last "
                    "error: %s. Rephrase the question with table and column names, or add a "
                    "DataPoint for it",
                    (long long)st->max_attempts, st->max_attempts == 1 ? "" : "s", ao.err);
        textbuf_printf(&answer, "I could not get valid SQL for this question after %lld "
                                "attempts; nothing was run.",
                       (long long)st->max_attempts);
        rc = answer.oom ? DC_ENOMEM : set_text(h, ctx, "answer", answer.p);
        *outcome = "failed";
        goto cleanup;
    }

    char bad[300] = "";
    int ids_ok = identifiers_valid(h, s, ao.sql, bad, sizeof(bad));
    if (!ids_ok)
        h->ctx_trace(ctx, "identifier %s does not resolve", bad);
    const struct dc_datapoint_info *used = dp_used(&sl, ao.sql);
    const char *sim = h->ctx_get(ctx, "session.similar_ok");
    double conf = confidence(ao.attempt, ids_ok, used != NULL, sim && strcmp(sim, "1") == 0, &why);
    char cbuf[32];
    snprintf(cbuf, sizeof(cbuf), "%.2f", conf);
    h->ctx_trace(ctx, "confidence %s (%s)%s%s", cbuf, why.p ? why.p : "", used ? "; used " : "",
                 used ? used->id : "");
    rc = set_text(h, ctx, "confidence", cbuf);
    if (rc == DC_OK)
        rc = set_text(h, ctx, "sql", ao.sql);
    if (rc == DC_OK)
        rc = set_text(h, ctx, "sql.source", "llm");
    if (rc != DC_OK)
        goto cleanup;
    const char *yes = h->ctx_get(ctx, "yes");
    int forced = yes && strcmp(yes, "1") == 0;
    if (conf < st->threshold && !forced) {
        textbuf_printf(&answer,
                       "A language model wrote this SQL, but my confidence is %s, under the "
                       "review threshold %.2f (%s). It was not run: review it, then run it with "
                       "`datachat query --yes` (API: \"yes\": true).",
                       cbuf, st->threshold, why.p ? why.p : "");
        rc = answer.oom ? DC_ENOMEM : set_text(h, ctx, "answer", answer.p);
        h->ctx_trace(ctx, "below the review threshold %.2f: not run", st->threshold);
        *outcome = "review";
        goto cleanup;
    }
    if (conf < st->threshold)
        h->ctx_trace(ctx, "below the review threshold %.2f, run because the request says yes",
                     st->threshold);
    rc = h->ctx_query(ctx, NULL, ao.sql, NULL, 0, &res);
    if (rc != DC_OK) {
        *outcome = h->ctx_get(ctx, "refused") ? "refused" : "failed";
        rc = DC_OK; /* the gate recorded why */
        goto cleanup;
    }
    check_result(h, res, q, &sl, &flags);
    textbuf_printf(&answer, "Answered with SQL a language model wrote (confidence %s).", cbuf);
    if (flags.p) {
        textbuf_printf(&answer, "\nCheck: %s", flags.p);
        if (answer.len && answer.p[answer.len - 1] == '\n')
            answer.p[--answer.len] = '\0';
        rc = set_text(h, ctx, "sqlgen.flags", flags.p);
        h->ctx_trace(ctx, "result flags: %s", flags.p);
    }
    if (rc == DC_OK)
        rc = answer.oom ? DC_ENOMEM : set_text(h, ctx, "answer", answer.p);
    if (rc != DC_OK)
        goto cleanup;
    h->ctx_set_result(ctx, res);
    res = NULL;
    *outcome = "ok";
cleanup:
    if (res)
        h->result_free(res);
    json_decref(msgs);
    free(ao.sql);
    textbuf_free(&why);
    textbuf_free(&flags);
    textbuf_free(&answer);
    return rc;
}

static const struct dc_stage_vtable sqlgen_vtable = {
    sizeof(struct dc_stage_vtable), sqlgen_options, sqlgen_outcomes, sqlgen_init, sqlgen_fini,
    sqlgen_run};

DC_PLUGIN_DEFINE_CAPS(DC_KIND_STAGE, "sqlgen", "0.1.0", "MIT",
                      "Asks a language model for SQL when the compiler is unsure; validated by the "
                      "gate, corrected, scored, reviewed below a confidence threshold",
                      &sqlgen_vtable,
                      DC_CAP_DB_QUERY | DC_CAP_DB_SCHEMA | DC_CAP_DATAPOINTS | DC_CAP_RETRIEVE |
                      DC_CAP_LLM)
