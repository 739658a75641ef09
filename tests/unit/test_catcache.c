/* The catalog cache: a round trip keeps every field, a different
 * fingerprint or a damaged file is a miss, never a wrong catalog. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "catcache.h"
#include "schema.h"

static char path[512];

static int setup(void **state)
{
    snprintf(path, sizeof(path), "%s/test-catcache-%ld/cat.json", DC_BINARY_DIR, (long)getpid());
    return 0;
}

static int teardown(void **state)
{
    unlink(path);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/test-catcache-%ld", DC_BINARY_DIR, (long)getpid());
    rmdir(dir);
    return 0;
}

static struct dc_schema *sample_schema(void)
{
    struct dc_schema *s = schema_new();
    struct dc_column_info cols[2] = {
        {sizeof(struct dc_column_info), "id", "INTEGER", DC_INT, 1, 1, NULL, NULL},
        {sizeof(struct dc_column_info), "name \"q\"", "TEXT", DC_TEXT, 0, 0, "'x'", "a note"}};
    struct dc_fk_info fk = {sizeof(fk), "id", "parent", NULL};
    struct dc_table_info t = {sizeof(t), NULL, "child", "table", 42, "kids", 2, cols, 1, &fk};
    struct dc_table_info v = {sizeof(v), "main", "v", "view", -1, NULL, 1, cols, 0, NULL};
    assert_int_equal(schema_add_table(s, &t), 0);
    assert_int_equal(schema_add_table(s, &v), 0);
    return s;
}

static void test_catcache_round_trip_keeps_every_field(void **state)
{
    struct dc_schema *s = sample_schema();
    char err[256] = "";
    assert_int_equal(catcache_save(path, "fp-1", s, err, sizeof(err)), 0);
    struct dc_schema *got = catcache_load(path, "fp-1");
    assert_non_null(got);
    assert_int_equal(schema_ntables(got), 2);
    const struct dc_table_info *t = schema_find(got, "child");
    assert_non_null(t);
    assert_int_equal(t->row_count, 42);
    assert_string_equal(t->comment, "kids");
    assert_string_equal(t->columns[1].name, "name \"q\"");
    assert_string_equal(t->columns[1].default_value, "'x'");
    assert_int_equal(t->columns[0].pk, 1);
    assert_int_equal(t->columns[0].notnull, 1);
    assert_string_equal(t->fks[0].to_table, "parent");
    assert_null(t->fks[0].to_column);
    const struct dc_table_info *v = schema_find(got, "v");
    assert_string_equal(v->schema_name, "main");
    assert_string_equal(v->kind, "view");
    assert_int_equal(v->row_count, -1);
    schema_free(got);
    schema_free(s);
}

static void test_catcache_misses_on_another_fingerprint(void **state)
{
    struct dc_schema *s = sample_schema();
    char err[256] = "";
    assert_int_equal(catcache_save(path, "fp-1", s, err, sizeof(err)), 0);
    assert_null(catcache_load(path, "fp-2"));
    assert_null(catcache_load(path, ""));
    schema_free(s);
}

static void test_catcache_misses_on_a_damaged_file(void **state)
{
    struct dc_schema *s = sample_schema();
    char err[256] = "";
    assert_int_equal(catcache_save(path, "fp-1", s, err, sizeof(err)), 0);
    FILE *f = fopen(path, "r+");
    assert_non_null(f);
    fseek(f, 40, SEEK_SET);
    fputc('}', f);
    fclose(f);
    assert_null(catcache_load(path, "fp-1"));
    f = fopen(path, "w");
    fputs("{\"version\":2,\"fingerprint\":\"fp-1\",\"tables\":[[null,\"t\"]]}", f);
    fclose(f);
    assert_null(catcache_load(path, "fp-1"));
    unlink(path);
    assert_null(catcache_load(path, "fp-1"));
    schema_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_catcache_round_trip_keeps_every_field, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_catcache_misses_on_another_fingerprint, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_catcache_misses_on_a_damaged_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
