/* DataPoints: every loader error class with its code and exact position,
 * set checks (duplicate ids naming both files, dangling references),
 * user > managed precedence, template rendering with typed values, the
 * live checks against a catalog and a real SQLite prepare, the host table
 * entries, and the shipped demo DataPoints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>

#include "ctx.h"
#include "datapoint.h"
#include "hostapi.h"
#include "schema.h"

struct fx {
    struct dp_set *s;
    struct dp_diags dg;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f || dp_set_new(&f->s) != DC_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    dp_set_free(f->s);
    dp_diags_free(&f->dg);
    free(f);
    return 0;
}

static int load(struct fx *f, const char *name, const char *yaml, int source)
{
    return dp_set_load_string(f->s, yaml, strlen(yaml), name, source, &f->dg);
}

static void dump(const struct dp_diags *dg)
{
    char buf[1600];
    for (size_t i = 0; i < dg->n; i++) {
        dp_diag_format(&dg->d[i], buf, sizeof(buf));
        print_message("  %s\n", buf);
    }
}

static const struct dp_diag *expect(const struct dp_diags *dg, const char *code, const char *file,
                                    int line, int col)
{
    for (size_t i = 0; i < dg->n; i++) {
        const struct dp_diag *d = &dg->d[i];
        if (strcmp(d->code, code) == 0 && (!file || strcmp(d->file, file) == 0) &&
            (line < 0 || d->line == line) && (col < 0 || d->col == col))
            return d;
    }
    print_message("wanted %s at %s:%d:%d, got:\n", code, file ? file : "*", line, col);
    dump(dg);
    fail();
    return NULL;
}

static const char metric_yaml[] =
    "id: revenue\n"
    "type: metric\n"
    "name: Revenue\n"
    "synonyms: [sales, turnover]\n"
    "data_sources:\n"
    "  - table: orders\n"
    "    columns: [total_amount, status]\n"
    "    filters: [\"status IN ('paid', 'shipped')\"]\n"
    "execution:\n"
    "  parameters:\n"
    "    start: {type: date, default: \"2024-01-01\"}\n"
    "    grain: {type: enum, values: [day, month], default: month}\n"
    "    col: {type: identifier, values: [total_amount, orders.status]}\n"
    "    n: {type: integer}\n"
    "  sql_template: |\n"
    "    SELECT {{col}}, {{ grain }} FROM orders\n"
    "    WHERE order_date >= {{start}} AND status = 'paid' -- {{ignored}}\n"
    "    LIMIT {{n}} OFFSET {{n}}\n"
    "  backend_variants:\n"
    "    sqlite: \"SELECT {{col}}, {{grain}} FROM orders WHERE order_date >= {{start}} LIMIT {{n}}\"\n";

static void test_dp_loads_a_metric_with_every_part(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "m.yaml", metric_yaml, DP_USER), DC_OK);
    assert_int_equal(dp_set_finish(f->s, &f->dg), DC_OK);
    const struct dp *d = dp_set_find(f->s, "revenue");
    assert_non_null(d);
    const struct dc_datapoint_info *in = dp_info(d);
    assert_int_equal(in->struct_size, sizeof(*in));
    assert_string_equal(in->type, "metric");
    assert_string_equal(in->source, "user");
    assert_string_equal(in->file, "m.yaml");
    assert_int_equal(in->line, 1);
    assert_int_equal(in->nsynonyms, 2);
    assert_string_equal(in->synonyms[1], "turnover");
    assert_int_equal(in->ndata_sources, 1);
    assert_string_equal(in->data_sources[0]->table, "orders");
    assert_string_equal(in->data_sources[0]->filters[0], "status IN ('paid', 'shipped')");
    assert_int_equal(in->nparams, 4);
    assert_string_equal(in->params[1]->type, "enum");
    assert_string_equal(in->params[1]->default_value, "month");
    assert_false(in->params[1]->required);
    assert_true(in->params[3]->required);
    assert_int_equal(in->nvariants, 1);
    assert_string_equal(in->variants[0]->backend, "sqlite");
    assert_non_null(strstr(in->sql_template, "{{ grain }}"));
}

static void test_dp_reports_syntax_error_at_its_line(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "bad.yaml", "id: x\ntype: concept\nname: [unclosed\n", DP_USER),
                     DC_EINVAL);
    expect(&f->dg, "E-DP-SYNTAX", "bad.yaml", 4, -1);
    assert_int_equal(dp_set_count_all(f->s), 0);
}

static void test_dp_rejects_unknown_field_with_suggestion(void **state)
{
    struct fx *f = *state;
    load(f, "u.yaml", "id: x\ntype: concept\nname: X\nsynonymz: [a]\n", DP_USER);
    const struct dp_diag *d = expect(&f->dg, "E-DP-UNKNOWN-FIELD", "u.yaml", 4, 1);
    assert_non_null(strstr(d->hint, "synonyms"));
}

static void test_dp_names_the_type_a_misplaced_field_belongs_to(void **state)
{
    struct fx *f = *state;
    load(f, "c.yaml", "id: x\ntype: concept\nname: X\nexecution: {sql_template: SELECT 1}\n",
         DP_USER);
    const struct dp_diag *d = expect(&f->dg, "E-DP-UNKNOWN-FIELD", "c.yaml", 4, 1);
    assert_non_null(strstr(d->hint, "metric"));
}

static void test_dp_rejects_wrong_types(void **state)
{
    struct fx *f = *state;
    load(f, "t.yaml",
         "id: x\ntype: dimension\nname: X\nsynonyms: sales\ndata_sources: {table: t}\n"
         "managed: maybe\n",
         DP_USER);
    expect(&f->dg, "E-DP-TYPE", "t.yaml", 4, 11);
    expect(&f->dg, "E-DP-TYPE", "t.yaml", 5, 15);
    expect(&f->dg, "E-DP-TYPE", "t.yaml", 6, 10);
}

static void test_dp_rejects_missing_and_bad_required_fields(void **state)
{
    struct fx *f = *state;
    load(f, "m.yaml", "type: metrik\n", DP_USER);
    expect(&f->dg, "E-DP-MISSING", "m.yaml", 1, 1); /* id */
    const struct dp_diag *d = expect(&f->dg, "E-DP-BAD-VALUE", "m.yaml", 1, 7);
    assert_non_null(strstr(d->hint, "metric"));
    dp_diags_free(&f->dg);
    load(f, "i.yaml", "id: 9lives\ntype: concept\nname: X\n", DP_USER);
    expect(&f->dg, "E-DP-BAD-VALUE", "i.yaml", 1, 5);
    dp_diags_free(&f->dg);
    load(f, "e.yaml", "", DP_USER);
    expect(&f->dg, "E-DP-MISSING", "e.yaml", 0, 0);
}

static void test_dp_rejects_duplicate_keys_and_aliases(void **state)
{
    struct fx *f = *state;
    load(f, "d.yaml", "id: x\ntype: concept\nname: X\nname: Y\n", DP_USER);
    const struct dp_diag *d = expect(&f->dg, "E-DP-DUPLICATE-KEY", "d.yaml", 4, 1);
    assert_non_null(strstr(d->msg, "line 3"));
    dp_diags_free(&f->dg);
    load(f, "a.yaml", "id: x\ntype: concept\nname: &n X\nowner: *n\n", DP_USER);
    expect(&f->dg, "E-DP-ALIAS", "a.yaml", 3, 7);
    expect(&f->dg, "E-DP-ALIAS", "a.yaml", 4, 8);
}

static void test_dp_duplicate_id_names_both_files(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "one.yaml", "id: x\ntype: concept\nname: X\n", DP_USER), DC_OK);
    assert_int_equal(load(f, "two.yaml", "\nid: x\ntype: concept\nname: X2\n", DP_USER), DC_OK);
    assert_int_equal(dp_set_finish(f->s, &f->dg), DC_EINVAL);
    const struct dp_diag *d = expect(&f->dg, "E-DP-DUPLICATE-ID", "two.yaml", 2, 5);
    assert_non_null(strstr(d->msg, "one.yaml:1"));
    /* the first one stays usable */
    assert_int_equal(dp_set_count(f->s), 1);
    assert_string_equal(dp_info(dp_set_find(f->s, "x"))->name, "X");
}

static void test_dp_dangling_related_id_is_reported_at_the_item(void **state)
{
    struct fx *f = *state;
    load(f, "r.yaml",
         "id: x\ntype: concept\nname: X\nrelated_concepts: [y, nope]\n"
         "relationships:\n  - {to: gone, type: depends_on}\n",
         DP_USER);
    load(f, "y.yaml", "id: y\ntype: concept\nname: Y\n", DP_USER);
    assert_int_equal(dp_set_finish(f->s, &f->dg), DC_EINVAL);
    expect(&f->dg, "E-DP-DANGLING-REF", "r.yaml", 4, 23);
    expect(&f->dg, "E-DP-DANGLING-REF", "r.yaml", 6, 10);
    assert_int_equal(f->dg.n, 2);
}

static void test_dp_template_parameters_undeclared_and_unused(void **state)
{
    struct fx *f = *state;
    load(f, "p.yaml",
         "id: m\ntype: metric\nname: M\nexecution:\n"
         "  parameters:\n"
         "    a: {type: integer}\n"
         "    unused: {type: date}\n"
         "  sql_template: |\n"
         "    SELECT 1\n"
         "    WHERE x = {{a}}\n"
         "      AND y = {{b}}\n",
         DP_USER);
    expect(&f->dg, "E-DP-PARAM-UNDECLARED", "p.yaml", 11, -1);
    expect(&f->dg, "E-DP-PARAM-UNUSED", "p.yaml", 7, 5);
}

static void test_dp_template_syntax_errors(void **state)
{
    struct fx *f = *state;
    load(f, "q.yaml",
         "id: m\ntype: metric\nname: M\nexecution:\n"
         "  parameters: {a: {type: string}}\n"
         "  sql_template: \"SELECT 1 WHERE x = '{{a}}'\"\n",
         DP_USER);
    const struct dp_diag *d = expect(&f->dg, "E-DP-TEMPLATE-SYNTAX", "q.yaml", 6, -1);
    assert_non_null(strstr(d->hint, "quotes"));
    dp_diags_free(&f->dg);
    load(f, "r.yaml",
         "id: m\ntype: metric\nname: M\nexecution:\n"
         "  sql_template: \"SELECT 1 WHERE x = ?\"\n",
         DP_USER);
    expect(&f->dg, "E-DP-TEMPLATE-SYNTAX", "r.yaml", 5, -1);
    dp_diags_free(&f->dg);
    load(f, "s.yaml",
         "id: m\ntype: metric\nname: M\nexecution:\n"
         "  sql_template: \"SELECT 1 WHERE x = {{ 1a }}\"\n",
         DP_USER);
    expect(&f->dg, "E-DP-TEMPLATE-SYNTAX", "s.yaml", 5, -1);
    dp_diags_free(&f->dg);
    /* an error after a good placeholder (leaked its list once; ASan) */
    load(f, "t.yaml",
         "id: m\ntype: metric\nname: M\nexecution:\n"
         "  parameters: {a: {type: string}}\n"
         "  sql_template: \"SELECT {{a}}, {{b}}, {{c}}, {{d}}, {{e}} WHERE x = $1\"\n",
         DP_USER);
    expect(&f->dg, "E-DP-TEMPLATE-SYNTAX", "t.yaml", 6, -1);
    dp_diags_free(&f->dg);
    /* casts and literals with colons are not placeholders */
    assert_int_equal(load(f, "ok.yaml",
                          "id: m\ntype: metric\nname: M\nexecution:\n"
                          "  sql_template: \"SELECT x::date, '10:30' FROM t\"\n",
                          DP_USER),
                     DC_OK);
}

static void test_dp_parameter_declarations_are_checked(void **state)
{
    struct fx *f = *state;
    load(f, "p.yaml",
         "id: m\ntype: metric\nname: M\nexecution:\n"
         "  parameters:\n"
         "    g: {type: enum}\n"
         "    d: {type: date, default: \"2024-02-30\"}\n"
         "    i: {type: identifier, values: [\"x; DROP\"]}\n"
         "    w: {type: week}\n"
         "    n: {type: number, values: [1]}\n"
         "  sql_template: SELECT {{g}}, {{d}}, {{i}}, {{w}}, {{n}}\n",
         DP_USER);
    expect(&f->dg, "E-DP-MISSING", "p.yaml", 6, 8);
    expect(&f->dg, "E-DP-BAD-VALUE", "p.yaml", 7, 30);
    expect(&f->dg, "E-DP-BAD-VALUE", "p.yaml", 8, 36);
    expect(&f->dg, "E-DP-BAD-VALUE", "p.yaml", 9, 15);
    expect(&f->dg, "E-DP-BAD-VALUE", "p.yaml", 10, 31);
    assert_int_equal(f->dg.n, 5); /* no cascade into the template check */
}

static void test_dp_query_needs_execution_and_file_size_is_bounded(void **state)
{
    struct fx *f = *state;
    load(f, "q.yaml", "id: q\ntype: query\nname: Q\n", DP_USER);
    expect(&f->dg, "E-DP-MISSING", "q.yaml", 1, 5);
    dp_diags_free(&f->dg);
    size_t n = DP_MAX_FILE_BYTES + 10;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, '#', n);
    big[n] = '\0';
    assert_int_equal(dp_set_load_string(f->s, big, n, "big.yaml", DP_USER, &f->dg), DC_EINVAL);
    expect(&f->dg, "E-DP-TOO-LARGE", "big.yaml", 0, 0);
    free(big);
}

static const char managed_orders[] =
    "id: schema.demo.orders\ntype: schema\nname: orders\nmanaged: true\ndatabase: demo\n"
    "table: orders\nrow_count: 10\nsample: {rows: 5, method: first rows}\n"
    "primary_key: [id]\n"
    "foreign_keys:\n  - {column: customer_id, references: customers.id, inferred: true}\n"
    "columns:\n"
    "  - name: status\n    type: TEXT\n    null_rate: 0.25\n    distinct: 2\n"
    "    top_values:\n      - {value: paid, count: 6}\n      - {value: \"null\", count: 1}\n";

static void test_dp_user_datapoint_shadows_managed_one(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "/m/revenue.yaml", "id: revenue\ntype: metric\nname: Managed\n",
                          DP_MANAGED),
                     DC_OK);
    assert_int_equal(load(f, "/m/orders.yaml", managed_orders, DP_MANAGED), DC_OK);
    assert_int_equal(load(f, "/u/revenue.yaml", "id: revenue\ntype: metric\nname: Mine\n",
                          DP_USER),
                     DC_OK);
    assert_int_equal(load(f, "/u/orders.yaml",
                          "id: my_orders\ntype: schema\nname: Orders\ntable: ORDERS\n", DP_USER),
                     DC_OK);
    assert_int_equal(dp_set_finish(f->s, &f->dg), DC_OK);
    assert_int_equal(dp_set_count_all(f->s), 4);
    assert_int_equal(dp_set_count(f->s), 2);
    const struct dp *d = dp_set_find(f->s, "revenue");
    assert_string_equal(dp_info(d)->name, "Mine");
    assert_string_equal(dp_info(d)->shadows_file, "/m/revenue.yaml");
    assert_non_null(dp_shadows(d));
    assert_ptr_equal(dp_shadowed_by(dp_shadows(d)), d);
    assert_null(dp_set_find(f->s, "schema.demo.orders"));
    const struct dp *o = dp_set_find(f->s, "my_orders");
    assert_string_equal(dp_info(o)->shadows_id, "schema.demo.orders");
}

static void test_dp_schema_datapoint_carries_profiled_values(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "/m/orders.yaml", managed_orders, DP_MANAGED), DC_OK);
    assert_int_equal(dp_set_finish(f->s, &f->dg), DC_OK);
    const struct dc_datapoint_info *in = dp_info(dp_set_find(f->s, "schema.demo.orders"));
    assert_non_null(in);
    assert_string_equal(in->source, "managed");
    assert_int_equal(in->row_count, 10);
    assert_int_equal(in->sample_rows, 5);
    assert_int_equal(in->nforeign_keys, 1);
    assert_string_equal(in->foreign_keys[0]->to_table, "customers");
    assert_string_equal(in->foreign_keys[0]->to_column, "id");
    assert_true(in->foreign_keys[0]->inferred);
    assert_int_equal(in->ncolumns, 1);
    const struct dc_dp_column *c = in->columns[0];
    assert_true(c->null_rate > 0.249 && c->null_rate < 0.251);
    assert_int_equal(c->ntop_values, 2);
    assert_string_equal(c->top_values[0]->value, "paid");
    assert_int_equal(c->top_values[0]->count, 6);
    assert_string_equal(c->top_values[1]->value, "null");
}

static void test_dp_render_binds_typed_values_and_quotes_identifiers(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "m.yaml", metric_yaml, DP_USER), DC_OK);
    assert_int_equal(dp_set_finish(f->s, &f->dg), DC_OK);
    const struct dp *d = dp_set_find(f->s, "revenue");
    struct dp_rendered r;
    char err[512];
    struct dp_arg args[] = {{"col", "ORDERS.STATUS"}, {"n", "5"}};
    assert_int_equal(dp_render(d, "postgres", args, 2, &r, err, sizeof(err)), DC_OK);
    assert_string_equal(r.backend, "default");
    assert_string_equal(r.sql, "SELECT \"orders\".\"status\", $1 FROM orders\n"
                               "WHERE order_date >= $2 AND status = 'paid' -- {{ignored}}\n"
                               "LIMIT $3 OFFSET $3\n");
    assert_int_equal(r.nparams, 3);
    assert_int_equal(r.params[0].type, DC_TEXT);
    assert_string_equal(r.params[0].v.s.p, "month");
    assert_int_equal(r.params[1].type, DC_DATE);
    assert_int_equal(r.params[2].type, DC_INT);
    assert_int_equal(r.params[2].v.i, 5);
    dp_rendered_free(&r);
    assert_int_equal(dp_render(d, "sqlite", args, 2, &r, err, sizeof(err)), DC_OK);
    assert_string_equal(r.backend, "sqlite");
    assert_string_equal(r.sql,
                        "SELECT \"orders\".\"status\", ?1 FROM orders WHERE order_date >= ?2 LIMIT ?3");
    dp_rendered_free(&r);
}

static void test_dp_render_refuses_bad_values(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "m.yaml", metric_yaml, DP_USER), DC_OK);
    assert_int_equal(dp_set_finish(f->s, &f->dg), DC_OK);
    const struct dp *d = dp_set_find(f->s, "revenue");
    struct dp_rendered r;
    char err[512];
    struct dp_arg inj[] = {{"col", "total_amount"}, {"n", "1"},
                           {"start", "2024-01-01'; DROP TABLE x"}};
    assert_int_equal(dp_render(d, "sqlite", inj, 3, &r, err, sizeof(err)), DC_EINVAL);
    assert_non_null(strstr(err, "E-DP-PARAM-VALUE"));
    assert_null(r.sql);
    struct dp_arg typ[] = {{"col", "total_amount"}, {"n", "ten"}};
    assert_int_equal(dp_render(d, "sqlite", typ, 2, &r, err, sizeof(err)), DC_EINVAL);
    assert_non_null(strstr(err, "not an integer"));
    struct dp_arg gran[] = {{"col", "total_amount"}, {"n", "1"}, {"grain", "fortnight"}};
    assert_int_equal(dp_render(d, "sqlite", gran, 3, &r, err, sizeof(err)), DC_EINVAL);
    assert_non_null(strstr(err, "day, month"));
    struct dp_arg ident[] = {{"col", "password"}, {"n", "1"}};
    assert_int_equal(dp_render(d, "sqlite", ident, 2, &r, err, sizeof(err)), DC_EINVAL);
    struct dp_arg miss[] = {{"col", "total_amount"}};
    assert_int_equal(dp_render(d, "sqlite", miss, 1, &r, err, sizeof(err)), DC_EINVAL);
    assert_non_null(strstr(err, "E-DP-PARAM-MISSING"));
    struct dp_arg unk[] = {{"col", "total_amount"}, {"n", "1"}, {"evil", "1"}};
    assert_int_equal(dp_render(d, "sqlite", unk, 3, &r, err, sizeof(err)), DC_EINVAL);
    assert_non_null(strstr(err, "E-DP-PARAM-UNKNOWN"));
    struct dp_arg ts[] = {{"col", "total_amount"}, {"n", "-3"}, {"start", "2024-02-29"}};
    assert_int_equal(dp_render(d, "sqlite", ts, 3, &r, err, sizeof(err)), DC_OK);
    dp_rendered_free(&r);
}

/* ---- live checks: a hand-built catalog and a real SQLite prepare ---- */

static int sq_prepare(void *arg, const char *sql, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(arg, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        snprintf(err, errlen, "%s", sqlite3_errmsg(arg));
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? DC_OK : DC_EINVAL;
}

static void test_dp_lint_live_checks_tables_columns_filters_templates(void **state)
{
    struct fx *f = *state;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE orders(id INTEGER PRIMARY KEY, status TEXT)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    struct dc_schema *sc = schema_new();
    struct dc_column_info cols[] = {{sizeof(cols[0]), "id", "INTEGER", DC_INT, 1, 1, NULL, NULL},
                                    {sizeof(cols[0]), "status", "TEXT", DC_TEXT, 0, 0, NULL,
                                     NULL}};
    struct dc_table_info t = {sizeof(t), NULL, "orders", "table", 0, NULL, 2, cols, 0, NULL};
    assert_int_equal(schema_add_table(sc, &t), DC_OK);
    load(f, "ok.yaml",
         "id: ok\ntype: metric\nname: OK\ndata_sources:\n  - table: Orders\n    columns: [status]\n"
         "    filters: [\"status = 'paid'\"]\nexecution:\n  parameters: {s: {type: string}}\n"
         "  sql_template: SELECT count(*) FROM orders WHERE status = {{s}}\n",
         DP_USER);
    load(f, "bad.yaml",
         "id: bad\ntype: metric\nname: Bad\ndata_sources:\n  - table: ordes\n"
         "  - table: orders\n    columns: [statuss]\n    filters: [\"nosuch = 1\"]\n"
         "execution:\n  backend_variants:\n    sqlite: SELECT nope FROM orders\n",
         DP_USER);
    load(f, "pg.yaml",
         "id: pg\ntype: query\nname: PG\nexecution:\n  backend_variants:\n"
         "    postgres: SELECT 1\n",
         DP_USER);
    load(f, "other.yaml",
         "id: other\ntype: concept\nname: O\ndatabase: elsewhere\ndata_sources: [{table: zz}]\n",
         DP_USER);
    assert_int_equal(f->dg.n, 0);
    assert_int_equal(dp_set_finish(f->s, &f->dg), DC_OK);
    struct dp_live live = {.db_name = "demo", .backend = "sqlite", .schema = sc,
                           .prepare = sq_prepare, .arg = db, .unbound = 1};
    assert_int_equal(dp_lint_live(f->s, "ok.yaml", &live, &f->dg), DC_OK);
    assert_int_equal(dp_lint_live(f->s, NULL, &live, &f->dg), DC_EINVAL);
    const struct dp_diag *d = expect(&f->dg, "E-DP-UNKNOWN-TABLE", "bad.yaml", 5, 12);
    assert_non_null(strstr(d->hint, "orders"));
    d = expect(&f->dg, "E-DP-UNKNOWN-COLUMN", "bad.yaml", 7, 15);
    assert_non_null(strstr(d->hint, "status"));
    expect(&f->dg, "E-DP-FILTER-INVALID", "bad.yaml", 8, 15);
    d = expect(&f->dg, "E-DP-TEMPLATE-INVALID", "bad.yaml", 11, 13);
    assert_non_null(strstr(d->msg, "nope"));
    expect(&f->dg, "E-DP-NO-VARIANT", "pg.yaml", 1, 5);
    assert_int_equal(f->dg.n, 5); /* other.yaml names another database */
    schema_free(sc);
    sqlite3_close(db);
}

static void test_dp_host_table_serves_the_set(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "m.yaml", metric_yaml, DP_USER), DC_OK);
    assert_int_equal(load(f, "c.yaml", "id: a_concept\ntype: concept\nname: C\n", DP_USER), DC_OK);
    assert_int_equal(dp_set_finish(f->s, &f->dg), DC_OK);
    struct dc_host h;
    hostapi_init(&h, NULL);
    assert_true(DC_HOST_HAS(&h, dp_count));
    assert_true(DC_HOST_HAS(&h, dp_find));
    struct dc_ctx *c = ctx_new(NULL);
    assert_non_null(c);
    assert_int_equal(h.dp_count(c), 0);
    assert_null(h.dp_find(c, "revenue"));
    ctx_set_dps(c, f->s);
    assert_int_equal(h.dp_count(c), 2);
    assert_string_equal(h.dp_at(c, 0)->id, "a_concept");
    assert_null(h.dp_at(c, 2));
    assert_string_equal(h.dp_find(c, "revenue")->name, "Revenue");
    assert_null(h.dp_find(c, "nope"));
    ctx_free(c);
}

static void test_dp_shipped_demo_datapoints_load_clean(void **state)
{
    struct fx *f = *state;
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/datapoints/user", DC_SOURCE_DIR);
    assert_int_equal(dp_set_load_dir(f->s, dir, DP_USER, &f->dg), DC_OK);
    int rc = dp_set_finish(f->s, &f->dg);
    dump(&f->dg);
    assert_int_equal(rc, DC_OK);
    const char *metrics[] = {"revenue", "order_count", "average_order_value", "active_customers",
                             "refund_rate"};
    for (size_t i = 0; i < 5; i++) {
        const struct dp *d = dp_set_find(f->s, metrics[i]);
        assert_non_null(d);
        assert_int_equal(dp_type(d), DP_METRIC);
        struct dp_rendered r;
        char err[512];
        assert_int_equal(dp_render(d, "sqlite", NULL, 0, &r, err, sizeof(err)), DC_OK);
        assert_string_equal(r.backend, "sqlite");
        dp_rendered_free(&r);
    }
    const struct dc_datapoint_info *rev = dp_info(dp_set_find(f->s, "revenue"));
    int sales = 0;
    for (size_t i = 0; i < rev->nsynonyms; i++)
        sales |= strcmp(rev->synonyms[i], "sales") == 0;
    assert_true(sales);
    assert_non_null(strstr(rev->data_sources[0]->filters[0], "'paid'"));
    assert_non_null(dp_set_find(f->s, "region"));
    assert_non_null(dp_set_find(f->s, "product_category"));
    assert_non_null(dp_set_find(f->s, "customer_segment"));
}

static void test_dp_missing_directory_is_empty_but_unreadable_file_is_an_error(void **state)
{
    struct fx *f = *state;
    assert_int_equal(dp_set_load_dir(f->s, "/nonexistent-dp-dir", DP_MANAGED, &f->dg), DC_OK);
    /* an empty set finishes cleanly (once passed NULL to memcpy; UBSan) */
    assert_int_equal(dp_set_finish(f->s, &f->dg), DC_OK);
    assert_int_equal(dp_set_count(f->s), 0);
    assert_null(dp_set_find(f->s, "x"));
    assert_int_equal(dp_set_load_file(f->s, "/nonexistent-dp-dir/x.yaml", DP_USER, &f->dg),
                     DC_EINVAL);
    expect(&f->dg, "E-DP-IO", "/nonexistent-dp-dir/x.yaml", 0, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_dp_loads_a_metric_with_every_part),
        T(test_dp_reports_syntax_error_at_its_line),
        T(test_dp_rejects_unknown_field_with_suggestion),
        T(test_dp_names_the_type_a_misplaced_field_belongs_to),
        T(test_dp_rejects_wrong_types),
        T(test_dp_rejects_missing_and_bad_required_fields),
        T(test_dp_rejects_duplicate_keys_and_aliases),
        T(test_dp_duplicate_id_names_both_files),
        T(test_dp_dangling_related_id_is_reported_at_the_item),
        T(test_dp_template_parameters_undeclared_and_unused),
        T(test_dp_template_syntax_errors),
        T(test_dp_parameter_declarations_are_checked),
        T(test_dp_query_needs_execution_and_file_size_is_bounded),
        T(test_dp_user_datapoint_shadows_managed_one),
        T(test_dp_schema_datapoint_carries_profiled_values),
        T(test_dp_render_binds_typed_values_and_quotes_identifiers),
        T(test_dp_render_refuses_bad_values),
        T(test_dp_lint_live_checks_tables_columns_filters_templates),
        T(test_dp_host_table_serves_the_set),
        T(test_dp_shipped_demo_datapoints_load_clean),
        T(test_dp_missing_directory_is_empty_but_unreadable_file_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
