/* The gate over a real SQLite database and a real audit log: every kind of
 * refusal with its code, the reading queries it accepts, limits, the audit
 * record each call leaves, and failing closed when the audit cannot write. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "audit.h"
#include "config.h"
#include "db.h"
#include "gate.h"
#include "hostapi.h"
#include "registry.h"
#include "result.h"

#ifndef DC_SQLITE_PLUGIN
#define DC_SQLITE_PLUGIN DC_BINARY_DIR "/plugins/connector-sqlite.so"
#endif

struct fixture {
    void *dl;
    struct dc_plugin_ref ref;
    struct cfg_opt opt;
    struct dc_opts opts;
    struct db db;
    struct audit *audit;
    struct gate *gate;
    char dir[64];
    char db_path[128];
    char audit_path[128];
};

static void run_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("setup SQL failed: %s", msg ? msg : "?");
    sqlite3_close(db);
}

static int64_t count_rows(const char *path, const char *table)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static size_t count_lines(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    size_t n = 0;
    int c;
    while ((c = fgetc(fp)) != EOF)
        n += c == '\n';
    fclose(fp);
    return n;
}

/* The last line of the audit log, parsed. */
static json_t *last_record(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    static char line[1 << 16], last[1 << 16];
    last[0] = '\0';
    while (fgets(line, sizeof(line), fp))
        memcpy(last, line, sizeof(line));
    fclose(fp);
    json_error_t e;
    json_t *o = json_loads(last, 0, &e);
    if (!o)
        fail_msg("last audit line is not JSON: %s", e.text);
    return o;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int gate_setup(void **state, const struct gate_limits *lim)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->dl = dlopen(DC_SQLITE_PLUGIN, RTLD_NOW | RTLD_LOCAL);
    if (!f->dl)
        fail_msg("cannot load %s: %s", DC_SQLITE_PLUGIN, dlerror());
    dc_plugin_describe_fn fn = (dc_plugin_describe_fn)dlsym(f->dl, DC_PLUGIN_SYMBOL);
    assert_non_null(fn);
    f->ref.desc = fn();
    f->ref.kind = f->ref.desc->kind;
    f->ref.vtable = f->ref.desc->vtable;
    f->ref.name = (char *)"sqlite";

    snprintf(f->dir, sizeof(f->dir), "/tmp/dc-gate-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db_path, sizeof(f->db_path), "%s/demo.db", f->dir);
    snprintf(f->audit_path, sizeof(f->audit_path), "%s/audit.jsonl", f->dir);
    run_sql(f->db_path,
            "BEGIN;"
            "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT);"
            "CREATE TABLE u(x INTEGER, a INTEGER REFERENCES t(a));"
            "CREATE VIEW v AS SELECT a, b FROM t WHERE a > 5;"
            "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c LIMIT 10)"
            "  INSERT INTO t SELECT i, 'row ' || i FROM c;"
            "INSERT INTO u VALUES (100, 1), (200, 2);"
            "COMMIT;");

    f->opt.key = (char *)"path";
    f->opt.value = f->db_path;
    f->opts.opts = &f->opt;
    f->opts.nopts = 1;
    f->opts.decl = ((const struct dc_connector_vtable *)f->ref.vtable)->options;
    struct dc_host h;
    hostapi_init(&h, NULL);
    assert_int_equal(db_init(&f->db, "demo", &f->ref, &f->opts, &h), DC_OK);

    char err[512] = "";
    if (audit_open(f->audit_path, AUDIT_FSYNC_NEVER, &f->audit, err, sizeof(err)) != DC_OK)
        fail_msg("audit_open: %s", err);
    assert_int_equal(gate_new(f->audit, lim, &f->gate), DC_OK);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return gate_setup(state, NULL);
}

static int setup_small(void **state)
{
    struct gate_limits lim = {3, 300, 1 << 20};
    return gate_setup(state, &lim);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char p[256];
    gate_free(f->gate);
    audit_close(f->audit);
    db_fini(&f->db);
    dlclose(f->dl);
    unlink(f->db_path);
    unlink(f->audit_path);
    snprintf(p, sizeof(p), "%s.head", f->audit_path);
    unlink(p);
    rmdir(f->dir);
    free(f);
    return 0;
}

static int run(struct fixture *f, const char *sql, struct dc_result **out,
               struct gate_decision *dec)
{
    return gate_run(f->gate, "alice", &f->db, sql, NULL, 0, "a question", out, dec);
}

static void test_gate_refuses_each_forbidden_statement_with_its_code(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *sql;
        const char *code;
    } cases[] = {
        {"SELECT 1; DROP TABLE t", "E-GATE-MULTI"},
        {"SELECT 1; SELECT 2", "E-GATE-MULTI"},
        {"SELECT 1 -- ;\n; DELETE FROM t", "E-GATE-MULTI"},
        {"INSERT INTO t VALUES (99, 'x')", "E-GATE-WRITE"},
        {"UPDATE t SET b = 'y'", "E-GATE-WRITE"},
        {"DELETE FROM t", "E-GATE-WRITE"},
        {"/* */ DELETE FROM t", "E-GATE-WRITE"},
        {"REPLACE INTO t VALUES (1, 'z')", "E-GATE-WRITE"},
        {"WITH x AS (SELECT 1, 'a') INSERT INTO t SELECT * FROM x", "E-GATE-WRITE"},
        {"EXPLAIN DELETE FROM t", "E-GATE-WRITE"},
        {"VACUUM", "E-GATE-WRITE"},
        {"VACUUM INTO '/tmp/dc-gate-copy.db'", "E-GATE-WRITE"},
        {"ANALYZE", "E-GATE-DDL"},
        {"DROP TABLE t", "E-GATE-DDL"},
        {"CREATE TABLE w(x)", "E-GATE-DDL"},
        {"CREATE TEMP VIEW w AS SELECT 1", "E-GATE-DDL"},
        {"ALTER TABLE t ADD COLUMN c TEXT", "E-GATE-DDL"},
        {"ANALYZE t", "E-GATE-DDL"},
        {"REINDEX", "E-GATE-NOT-QUERY"},
        {"REINDEX t", "E-GATE-NOT-QUERY"},
        {"ROLLBACK", "E-GATE-TXN"},
        {"RELEASE s", "E-GATE-TXN"},
        {"SELECT * FROM t JOIN sqlite_master", "E-GATE-CATALOG"},
        {"ATTACH 'x.db' AS y", "E-GATE-ATTACH"},
        {"DETACH y", "E-GATE-ATTACH"},
        {"PRAGMA writable_schema=1", "E-GATE-PRAGMA"},
        {"PRAGMA table_info(t)", "E-GATE-PRAGMA"},
        {"SELECT * FROM pragma_table_info('t')", "E-GATE-PRAGMA"},
        {"SELECT name FROM t JOIN pragma_table_info('t')", "E-GATE-PRAGMA"},
        {"SELECT load_extension('x')", "E-GATE-FUNC-DENIED"},
        {"SELECT LOAD_EXTENSION('x')", "E-GATE-FUNC-DENIED"},
        {"SELECT sqlite_compileoption_get(0)", "E-GATE-FUNC-DENIED"},
        {"BEGIN", "E-GATE-TXN"},
        {"COMMIT", "E-GATE-TXN"},
        {"SAVEPOINT s", "E-GATE-TXN"},
        {"SELECT * FROM sqlite_master", "E-GATE-CATALOG"},
        {"SELECT name FROM sqlite_schema", "E-GATE-CATALOG"},
        {"SELECT * FROM temp.sqlite_master", "E-GATE-CATALOG"},
        {"SELECT a FROM t WHERE a IN (SELECT rowid FROM sqlite_master)", "E-GATE-CATALOG"},
        {"SELECT * FROM dbstat", "E-GATE-CATALOG"},
        {"", "E-GATE-EMPTY"},
        {"  \n\t ", "E-GATE-EMPTY"},
        {"-- only a comment", "E-GATE-EMPTY"},
        {"SELEC 1", "E-GATE-PARSE"},
        {"SELECT nosuchcolumn FROM t", "E-GATE-PARSE"},
    };
    size_t before = count_lines(f->audit_path);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct gate_decision dec;
        struct dc_result *out = (struct dc_result *)&dec; /* must be reset to NULL */
        int rc = run(f, cases[i].sql, &out, &dec);
        if (rc != DC_EDENIED || strcmp(dec.code, cases[i].code) != 0)
            fail_msg("'%s': rc %d code %s (%s), expected %s", cases[i].sql, rc, dec.code,
                     dec.reason, cases[i].code);
        assert_null(out);
        assert_int_equal(dec.rc, DC_EDENIED);
        assert_true(strlen(dec.reason) > 10);
        json_t *rec = last_record(f->audit_path);
        assert_string_equal(jstr(rec, "event"), "refusal");
        assert_string_equal(jstr(rec, "outcome"), "refused");
        assert_string_equal(jstr(rec, "code"), cases[i].code);
        assert_string_equal(jstr(rec, "principal"), "alice");
        assert_string_equal(jstr(rec, "database"), "demo");
        assert_string_equal(jstr(rec, "sql"), cases[i].sql);
        json_decref(rec);
        gate_decision_clear(&dec);
    }
    assert_int_equal(count_lines(f->audit_path) - before, sizeof(cases) / sizeof(cases[0]));
    assert_int_equal(count_rows(f->db_path, "t"), 10);
    assert_int_not_equal(access("/tmp/dc-gate-copy.db", F_OK), 0);
}

static void test_gate_refuses_statements_over_one_mebibyte(void **state)
{
    struct fixture *f = *state;
    size_t n = 1024 * 1024 + 1;
    char *sql = malloc(n + 1);
    assert_non_null(sql);
    memset(sql, ' ', n);
    memcpy(sql, "SELECT 1", 8);
    sql[n] = '\0';
    struct gate_decision dec;
    assert_int_equal(run(f, sql, NULL, &dec), DC_EDENIED);
    assert_string_equal(dec.code, "E-GATE-TOO-LONG");
    json_t *rec = last_record(f->audit_path);
    assert_true(strlen(jstr(rec, "sql")) < 8192);
    json_decref(rec);
    gate_decision_clear(&dec);
    /* One byte less is only blanks after the query, and runs. */
    sql[n - 1] = '\0';
    struct dc_result *out = NULL;
    assert_int_equal(run(f, sql, &out, &dec), DC_OK);
    result_free(out);
    gate_decision_clear(&dec);
    free(sql);
}

static void test_gate_accepts_reading_queries(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *sql;
        size_t rows;
    } cases[] = {
        {"SELECT a, b FROM t ORDER BY a", 10},
        {"select count(*) from t", 1},
        {"WITH x AS (SELECT a FROM t WHERE a < 4) SELECT * FROM x", 3},
        {"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c LIMIT 7) SELECT i FROM c",
         7},
        {"EXPLAIN QUERY PLAN SELECT * FROM t WHERE a = 3", 1},
        {"SELECT a FROM t WHERE a = 1; -- the end", 1},
        {"SELECT a FROM t WHERE a = 2;  /* trailing */ ;", 1},
        {"SELECT * FROM v", 5},
        {"SELECT value FROM json_each('[1, 2, 3]')", 3},
        {"SELECT upper(b), length(b), abs(-a), zeroblob(4) FROM t LIMIT 2", 2},
        {"SELECT t.b, u.x FROM t JOIN u ON u.a = t.a", 2},
        {"VALUES (1), (2)", 2},
    };
    size_t before = count_lines(f->audit_path);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct gate_decision dec;
        struct dc_result *out = NULL;
        int rc = run(f, cases[i].sql, &out, &dec);
        if (rc != DC_OK)
            fail_msg("'%s': refused %s: %s", cases[i].sql, dec.code, dec.reason);
        assert_non_null(out);
        assert_string_equal(dec.code, "");
        assert_string_equal(dec.sql_run, cases[i].sql);
        if (cases[i].sql[0] != 'E')
            assert_int_equal(result_nrows(out), cases[i].rows);
        assert_int_equal(dec.rows, (int64_t)result_nrows(out));
        json_t *rec = last_record(f->audit_path);
        assert_string_equal(jstr(rec, "event"), "query");
        assert_string_equal(jstr(rec, "outcome"), "ok");
        assert_string_equal(jstr(rec, "question"), "a question");
        char hash[65];
        assert_int_equal(result_hash(out, hash), DC_OK);
        assert_string_equal(jstr(rec, "result_hash"), hash);
        assert_int_equal(json_integer_value(json_object_get(rec, "rows")),
                         (json_int_t)result_nrows(out));
        json_decref(rec);
        result_free(out);
        gate_decision_clear(&dec);
    }
    assert_int_equal(count_lines(f->audit_path) - before, sizeof(cases) / sizeof(cases[0]));
}

static void test_gate_records_the_tables_a_query_reads(void **state)
{
    struct fixture *f = *state;
    struct gate_decision dec;
    struct dc_result *out = NULL;
    assert_int_equal(run(f,
                         "SELECT t.b, u.x, (SELECT count(*) FROM t) FROM t JOIN u ON u.a = t.a "
                         "WHERE t.a IN (SELECT a FROM u)",
                         &out, &dec),
                     DC_OK);
    assert_int_equal(dec.ntables, 2);
    int saw_t = 0, saw_u = 0;
    for (size_t i = 0; i < dec.ntables; i++) {
        saw_t += strcmp(dec.tables[i], "t") == 0;
        saw_u += strcmp(dec.tables[i], "u") == 0;
    }
    assert_int_equal(saw_t, 1);
    assert_int_equal(saw_u, 1);
    json_t *rec = last_record(f->audit_path);
    json_t *tables = json_object_get(rec, "tables");
    assert_true(json_is_array(tables));
    assert_int_equal(json_array_size(tables), 2);
    json_decref(rec);
    result_free(out);
    gate_decision_clear(&dec);
}

static void test_gate_truncates_at_the_row_cap(void **state)
{
    struct fixture *f = *state;
    struct gate_decision dec;
    struct dc_result *out = NULL;
    assert_int_equal(run(f, "SELECT a FROM t ORDER BY a", &out, &dec), DC_OK);
    assert_int_equal(result_nrows(out), 3);
    assert_int_equal(result_truncated(out), 1);
    assert_int_equal(dec.rows, 3);
    assert_int_equal(dec.truncated, 1);
    assert_true(dec.duration_us >= 0);
    result_free(out);
    gate_decision_clear(&dec);

    assert_int_equal(run(f, "SELECT a FROM t WHERE a <= 3", &out, &dec), DC_OK);
    assert_int_equal(dec.rows, 3);
    assert_int_equal(dec.truncated, 0);
    result_free(out);
    gate_decision_clear(&dec);
}

static void test_gate_stops_a_runaway_query_and_audits_the_error(void **state)
{
    struct fixture *f = *state;
    struct gate_decision dec;
    struct dc_result *out = NULL;
    int rc = run(f,
                 "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) "
                 "SELECT count(*) FROM c",
                 &out, &dec);
    assert_int_equal(rc, DC_ETIMEOUT);
    assert_null(out);
    assert_string_equal(dec.code, "E-GATE-TIMEOUT");
    assert_true(dec.duration_us < 3000000);
    json_t *rec = last_record(f->audit_path);
    assert_string_equal(jstr(rec, "event"), "error");
    assert_string_equal(jstr(rec, "outcome"), "error");
    assert_string_equal(jstr(rec, "code"), "E-GATE-TIMEOUT");
    json_decref(rec);
    gate_decision_clear(&dec);
}

static void test_gate_binds_parameters(void **state)
{
    struct fixture *f = *state;
    struct gate_decision dec;
    struct dc_result *out = NULL;
    struct dc_value p[1] = {dc_value_int(4)};
    int rc = gate_run(f->gate, "alice", &f->db, "SELECT b FROM t WHERE a = ?1", p, 1, NULL, &out,
                      &dec);
    assert_int_equal(rc, DC_OK);
    assert_int_equal(result_nrows(out), 1);
    const struct dc_value *v = result_get(out, 0, 0);
    assert_int_equal(v->v.s.n, 5);
    assert_memory_equal(v->v.s.p, "row 4", 5);
    result_free(out);
    gate_decision_clear(&dec);
}

static void test_gate_requires_a_principal(void **state)
{
    struct fixture *f = *state;
    struct gate_decision dec;
    struct dc_result *out = NULL;
    int rc = gate_run(f->gate, NULL, &f->db, "SELECT 1", NULL, 0, NULL, &out, &dec);
    assert_int_equal(rc, DC_EDENIED);
    assert_string_equal(dec.code, "E-GATE-PRINCIPAL");
    assert_null(out);
    gate_decision_clear(&dec);
}

static void test_gate_leaves_a_verifiable_record_for_every_call(void **state)
{
    struct fixture *f = *state;
    const char *sqls[] = {"SELECT 1", "DELETE FROM t", "SELECT * FROM t", "PRAGMA x", "",
                          "SELECT 1; SELECT 2"};
    size_t before = count_lines(f->audit_path);
    for (size_t i = 0; i < sizeof(sqls) / sizeof(sqls[0]); i++) {
        struct gate_decision dec;
        struct dc_result *out = NULL;
        run(f, sqls[i], &out, &dec);
        result_free(out);
        gate_decision_clear(&dec);
    }
    size_t lines = count_lines(f->audit_path);
    assert_int_equal(lines - before, sizeof(sqls) / sizeof(sqls[0]));
    struct audit_verify_report rep;
    assert_int_equal(audit_verify(f->audit_path, &rep), DC_OK);
    if (!rep.ok)
        fail_msg("audit chain broken at line %llu: %s", (unsigned long long)rep.bad_line,
                 rep.reason);
    assert_int_equal(rep.records, lines);
}

static void test_gate_explain_checks_without_running_or_auditing(void **state)
{
    struct fixture *f = *state;
    struct gate_decision dec;
    size_t before = count_lines(f->audit_path);
    assert_int_equal(gate_explain(f->gate, "alice", &f->db, "SELECT b FROM u JOIN t USING (a)",
                                  &dec),
                     DC_OK);
    assert_int_equal(dec.ntables, 2);
    assert_int_equal(dec.rows, 0);
    gate_decision_clear(&dec);
    assert_int_equal(gate_explain(f->gate, "alice", &f->db, "DROP TABLE t", &dec), DC_EDENIED);
    assert_string_equal(dec.code, "E-GATE-DDL");
    gate_decision_clear(&dec);
    assert_int_equal(count_lines(f->audit_path), before);
    assert_int_equal(count_rows(f->db_path, "t"), 10);
}

static void test_gate_fails_closed_when_the_audit_cannot_be_written(void **state)
{
    struct fixture *f = *state;
    struct audit *full = NULL;
    struct gate *g = NULL;
    char err[256] = "";
    if (audit_open("/dev/full", AUDIT_FSYNC_NEVER, &full, err, sizeof(err)) != DC_OK)
        fail_msg("audit_open(/dev/full): %s", err);
    assert_int_equal(gate_new(full, NULL, &g), DC_OK);

    struct gate_decision dec;
    struct dc_result *out = NULL;
    int rc = gate_run(g, "alice", &f->db, "SELECT a FROM t", NULL, 0, NULL, &out, &dec);
    assert_int_equal(rc, DC_EIO);
    assert_int_equal(dec.rc, DC_EIO);
    assert_string_equal(dec.code, "E-AUDIT-WRITE");
    assert_null(out);
    gate_decision_clear(&dec);

    /* A refusal that cannot be recorded fails the same way. */
    rc = gate_run(g, "alice", &f->db, "DELETE FROM t", NULL, 0, NULL, &out, &dec);
    assert_int_equal(rc, DC_EIO);
    assert_string_equal(dec.code, "E-AUDIT-WRITE");
    assert_null(out);
    gate_decision_clear(&dec);

    gate_free(g);
    audit_close(full);
}

static void test_gate_refuses_to_start_without_an_audit_log(void **state)
{
    struct fixture *f = *state;
    struct gate *g = NULL;
    assert_int_equal(gate_new(NULL, NULL, &g), DC_EINVAL);
    assert_null(g);
    struct gate_limits bad = {0, 100, 0};
    assert_int_equal(gate_new(f->audit, &bad, &g), DC_EINVAL);
    assert_null(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gate_refuses_each_forbidden_statement_with_its_code,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_gate_refuses_statements_over_one_mebibyte, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_gate_accepts_reading_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gate_records_the_tables_a_query_reads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_gate_truncates_at_the_row_cap, setup_small,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_gate_stops_a_runaway_query_and_audits_the_error,
                                        setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_gate_binds_parameters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gate_requires_a_principal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gate_leaves_a_verifiable_record_for_every_call,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_gate_explain_checks_without_running_or_auditing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_gate_fails_closed_when_the_audit_cannot_be_written,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_gate_refuses_to_start_without_an_audit_log, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
