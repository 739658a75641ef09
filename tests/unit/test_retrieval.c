/* Retrieval: the FTS5 index over DataPoints, catalog and profiled values;
 * its ranking, its file's freshness and corruption handling, and the query
 * builder's quoting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <datachat/host.h>

#include "datapoint.h"
#include "retrieval.h"
#include "schema.h"

static const char revenue_yaml[] =
    "id: revenue\ntype: metric\nname: Revenue\n"
    "definition: Money from completed orders, the sum of orders.total_amount.\n"
    "synonyms: [turnover, takings]\ntags: [finance]\n"
    "data_sources:\n  - table: orders\n    columns: [total_amount, status]\n";

static const char region_yaml[] =
    "id: region\ntype: dimension\nname: Region\n"
    "definition: Where a customer lives, from customers.country.\n"
    "synonyms: [territory]\n"
    "data_sources:\n  - table: customers\n    columns: [country]\n";

static const char customers_profile[] =
    "id: schema.demo.customers\ntype: schema\nname: customers\nmanaged: true\ndatabase: demo\n"
    "table: customers\nrow_count: 10\n"
    "columns:\n"
    "  - name: country\n    type: TEXT\n    null_rate: 0\n    distinct: 3\n"
    "    top_values:\n      - {value: Brazil, count: 6}\n      - {value: Germany, count: 3}\n"
    "  - name: secret_note\n    type: TEXT\n    null_rate: 0\n    distinct: 1\n"
    "    top_values:\n      - {value: Zanzibar, count: 1}\n";

struct fx {
    struct dp_set *dps;
    struct dc_schema *schema;
    char dir[64];
    char path[128];
};

static void add_table(struct dc_schema *s, const char *name, const char *const *cols, size_t n,
                      const char *comment)
{
    struct dc_column_info ci[8];
    memset(ci, 0, sizeof(ci));
    for (size_t i = 0; i < n; i++) {
        ci[i].struct_size = sizeof(ci[i]);
        ci[i].name = cols[i];
        ci[i].decl_type = "TEXT";
        ci[i].type = DC_TEXT;
    }
    struct dc_table_info t = {sizeof(t), NULL, name, "table", -1, comment, n, ci, 0, NULL};
    assert_int_equal(schema_add_table(s, &t), DC_OK);
}

/* The demo's shape; hide_note drops customers.secret_note as a policy
 * would. */
static struct dc_schema *make_schema(int hide_note)
{
    struct dc_schema *s = schema_new();
    assert_non_null(s);
    static const char *const orders[] = {"id", "customer_id", "status", "total_amount",
                                         "order_date"};
    static const char *const customers[] = {"id", "name", "email", "country", "secret_note"};
    static const char *const products[] = {"id", "name", "category", "unit_price"};
    static const char *const lines[] = {"id", "order_id", "product_id", "quantity"};
    add_table(s, "orders", orders, 5, NULL);
    add_table(s, "customers", customers, hide_note ? 4 : 5, "people who bought something");
    add_table(s, "products", products, 4, NULL);
    add_table(s, "InvoiceLine", lines, 4, NULL);
    return s;
}

static struct dp_set *make_dps(const char *revenue)
{
    struct dp_set *s = NULL;
    struct dp_diags dg = {0};
    assert_int_equal(dp_set_new(&s), DC_OK);
    assert_int_equal(dp_set_load_string(s, revenue, strlen(revenue), "revenue.yaml", DP_USER, &dg),
                     DC_OK);
    assert_int_equal(dp_set_load_string(s, region_yaml, strlen(region_yaml), "region.yaml",
                                        DP_USER, &dg),
                     DC_OK);
    assert_int_equal(dp_set_load_string(s, customers_profile, strlen(customers_profile),
                                        "customers.yaml", DP_MANAGED, &dg),
                     DC_OK);
    assert_int_equal(dp_set_finish(s, &dg), DC_OK);
    dp_diags_free(&dg);
    return s;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/dc-retr-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/cache/retrieval-demo.db", f->dir);
    f->dps = make_dps(revenue_yaml);
    f->schema = make_schema(0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    dp_set_free(f->dps);
    schema_free(f->schema);
    free(f);
    return 0;
}

static struct retrieval *open_idx(struct fx *f, const char *path)
{
    struct retrieval_src src = {.dps = f->dps, .schema = f->schema, .database = "demo"};
    struct retrieval *r = NULL;
    char err[256] = "";
    int rc = retrieval_open(&src, path, &r, err, sizeof(err));
    if (rc != DC_OK)
        fail_msg("retrieval_open: %s", err);
    return r;
}

/* Position of id among the hits of q, or -1. */
static int rank_of(struct retrieval *r, const char *q, const char *id, struct retrieval_hit *top)
{
    struct retrieval_hit hits[10];
    size_t n = 0;
    char err[256] = "";
    assert_int_equal(retrieval_search(r, q, 10, hits, &n, err, sizeof(err)), DC_OK);
    if (top && n)
        *top = hits[0];
    for (size_t i = 0; i < n; i++) {
        if (i)
            assert_true(hits[i].score <= hits[i - 1].score);
        assert_true(hits[i].score > 0);
        if (strcmp(hits[i].id, id) == 0)
            return (int)i;
    }
    return -1;
}

static void test_retrieval_synonym_finds_its_metric_above_tables(void **state)
{
    struct fx *f = *state;
    struct retrieval *r = open_idx(f, NULL);
    struct retrieval_hit top;
    assert_int_equal(rank_of(r, "what was our turnover last year", "dp:revenue", &top), 0);
    assert_int_equal(top.kind, RETR_DP);
    /* A word of both the metric's context and a table: the metric's
     * synonym-free name loses to the table named so. */
    assert_int_equal(rank_of(r, "show me the orders", "table:orders", NULL), 0);
    assert_int_equal(rank_of(r, "where is revenue defined", "dp:revenue", NULL), 0);
    retrieval_close(r);
}

static void test_retrieval_profiled_value_finds_its_column(void **state)
{
    struct fx *f = *state;
    struct retrieval *r = open_idx(f, NULL);
    struct retrieval_hit top;
    assert_int_equal(rank_of(r, "customers in Brazil", "value:customers.country=Brazil", &top), 0);
    assert_int_equal(top.kind, RETR_VALUE);
    assert_string_equal(retrieval_kind_name(top.kind), "value");
    assert_int_equal(rank_of(r, "which table has email addresses", "column:customers.email", &top),
                     0);
    assert_int_equal(top.kind, RETR_COLUMN);
    /* CamelCase names are found by their words and whole. */
    assert_int_equal(rank_of(r, "invoice line quantities", "table:InvoiceLine", NULL) >= 0, 1);
    assert_int_equal(rank_of(r, "invoiceline", "table:InvoiceLine", NULL), 0);
    retrieval_close(r);
}

static void test_retrieval_leaves_out_columns_the_catalog_hides(void **state)
{
    struct fx *f = *state;
    struct dc_schema *narrow = make_schema(1);
    struct retrieval_src src = {.dps = f->dps, .schema = narrow, .database = "demo"};
    struct retrieval *r = NULL;
    char err[256];
    assert_int_equal(retrieval_open(&src, NULL, &r, err, sizeof(err)), DC_OK);
    assert_int_equal(rank_of(r, "zanzibar", "value:customers.secret_note=Zanzibar", NULL), -1);
    assert_int_equal(rank_of(r, "secret note", "column:customers.secret_note", NULL), -1);
    retrieval_close(r);
    r = open_idx(f, NULL);
    assert_int_equal(rank_of(r, "zanzibar", "value:customers.secret_note=Zanzibar", NULL), 0);
    retrieval_close(r);
    /* Profiles of another database's table of the same name stay out. */
    src = (struct retrieval_src){.dps = f->dps, .schema = f->schema, .database = "other"};
    assert_int_equal(retrieval_open(&src, NULL, &r, err, sizeof(err)), DC_OK);
    assert_int_equal(rank_of(r, "brazil", "value:customers.country=Brazil", NULL), -1);
    retrieval_close(r);
    schema_free(narrow);
}

static void test_retrieval_file_is_reused_and_rebuilt_when_a_datapoint_changes(void **state)
{
    struct fx *f = *state;
    struct retrieval *r = open_idx(f, f->path);
    assert_string_equal(retrieval_origin(r), "built; saved");
    char first[65];
    snprintf(first, sizeof(first), "%s", retrieval_checksum(r));
    size_t ndocs = retrieval_ndocs(r);
    assert_true(ndocs > 20);
    retrieval_close(r);

    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    r = open_idx(f, f->path);
    assert_string_equal(retrieval_origin(r), "file");
    assert_int_equal(retrieval_ndocs(r), ndocs);
    assert_int_equal(rank_of(r, "turnover", "dp:revenue", NULL), 0);
    assert_int_equal(rank_of(r, "proceeds", "dp:revenue", NULL), -1);
    retrieval_close(r);

    /* A new synonym: the checksum moves, the file is rebuilt and the new
     * word finds the metric. */
    dp_set_free(f->dps);
    static const char changed[] =
        "id: revenue\ntype: metric\nname: Revenue\n"
        "definition: Money from completed orders, the sum of orders.total_amount.\n"
        "synonyms: [turnover, takings, proceeds]\ntags: [finance]\n"
        "data_sources:\n  - table: orders\n    columns: [total_amount, status]\n";
    f->dps = make_dps(changed);
    r = open_idx(f, f->path);
    assert_string_equal(retrieval_origin(r), "rebuilt (stale file); saved");
    assert_string_not_equal(retrieval_checksum(r), first);
    assert_int_equal(rank_of(r, "proceeds", "dp:revenue", NULL), 0);
    retrieval_close(r);
    r = open_idx(f, f->path);
    assert_string_equal(retrieval_origin(r), "file");
    retrieval_close(r);
}

static void write_bytes(const char *path, long at, const void *p, size_t n, int truncate)
{
    FILE *fp = fopen(path, truncate ? "wb" : "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, at, SEEK_SET), 0);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static void test_retrieval_corrupt_or_foreign_file_is_rebuilt(void **state)
{
    struct fx *f = *state;
    struct retrieval *r = open_idx(f, f->path);
    retrieval_close(r);

    write_bytes(f->path, 0, "this is not a database at all", 29, 1);
    r = open_idx(f, f->path);
    assert_string_equal(retrieval_origin(r), "rebuilt (corrupt or foreign file); saved");
    assert_int_equal(rank_of(r, "turnover", "dp:revenue", NULL), 0);
    retrieval_close(r);
    r = open_idx(f, f->path);
    assert_string_equal(retrieval_origin(r), "file");
    retrieval_close(r);

    /* Damage past the header and meta pages: found when the search reads
     * those pages, answered from a rebuild all the same. */
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    char junk[4096];
    memset(junk, 0xA5, sizeof(junk));
    for (long at = 4096 * 2; at + 4096 <= st.st_size; at += 4096)
        write_bytes(f->path, at, junk, sizeof(junk), 0);
    struct retrieval_src src = {.dps = f->dps, .schema = f->schema, .database = "demo"};
    char err[256] = "";
    r = NULL;
    if (retrieval_open(&src, f->path, &r, err, sizeof(err)) != DC_OK)
        fail_msg("retrieval_open: %s", err);
    assert_int_equal(rank_of(r, "turnover", "dp:revenue", NULL), 0);
    assert_int_equal(rank_of(r, "customers in Brazil", "value:customers.country=Brazil", NULL),
                     0);
    retrieval_close(r);

    /* Another SQLite file in its place (foreign tables, no meta). */
    unlink(f->path);
    write_bytes(f->path, 0, "", 0, 1);
    r = open_idx(f, f->path);
    assert_string_equal(retrieval_origin(r), "rebuilt (corrupt or foreign file); saved");
    retrieval_close(r);
}

static void test_retrieval_unwritable_cache_still_answers(void **state)
{
    struct fx *f = *state;
    struct retrieval *r = open_idx(f, "/proc/no-such-dir/retrieval.db");
    assert_string_equal(retrieval_origin(r), "built; not saved (cache not writable)");
    assert_int_equal(rank_of(r, "turnover", "dp:revenue", NULL), 0);
    retrieval_close(r);
}

static void expect_expr(const char *q, const char *want)
{
    char *e = NULL;
    int rc = retrieval_match_expr(q, strlen(q), &e);
    if (!want) {
        assert_int_equal(rc, DC_ENOTFOUND);
        assert_null(e);
        return;
    }
    assert_int_equal(rc, DC_OK);
    assert_string_equal(e, want);
    free(e);
}

static void test_retrieval_query_builder_quotes_every_term(void **state)
{
    (void)state;
    expect_expr("Which table has EMAIL addresses?", "\"email\"* OR \"addresses\"*");
    expect_expr("the of which", NULL);
    expect_expr("", NULL);
    expect_expr("x id id ID", "\"x\" OR \"id\"");
    /* FTS5 syntax from the user is taken apart into plain words. */
    expect_expr("name:secret", "\"name\"* OR \"secret\"*");
    expect_expr("NEAR(a b, 3)", "\"near\"* OR \"b\" OR \"3\"");
    expect_expr("\"rev\" * AND NOT x", "\"rev\"* OR \"not\"* OR \"x\"");
    expect_expr("{name synonyms}: ^drop", "\"name\"* OR \"synonyms\"* OR \"drop\"*");
    expect_expr("São Paulo", "\"são\"* OR \"paulo\"*");
    /* A bounded number of terms whatever the input. */
    char many[400] = "";
    for (int i = 0; i < 40; i++) {
        char w[16];
        snprintf(w, sizeof(w), "w%02d ", i);
        strcat(many, w);
    }
    char *e = NULL;
    assert_int_equal(retrieval_match_expr(many, strlen(many), &e), DC_OK);
    size_t ors = 0;
    for (const char *p = e; (p = strstr(p, " OR ")) != NULL; p++)
        ors++;
    assert_int_equal(ors, RETRIEVAL_MAX_TERMS - 1);
    free(e);
}

static void test_retrieval_search_survives_hostile_text(void **state)
{
    struct fx *f = *state;
    struct retrieval *r = open_idx(f, NULL);
    static const char *const qs[] = {"\"", "NEAR(", "*", ":", "name:", "-", "a AND", "OR OR",
                                     "\"\"\"", "^", "\xff\xfe", "(((", "revenue\" OR \"x"};
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        struct retrieval_hit hits[5];
        size_t n = 99;
        char err[256] = "";
        if (retrieval_search(r, qs[i], 5, hits, &n, err, sizeof(err)) != DC_OK)
            fail_msg("%s: %s", qs[i], err);
        assert_true(n <= 5);
    }
    struct retrieval_hit hits[5];
    size_t n = 99;
    assert_int_equal(retrieval_search(r, "the", 5, hits, &n, NULL, 0), DC_OK);
    assert_int_equal(n, 0);
    retrieval_close(r);
}

static void test_retrieval_empty_sources_give_no_hits(void **state)
{
    (void)state;
    struct retrieval_src src = {.dps = NULL, .schema = NULL, .database = NULL};
    struct retrieval *r = NULL;
    assert_int_equal(retrieval_open(&src, NULL, &r, NULL, 0), DC_OK);
    assert_int_equal(retrieval_ndocs(r), 0);
    struct retrieval_hit hits[3];
    size_t n = 9;
    assert_int_equal(retrieval_search(r, "revenue", 3, hits, &n, NULL, 0), DC_OK);
    assert_int_equal(n, 0);
    retrieval_close(r);
}

struct counting_loader {
    struct fx *f;
    int calls;
};

static const struct dp_set *count_load(void *arg)
{
    struct counting_loader *l = arg;
    l->calls++;
    return l->f->dps;
}

static struct retrieval *open_keyed(struct fx *f, const char *fp, struct counting_loader *l)
{
    struct retrieval_src src = {.schema = f->schema, .database = "demo", .dp_fingerprint = fp,
                                .load_dps = count_load, .load_arg = l};
    struct retrieval *r = NULL;
    char err[256] = "";
    if (retrieval_open(&src, f->path, &r, err, sizeof(err)) != DC_OK)
        fail_msg("retrieval_open: %s", err);
    return r;
}

/* A process whose DataPoint files have the fingerprint the file was made
 * from opens it without loading a DataPoint; a new fingerprint with the
 * same texts (files touched) costs a load and a checksum, not a rebuild,
 * and re-keys the file; new texts rebuild it. */
static void test_retrieval_matching_fingerprint_skips_loading_datapoints(void **state)
{
    struct fx *f = *state;
    struct counting_loader l = {f, 0};
    struct retrieval *r = open_keyed(f, "fp-1", &l);
    assert_string_equal(retrieval_origin(r), "built; saved");
    assert_int_equal(l.calls, 1);
    char sum[65];
    snprintf(sum, sizeof(sum), "%s", retrieval_checksum(r));
    retrieval_close(r);

    l.calls = 0;
    r = open_keyed(f, "fp-1", &l);
    assert_string_equal(retrieval_origin(r), "file");
    assert_int_equal(l.calls, 0);
    assert_string_equal(retrieval_checksum(r), sum);
    assert_int_equal(rank_of(r, "turnover", "dp:revenue", NULL), 0);
    retrieval_close(r);

    /* The catalog is part of the key: another one is not this index. */
    struct dc_schema *narrow = make_schema(1), *wide = f->schema;
    f->schema = narrow;
    r = open_keyed(f, "fp-1", &l);
    assert_int_equal(l.calls, 1);
    assert_string_equal(retrieval_origin(r), "rebuilt (stale file); saved");
    retrieval_close(r);
    f->schema = wide;
    schema_free(narrow);
    r = open_keyed(f, "fp-1", &l);
    retrieval_close(r);

    l.calls = 0;
    r = open_keyed(f, "fp-2", &l);
    assert_string_equal(retrieval_origin(r), "file");
    assert_int_equal(l.calls, 1);
    retrieval_close(r);
    l.calls = 0;
    r = open_keyed(f, "fp-2", &l);
    assert_string_equal(retrieval_origin(r), "file");
    assert_int_equal(l.calls, 0);
    retrieval_close(r);

    dp_set_free(f->dps);
    static const char changed[] =
        "id: revenue\ntype: metric\nname: Revenue\n"
        "definition: Money from completed orders.\nsynonyms: [proceeds]\n";
    f->dps = make_dps(changed);
    r = open_keyed(f, "fp-3", &l);
    assert_string_equal(retrieval_origin(r), "rebuilt (stale file); saved");
    assert_int_equal(rank_of(r, "proceeds", "dp:revenue", NULL), 0);
    retrieval_close(r);
}

/* With more matches than the budget, the most common words are dropped
 * before ranking and the rare one decides; a question of common words only
 * still answers from its rarest word. */
static void test_retrieval_common_words_are_cut_in_a_large_index(void **state)
{
    (void)state;
    struct dc_schema *s = schema_new();
    assert_non_null(s);
    static const char *const cols[] = {"id", "customer_name", "customer_note"};
    char name[32];
    for (int i = 0; i < 1200; i++) {
        snprintf(name, sizeof(name), "customer_t%d", i);
        add_table(s, name, cols, 3, i == 7 ? "where zebras are kept" : NULL);
    }
    struct retrieval_src src = {.schema = s, .database = "demo"};
    struct retrieval *r = NULL;
    assert_int_equal(retrieval_open(&src, NULL, &r, NULL, 0), DC_OK);
    assert_int_equal(rank_of(r, "customer zebras", "table:customer_t7", NULL), 0);
    struct retrieval_hit hits[5];
    size_t n = 0;
    /* "customer" is in every document: only the zebras one is ranked. */
    assert_int_equal(retrieval_search(r, "customer zebras", 5, hits, &n, NULL, 0), DC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(retrieval_search(r, "customer", 5, hits, &n, NULL, 0), DC_OK);
    assert_int_equal(n, 5);
    retrieval_close(r);
    schema_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retrieval_synonym_finds_its_metric_above_tables,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_retrieval_profiled_value_finds_its_column, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retrieval_leaves_out_columns_the_catalog_hides,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_retrieval_file_is_reused_and_rebuilt_when_a_datapoint_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retrieval_corrupt_or_foreign_file_is_rebuilt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retrieval_unwritable_cache_still_answers, setup,
                                        teardown),
        cmocka_unit_test(test_retrieval_query_builder_quotes_every_term),
        cmocka_unit_test_setup_teardown(test_retrieval_search_survives_hostile_text, setup,
                                        teardown),
        cmocka_unit_test(test_retrieval_empty_sources_give_no_hits),
        cmocka_unit_test_setup_teardown(test_retrieval_matching_fingerprint_skips_loading_datapoints,
                                        setup, teardown),
        cmocka_unit_test(test_retrieval_common_words_are_cut_in_a_large_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
