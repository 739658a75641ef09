/* Tier 3: analysis through the gate: query plans and column profiles. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"

#define PROFILE_MAX_COLUMNS 64

static const struct dc_option no_options[] = {DC_OPTIONS_END};

static int explain_invoke(void *state, struct dc_ctx *ctx)
{
    struct builtin *b = state;
    json_t *a = builtin_args(b, ctx);
    if (!a)
        return DC_EINVAL;
    const char *sql = builtin_str(a, "sql");
    const char *dialect = b->h->ctx_get(ctx, "database.dialect");
    /* The gate sees the EXPLAIN statement itself: the statement explained
     * is checked exactly as if it ran. */
    const char *prefix = dialect && strcmp(dialect, "sqlite") != 0 ? "EXPLAIN "
                                                                    : "EXPLAIN QUERY PLAN ";
    size_t n = strlen(prefix) + strlen(sql) + 1;
    char *q = malloc(n);
    int rc = DC_ENOMEM;
    struct dc_result *r = NULL;
    if (q) {
        snprintf(q, n, "%s%s", prefix, sql);
        rc = b->h->ctx_query(ctx, builtin_str(a, "database"), q, NULL, 0, &r);
    }
    if (rc == DC_OK) {
        json_t *o = builtin_result_json(b->h, r, 1000);
        json_object_set_new(o, "statement", json_string(q));
        b->h->result_free(r);
        rc = builtin_reply(b, ctx, o);
    }
    free(q);
    json_decref(a);
    return rc;
}

const struct dc_tool_vtable builtin_explain_query_plan_vt = {
    sizeof(struct dc_tool_vtable), no_options,
    "Show how the database would run a query (EXPLAIN, through the gate)",
    "{\"type\":\"object\",\"properties\":{\"sql\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":100000},\"database\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":"
    "128}},\"required\":[\"sql\"],\"additionalProperties\":false}",
    3, builtin_init, builtin_fini, explain_invoke};

/* One statement: count(*), then per column count, count(distinct), min,
 * max. Only columns the principal may see are in its catalog view. */
static char *profile_sql(const struct dc_table_info *t, size_t ncols)
{
    char *tq = builtin_quote_table(t);
    size_t cap = 64 + (tq ? strlen(tq) : 0);
    for (size_t i = 0; i < ncols; i++)
        cap += 4 * strlen(t->columns[i].name) + 96;
    char *sql = tq ? malloc(cap) : NULL;
    size_t len = 0;
    if (sql)
        len += (size_t)snprintf(sql, cap, "SELECT count(*)");
    for (size_t i = 0; sql && i < ncols; i++) {
        char *c = builtin_quote_ident(t->columns[i].name);
        if (!c) {
            free(sql);
            sql = NULL;
            break;
        }
        len += (size_t)snprintf(sql + len, cap - len,
                                ", count(%s), count(DISTINCT %s), min(%s), max(%s)", c, c, c, c);
        free(c);
    }
    if (sql)
        snprintf(sql + len, cap - len, " FROM %s", tq);
    free(tq);
    return sql;
}

static int profile_invoke(void *state, struct dc_ctx *ctx)
{
    struct builtin *b = state;
    const struct dc_host *h = b->h;
    json_t *a = builtin_args(b, ctx);
    if (!a)
        return DC_EINVAL;
    const char *db = builtin_str(a, "database");
    const struct dc_table_info *t = builtin_find_table(b, ctx, db, builtin_str(a, "table"));
    int rc = t ? DC_ENOMEM : DC_ENOTFOUND;
    size_t ncols = t && t->ncolumns < PROFILE_MAX_COLUMNS ? t->ncolumns : PROFILE_MAX_COLUMNS;
    char *sql = t ? profile_sql(t, ncols) : NULL;
    struct dc_result *r = NULL;
    if (sql)
        rc = h->ctx_query(ctx, db, sql, NULL, 0, &r);
    if (rc == DC_OK && (h->result_nrows(r) != 1 || h->result_ncols(r) != 1 + 4 * ncols)) {
        h->ctx_fail(ctx, "E-TOOL-PROFILE", "profile of '%s' returned an unexpected shape",
                    t->name);
        rc = DC_ERR;
    }
    if (rc == DC_OK) {
        json_t *row = builtin_result_json(h, r, 1);
        json_t *vals = json_array_get(json_object_get(row, "rows"), 0);
        json_t *cols = json_array();
        for (size_t i = 0; i < ncols; i++)
            json_array_append_new(cols, json_pack("{s:s, s:O, s:O, s:O, s:O}", "name",
                                                  t->columns[i].name, "non_null",
                                                  json_array_get(vals, 1 + 4 * i), "distinct",
                                                  json_array_get(vals, 2 + 4 * i), "min",
                                                  json_array_get(vals, 3 + 4 * i), "max",
                                                  json_array_get(vals, 4 + 4 * i)));
        rc = builtin_reply(b, ctx, json_pack("{s:s, s:O, s:o, s:b}", "table", t->name, "rows",
                                             json_array_get(vals, 0), "columns", cols,
                                             "columns_truncated", t->ncolumns > ncols));
        json_decref(row);
    }
    if (r)
        h->result_free(r);
    free(sql);
    json_decref(a);
    return rc;
}

const struct dc_tool_vtable builtin_profile_table_vt = {
    sizeof(struct dc_tool_vtable), no_options,
    "Profile a table: row count and, per column, non-null, distinct, min and max",
    "{\"type\":\"object\",\"properties\":{\"table\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":256},\"database\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":128}},"
    "\"required\":[\"table\"],\"additionalProperties\":false}",
    3, builtin_init, builtin_fini, profile_invoke};
