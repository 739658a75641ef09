/* The SQLite connector on its own, loaded from the build tree with dlopen:
 * open refusals, introspection, execution limits, parameters, and the
 * read-only connection that holds even when the gate is bypassed. */
#include <dlfcn.h>
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
#include <sqlite3.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "config.h"
#include "hostapi.h"
#include "result.h"
#include "schema.h"
#include "util.h"

#ifndef DC_SQLITE_PLUGIN
#define DC_SQLITE_PLUGIN DC_BINARY_DIR "/plugins/connector-sqlite.so"
#endif

struct fixture {
    void *dl;
    const struct dc_connector_vtable *vt;
    struct dc_host host;
    char dir[64];
    char db_path[128];
    struct cfg_opt opt[2];
    struct dc_opts opts;
    void *conn;
};

static void run_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
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

static const char *setup_sql =
    "BEGIN;"
    "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    "  city VARCHAR(40) DEFAULT 'Paris', created DATE);"
    "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id),"
    "  amount REAL, placed_at DATETIME);"
    "CREATE TABLE \"order items\"(order_id INTEGER, line INTEGER, sku TEXT, qty INT,"
    "  PRIMARY KEY(order_id, line), FOREIGN KEY(order_id) REFERENCES orders);"
    "CREATE TABLE shipments(id INTEGER PRIMARY KEY, order_id INTEGER, line INTEGER,"
    "  FOREIGN KEY(order_id, line) REFERENCES \"order items\");"
    "CREATE TABLE \"we\"\"ird\"(flag BOOLEAN, price NUMERIC, untyped);"
    "CREATE VIEW big_orders AS SELECT id, amount FROM orders WHERE amount > 100;"
    "INSERT INTO customers VALUES (1,'Ada','London','2024-01-02'),(2,'Bob',NULL,NULL),"
    "  (3,'Cy','Paris','2024-03-04');"
    "INSERT INTO orders VALUES (1,1,50.5,'2024-01-03 10:00:00'),(2,1,150,NULL),"
    "  (3,2,300,NULL),(4,3,20,NULL),(5,3,120,NULL);"
    "INSERT INTO \"order items\" VALUES (1,1,'a',1),(1,2,'b',2);"
    "INSERT INTO \"we\"\"ird\" VALUES (1, 2.5, x'00ff');"
    "COMMIT;";

static const struct dc_connector_vtable *load_vtable(void **dl)
{
    *dl = dlopen(DC_SQLITE_PLUGIN, RTLD_NOW | RTLD_LOCAL);
    if (!*dl)
        fail_msg("cannot load %s: %s", DC_SQLITE_PLUGIN, dlerror());
    dc_plugin_describe_fn fn = (dc_plugin_describe_fn)dlsym(*dl, DC_PLUGIN_SYMBOL);
    assert_non_null(fn);
    const struct dc_plugin_descriptor *d = fn();
    assert_int_equal(d->magic, DC_PLUGIN_MAGIC);
    assert_int_equal(d->kind, DC_KIND_CONNECTOR);
    assert_string_equal(d->name, "sqlite");
    const struct dc_connector_vtable *vt = d->vtable;
    assert_string_equal(vt->dialect, "sqlite");
    return vt;
}

static void set_path(struct fixture *f, const char *path)
{
    memset(f->opt, 0, sizeof(f->opt));
    f->opt[0].key = (char *)"path";
    f->opt[0].value = (char *)path;
    f->opts.opts = f->opt;
    f->opts.nopts = 1;
    f->opts.decl = f->vt->options;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->vt = load_vtable(&f->dl);
    hostapi_init(&f->host, NULL);
    snprintf(f->dir, sizeof(f->dir), "/tmp/dc-sqlite-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db_path, sizeof(f->db_path), "%s/test.db", f->dir);
    run_sql(f->db_path, setup_sql);
    set_path(f, f->db_path);
    char err[512] = "";
    int rc = f->vt->open(&f->host, &f->opts, &f->conn, err, sizeof(err));
    if (rc != DC_OK)
        fail_msg("open failed: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char p[256];
    if (f->conn)
        f->vt->close(f->conn);
    unlink(f->db_path);
    snprintf(p, sizeof(p), "%s/notdb.txt", f->dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/sub", f->dir);
    rmdir(p);
    rmdir(f->dir);
    dlclose(f->dl);
    free(f);
    return 0;
}

/* ---- an authorizer that records what it is told ---- */
struct seen {
    char log[4096];
    int deny_action; /* 0: allow everything */
};

static int record_check(void *ctx, int action, const char *object, const char *detail)
{
    struct seen *s = ctx;
    size_t n = strlen(s->log);
    snprintf(s->log + n, sizeof(s->log) - n, "%d:%s:%s;", action, object ? object : "",
             detail ? detail : "");
    return s->deny_action && action == s->deny_action ? DC_EDENIED : DC_OK;
}

static int prepare(struct fixture *f, const char *sql, struct seen *s, void **stmt,
                   struct dc_stmt_info *info, char *err, size_t errlen)
{
    struct dc_authorizer az = {sizeof(az), s, record_check, NULL};
    memset(info, 0, sizeof(*info));
    info->struct_size = sizeof(*info);
    return f->vt->prepare(f->conn, sql, &az, stmt, info, err, errlen);
}

static struct dc_result *run(struct fixture *f, const char *sql, const struct dc_value *params,
                             size_t nparams, int64_t max_rows, int64_t timeout_ms, int *rc_out,
                             char *err, size_t errlen)
{
    struct seen s = {0};
    struct dc_stmt_info info;
    void *stmt = NULL;
    int rc = prepare(f, sql, &s, &stmt, &info, err, errlen);
    if (rc != DC_OK) {
        *rc_out = rc;
        return NULL;
    }
    struct dc_limits lim = {sizeof(lim), max_rows, timeout_ms, 0};
    struct dc_result *r = result_new();
    assert_non_null(r);
    rc = f->vt->execute(f->conn, stmt, params, nparams, &lim, r, err, errlen);
    f->vt->finalize(f->conn, stmt);
    *rc_out = rc;
    if (rc != DC_OK) {
        result_free(r);
        return NULL;
    }
    return r;
}

/* ---- open ---- */

static void test_open_refuses_missing_file_and_never_creates_it(void **state)
{
    struct fixture *f = *state;
    char path[256], err[512] = "";
    void *conn = NULL;
    snprintf(path, sizeof(path), "%s/absent.db", f->dir);
    set_path(f, path);
    int rc = f->vt->open(&f->host, &f->opts, &conn, err, sizeof(err));
    assert_int_equal(rc, DC_ENOTFOUND);
    assert_null(conn);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "does not exist"));
    assert_int_not_equal(access(path, F_OK), 0);
}

static void test_open_refuses_a_file_that_is_not_a_database(void **state)
{
    struct fixture *f = *state;
    char path[256], err[512] = "";
    void *conn = NULL;
    snprintf(path, sizeof(path), "%s/notdb.txt", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 200; i++)
        fputs("this is a plain text file, not a database at all\n", fp);
    fclose(fp);
    set_path(f, path);
    int rc = f->vt->open(&f->host, &f->opts, &conn, err, sizeof(err));
    assert_int_not_equal(rc, DC_OK);
    assert_null(conn);
    assert_non_null(strstr(err, "not a SQLite database"));
    assert_non_null(strstr(err, path));
}

static void test_open_refuses_a_directory(void **state)
{
    struct fixture *f = *state;
    char path[256], err[512] = "";
    void *conn = NULL;
    snprintf(path, sizeof(path), "%s/sub", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    set_path(f, path);
    int rc = f->vt->open(&f->host, &f->opts, &conn, err, sizeof(err));
    assert_int_equal(rc, DC_EINVAL);
    assert_null(conn);
    assert_non_null(strstr(err, "directory"));
    assert_non_null(strstr(err, path));
}

static void test_open_requires_the_path_option(void **state)
{
    struct fixture *f = *state;
    char err[512] = "";
    void *conn = NULL;
    struct dc_opts empty = {NULL, 0, f->vt->options};
    int rc = f->vt->open(&f->host, &empty, &conn, err, sizeof(err));
    assert_int_equal(rc, DC_EINVAL);
    assert_non_null(strstr(err, "'path'"));
}

static void test_open_rejects_a_bad_busy_timeout(void **state)
{
    struct fixture *f = *state;
    char err[512] = "";
    void *conn = NULL;
    set_path(f, f->db_path);
    f->opt[1].key = (char *)"busy_timeout_ms";
    f->opt[1].value = (char *)"-5";
    f->opts.nopts = 2;
    int rc = f->vt->open(&f->host, &f->opts, &conn, err, sizeof(err));
    assert_int_equal(rc, DC_EINVAL);
    assert_non_null(strstr(err, "busy_timeout_ms"));
}

/* ---- introspection ---- */

static const struct dc_column_info *find_col(const struct dc_table_info *t, const char *name)
{
    for (size_t i = 0; i < t->ncolumns; i++)
        if (strcmp(t->columns[i].name, name) == 0)
            return &t->columns[i];
    return NULL;
}

static void test_introspect_reports_tables_views_keys_and_counts(void **state)
{
    struct fixture *f = *state;
    char err[512] = "";
    struct dc_schema *s = schema_new();
    assert_non_null(s);
    int rc = f->vt->introspect(f->conn, s, err, sizeof(err));
    if (rc != DC_OK)
        fail_msg("introspect: %s", err);
    assert_int_equal(schema_ntables(s), 6);

    const struct dc_table_info *c = schema_find(s, "customers");
    assert_non_null(c);
    assert_string_equal(c->kind, "table");
    assert_int_equal(c->row_count, 3);
    assert_int_equal(c->ncolumns, 4);
    assert_int_equal(find_col(c, "id")->pk, 1);
    assert_int_equal(find_col(c, "id")->type, DC_INT);
    assert_int_equal(find_col(c, "name")->notnull, 1);
    assert_int_equal(find_col(c, "name")->type, DC_TEXT);
    assert_string_equal(find_col(c, "city")->decl_type, "VARCHAR(40)");
    assert_string_equal(find_col(c, "city")->default_value, "'Paris'");
    assert_null(find_col(c, "name")->default_value);
    assert_int_equal(find_col(c, "created")->type, DC_DATE);

    const struct dc_table_info *o = schema_find(s, "orders");
    assert_non_null(o);
    assert_int_equal(o->row_count, 5);
    assert_int_equal(find_col(o, "placed_at")->type, DC_TIMESTAMP);
    assert_int_equal(find_col(o, "amount")->type, DC_REAL);
    assert_int_equal(o->nfks, 1);
    assert_string_equal(o->fks[0].from_column, "customer_id");
    assert_string_equal(o->fks[0].to_table, "customers");
    assert_string_equal(o->fks[0].to_column, "id");

    const struct dc_table_info *oi = schema_find(s, "order items");
    assert_non_null(oi);
    assert_int_equal(oi->row_count, 2);
    assert_int_equal(find_col(oi, "order_id")->pk, 1);
    assert_int_equal(find_col(oi, "line")->pk, 2);
    assert_int_equal(find_col(oi, "sku")->pk, 0);
    /* REFERENCES orders with no column: the parent's primary key. */
    assert_int_equal(oi->nfks, 1);
    assert_string_equal(oi->fks[0].to_table, "orders");
    assert_string_equal(oi->fks[0].to_column, "id");

    const struct dc_table_info *sh = schema_find(s, "shipments");
    assert_non_null(sh);
    assert_int_equal(sh->row_count, 0);
    assert_int_equal(sh->nfks, 2);
    assert_string_equal(sh->fks[0].from_column, "order_id");
    assert_string_equal(sh->fks[0].to_column, "order_id");
    assert_string_equal(sh->fks[1].from_column, "line");
    assert_string_equal(sh->fks[1].to_column, "line");

    const struct dc_table_info *w = schema_find(s, "we\"ird");
    assert_non_null(w);
    assert_int_equal(w->row_count, 1);
    assert_int_equal(find_col(w, "flag")->type, DC_BOOL);
    assert_int_equal(find_col(w, "price")->type, DC_NUMERIC);
    assert_int_equal(find_col(w, "untyped")->type, DC_BLOB);

    const struct dc_table_info *v = schema_find(s, "big_orders");
    assert_non_null(v);
    assert_string_equal(v->kind, "view");
    assert_int_equal(v->row_count, -1);
    assert_int_equal(v->ncolumns, 2);
    assert_int_equal(find_col(v, "amount")->type, DC_REAL);
    schema_free(s);
}

/* ---- prepare ---- */

static void test_prepare_tells_one_statement_from_several(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *sql;
        int single;
    } cases[] = {
        {"SELECT 1", 1},
        {"SELECT 1;", 1},
        {"SELECT 1; -- done", 1},
        {"SELECT 1 /* a */ ; /* b */ ;; \n\t", 1},
        {"SELECT 1; /* never closed", 1},
        {"SELECT 1; SELECT 2", 0},
        {"SELECT 1 -- ;\n; DELETE FROM orders", 0},
        {"SELECT 1; -- x\n DROP TABLE orders", 0},
        {"SELECT 1;\v", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct seen s = {0};
        struct dc_stmt_info info;
        void *stmt = NULL;
        char err[256] = "";
        int rc = prepare(f, cases[i].sql, &s, &stmt, &info, err, sizeof(err));
        if (rc != DC_OK)
            fail_msg("prepare '%s': %s", cases[i].sql, err);
        if (info.single != cases[i].single)
            fail_msg("'%s': single=%d, expected %d", cases[i].sql, info.single, cases[i].single);
        f->vt->finalize(f->conn, stmt);
    }
}

static void test_prepare_reports_actions_to_the_authorizer(void **state)
{
    struct fixture *f = *state;
    struct seen s = {0};
    struct dc_stmt_info info;
    void *stmt = NULL;
    char err[256] = "";
    assert_int_equal(prepare(f, "SELECT name, upper(city) FROM customers", &s, &stmt, &info,
                             err, sizeof(err)),
                     DC_OK);
    assert_non_null(strstr(s.log, "2::;"));
    assert_non_null(strstr(s.log, "1:customers:name;"));
    assert_non_null(strstr(s.log, "1:customers:city;"));
    assert_non_null(strstr(s.log, "3:upper:;"));
    assert_int_equal(info.readonly, 1);
    assert_int_equal(info.ncols, 2);
    assert_int_equal(info.explain, 0);
    f->vt->finalize(f->conn, stmt);

    /* A pragma function is a pragma, and the engine's bookkeeping for an
     * eponymous table on first use is not reported as a write. */
    memset(&s, 0, sizeof(s));
    assert_int_equal(prepare(f, "SELECT * FROM pragma_table_info('orders')", &s, &stmt, &info,
                             err, sizeof(err)),
                     DC_OK);
    assert_non_null(strstr(s.log, "7:table_info:"));
    assert_null(strstr(s.log, "4:"));
    f->vt->finalize(f->conn, stmt);

    memset(&s, 0, sizeof(s));
    assert_int_equal(prepare(f, "SELECT value FROM json_each('[1,2]')", &s, &stmt, &info, err,
                             sizeof(err)),
                     DC_OK);
    assert_null(strstr(s.log, "4:"));
    assert_non_null(strstr(s.log, "1:json_each:value;"));
    f->vt->finalize(f->conn, stmt);

    /* The authorizer never sees a USING constraint's columns; the table
     * is still reported, from the compiled program. */
    memset(&s, 0, sizeof(s));
    assert_int_equal(prepare(f, "SELECT sku FROM \"order items\" JOIN shipments USING (line)",
                             &s, &stmt, &info, err, sizeof(err)),
                     DC_OK);
    assert_non_null(strstr(s.log, "1:order items:sku;"));
    assert_non_null(strstr(s.log, "1:shipments:;"));
    f->vt->finalize(f->conn, stmt);

    memset(&s, 0, sizeof(s));
    assert_int_equal(prepare(f, "EXPLAIN QUERY PLAN SELECT * FROM orders", &s, &stmt, &info,
                             err, sizeof(err)),
                     DC_OK);
    assert_int_equal(info.explain, 1);
    f->vt->finalize(f->conn, stmt);

    /* A denial makes prepare fail. */
    memset(&s, 0, sizeof(s));
    s.deny_action = DC_ACT_WRITE;
    stmt = NULL;
    assert_int_equal(prepare(f, "DELETE FROM orders", &s, &stmt, &info, err, sizeof(err)),
                     DC_EDENIED);
    assert_null(stmt);
    assert_non_null(strstr(s.log, "4:orders:;"));

    memset(&s, 0, sizeof(s));
    assert_int_equal(prepare(f, "/* nothing */ -- here", &s, &stmt, &info, err, sizeof(err)),
                     DC_ENOTFOUND);
    assert_int_equal(prepare(f, "SELEKT 1", &s, &stmt, &info, err, sizeof(err)), DC_EINVAL);
    assert_non_null(strstr(err, "syntax error"));
}

/* ---- execute ---- */

static void test_execute_marks_truncated_at_the_row_cap(void **state)
{
    struct fixture *f = *state;
    char err[256] = "";
    int rc;
    const char *sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                      "LIMIT 50) SELECT x FROM c";
    struct dc_result *r = run(f, sql, NULL, 0, 10, 0, &rc, err, sizeof(err));
    assert_int_equal(rc, DC_OK);
    assert_int_equal(result_nrows(r), 10);
    assert_int_equal(result_truncated(r), 1);
    assert_int_equal(result_get(r, 9, 0)->v.i, 10);
    result_free(r);

    r = run(f, sql, NULL, 0, 50, 0, &rc, err, sizeof(err));
    assert_int_equal(rc, DC_OK);
    assert_int_equal(result_nrows(r), 50);
    assert_int_equal(result_truncated(r), 0);
    result_free(r);
}

static void test_execute_stops_an_endless_query_at_the_deadline(void **state)
{
    struct fixture *f = *state;
    char err[256] = "";
    int rc;
    int64_t t0 = util_now_us();
    struct dc_result *r =
        run(f, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
               "SELECT count(*) FROM c",
            NULL, 0, 100, 200, &rc, err, sizeof(err));
    int64_t ms = (util_now_us() - t0) / 1000;
    assert_null(r);
    assert_int_equal(rc, DC_ETIMEOUT);
    assert_non_null(strstr(err, "exceeded 200 ms"));
    assert_true(ms >= 200);
    assert_true(ms < 2000);
}

static void test_execute_binds_parameters_and_maps_types(void **state)
{
    struct fixture *f = *state;
    char err[256] = "";
    int rc;
    struct dc_value p[2] = {dc_value_int(1), dc_value_text("London", 6)};
    struct dc_result *r =
        run(f, "SELECT name, created, id * 1.5 AS x, NULL AS nada, count(*) OVER () AS n "
               "FROM customers WHERE id = ?1 AND city = ?2",
            p, 2, 100, 0, &rc, err, sizeof(err));
    if (rc != DC_OK)
        fail_msg("execute: %s", err);
    assert_int_equal(result_nrows(r), 1);
    assert_int_equal(result_ncols(r), 5);
    assert_string_equal(result_col_name(r, 0), "name");
    assert_int_equal(result_col_type(r, 0), DC_TEXT);
    assert_int_equal(result_col_type(r, 1), DC_DATE);
    assert_int_equal(result_col_type(r, 2), DC_REAL);
    assert_int_equal(result_col_type(r, 3), DC_NULL);
    assert_int_equal(result_col_type(r, 4), DC_INT);
    const struct dc_value *v = result_get(r, 0, 0);
    assert_int_equal(v->type, DC_TEXT);
    assert_int_equal(v->v.s.n, 3);
    assert_memory_equal(v->v.s.p, "Ada", 3);
    assert_int_equal(result_get(r, 0, 2)->type, DC_REAL);
    assert_true(result_get(r, 0, 2)->v.d == 1.5);
    assert_int_equal(result_get(r, 0, 3)->type, DC_NULL);
    result_free(r);

    /* Blob values and the NULL bound as a parameter. */
    struct dc_value np[1] = {DC_VALUE_NULL};
    r = run(f, "SELECT untyped, ?1 IS NULL FROM \"we\"\"ird\"", np, 1, 10, 0, &rc, err,
            sizeof(err));
    assert_int_equal(rc, DC_OK);
    assert_int_equal(result_get(r, 0, 0)->type, DC_BLOB);
    assert_int_equal(result_get(r, 0, 0)->v.s.n, 2);
    assert_int_equal(result_get(r, 0, 1)->v.i, 1);
    result_free(r);

    /* The wrong number of values is refused before anything runs. */
    r = run(f, "SELECT name FROM customers WHERE id = ?1", NULL, 0, 10, 0, &rc, err,
            sizeof(err));
    assert_null(r);
    assert_int_equal(rc, DC_EINVAL);
    assert_non_null(strstr(err, "1 parameter"));
}

static void test_connection_refuses_writes_even_without_the_gate(void **state)
{
    struct fixture *f = *state;
    char err[256] = "";
    struct seen s = {0};
    struct dc_stmt_info info;
    void *stmt = NULL;
    assert_int_equal(prepare(f, "INSERT INTO orders VALUES (9, 1, 1.0, NULL)", &s, &stmt, &info,
                             err, sizeof(err)),
                     DC_OK);
    assert_int_equal(info.readonly, 0);
    struct dc_limits lim = {sizeof(lim), 10, 1000, 0};
    struct dc_result *r = result_new();
    int rc = f->vt->execute(f->conn, stmt, NULL, 0, &lim, r, err, sizeof(err));
    assert_int_equal(rc, DC_EDENIED);
    assert_non_null(strstr(err, "read-only"));
    f->vt->finalize(f->conn, stmt);
    result_free(r);
    assert_int_equal(count_rows(f->db_path, "orders"), 5);

    /* ATTACH is bounded to zero databases as well. */
    stmt = NULL;
    memset(&s, 0, sizeof(s));
    rc = prepare(f, "ATTACH 'other.db' AS other", &s, &stmt, &info, err, sizeof(err));
    if (rc == DC_OK) {
        r = result_new();
        rc = f->vt->execute(f->conn, stmt, NULL, 0, &lim, r, err, sizeof(err));
        f->vt->finalize(f->conn, stmt);
        result_free(r);
    }
    assert_int_not_equal(rc, DC_OK);
    char other[256];
    snprintf(other, sizeof(other), "%s/other.db", f->dir);
    assert_int_not_equal(access(other, F_OK), 0);
    assert_int_not_equal(access("other.db", F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_refuses_missing_file_and_never_creates_it,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_a_file_that_is_not_a_database, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_a_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_requires_the_path_option, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_rejects_a_bad_busy_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_introspect_reports_tables_views_keys_and_counts,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_tells_one_statement_from_several, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_prepare_reports_actions_to_the_authorizer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_execute_marks_truncated_at_the_row_cap, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_execute_stops_an_endless_query_at_the_deadline,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_execute_binds_parameters_and_maps_types, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_connection_refuses_writes_even_without_the_gate,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
