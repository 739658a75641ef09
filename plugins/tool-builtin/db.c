/* Tier 1: read-only database tools. Everything goes through the gate
 * (h->ctx_query) or the principal's view of the catalog (h->ctx_schema). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"

#define DB_ARG "\"database\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":128," \
               "\"description\":\"a configured database (default: the request's)\"}"
#define TABLE_ARG "\"table\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":256," \
                  "\"description\":\"a table as list_tables names it\"}"

static const struct dc_option no_options[] = {DC_OPTIONS_END};

/* Runs sql through the gate and replies with at most max_rows rows. */
static int run_and_reply(struct builtin *b, struct dc_ctx *ctx, const char *db, const char *sql,
                         size_t max_rows)
{
    struct dc_result *r = NULL;
    int rc = b->h->ctx_query(ctx, db, sql, NULL, 0, &r);
    if (rc != DC_OK)
        return rc; /* refused or failed: the host recorded why */
    json_t *o = builtin_result_json(b->h, r, max_rows);
    b->h->result_free(r);
    return builtin_reply(b, ctx, o);
}

static int query_invoke(void *state, struct dc_ctx *ctx)
{
    struct builtin *b = state;
    json_t *a = builtin_args(b, ctx);
    if (!a)
        return DC_EINVAL;
    json_int_t limit = json_integer_value(json_object_get(a, "limit"));
    int rc = run_and_reply(b, ctx, builtin_str(a, "database"), builtin_str(a, "sql"),
                           limit > 0 ? (size_t)limit : 100);
    json_decref(a);
    return rc;
}

const struct dc_tool_vtable builtin_query_database_vt = {
    sizeof(struct dc_tool_vtable), no_options,
    "Run one read-only SQL statement through the gate (policies and limits apply)",
    "{\"type\":\"object\",\"properties\":{\"sql\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":100000,\"description\":\"one SELECT statement\"},\"limit\":{\"type\":"
    "\"integer\",\"minimum\":1,\"maximum\":1000,\"description\":\"rows returned (default "
    "100)\"}," DB_ARG "},\"required\":[\"sql\"],\"additionalProperties\":false}",
    1, builtin_init, builtin_fini, query_invoke};

static int list_invoke(void *state, struct dc_ctx *ctx)
{
    struct builtin *b = state;
    const struct dc_host *h = b->h;
    json_t *a = builtin_args(b, ctx);
    if (!a)
        return DC_EINVAL;
    const struct dc_schema *s = h->ctx_schema(ctx, builtin_str(a, "database"));
    json_decref(a);
    if (!s)
        return DC_ERR;
    json_t *arr = json_array();
    for (size_t i = 0; i < h->schema_ntables(s); i++) {
        const struct dc_table_info *t = h->schema_table(s, i);
        json_array_append_new(arr, json_pack("{s:s, s:s?, s:s?, s:I, s:I}", "name", t->name,
                                             "schema", t->schema_name, "kind", t->kind,
                                             "columns", (json_int_t)t->ncolumns, "row_count",
                                             (json_int_t)t->row_count));
    }
    return builtin_reply(b, ctx, json_pack("{s:o}", "tables", arr));
}

const struct dc_tool_vtable builtin_list_tables_vt = {
    sizeof(struct dc_tool_vtable), no_options,
    "List the tables and views the caller may see",
    "{\"type\":\"object\",\"properties\":{" DB_ARG "},\"additionalProperties\":false}", 1,
    builtin_init, builtin_fini, list_invoke};

static int describe_invoke(void *state, struct dc_ctx *ctx)
{
    struct builtin *b = state;
    json_t *a = builtin_args(b, ctx);
    if (!a)
        return DC_EINVAL;
    const struct dc_table_info *t =
        builtin_find_table(b, ctx, builtin_str(a, "database"), builtin_str(a, "table"));
    json_decref(a);
    if (!t)
        return DC_ENOTFOUND;
    json_t *cols = json_array(), *fks = json_array();
    for (size_t i = 0; i < t->ncolumns; i++) {
        const struct dc_column_info *c = &t->columns[i];
        json_array_append_new(cols, json_pack("{s:s, s:s?, s:s, s:b, s:i, s:s?, s:s?}", "name",
                                              c->name, "declared_type", c->decl_type, "type",
                                              dc_type_name(c->type), "not_null", c->notnull,
                                              "primary_key", c->pk, "default",
                                              c->default_value, "comment", c->comment));
    }
    for (size_t i = 0; i < t->nfks; i++)
        json_array_append_new(fks, json_pack("{s:s, s:s, s:s?}", "column", t->fks[i].from_column,
                                             "references_table", t->fks[i].to_table,
                                             "references_column", t->fks[i].to_column));
    return builtin_reply(b, ctx, json_pack("{s:s, s:s?, s:s?, s:I, s:s?, s:o, s:o}", "name",
                                           t->name, "schema", t->schema_name, "kind", t->kind,
                                           "row_count", (json_int_t)t->row_count, "comment",
                                           t->comment, "columns", cols, "foreign_keys", fks));
}

const struct dc_tool_vtable builtin_describe_table_vt = {
    sizeof(struct dc_tool_vtable), no_options,
    "Describe one table: columns, types, keys, foreign keys",
    "{\"type\":\"object\",\"properties\":{" TABLE_ARG "," DB_ARG "},\"required\":[\"table\"],"
    "\"additionalProperties\":false}",
    1, builtin_init, builtin_fini, describe_invoke};

static int sample_invoke(void *state, struct dc_ctx *ctx)
{
    struct builtin *b = state;
    json_t *a = builtin_args(b, ctx);
    if (!a)
        return DC_EINVAL;
    const char *db = builtin_str(a, "database");
    json_int_t limit = json_integer_value(json_object_get(a, "limit"));
    if (limit <= 0)
        limit = 5;
    int rc = DC_ENOTFOUND;
    const struct dc_table_info *t = builtin_find_table(b, ctx, db, builtin_str(a, "table"));
    char *q = t ? builtin_quote_table(t) : NULL;
    if (t && q) {
        size_t n = strlen(q) + 64;
        char *sql = malloc(n);
        rc = DC_ENOMEM;
        if (sql) {
            snprintf(sql, n, "SELECT * FROM %s LIMIT %lld", q, (long long)limit);
            rc = run_and_reply(b, ctx, db, sql, (size_t)limit);
        }
        free(sql);
    } else if (t) {
        rc = DC_ENOMEM;
    }
    free(q);
    json_decref(a);
    return rc;
}

const struct dc_tool_vtable builtin_sample_rows_vt = {
    sizeof(struct dc_tool_vtable), no_options,
    "Show a few rows of one table (through the gate: row filters and masks apply)",
    "{\"type\":\"object\",\"properties\":{" TABLE_ARG ",\"limit\":{\"type\":\"integer\","
    "\"minimum\":1,\"maximum\":100,\"description\":\"rows (default 5)\"}," DB_ARG "},"
    "\"required\":[\"table\"],\"additionalProperties\":false}",
    1, builtin_init, builtin_fini, sample_invoke};
