/*
 * stage-intent - the first pipeline stage: decides what kind of question
 * this is (catalog, sql, metric, tool, clarify, refuse) with the rules in
 * classify.c, against the table names of the request's database.
 * It writes "intent" and, for catalog questions, "catalog.op",
 * "catalog.table", "catalog.limit", "catalog.search"; refusals get "refused"
 * and an "answer"; clarifications an "answer" naming the metric DataPoints
 * and tables to choose from, and "clarify.choices".
 * With a model configured (option llm, which the config fills in), a
 * question the rules find unclear is sent to the model with the prompt
 * templates intent.system.txt and intent.user.txt, and routed as sql,
 * metric or catalog when the model says so. The rules stay first and
 * authoritative: a refused question never reaches the model, and the model
 * can only route, never refuse or run anything. It never runs SQL.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "classify.h"
#include "sqlgen_text.h"

#ifndef DC_INTENT_PROMPTS_DIR
#define DC_INTENT_PROMPTS_DIR "config/prompts"
#endif

struct intent_state {
    const struct dc_host *h;
    int fallback;  /* ask the model about unclear questions */
    char *llm;     /* its instance, NULL: the default */
    struct sqlgen_tpl sys, user;
};

static const struct dc_option intent_options[] = {
    {"llm", DC_OPT_STRING, 0, NULL,
     "llm instance asked about unclear questions (the config sets it when llm: has one)"},
    {"llm_fallback", DC_OPT_BOOL, 0, "true",
     "false: never ask a model, even with llm set"},
    {"prompts", DC_OPT_PATH, 0, NULL,
     "directory of intent.system.txt and intent.user.txt (default: the shipped "
     "config/prompts)"},
    DC_OPTIONS_END};
static const char *const intent_outcomes[] = {"catalog", "sql",     "metric", "tool",
                                              "clarify", "refuse", NULL};

static const char *const user_allowed[] = {"question", "tables", "metrics", NULL};
static const char *const user_required[] = {"question", NULL};

static void intent_fini(void *state)
{
    struct intent_state *st = state;
    if (!st)
        return;
    sqlgen_tpl_free(&st->sys);
    sqlgen_tpl_free(&st->user);
    free(st->llm);
    free(st);
}

static int intent_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                       char *err, size_t errlen)
{
    int rc = DC_OK;
    struct intent_state *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "intent: out of memory");
        return DC_ENOMEM;
    }
    st->h = h;
    const char *llm = opts ? h->opt_str(opts, "llm") : NULL;
    st->fallback = 1;
    if (opts && h->opt_bool(opts, "llm_fallback", &st->fallback) != DC_OK)
        st->fallback = 1;
    if (!llm || !*llm) {
        /* No model configured: the rules alone, exactly as before. */
        st->fallback = 0;
    } else if (st->fallback) {
        char path[4096];
        const char *dir = opts ? h->opt_str(opts, "prompts") : NULL;
        if (!dir || !*dir)
            dir = DC_INTENT_PROMPTS_DIR;
        if (!(st->llm = strdup(llm))) {
            snprintf(err, errlen, "intent: out of memory");
            rc = DC_ENOMEM;
            goto cleanup;
        }
        snprintf(path, sizeof(path), "%s/intent.system.txt", dir);
        rc = sqlgen_tpl_load(path, NULL, NULL, &st->sys, err, errlen);
        if (rc == DC_OK) {
            snprintf(path, sizeof(path), "%s/intent.user.txt", dir);
            rc = sqlgen_tpl_load(path, user_allowed, user_required, &st->user, err, errlen);
        }
        if (rc != DC_OK)
            goto cleanup;
    }
    *state = st;
    st = NULL;
cleanup:
    intent_fini(st);
    return rc;
}

/* The schema's table and column names as the classifier wants them. */
struct names {
    struct cls_table *tables;
    const char **columns;
    size_t ntables;
};

static int names_load(const struct dc_host *h, const struct dc_schema *s, struct names *n)
{
    memset(n, 0, sizeof(*n));
    if (!s)
        return DC_OK;
    size_t nt = h->schema_ntables(s), ncols = 0;
    for (size_t i = 0; i < nt; i++) {
        const struct dc_table_info *t = h->schema_table(s, i);
        ncols += t ? t->ncolumns : 0;
    }
    n->tables = calloc(nt ? nt : 1, sizeof(*n->tables));
    n->columns = calloc(ncols ? ncols : 1, sizeof(*n->columns));
    if (!n->tables || !n->columns) {
        free(n->tables);
        free(n->columns);
        memset(n, 0, sizeof(*n));
        return DC_ENOMEM;
    }
    size_t c = 0;
    for (size_t i = 0; i < nt; i++) {
        const struct dc_table_info *t = h->schema_table(s, i);
        if (!t)
            continue;
        struct cls_table *ct = &n->tables[n->ntables++];
        ct->name = t->name;
        ct->columns = n->columns + c;
        for (size_t k = 0; k < t->ncolumns; k++)
            n->columns[c++] = t->columns[k].name;
        ct->ncolumns = t->ncolumns;
    }
    return DC_OK;
}

static void names_free(struct names *n)
{
    free(n->tables);
    free(n->columns);
}

static const char *refusal_text(const struct cls_result *r)
{
    if (r->code && strcmp(r->code, "E-INTENT-INJECTION") == 0)
        return "I can't follow that: the question tries to change my instructions or role. "
               "I only answer questions about your data, for example \"what tables are "
               "there?\".";
    if (r->code && strcmp(r->code, "E-INTENT-PRIVILEGE") == 0)
        return "I can't do that: DataChat cannot grant rights or roles; an administrator "
               "sets them in the policy. Ask a question about the data instead, for example "
               "\"how many rows are in orders?\".";
    return "I can't do that: DataChat only reads data and never changes, deletes or creates "
           "anything. Ask a question about the data instead, for example \"how many rows are "
           "in orders?\".";
}

#define CHOICES_MAX 8

/* Appends "a, b, c" (at most CHOICES_MAX, then "…") of the metric
 * DataPoints or the tables to the answer and, one "kind:name" a line, to
 * the clarify.choices text. Returns how many were named. */
static size_t add_choices(const struct dc_host *h, struct dc_ctx *ctx,
                          const struct dc_schema *schema, int metrics, char *ans, size_t acap,
                          char *list, size_t lcap)
{
    size_t named = 0, total = 0;
    size_t n = metrics ? (DC_HOST_HAS(h, dp_count) && DC_HOST_HAS(h, dp_at) ? h->dp_count(ctx)
                                                                           : 0)
                       : (schema ? h->schema_ntables(schema) : 0);
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL;
        if (metrics) {
            const struct dc_datapoint_info *dp = h->dp_at(ctx, i);
            if (!dp || !dp->type || strcmp(dp->type, "metric") != 0)
                continue;
            name = dp->name && *dp->name ? dp->name : dp->id;
        } else {
            const struct dc_table_info *t = h->schema_table(schema, i);
            name = t ? t->name : NULL;
        }
        if (!name)
            continue;
        total++;
        size_t al = strlen(ans), ll = strlen(list);
        if (named < CHOICES_MAX)
            snprintf(ans + al, acap - al, "%s%s", named ? ", " : "", name);
        snprintf(list + ll, lcap - ll, "%s:%s\n", metrics ? "metric" : "table", name);
        if (named < CHOICES_MAX)
            named++;
    }
    if (total > named) {
        size_t al = strlen(ans);
        snprintf(ans + al, acap - al, " and %zu more", total - named);
    }
    return total;
}

/* The clarifying question names what the person can ask about: the metric
 * DataPoints and the tables of the catalog. */
static int set_clarify(const struct dc_host *h, struct dc_ctx *ctx,
                       const struct dc_schema *schema, const struct cls_result *r)
{
    char ans[2048], list[8192] = "";
    if (strcmp(r->rule, "no words") == 0)
        snprintf(ans, sizeof(ans), "I couldn't find any words in that question. ");
    else if (strcmp(r->rule, "no grounded word") == 0)
        snprintf(ans, sizeof(ans), "Which data do you mean? That question names no table, "
                                   "column or metric. ");
    else
        snprintf(ans, sizeof(ans), "I answer questions about your data. ");
    char metrics[1024] = "", tables[1024] = "";
    size_t nm = add_choices(h, ctx, schema, 1, metrics, sizeof(metrics), list, sizeof(list));
    size_t nt = add_choices(h, ctx, schema, 0, tables, sizeof(tables), list, sizeof(list));
    size_t al = strlen(ans);
    if (nm && nt)
        snprintf(ans + al, sizeof(ans) - al, "You can ask about the metrics %s or the tables %s",
                 metrics, tables);
    else if (nt)
        snprintf(ans + al, sizeof(ans) - al, "You can ask about the tables %s", tables);
    else
        snprintf(ans + al, sizeof(ans) - al, "You can ask about the tables of your database");
    const struct dc_table_info *t0 = nt ? h->schema_table(schema, 0) : NULL;
    al = strlen(ans);
    snprintf(ans + al, sizeof(ans) - al,
             ", for example \"how many rows are in %s?\", or ask \"what tables are "
             "there?\".",
             t0 && t0->name ? t0->name : "orders");
    int rc = h->ctx_set(ctx, "answer", ans);
    if (rc == DC_OK)
        rc = h->ctx_set(ctx, "clarify.choices", list);
    return rc;
}

static int set_all(const struct dc_host *h, struct dc_ctx *ctx, const struct dc_schema *schema,
                   const struct cls_result *r)
{
    int rc = h->ctx_set(ctx, "intent", classify_intent_name(r->intent));
    if (rc == DC_OK && r->intent == CLS_CATALOG) {
        rc = h->ctx_set(ctx, "catalog.op", classify_op_name(r->op));
        if (rc == DC_OK && r->table[0])
            rc = h->ctx_set(ctx, "catalog.table", r->table);
        if (rc == DC_OK && r->op == CLS_OP_FIND)
            rc = h->ctx_set(ctx, "catalog.search", r->search);
        if (rc == DC_OK && r->op != CLS_OP_TABLES && r->op != CLS_OP_FIND)
            rc = h->ctx_set(ctx, "catalog.resolved", r->resolved ? "yes" : "no");
        if (rc == DC_OK && r->limit > 0) {
            char lim[32];
            snprintf(lim, sizeof(lim), "%ld", r->limit);
            rc = h->ctx_set(ctx, "catalog.limit", lim);
        }
    }
    if (rc == DC_OK && r->intent == CLS_REFUSE) {
        rc = h->ctx_set(ctx, "refused", r->code);
        if (rc == DC_OK)
            rc = h->ctx_set(ctx, "answer", refusal_text(r));
    }
    if (rc == DC_OK && r->intent == CLS_CLARIFY)
        rc = set_clarify(h, ctx, schema, r);
    return rc;
}

/* ---- the model fallback for unclear questions ------------------------------- */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* "a, b, c" of the tables and of the metric DataPoints, for the prompt. */
static void prompt_names(const struct dc_host *h, struct dc_ctx *ctx,
                         const struct dc_schema *schema, struct textbuf *tables,
                         struct textbuf *metrics)
{
    size_t nt = schema ? h->schema_ntables(schema) : 0;
    for (size_t i = 0; i < nt; i++) {
        const struct dc_table_info *t = h->schema_table(schema, i);
        if (t && t->name)
            textbuf_printf(tables, "%s%s", tables->len ? ", " : "", t->name);
    }
    size_t nd = DC_HOST_HAS(h, dp_count) && DC_HOST_HAS(h, dp_at) ? h->dp_count(ctx) : 0;
    for (size_t i = 0; i < nd; i++) {
        const struct dc_datapoint_info *dp = h->dp_at(ctx, i);
        if (dp && dp->type && strcmp(dp->type, "metric") == 0)
            textbuf_printf(metrics, "%s%s", metrics->len ? ", " : "",
                           dp->name && *dp->name ? dp->name : dp->id);
    }
    if (!tables->len)
        textbuf_puts(tables, "(none known)");
    if (!metrics->len)
        textbuf_puts(metrics, "(none defined)");
}

/* The model's kind from its reply: the first JSON object in the text, its
 * "intent" one of the routable kinds; anything else is CLS_CLARIFY. */
static int reply_intent(const char *reply, char *why, size_t whylen)
{
    const char *open = strchr(reply, '{'), *close = strrchr(reply, '}');
    json_t *o = open && close > open ? json_loadb(open, (size_t)(close - open + 1), 0, NULL)
                                     : NULL;
    const char *kind = json_string_value(json_object_get(o, "intent"));
    const char *reason = json_string_value(json_object_get(o, "reason"));
    int intent = CLS_CLARIFY;
    if (!kind)
        snprintf(why, whylen, "the reply is not {\"intent\": ...}");
    else if (strcmp(kind, "sql") == 0)
        intent = CLS_SQL;
    else if (strcmp(kind, "metric") == 0)
        intent = CLS_METRIC;
    else if (strcmp(kind, "catalog") == 0)
        intent = CLS_CATALOG;
    if (kind)
        snprintf(why, whylen, "%.40s%s%.200s", kind, reason ? ": " : "", reason ? reason : "");
    json_decref(o);
    return intent;
}

/* Asks the model about an unclear question. On a routable answer r is
 * rewritten (a catalog answer lists the tables); on any failure r stays
 * the rules' clarify and the trace says why. Returns DC_ENOMEM only. */
static int ask_model(struct intent_state *st, struct dc_ctx *ctx, const struct dc_schema *schema,
                     const char *q, struct cls_result *r)
{
    const struct dc_host *h = st->h;
    struct textbuf tables = {0}, metrics = {0}, user = {0};
    int64_t t0 = now_us();
    prompt_names(h, ctx, schema, &tables, &metrics);
    const char *names[] = {"question", "tables", "metrics"};
    const char *values[] = {q, tables.p, metrics.p};
    sqlgen_tpl_fill(st->user.text, names, values, 3, &user);
    json_t *req = tables.oom || metrics.oom || user.oom
                      ? NULL
                      : json_pack("{s:[{s:s, s:s}, {s:s, s:s}], s:b, s:b, s:i}", "messages",
                                  "role", "system", "content", st->sys.text, "role", "user",
                                  "content", user.p ? user.p : "", "json", 1, "optional", 1,
                                  "max_tokens", 200);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    int rc = body ? DC_OK : DC_ENOMEM;
    const char *reply = NULL;
    char lerr[1024] = "", why[300] = "";
    if (rc == DC_OK && h->llm_complete(ctx, st->llm, body, &reply, lerr, sizeof(lerr)) != DC_OK) {
        h->ctx_trace(ctx, "the model could not classify it (%s); the rules' clarify stands",
                     lerr);
        snprintf(why, sizeof(why), "%.290s", lerr);
    } else if (rc == DC_OK) {
        int intent = reply_intent(reply, why, sizeof(why));
        h->ctx_trace(ctx, "unclear to the rules; the model says %s", why);
        if (intent != CLS_CLARIFY) {
            r->intent = intent;
            r->op = intent == CLS_CATALOG ? CLS_OP_TABLES : CLS_OP_NONE;
            r->table[0] = '\0';
            r->limit = 0;
            r->rule = "llm fallback";
        }
    }
    /* The call as its own trace step, tokens and latency included. */
    json_t *usage = rc == DC_OK && h->ctx_get(ctx, "llm.usage")
                        ? json_loads(h->ctx_get(ctx, "llm.usage"), 0, NULL)
                        : NULL;
    json_t *step = rc == DC_OK ? json_pack("{s:s, s:s, s:s, s:I, s:{s:s, s:O?}}", "name",
                                           "intent.llm", "outcome",
                                           classify_intent_name(r->intent), "reason", why, "us",
                                           (json_int_t)(now_us() - t0), "detail", "model_said",
                                           why, "usage", usage)
                               : NULL;
    char *text = step ? json_dumps(step, JSON_COMPACT) : NULL;
    if (text)
        h->ctx_set(ctx, "trace.step", text);
    free(text);
    json_decref(step);
    json_decref(usage);
    free(body);
    json_decref(req);
    textbuf_free(&tables);
    textbuf_free(&metrics);
    textbuf_free(&user);
    return rc;
}

static int intent_run(void *state, struct dc_ctx *ctx, const char **outcome)
{
    struct intent_state *st = state;
    const struct dc_host *h = st->h;
    struct names names = {0};
    struct cls_result r;
    int rc;

    const char *q = h->ctx_get(ctx, "question");
    size_t qlen = q ? strlen(q) : 0;
    if (qlen > CLS_MAX_INPUT) {
        h->ctx_fail(ctx, "E-QUERY-TOO-LONG",
                    "the question is %zu bytes; the intent stage reads at most %d. Ask a "
                    "shorter question.",
                    qlen, CLS_MAX_INPUT);
        return DC_ELIMIT;
    }
    const struct dc_schema *schema = NULL;
    if (q && DC_HOST_HAS(h, ctx_schema))
        schema = h->ctx_schema(ctx, NULL);
    if (!schema)
        h->ctx_trace(ctx, "no catalog available; table names stay unresolved");
    rc = names_load(h, schema, &names);
    if (rc != DC_OK) {
        h->ctx_fail(ctx, "E-INTERNAL", "intent: out of memory loading table names");
        goto cleanup;
    }
    if (classify_question(q, qlen, names.tables, names.ntables, &r) != 0) {
        rc = DC_ENOMEM;
        h->ctx_fail(ctx, "E-INTERNAL", "intent: out of memory classifying the question");
        goto cleanup;
    }
    if (r.intent == CLS_EMPTY) {
        rc = DC_EINVAL;
        h->ctx_fail(ctx, "E-QUERY-EMPTY",
                    "the question is empty; ask something, e.g. \"list tables\"");
        goto cleanup;
    }
    h->ctx_trace(ctx, "%s (rule: %s; %zu tables in the catalog)", r.reason, r.rule,
                 names.ntables);
    if (r.truncated)
        h->ctx_trace(ctx, "only the first part of a very long question was read");
    /* Refusals never get here: the rules decide those alone. */
    int words = !(r.rule && strcmp(r.rule, "no words") == 0);
    if (r.intent == CLS_CLARIFY && st->fallback && words && DC_HOST_HAS(h, llm_complete) &&
        (rc = ask_model(st, ctx, schema, q, &r)) != DC_OK) {
        h->ctx_fail(ctx, "E-INTERNAL", "intent: out of memory asking the model");
        goto cleanup;
    }
    rc = set_all(h, ctx, schema, &r);
    if (rc != DC_OK) {
        h->ctx_fail(ctx, "E-INTERNAL", "intent: cannot record the decision (%d)", rc);
        goto cleanup;
    }
    *outcome = classify_intent_name(r.intent);
cleanup:
    names_free(&names);
    return rc;
}

static const struct dc_stage_vtable intent_vtable = {
    sizeof(struct dc_stage_vtable), intent_options, intent_outcomes, intent_init,
    intent_fini, intent_run};

DC_PLUGIN_DEFINE_CAPS(DC_KIND_STAGE, "intent", "0.1.0", "MIT",
                      "Deterministic intent gate: catalog, sql, metric, tool, clarify or refuse",
                      &intent_vtable,
                      DC_CAP_DB_SCHEMA | DC_CAP_DATAPOINTS | DC_CAP_LLM)
