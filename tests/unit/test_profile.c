/* Profiling through the real runtime (config, SQLite connector, gate,
 * audit) on a small database without declared foreign keys: file content
 * (null rate, distinct, min/max, top values, inferred FK, sampling note),
 * idempotence, change and removal detection, and that every statistic went
 * through the gate as the principal "profiler". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datapoint.h"
#include "profile.h"
#include "runtime.h"
#include "util.h"

struct fx {
    char dir[256];
    char db[300];
    char cfg[300];
    char audit[300];
    char managed[300];
    struct runtime *rt;
};

static void exec_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        print_message("sqlite: %s\n", msg ? msg : "?");
    sqlite3_free(msg);
    sqlite3_close(db);
    assert_int_equal(rc, SQLITE_OK);
}

static const char schema_sql[] =
    "CREATE TABLE authors(author_id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT);\n"
    "CREATE TABLE genres(genre_id INTEGER PRIMARY KEY, label TEXT);\n"
    "CREATE TABLE books(book_id INTEGER PRIMARY KEY, title TEXT, author_id INTEGER,\n"
    "  genre_id INTEGER, publisher_id INTEGER, price REAL, published DATE, kind TEXT);\n"
    "CREATE TABLE events(id INTEGER PRIMARY KEY, v INTEGER);\n"
    "INSERT INTO authors VALUES (1,'Ann','Brazil'),(2,'Bo','Brazil'),(3,'Cy',NULL),"
    "(4,'Di','Chile');\n"
    "INSERT INTO genres VALUES (1,'novel'),(2,'poetry');\n"
    "INSERT INTO books VALUES\n"
    " (1,'A',1,1,7,10.5,'2020-01-01','fiction'),(2,'B',1,2,7,20,'2021-06-30','fiction'),\n"
    " (3,'C',2,9,8,5,'2019-03-04','fiction'),(4,'D',NULL,1,8,NULL,'2022-12-31','poetry');\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 300)\n"
    "INSERT INTO events SELECT i, i % 7 FROM n;\n";

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/dc-profile-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->db, sizeof(f->db), "%s/lib.db", f->dir);
    snprintf(f->cfg, sizeof(f->cfg), "%s/datachat.yaml", f->dir);
    snprintf(f->audit, sizeof(f->audit), "%s/audit.jsonl", f->dir);
    snprintf(f->managed, sizeof(f->managed), "%s/managed", f->dir);
    exec_sql(f->db, schema_sql);
    FILE *fp = fopen(f->cfg, "w");
    if (!fp)
        return -1;
    fprintf(fp,
            "version: 1\n"
            "databases:\n  lib: { connector: sqlite, path: %s }\n"
            "pipeline:\n  entry: reply\n  stages:\n    reply: { use: answer }\n"
            "audit: { path: %s, fsync: never }\n"
            "datapoints: { user: [], managed: managed }\n",
            f->db, f->audit);
    fclose(fp);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    runtime_free(f->rt);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        print_message("could not remove %s\n", f->dir);
    free(f);
    return 0;
}

static void start(struct fx *f)
{
    char err[1024] = "";
    struct runtime_opts o = {.config_path = f->cfg,
                             .exe_path = DC_BINARY_DIR "/datachat"};
    runtime_free(f->rt);
    f->rt = NULL;
    int rc = runtime_load(&o, &f->rt, err, sizeof(err));
    if (rc == DC_OK)
        rc = runtime_start(f->rt, &o, err, sizeof(err));
    if (rc != DC_OK)
        print_message("runtime: %s\n", err);
    assert_int_equal(rc, DC_OK);
}

static int profile(struct fx *f, const struct profile_opts *o, struct profile_report *rep)
{
    char err[1024] = "";
    int rc = profile_run(f->rt->gate, runtime_find_db(f->rt, "lib"), f->rt->cfg->dp_managed_dir,
                         o, rep, err, sizeof(err));
    if (rc != DC_OK)
        print_message("profile: %s\n", err);
    return rc;
}

static char *slurp(struct fx *f, const char *table)
{
    char path[600], err[256];
    char *text = NULL;
    size_t len;
    snprintf(path, sizeof(path), "%s/lib/%s.yaml", f->managed, table);
    if (util_read_file(path, 1 << 20, &text, &len, err, sizeof(err)) != DC_OK)
        print_message("%s\n", err);
    assert_non_null(text);
    return text;
}

static void has(const char *text, const char *needle)
{
    if (!strstr(text, needle)) {
        print_message("'%s' not in:\n%s\n", needle, text);
        fail();
    }
}

static void test_profile_writes_statistics_and_infers_fk(void **state)
{
    struct fx *f = *state;
    start(f);
    struct profile_report rep;
    assert_int_equal(profile(f, NULL, &rep), DC_OK);
    assert_int_equal(rep.ntables, 4);
    assert_int_equal(rep.added, 4);
    profile_report_free(&rep);

    char *a = slurp(f, "authors");
    has(a, "id: schema.lib.authors\n");
    has(a, "type: schema\n");
    has(a, "managed: true\n");
    has(a, "row_count: 4\n");
    has(a, "primary_key: [author_id]\n");
    /* country: 1 of 4 null; Brazil twice */
    has(a, "- name: country\n  type: TEXT\n  nullable: true\n  null_rate: 0.25\n  distinct: 2\n");
    has(a, "- {value: Brazil, count: 2}\n  - {value: Chile, count: 1}\n");
    free(a);

    char *b = slurp(f, "books");
    has(b, "- {column: author_id, references: authors.author_id, inferred: true}");
    /* genre 9 does not exist and publishers is no table: neither is a key */
    assert_null(strstr(b, "column: genre_id"));
    assert_null(strstr(b, "column: publisher_id"));
    has(b, "- name: price\n  type: REAL\n  nullable: true\n  null_rate: 0.25\n  distinct: 3\n"
           "  min: 5\n  max: 20\n");
    has(b, "  min: \"2019-03-04\"\n  max: \"2022-12-31\"\n");
    has(b, "- {value: fiction, count: 3}");
    assert_null(strstr(b, "sample:"));
    free(b);

    /* what was written loads as DataPoints, profiled values included */
    struct dp_set *s = NULL;
    struct dp_diags dg = {0};
    assert_int_equal(dp_set_new(&s), DC_OK);
    assert_int_equal(dp_set_load_dir(s, f->rt->cfg->dp_managed_dir, DP_MANAGED, &dg), DC_OK);
    assert_int_equal(dp_set_finish(s, &dg), DC_OK);
    assert_int_equal(dp_set_count(s), 4);
    const struct dc_datapoint_info *in = dp_info(dp_set_find(s, "schema.lib.books"));
    assert_non_null(in);
    assert_int_equal(in->nforeign_keys, 1);
    assert_true(in->foreign_keys[0]->inferred);
    dp_set_free(s);
    dp_diags_free(&dg);

    /* every statistic was audited as the profiler */
    char *audit = NULL, err[256];
    size_t len;
    assert_int_equal(util_read_file(f->audit, 1 << 22, &audit, &len, err, sizeof(err)), DC_OK);
    has(audit, "\"principal\":\"profiler\"");
    has(audit, "count(DISTINCT");
    free(audit);
}

static void test_profile_second_run_changes_nothing(void **state)
{
    struct fx *f = *state;
    start(f);
    struct profile_report rep;
    assert_int_equal(profile(f, NULL, &rep), DC_OK);
    profile_report_free(&rep);
    char path[600];
    snprintf(path, sizeof(path), "%s/lib/books.yaml", f->managed);
    struct stat st1, st2;
    assert_int_equal(stat(path, &st1), 0);
    assert_int_equal(profile(f, NULL, &rep), DC_OK);
    assert_int_equal(rep.unchanged, 4);
    assert_int_equal(rep.changed + rep.added + rep.removed, 0);
    profile_report_free(&rep);
    assert_int_equal(stat(path, &st2), 0);
    assert_int_equal(st1.st_ino, st2.st_ino); /* not even rewritten */

    /* one table changes, one disappears */
    runtime_free(f->rt);
    f->rt = NULL;
    exec_sql(f->db, "UPDATE authors SET country = 'Peru' WHERE author_id = 3; DROP TABLE genres;");
    start(f);
    assert_int_equal(profile(f, NULL, &rep), DC_OK);
    assert_int_equal(rep.changed, 1);
    assert_int_equal(rep.unchanged, 2);
    assert_int_equal(rep.removed, 1);
    profile_report_free(&rep);
    snprintf(path, sizeof(path), "%s/lib/genres.yaml", f->managed);
    assert_int_not_equal(access(path, F_OK), 0);
}

static void test_profile_samples_large_tables_and_says_so(void **state)
{
    struct fx *f = *state;
    start(f);
    struct profile_report rep;
    struct profile_opts o = {.sample_above = 100, .sample_rows = 50, .top_n = 3};
    assert_int_equal(profile(f, &o, &rep), DC_OK);
    int seen = 0;
    for (size_t i = 0; i < rep.ntables; i++)
        if (strcmp(rep.tables[i].table, "events") == 0) {
            assert_int_equal(rep.tables[i].sample_rows, 50);
            assert_int_equal(rep.tables[i].rows, 300);
            seen = 1;
        }
    assert_true(seen);
    profile_report_free(&rep);
    char *e = slurp(f, "events");
    has(e, "row_count: 300\n");
    has(e, "sample: {rows: 50, method: first rows (LIMIT)}\n");
    has(e, "distinct: 50\n  min: 1\n  max: 50\n");
    free(e);
}

static void test_profile_refuses_a_database_it_cannot_open(void **state)
{
    struct fx *f = *state;
    start(f);
    unlink(f->db);
    struct profile_report rep;
    char err[1024] = "";
    int rc = profile_run(f->rt->gate, runtime_find_db(f->rt, "lib"), f->rt->cfg->dp_managed_dir,
                         NULL, &rep, err, sizeof(err));
    assert_int_not_equal(rc, DC_OK);
    assert_true(err[0] != '\0');
    profile_report_free(&rep);
}

static void test_profile_public_datasets_when_present(void **state)
{
    struct fx *f = *state;
    const char *sets[] = {DC_SOURCE_DIR "/../shared/datasets/chinook/chinook.db",
                          DC_SOURCE_DIR "/../shared/datasets/sakila/sakila.db"};
    for (size_t i = 0; i < 2; i++) {
        if (access(sets[i], R_OK) != 0) {
            print_message("skipped: %s is absent\n", sets[i]);
            continue;
        }
        FILE *fp = fopen(f->cfg, "w");
        assert_non_null(fp);
        fprintf(fp,
                "version: 1\ndatabases:\n  lib: { connector: sqlite, path: %s }\n"
                "pipeline:\n  entry: reply\n  stages:\n    reply: { use: answer }\n"
                "audit: { path: %s, fsync: never }\n"
                "datapoints: { user: [], managed: managed%zu }\n",
                sets[i], f->audit, i);
        fclose(fp);
        start(f);
        struct profile_report rep;
        assert_int_equal(profile(f, NULL, &rep), DC_OK);
        assert_true(rep.ntables >= 11);
        assert_int_equal(rep.added, rep.ntables);
        profile_report_free(&rep);
        assert_int_equal(profile(f, NULL, &rep), DC_OK);
        assert_int_equal(rep.unchanged, rep.ntables);
        profile_report_free(&rep);
        struct dp_set *s = NULL;
        struct dp_diags dg = {0};
        assert_int_equal(dp_set_new(&s), DC_OK);
        assert_int_equal(dp_set_load_dir(s, f->rt->cfg->dp_managed_dir, DP_MANAGED, &dg), DC_OK);
        assert_int_equal(dp_set_finish(s, &dg), DC_OK);
        assert_true(dp_set_count(s) >= 11);
        dp_set_free(s);
        dp_diags_free(&dg);
    }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_profile_writes_statistics_and_infers_fk),
        T(test_profile_second_run_changes_nothing),
        T(test_profile_samples_large_tables_and_says_so),
        T(test_profile_refuses_a_database_it_cannot_open),
        T(test_profile_public_datasets_when_present),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
