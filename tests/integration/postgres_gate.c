/* The gate with the PostgreSQL connector in one process, against the
 * throwaway cluster (PGHOST...): bound parameters of every type, the row
 * cap, refusals leaving audit records, and a connection killed between two
 * statements being re-established. Exit 77 without a cluster (1 when
 * CI=true). Argument: the build directory. */
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "audit.h"
#include "config.h"
#include "db.h"
#include "gate.h"
#include "hostapi.h"
#include "registry.h"
#include "result.h"

static struct fixture {
    const char *build;
    void *dl;
    struct dc_plugin_ref ref;
    struct cfg_opt opt[5];
    struct dc_opts opts;
    struct db db;
    struct audit *audit;
    struct gate *gate;
    PGconn *admin;
    char dbname[64], dir[64], audit_path[128];
} F;

static PGresult *admin_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        print_error("admin SQL failed: %s: %s\n", sql, PQerrorMessage(c));
    return r;
}

static PGconn *admin_connect(const char *dbname)
{
    const char *keys[] = {"dbname", NULL};
    const char *vals[] = {dbname, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 0);
    if (PQstatus(c) != CONNECTION_OK) {
        print_error("cannot connect to %s: %s\n", dbname, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

static int setup(void **state)
{
    (void)state;
    char sql[256], err[512], path[512];
    snprintf(F.dbname, sizeof(F.dbname), "datachat_gate_%d", (int)getpid());
    PGconn *pg = admin_connect("postgres");
    if (!pg)
        return -1;
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", F.dbname);
    PQclear(admin_exec(pg, sql));
    PQfinish(pg);
    F.admin = admin_connect(F.dbname);
    if (!F.admin)
        return -1;
    PQclear(admin_exec(F.admin,
                       "CREATE TABLE t (id int PRIMARY KEY, name text, price numeric(8,2), "
                       "data bytea, seen timestamptz);"
                       "INSERT INTO t SELECT g, 'name ' || g, g * 1.25, '\\x00ff'::bytea, "
                       "TIMESTAMPTZ '2024-05-01 10:00:00+00' FROM generate_series(1, 50) g;"));

    snprintf(path, sizeof(path), "%s/plugins/connector-postgres.so", F.build);
    F.dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!F.dl) {
        print_error("%s\n", dlerror());
        return -1;
    }
    dc_plugin_describe_fn fn = (dc_plugin_describe_fn)dlsym(F.dl, DC_PLUGIN_SYMBOL);
    if (!fn)
        return -1;
    F.ref.desc = fn();
    F.ref.kind = F.ref.desc->kind;
    F.ref.vtable = F.ref.desc->vtable;
    F.ref.name = (char *)"postgres";
    /* Host, port and user come from libpq's own PGHOST/PGPORT/PGUSER. */
    F.opt[0].key = (char *)"dbname";
    F.opt[0].value = F.dbname;
    F.opts.opts = F.opt;
    F.opts.nopts = 1;
    F.opts.decl = ((const struct dc_connector_vtable *)F.ref.vtable)->options;
    struct dc_host h;
    hostapi_init(&h, NULL);
    if (db_init(&F.db, "pgtest", &F.ref, &F.opts, &h) != DC_OK)
        return -1;
    snprintf(F.dir, sizeof(F.dir), "/tmp/dc-pg-gate-XXXXXX");
    if (!mkdtemp(F.dir))
        return -1;
    snprintf(F.audit_path, sizeof(F.audit_path), "%s/audit.jsonl", F.dir);
    if (audit_open(F.audit_path, AUDIT_FSYNC_NEVER, &F.audit, err, sizeof(err)) != DC_OK) {
        print_error("%s\n", err);
        return -1;
    }
    struct gate_limits lim = {10, 5000, 1 << 20};
    return gate_new(F.audit, &lim, &F.gate) == DC_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char sql[256], p[200];
    gate_free(F.gate);
    audit_close(F.audit);
    db_fini(&F.db);
    if (F.dl)
        dlclose(F.dl);
    PQfinish(F.admin);
    PGconn *pg = admin_connect("postgres");
    if (pg) {
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", F.dbname);
        PQclear(admin_exec(pg, sql));
        PQfinish(pg);
    }
    unlink(F.audit_path);
    snprintf(p, sizeof(p), "%s.head", F.audit_path);
    unlink(p);
    rmdir(F.dir);
    return 0;
}

static int run(const char *sql, const struct dc_value *params, size_t n, struct dc_result **out,
               struct gate_decision *dec)
{
    *out = NULL;
    int rc = gate_run(F.gate, "tester", &F.db, sql, params, n, NULL, out, dec);
    if (rc != DC_OK)
        print_message("  %s -> %s: %s\n", sql, dec->code, dec->reason);
    return rc;
}

static void test_postgres_binds_parameters_and_maps_types(void **state)
{
    (void)state;
    struct gate_decision dec;
    struct dc_result *r = NULL;
    const char name[] = "name 7XYZ"; /* length 6 below: no terminator after it */
    struct dc_value p[2] = {dc_value_int(7), dc_value_text(name, 6)};
    assert_int_equal(run("SELECT id, name, price, data, seen, id > 5 AS big FROM t "
                         "WHERE id = $1 AND name = $2",
                         p, 2, &r, &dec),
                     DC_OK);
    assert_int_equal(result_nrows(r), 1);
    assert_int_equal(result_col_type(r, 0), DC_INT);
    assert_int_equal(result_get(r, 0, 0)->v.i, 7);
    assert_int_equal(result_col_type(r, 1), DC_TEXT);
    assert_int_equal(result_col_type(r, 2), DC_NUMERIC);
    const struct dc_value *v = result_get(r, 0, 2);
    assert_int_equal(v->v.s.n, 4);
    assert_memory_equal(v->v.s.p, "8.75", 4);
    assert_int_equal(result_col_type(r, 3), DC_BLOB);
    v = result_get(r, 0, 3);
    assert_int_equal(v->v.s.n, 2);
    assert_memory_equal(v->v.s.p, "\x00\xff", 2);
    assert_int_equal(result_col_type(r, 4), DC_TIMESTAMP);
    assert_int_equal(result_col_type(r, 5), DC_BOOL);
    assert_int_equal(result_get(r, 0, 5)->v.i, 1);
    assert_int_equal(dec.ntables, 1);
    assert_string_equal(dec.tables[0], "t");
    result_free(r);
    gate_decision_clear(&dec);

    /* A wrong number of parameters is the caller's error, not a crash. */
    assert_int_not_equal(run("SELECT * FROM t WHERE id = $1", NULL, 0, &r, &dec), DC_OK);
    gate_decision_clear(&dec);
}

static void test_postgres_caps_rows_and_refuses_writes(void **state)
{
    (void)state;
    struct gate_decision dec;
    struct dc_result *r = NULL;
    assert_int_equal(run("SELECT * FROM t ORDER BY id", NULL, 0, &r, &dec), DC_OK);
    assert_int_equal(result_nrows(r), 10);
    assert_true(result_truncated(r));
    result_free(r);
    gate_decision_clear(&dec);
    /* The connection is usable after a cancelled, truncated result. */
    assert_int_equal(run("SELECT count(*) FROM t", NULL, 0, &r, &dec), DC_OK);
    assert_int_equal(result_get(r, 0, 0)->v.i, 50);
    result_free(r);
    gate_decision_clear(&dec);

    assert_int_equal(run("WITH d AS (DELETE FROM t RETURNING *) SELECT count(*) FROM d", NULL,
                         0, &r, &dec),
                     DC_EDENIED);
    assert_string_equal(dec.code, "E-GATE-WRITE");
    gate_decision_clear(&dec);
    PGresult *c = admin_exec(F.admin, "SELECT count(*) FROM t");
    assert_string_equal(PQgetvalue(c, 0, 0), "50");
    PQclear(c);
}

static void test_postgres_reconnects_after_a_dropped_connection(void **state)
{
    (void)state;
    struct gate_decision dec;
    struct dc_result *r = NULL;
    char sql[256];
    assert_int_equal(run("SELECT 1", NULL, 0, &r, &dec), DC_OK);
    result_free(r);
    gate_decision_clear(&dec);
    snprintf(sql, sizeof(sql),
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' "
             "AND application_name = 'datachat'",
             F.dbname);
    PGresult *k = admin_exec(F.admin, sql);
    assert_int_equal(PQntuples(k), 1);
    PQclear(k);
    usleep(100 * 1000);
    assert_int_equal(run("SELECT 2 AS two", NULL, 0, &r, &dec), DC_OK);
    assert_int_equal(result_get(r, 0, 0)->v.i, 2);
    result_free(r);
    gate_decision_clear(&dec);
}

/* Two requests through the gate run at the same time on a pooling
 * connector: each statement reports the server-side interval it ran in
 * (min and max clock_timestamp() over its rows), and the intervals of two
 * statements started together overlap. Held under one lock from prepare to
 * finalize, they could not. Retried, as a loaded machine may start the
 * second thread late. */
struct span_arg {
    pthread_barrier_t *start;
    double t0, t1;
    int rc;
};

static void *span_thread(void *arg)
{
    struct span_arg *a = arg;
    struct gate_decision dec;
    struct dc_result *r = NULL;
    memset(&dec, 0, sizeof(dec));
    pthread_barrier_wait(a->start);
    a->rc = gate_run(F.gate, "tester", &F.db,
                     "SELECT extract(epoch FROM min(ts))::float8, extract(epoch FROM max(ts))::float8 "
                     "FROM (SELECT clock_timestamp() AS ts FROM generate_series(1, 4000000)) s",
                     NULL, 0, NULL, &r, &dec);
    if (a->rc == DC_OK && result_nrows(r) == 1) {
        a->t0 = result_get(r, 0, 0)->v.d;
        a->t1 = result_get(r, 0, 1)->v.d;
    }
    result_free(r);
    gate_decision_clear(&dec);
    return NULL;
}

static void test_postgres_gate_runs_two_statements_at_once(void **state)
{
    (void)state;
    assert_true(db_concurrent(&F.db));
    int overlapped = 0;
    for (int attempt = 0; attempt < 3 && !overlapped; attempt++) {
        pthread_barrier_t b;
        pthread_t th[2];
        struct span_arg a[2];
        memset(a, 0, sizeof(a));
        assert_int_equal(pthread_barrier_init(&b, NULL, 2), 0);
        for (int i = 0; i < 2; i++) {
            a[i].start = &b;
            assert_int_equal(pthread_create(&th[i], NULL, span_thread, &a[i]), 0);
        }
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&b);
        assert_int_equal(a[0].rc, DC_OK);
        assert_int_equal(a[1].rc, DC_OK);
        assert_true(a[0].t1 > a[0].t0 && a[1].t1 > a[1].t0);
        overlapped = a[0].t0 < a[1].t1 && a[1].t0 < a[0].t1;
        print_message("  attempt %d: [%.3f, %.3f] and [%.3f, %.3f]\n", attempt, a[0].t0,
                      a[0].t1, a[1].t0, a[1].t1);
    }
    assert_true(overlapped);
}

int main(int argc, char **argv)
{
    if (!getenv("PGHOST")) {
        const char *ci = getenv("CI");
        fprintf(stderr, "PGHOST is not set (scripts/test starts a throwaway cluster)\n");
        return ci && strcmp(ci, "true") == 0 ? 1 : 77;
    }
    F.build = argc > 1 ? argv[1] : getenv("DC_BINARY_DIR");
    if (!F.build) {
        fprintf(stderr, "usage: %s BUILD_DIR\n", argv[0]);
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postgres_binds_parameters_and_maps_types),
        cmocka_unit_test(test_postgres_caps_rows_and_refuses_writes),
        cmocka_unit_test(test_postgres_reconnects_after_a_dropped_connection),
        cmocka_unit_test(test_postgres_gate_runs_two_statements_at_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
