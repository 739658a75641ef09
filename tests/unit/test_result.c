/* Result sets and catalogs: deep copies, limits on misuse, stable hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctx.h"
#include "result.h"
#include "schema.h"

static void test_result_copies_text_values(void **state)
{
    struct dc_result *r = result_new();
    assert_int_equal(result_add_column(r, "name", DC_TEXT, "TEXT"), DC_OK);
    assert_int_equal(result_add_column(r, "n", DC_INT, NULL), DC_OK);
    char buf[8] = "alice";
    struct dc_value row[2] = {dc_value_text(buf, 5), dc_value_int(7)};
    assert_int_equal(result_append_row(r, row, 2), DC_OK);
    strcpy(buf, "XXXXX");
    assert_int_equal(result_nrows(r), 1);
    const struct dc_value *v = result_get(r, 0, 0);
    assert_int_equal(v->type, DC_TEXT);
    assert_int_equal(v->v.s.n, 5);
    assert_memory_equal(v->v.s.p, "alice", 5);
    assert_int_equal(result_get(r, 0, 1)->v.i, 7);
    assert_null(result_get(r, 1, 0));
    assert_null(result_get(r, 0, 2));
    result_free(r);
}

static void test_result_rejects_wrong_arity_and_late_columns(void **state)
{
    struct dc_result *r = result_new();
    assert_int_equal(result_add_column(r, "a", DC_INT, NULL), DC_OK);
    struct dc_value two[2] = {dc_value_int(1), dc_value_int(2)};
    assert_int_equal(result_append_row(r, two, 2), DC_EINVAL);
    assert_int_equal(result_append_row(r, two, 1), DC_OK);
    assert_int_equal(result_add_column(r, "b", DC_INT, NULL), DC_EINVAL);
    result_free(r);
}

static void test_result_hash_changes_with_any_value(void **state)
{
    char h1[65], h2[65], h3[65];
    struct dc_result *a = result_new(), *b = result_new(), *c = result_new();
    struct dc_result *all[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        assert_int_equal(result_add_column(all[i], "x", DC_TEXT, NULL), DC_OK);
    struct dc_value v1 = dc_value_text("ab", 2), v2 = dc_value_text("ab", 2),
                    v3 = dc_value_text("ac", 2);
    result_append_row(a, &v1, 1);
    result_append_row(b, &v2, 1);
    result_append_row(c, &v3, 1);
    assert_int_equal(result_hash(a, h1), DC_OK);
    assert_int_equal(result_hash(b, h2), DC_OK);
    assert_int_equal(result_hash(c, h3), DC_OK);
    assert_string_equal(h1, h2);
    assert_string_not_equal(h1, h3);
    assert_int_equal(strlen(h1), 64);
    for (int i = 0; i < 3; i++)
        result_free(all[i]);
}

static void test_result_value_text_round_trips_reals(void **state)
{
    struct dc_value v = dc_value_real(0.1);
    char *t = result_value_text(&v);
    assert_string_equal(t, "0.1");
    assert_true(strtod(t, NULL) == 0.1);
    free(t);
    v = dc_value_int(-42);
    t = result_value_text(&v);
    assert_string_equal(t, "-42");
    free(t);
}

static void test_schema_deep_copies_and_finds_case_insensitively(void **state)
{
    struct dc_schema *s = schema_new();
    char name[16] = "Customer";
    struct dc_column_info cols[2] = {
        {sizeof(struct dc_column_info), "CustomerId", "INTEGER", DC_INT, 1, 1, NULL, NULL},
        {sizeof(struct dc_column_info), "SupportRepId", "INTEGER", DC_INT, 0, 0, NULL, NULL}};
    struct dc_fk_info fk = {sizeof(struct dc_fk_info), "SupportRepId", "Employee", "EmployeeId"};
    struct dc_table_info t = {sizeof(t), NULL, name, "table", 59, NULL, 2, cols, 1, &fk};
    assert_int_equal(schema_add_table(s, &t), DC_OK);
    strcpy(name, "Mangled");
    const struct dc_table_info *got = schema_find(s, "customer");
    assert_non_null(got);
    assert_string_equal(got->name, "Customer");
    assert_int_equal(got->row_count, 59);
    assert_int_equal(got->ncolumns, 2);
    assert_string_equal(got->columns[1].name, "SupportRepId");
    assert_string_equal(got->fks[0].to_table, "Employee");
    assert_null(schema_find(s, "Mangled"));
    schema_free(s);
}

static void test_schema_rejects_a_column_without_name(void **state)
{
    struct dc_schema *s = schema_new();
    struct dc_column_info col = {sizeof(col), NULL, "INT", DC_INT, 0, 0, NULL, NULL};
    struct dc_table_info t = {sizeof(t), NULL, "t", "table", 0, NULL, 1, &col, 0, NULL};
    assert_int_equal(schema_add_table(s, &t), DC_EINVAL);
    assert_int_equal(schema_ntables(s), 0);
    schema_free(s);
}

static void test_ctx_keeps_the_first_error_and_trace_notes(void **state)
{
    struct dc_ctx *c = ctx_new(NULL);
    assert_int_equal(ctx_trace_begin(c, "intent", "intent"), DC_OK);
    ctx_trace_note(c, "rule %d", 1);
    ctx_trace_note(c, "table %s", "orders");
    ctx_fail(c, "E-FIRST", "first");
    ctx_fail(c, "E-SECOND", "second");
    ctx_trace_end(c, "catalog", 12);
    assert_string_equal(ctx_error_code(c), "E-FIRST");
    assert_string_equal(ctx_trace_at(c, 0)->reason, "rule 1; table orders");
    assert_int_equal(ctx_set(c, "k", "v"), DC_OK);
    assert_int_equal(ctx_set(c, "k", "w"), DC_OK);
    assert_string_equal(ctx_get(c, "k"), "w");
    assert_int_equal(ctx_set(c, "k", NULL), DC_OK);
    assert_null(ctx_get(c, "k"));
    struct dc_result *r = NULL;
    assert_int_equal(ctx_query(c, NULL, "SELECT 1", NULL, 0, &r), DC_EUNSUPPORTED);
    assert_null(r);
    ctx_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result_copies_text_values),
        cmocka_unit_test(test_result_rejects_wrong_arity_and_late_columns),
        cmocka_unit_test(test_result_hash_changes_with_any_value),
        cmocka_unit_test(test_result_value_text_round_trips_reals),
        cmocka_unit_test(test_schema_deep_copies_and_finds_case_insensitively),
        cmocka_unit_test(test_schema_rejects_a_column_without_name),
        cmocka_unit_test(test_ctx_keeps_the_first_error_and_trace_notes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
