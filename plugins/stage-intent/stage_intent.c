/*
 * stage-intent - the first pipeline stage: decides what kind of question
 * this is (catalog, sql, metric, tool, clarify, refuse) with the rules in
 * classify.c, against the table names of the request's database.
 * It writes "intent" and, for catalog questions, "catalog.op",
 * "catalog.table", "catalog.limit", "catalog.search"; refusals get "refused"
 * and an "answer"; clarifications an "answer" naming the metric DataPoints
 * and tables to choose from, and "clarify.choices".
 * It never runs SQL and never calls a model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "classify.h"

struct intent_state {
    const struct dc_host *h;
};

static const struct dc_option intent_options[] = {DC_OPTIONS_END};
static const char *const intent_outcomes[] = {"catalog", "sql",     "metric", "tool",
                                              "clarify", "refuse", NULL};

static int intent_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                       char *err, size_t errlen)
{
    (void)opts;
    struct intent_state *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "intent: out of memory");
        return DC_ENOMEM;
    }
    st->h = h;
    *state = st;
    return DC_OK;
}

static void intent_fini(void *state)
{
    free(state);
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
                      DC_CAP_DB_SCHEMA | DC_CAP_DATAPOINTS)
