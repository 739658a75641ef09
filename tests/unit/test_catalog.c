/* The catalog stage through its plugin vtable (dlopen of the built .so),
 * with the real host table and a ctx whose backend serves a hand-built
 * schema and canned query results. */
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

#include "ctx.h"
#include "hostapi.h"
#include "result.h"
#include "schema.h"

struct fixture {
    void *dl;
    const struct dc_stage_vtable *vt;
    struct dc_host h;
    void *state;
    struct dc_schema *schema;
    char last_sql[512];
    int nqueries;
    int deny;          /* the backend refuses every statement */
    int64_t count;     /* what COUNT(*) returns */
    int sample_rows;   /* rows the sample query returns (before LIMIT) */
};

static const struct dc_schema *fx_schema(void *arg, struct dc_ctx *c, const char *db)
{
    (void)c;
    (void)db;
    return ((struct fixture *)arg)->schema;
}

static int fx_query(void *arg, struct dc_ctx *c, const char *db, const char *sql,
                    const struct dc_value *p, size_t np, struct dc_result **out)
{
    struct fixture *f = arg;
    (void)db;
    (void)p;
    (void)np;
    snprintf(f->last_sql, sizeof(f->last_sql), "%s", sql);
    f->nqueries++;
    if (f->deny) {
        ctx_fail(c, "E-GATE-POLICY", "table is not allowed for this principal");
        return DC_EDENIED;
    }
    struct dc_result *r = result_new();
    if (!r)
        return DC_ENOMEM;
    if (strncmp(sql, "SELECT COUNT(*)", 15) == 0) {
        struct dc_value v = dc_value_int(f->count);
        if (result_add_column(r, "row_count", DC_INT, "INTEGER") != DC_OK ||
            result_append_row(r, &v, 1) != DC_OK)
            goto fail;
    } else {
        const char *lim = strstr(sql, " LIMIT ");
        int n = lim ? atoi(lim + 7) : f->sample_rows;
        if (n > f->sample_rows)
            n = f->sample_rows;
        if (result_add_column(r, "id", DC_INT, "INTEGER") != DC_OK ||
            result_add_column(r, "name", DC_TEXT, "TEXT") != DC_OK)
            goto fail;
        for (int i = 0; i < n; i++) {
            char name[32];
            snprintf(name, sizeof(name), "item %d", i + 1);
            struct dc_value v[2] = {dc_value_int(i + 1), dc_value_text(name, strlen(name))};
            if (result_append_row(r, v, 2) != DC_OK)
                goto fail;
        }
    }
    *out = r;
    return DC_OK;
fail:
    result_free(r);
    return DC_ENOMEM;
}

static int add_table(struct dc_schema *s, const char *name, const char *kind, int64_t rows,
                     const struct dc_column_info *cols, size_t ncols,
                     const struct dc_fk_info *fks, size_t nfks)
{
    struct dc_table_info t = {sizeof(struct dc_table_info), NULL, name, kind, rows, NULL,
                              ncols, cols, nfks, fks};
    return schema_add_table(s, &t);
}

#define COL(n, d, t, nn, pk) {sizeof(struct dc_column_info), n, d, t, nn, pk, NULL, NULL}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    char path[4096];
    snprintf(path, sizeof(path), "%s/plugins/stage-catalog.so", DC_BINARY_DIR);
    f->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!f->dl) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        free(f);
        return -1;
    }
    dc_plugin_describe_fn fn = (dc_plugin_describe_fn)dlsym(f->dl, DC_PLUGIN_SYMBOL);
    if (!fn)
        return -1;
    const struct dc_plugin_descriptor *d = fn();
    if (d->kind != DC_KIND_STAGE || strcmp(d->name, "catalog") != 0)
        return -1;
    f->vt = d->vtable;
    hostapi_init(&f->h, NULL);
    char err[256];
    if (f->vt->init(&f->h, NULL, &f->state, err, sizeof(err)) != DC_OK)
        return -1;
    f->schema = schema_new();
    f->count = 60000;
    f->sample_rows = 50;
    static const struct dc_column_info region_cols[] = {
        COL("id", "INTEGER", DC_INT, 1, 1), COL("name", "TEXT", DC_TEXT, 1, 0)};
    static const struct dc_column_info customer_cols[] = {
        COL("id", "INTEGER", DC_INT, 1, 1), COL("name", "VARCHAR(80)", DC_TEXT, 1, 0),
        COL("email", "", DC_TEXT, 0, 0), COL("region_id", "INTEGER", DC_INT, 0, 0)};
    static const struct dc_fk_info customer_fks[] = {
        {sizeof(struct dc_fk_info), "region_id", "regions", "id"}};
    static const struct dc_column_info order_cols[] = {
        COL("id", "INTEGER", DC_INT, 1, 1), COL("total", "REAL", DC_REAL, 0, 0)};
    if (add_table(f->schema, "regions", "table", 8, region_cols, 2, NULL, 0) != DC_OK ||
        add_table(f->schema, "customers", "table", 1000, customer_cols, 4, customer_fks, 1) !=
            DC_OK ||
        add_table(f->schema, "orders", "table", -1, order_cols, 2, NULL, 0) != DC_OK ||
        add_table(f->schema, "order_items", "table", 120000, order_cols, 2, NULL, 0) != DC_OK ||
        add_table(f->schema, "we\"ird", "table", 3, order_cols, 2, NULL, 0) != DC_OK ||
        add_table(f->schema, "big_orders", "view", -1, order_cols, 2, NULL, 0) != DC_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    f->vt->fini(f->state);
    schema_free(f->schema);
    dlclose(f->dl);
    free(f);
    return 0;
}

static struct dc_ctx *run(struct fixture *f, const char *op, const char *table,
                          const char *limit, int *rc, const char **outcome)
{
    struct ctx_backend be = {f, fx_schema, fx_query};
    struct dc_ctx *c = ctx_new(&be);
    assert_non_null(c);
    assert_int_equal(ctx_set(c, "database", "demo"), DC_OK);
    if (op)
        assert_int_equal(ctx_set(c, "catalog.op", op), DC_OK);
    if (table)
        assert_int_equal(ctx_set(c, "catalog.table", table), DC_OK);
    if (limit)
        assert_int_equal(ctx_set(c, "catalog.limit", limit), DC_OK);
    ctx_trace_begin(c, "catalog", "catalog");
    *outcome = NULL;
    *rc = f->vt->run(f->state, c, outcome);
    ctx_trace_end(c, *outcome, 0);
    return c;
}

static const char *cell_text(const struct dc_result *r, size_t row, size_t col, char *buf,
                             size_t cap)
{
    const struct dc_value *v = result_get(r, row, col);
    assert_non_null(v);
    if (v->type == DC_NULL)
        return NULL;
    if (v->type == DC_INT) {
        snprintf(buf, cap, "%lld", (long long)v->v.i);
        return buf;
    }
    snprintf(buf, cap, "%.*s", (int)v->v.s.n, v->v.s.p);
    return buf;
}

static void test_catalog_lists_tables_and_views_with_counts(void **state)
{
    struct fixture *f = *state;
    int rc;
    const char *outcome;
    struct dc_ctx *c = run(f, "tables", NULL, NULL, &rc, &outcome);
    assert_int_equal(rc, DC_OK);
    assert_string_equal(outcome, "ok");
    assert_string_equal(ctx_get(c, "answer"),
                        "There are 5 tables and 1 view in demo: regions, customers, orders, "
                        "order_items, we\"ird, big_orders.");
    assert_null(ctx_get(c, "sql"));
    assert_int_equal(f->nqueries, 0);
    const struct dc_result *r = ctx_result(c);
    assert_non_null(r);
    assert_int_equal(result_ncols(r), 4);
    assert_string_equal(result_col_name(r, 0), "table");
    assert_string_equal(result_col_name(r, 1), "kind");
    assert_string_equal(result_col_name(r, 2), "rows");
    assert_string_equal(result_col_name(r, 3), "columns");
    assert_int_equal(result_nrows(r), 6);
    char b[64];
    assert_string_equal(cell_text(r, 1, 0, b, sizeof(b)), "customers");
    assert_string_equal(cell_text(r, 1, 2, b, sizeof(b)), "1000");
    assert_string_equal(cell_text(r, 1, 3, b, sizeof(b)), "4");
    assert_null(cell_text(r, 2, 2, b, sizeof(b))); /* unknown row count is NULL */
    assert_string_equal(cell_text(r, 5, 1, b, sizeof(b)), "view");
    ctx_free(c);
}

static void test_catalog_describes_columns_with_keys_and_references(void **state)
{
    struct fixture *f = *state;
    int rc;
    const char *outcome;
    struct dc_ctx *c = run(f, "columns", "customers", NULL, &rc, &outcome);
    assert_int_equal(rc, DC_OK);
    assert_string_equal(outcome, "ok");
    assert_string_equal(ctx_get(c, "answer"), "customers has 4 columns.");
    const struct dc_result *r = ctx_result(c);
    assert_int_equal(result_ncols(r), 5);
    assert_string_equal(result_col_name(r, 0), "column");
    assert_string_equal(result_col_name(r, 1), "type");
    assert_string_equal(result_col_name(r, 2), "nullable");
    assert_string_equal(result_col_name(r, 3), "primary_key");
    assert_string_equal(result_col_name(r, 4), "references");
    assert_int_equal(result_nrows(r), 4);
    char b[64];
    assert_string_equal(cell_text(r, 0, 3, b, sizeof(b)), "yes");
    assert_string_equal(cell_text(r, 0, 2, b, sizeof(b)), "no");
    assert_string_equal(cell_text(r, 1, 1, b, sizeof(b)), "VARCHAR(80)");
    assert_string_equal(cell_text(r, 2, 1, b, sizeof(b)), "text"); /* no declared type */
    assert_string_equal(cell_text(r, 2, 2, b, sizeof(b)), "yes");
    assert_string_equal(cell_text(r, 3, 4, b, sizeof(b)), "regions.id");
    assert_null(cell_text(r, 0, 4, b, sizeof(b)));
    assert_int_equal(f->nqueries, 0);
    ctx_free(c);
}

static void test_catalog_sample_runs_quoted_limited_select(void **state)
{
    struct fixture *f = *state;
    int rc;
    const char *outcome;
    struct dc_ctx *c = run(f, "sample", "order_items", NULL, &rc, &outcome);
    assert_int_equal(rc, DC_OK);
    assert_string_equal(f->last_sql, "SELECT * FROM \"order_items\" LIMIT 5");
    assert_string_equal(ctx_get(c, "sql"), f->last_sql);
    assert_string_equal(ctx_get(c, "answer"), "Here are 5 rows from order_items.");
    assert_int_equal(result_nrows(ctx_result(c)), 5);
    ctx_free(c);
}

static void test_catalog_sample_caps_size_and_says_so(void **state)
{
    struct fixture *f = *state;
    f->sample_rows = 1000;
    int rc;
    const char *outcome;
    struct dc_ctx *c = run(f, "sample", "orders", "500", &rc, &outcome);
    assert_int_equal(rc, DC_OK);
    assert_string_equal(f->last_sql, "SELECT * FROM \"orders\" LIMIT 100");
    assert_non_null(strstr(ctx_get(c, "answer"), "Here are 100 rows from orders."));
    assert_non_null(strstr(ctx_get(c, "answer"), "capped at 100"));
    ctx_free(c);
}

static void test_catalog_sample_of_short_table_says_only(void **state)
{
    struct fixture *f = *state;
    f->sample_rows = 2;
    int rc;
    const char *outcome;
    struct dc_ctx *c = run(f, "sample", "regions", "10", &rc, &outcome);
    assert_int_equal(rc, DC_OK);
    assert_string_equal(ctx_get(c, "answer"), "regions has only 2 rows; here they are.");
    ctx_free(c);
    f->sample_rows = 0;
    c = run(f, "sample", "regions", NULL, &rc, &outcome);
    assert_string_equal(ctx_get(c, "answer"), "regions has no rows.");
    ctx_free(c);
}

static void test_catalog_rejects_garbage_limit(void **state)
{
    struct fixture *f = *state;
    int rc;
    const char *outcome;
    struct dc_ctx *c = run(f, "sample", "regions", "5; DROP TABLE x", &rc, &outcome);
    assert_true(rc < 0);
    assert_string_equal(ctx_error_code(c), "E-CATALOG-LIMIT");
    assert_int_equal(f->nqueries, 0);
    ctx_free(c);
}

static void test_catalog_count_formats_thousands(void **state)
{
    struct fixture *f = *state;
    int rc;
    const char *outcome;
    struct dc_ctx *c = run(f, "count", "orders", NULL, &rc, &outcome);
    assert_int_equal(rc, DC_OK);
    assert_string_equal(outcome, "ok");
    assert_string_equal(f->last_sql, "SELECT COUNT(*) AS row_count FROM \"orders\"");
    assert_string_equal(ctx_get(c, "sql"), f->last_sql);
    assert_string_equal(ctx_get(c, "answer"), "The orders table has 60,000 rows.");
    assert_string_equal(result_col_name(ctx_result(c), 0), "row_count");
    ctx_free(c);
    f->count = 1;
    c = run(f, "count", "big_orders", NULL, &rc, &outcome);
    assert_string_equal(ctx_get(c, "answer"), "The big_orders view has 1 row.");
    ctx_free(c);
}

static void test_catalog_doubles_quotes_in_table_names(void **state)
{
    struct fixture *f = *state;
    int rc;
    const char *outcome;
    struct dc_ctx *c = run(f, "count", "we\"ird", NULL, &rc, &outcome);
    assert_int_equal(rc, DC_OK);
    assert_string_equal(f->last_sql, "SELECT COUNT(*) AS row_count FROM \"we\"\"ird\"");
    ctx_free(c);
    c = run(f, "sample", "WE\"IRD", "2", &rc, &outcome);
    assert_int_equal(rc, DC_OK);
    assert_string_equal(f->last_sql, "SELECT * FROM \"we\"\"ird\" LIMIT 2");
    ctx_free(c);
}

static void test_catalog_unknown_table_is_not_found_with_suggestion(void **state)
{
    struct fixture *f = *state;
    int rc;
    const char *outcome;
    struct dc_ctx *c = run(f, "columns", "custmers", NULL, &rc, &outcome);
    assert_int_equal(rc, DC_OK);
    assert_string_equal(outcome, "not_found");
    assert_string_equal(ctx_error_code(c), "E-CATALOG-NO-TABLE");
    assert_string_equal(ctx_get(c, "answer"),
                        "I couldn't find a table named 'custmers' in demo. Did you mean: "
                        "customers?");
    assert_string_equal(ctx_error_message(c), ctx_get(c, "answer"));
    assert_null(ctx_result(c));
    assert_int_equal(f->nqueries, 0);
    ctx_free(c);
    c = run(f, "count", "zzzzzzzzzzzz", NULL, &rc, &outcome);
    assert_string_equal(outcome, "not_found");
    assert_non_null(strstr(ctx_get(c, "answer"), "The tables are: regions, customers"));
    ctx_free(c);
}

static void test_catalog_resolves_spoken_table_names(void **state)
{
    struct fixture *f = *state;
    int rc;
    const char *outcome;
    struct dc_ctx *c = run(f, "count", "order items", NULL, &rc, &outcome);
    assert_int_equal(rc, DC_OK);
    assert_string_equal(f->last_sql, "SELECT COUNT(*) AS row_count FROM \"order_items\"");
    ctx_free(c);
    c = run(f, "columns", "Region", NULL, &rc, &outcome);
    assert_string_equal(ctx_get(c, "answer"), "regions has 2 columns.");
    ctx_free(c);
}

static void test_catalog_gate_refusal_fails_the_stage(void **state)
{
    struct fixture *f = *state;
    f->deny = 1;
    int rc;
    const char *outcome;
    struct dc_ctx *c = run(f, "count", "orders", NULL, &rc, &outcome);
    assert_true(rc < 0);
    assert_null(outcome);
    assert_string_equal(ctx_error_code(c), "E-GATE-POLICY"); /* the first error is kept */
    assert_null(ctx_get(c, "answer"));
    ctx_free(c);
}

static void test_catalog_rejects_missing_or_unknown_op(void **state)
{
    struct fixture *f = *state;
    int rc;
    const char *outcome;
    struct dc_ctx *c = run(f, NULL, "orders", NULL, &rc, &outcome);
    assert_true(rc < 0);
    assert_string_equal(ctx_error_code(c), "E-CATALOG-OP");
    ctx_free(c);
    c = run(f, "drop", "orders", NULL, &rc, &outcome);
    assert_true(rc < 0);
    assert_string_equal(ctx_error_code(c), "E-CATALOG-OP");
    ctx_free(c);
}

static void test_catalog_declares_its_outcomes(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(f->vt->outcomes[0], "ok");
    assert_string_equal(f->vt->outcomes[1], "not_found");
    assert_null(f->vt->outcomes[2]);
    assert_int_equal(f->vt->struct_size, sizeof(struct dc_stage_vtable));
}

/* ---- find through the retrieval index ---------------------------------- */

struct fake_index {
    int calls;
    char query[256];
    int fail;
};

static int fx_retrieve(void *arg, struct dc_ctx *c, const char *db, const char *query,
                       size_t k, struct dc_retrieval_hit *hits, size_t *n)
{
    struct fake_index *fi = arg;
    (void)c;
    (void)db;
    fi->calls++;
    snprintf(fi->query, sizeof(fi->query), "%s", query);
    if (fi->fail)
        return DC_EIO;
    static const struct {
        const char *id, *kind;
        double score;
    } docs[] = {
        {"column:customers.email", "column", 12.5},
        {"value:customers.email=a@example.com", "value", 9.0},
        {"value:customers.email=b@example.com", "value", 8.0},
        {"table:customers", "table", 3.25},
        {"dp:customer", "dp", 1.0},
        {"strange", "column", 0.5},
    };
    size_t m = 0;
    if (strstr(query, "email"))
        for (; m < k && m < sizeof(docs) / sizeof(docs[0]); m++)
            hits[m] = (struct dc_retrieval_hit){sizeof(struct dc_retrieval_hit), docs[m].id,
                                                docs[m].kind, docs[m].score};
    *n = m;
    return DC_OK;
}

static struct dc_ctx *run_find(struct fixture *f, struct fake_index *fi, const char *search,
                               int *rc, const char **outcome)
{
    struct ctx_backend be = {f, fx_schema, fx_query};
    struct dc_ctx *c = ctx_new(&be);
    assert_non_null(c);
    assert_int_equal(ctx_set(c, "database", "demo"), DC_OK);
    assert_int_equal(ctx_set(c, "catalog.op", "find"), DC_OK);
    if (search)
        assert_int_equal(ctx_set(c, "catalog.search", search), DC_OK);
    if (fi)
        ctx_set_retriever(c, fx_retrieve, fi);
    ctx_trace_begin(c, "catalog", "catalog");
    *outcome = NULL;
    *rc = f->vt->run(f->state, c, outcome);
    ctx_trace_end(c, *outcome, 0);
    return c;
}

static void test_catalog_find_lists_index_matches_with_scores(void **state)
{
    struct fixture *f = *state;
    struct fake_index fi = {0};
    int rc;
    const char *outcome;
    struct dc_ctx *c = run_find(f, &fi, "email addresses", &rc, &outcome);
    assert_int_equal(rc, DC_OK);
    assert_string_equal(outcome, "ok");
    assert_int_equal(fi.calls, 1);
    assert_string_equal(fi.query, "email addresses");
    assert_int_equal(f->nqueries, 0); /* no SQL: the index answers */
    const struct dc_result *r = ctx_result(c);
    assert_non_null(r);
    assert_int_equal(result_ncols(r), 4);
    /* values fold into their column, the malformed id is skipped */
    assert_int_equal(result_nrows(r), 3);
    char buf[256];
    assert_string_equal(cell_text(r, 0, 0, buf, sizeof(buf)), "column");
    assert_string_equal(cell_text(r, 0, 1, buf, sizeof(buf)), "customers.email");
    const struct dc_value *sc = result_get(r, 0, 2);
    assert_int_equal(sc->type, DC_REAL);
    assert_true(sc->v.d > 12.4 && sc->v.d < 12.6);
    assert_string_equal(cell_text(r, 1, 1, buf, sizeof(buf)), "customers");
    assert_string_equal(cell_text(r, 1, 3, buf, sizeof(buf)), "4 columns");
    assert_string_equal(cell_text(r, 2, 0, buf, sizeof(buf)), "datapoint");
    assert_non_null(strstr(ctx_get(c, "answer"), "3 matches for 'email addresses'"));
    assert_non_null(strstr(ctx_get(c, "answer"), "column customers.email"));
    assert_null(ctx_error_code(c));
    ctx_free(c);
}

static void test_catalog_find_without_matches_is_not_found(void **state)
{
    struct fixture *f = *state;
    struct fake_index fi = {0};
    int rc;
    const char *outcome;
    struct dc_ctx *c = run_find(f, &fi, "zebra", &rc, &outcome);
    assert_int_equal(rc, DC_OK);
    assert_string_equal(outcome, "not_found");
    assert_string_equal(ctx_error_code(c), "E-CATALOG-NO-MATCH");
    assert_non_null(strstr(ctx_get(c, "answer"), "matches 'zebra'"));
    ctx_free(c);
}

static void test_catalog_find_needs_a_retrieval_index(void **state)
{
    struct fixture *f = *state;
    int rc;
    const char *outcome;
    /* A context without a retriever: the host says unsupported. */
    struct dc_ctx *c = run_find(f, NULL, "email", &rc, &outcome);
    assert_int_equal(rc, DC_EUNSUPPORTED);
    assert_null(outcome);
    assert_string_equal(ctx_error_code(c), "E-CATALOG-NO-RETRIEVAL");
    ctx_free(c);
    struct fake_index fi = {0, "", 1};
    c = run_find(f, &fi, "email", &rc, &outcome);
    assert_true(rc < 0);
    assert_string_equal(ctx_error_code(c), "E-CATALOG-SEARCH");
    ctx_free(c);
    /* An older host table without retrieve. */
    struct dc_host old = f->h;
    old.struct_size = offsetof(struct dc_host, retrieve);
    void *st = NULL;
    char err[256];
    assert_int_equal(f->vt->init(&old, NULL, &st, err, sizeof(err)), DC_OK);
    struct ctx_backend be = {f, fx_schema, fx_query};
    c = ctx_new(&be);
    assert_non_null(c);
    assert_int_equal(ctx_set(c, "catalog.op", "find"), DC_OK);
    assert_int_equal(ctx_set(c, "catalog.search", "email"), DC_OK);
    ctx_set_retriever(c, fx_retrieve, &fi);
    ctx_trace_begin(c, "catalog", "catalog");
    outcome = NULL;
    rc = f->vt->run(st, c, &outcome);
    ctx_trace_end(c, outcome, 0);
    assert_int_equal(rc, DC_EUNSUPPORTED);
    assert_string_equal(ctx_error_code(c), "E-CATALOG-NO-RETRIEVAL");
    ctx_free(c);
    f->vt->fini(st);
}

static void test_catalog_find_without_search_words_fails(void **state)
{
    struct fixture *f = *state;
    struct fake_index fi = {0};
    int rc;
    const char *outcome;
    struct dc_ctx *c = run_find(f, &fi, NULL, &rc, &outcome);
    assert_int_equal(rc, DC_EINVAL);
    assert_string_equal(ctx_error_code(c), "E-CATALOG-SEARCH");
    assert_int_equal(fi.calls, 0);
    ctx_free(c);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_catalog_lists_tables_and_views_with_counts),
        T(test_catalog_describes_columns_with_keys_and_references),
        T(test_catalog_sample_runs_quoted_limited_select),
        T(test_catalog_sample_caps_size_and_says_so),
        T(test_catalog_sample_of_short_table_says_only),
        T(test_catalog_rejects_garbage_limit),
        T(test_catalog_count_formats_thousands),
        T(test_catalog_doubles_quotes_in_table_names),
        T(test_catalog_unknown_table_is_not_found_with_suggestion),
        T(test_catalog_resolves_spoken_table_names),
        T(test_catalog_gate_refusal_fails_the_stage),
        T(test_catalog_rejects_missing_or_unknown_op),
        T(test_catalog_declares_its_outcomes),
        T(test_catalog_find_lists_index_matches_with_scores),
        T(test_catalog_find_without_matches_is_not_found),
        T(test_catalog_find_needs_a_retrieval_index),
        T(test_catalog_find_without_search_words_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
