/* The PostgreSQL connector's pool and its failure paths, in one process,
 * against the short-lived cluster tests/integration/pg_errors.sh starts
 * (PGHOST, PGPORT, PGUSER, PGPASSWORD in the environment; DC_PGE_STOP and
 * DC_PGE_START hold the commands that stop and start that server):
 * statements on one handle run in parallel up to pool_size and no further,
 * a connection killed mid-query fails that statement with
 * E-DB-CONNECTION-LOST and an audit record while the next one reconnects, an expired statement
 * timeout leaves the handle usable, and a server that goes away and comes
 * back gives one clear error and then answers again. Exit 77 without a
 * cluster (1 when CI=true). Argument: the build directory. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "pg_fixture.h"
#include "result.h"

#define SLOW_SQL "SELECT count(*) FROM generate_series(1, 2000000000)"

static struct pg_fixture F;
static char pool_txt[8];

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_pool_size(int n)
{
    snprintf(pool_txt, sizeof(pool_txt), "%d", n);
}

static int setup(void **state)
{
    (void)state;
    struct cfg_opt pool;
    struct gate_limits lim = {100, 30000, 1 << 20};
    memset(&pool, 0, sizeof(pool));
    set_pool_size(4);
    pool.key = (char *)"pool_size";
    pool.value = pool_txt;
    return pgfx_setup(&F, "datachat_pool",
                      "CREATE TABLE t (id int PRIMARY KEY, name text);"
                      "INSERT INTO t SELECT g, 'n' || g FROM generate_series(1, 20) g",
                      &pool, 1, "pgpool", &lim);
}

static int teardown(void **state)
{
    (void)state;
    pgfx_teardown(&F);
    return 0;
}

/* ---- the pool, straight through the connector ------------------------------ */

struct job {
    void *handle;
    const char *sql;
    int rc;
    char err[512];
};

static void *run_job(void *arg)
{
    struct job *j = arg;
    struct dc_stmt_info info;
    void *stmt = NULL;
    memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    j->rc = F.vt->prepare(j->handle, j->sql, NULL, &stmt, &info, j->err, sizeof(j->err));
    if (j->rc == DC_OK) {
        struct dc_result *r = result_new();
        struct dc_limits lim = {sizeof(lim), 10, 0, 0};
        j->rc = r ? F.vt->execute(j->handle, stmt, NULL, 0, &lim, r, j->err, sizeof(j->err))
                  : DC_ENOMEM;
        result_free(r);
    }
    if (stmt)
        F.vt->finalize(j->handle, stmt);
    return NULL;
}

/* Runs n copies of sql at once on a new handle of the given pool size;
 * returns the wall time in ms and the backends the handle had opened. */
static int64_t run_parallel(int pool, int n, const char *sql, long *backends)
{
    char err[512] = "", q[256];
    void *h = NULL;
    struct job jobs[8];
    pthread_t th[8];
    set_pool_size(pool);
    assert_int_equal(F.vt->open(&F.host, &F.opts, &h, err, sizeof(err)), DC_OK);
    assert_true(n <= 8);
    int64_t t0 = now_ms();
    for (int i = 0; i < n; i++) {
        memset(&jobs[i], 0, sizeof(jobs[i]));
        jobs[i].handle = h;
        jobs[i].sql = sql;
        assert_int_equal(pthread_create(&th[i], NULL, run_job, &jobs[i]), 0);
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    int64_t ms = now_ms() - t0;
    for (int i = 0; i < n; i++) {
        if (jobs[i].rc != DC_OK)
            print_error("job %d: %s\n", i, jobs[i].err);
        assert_int_equal(jobs[i].rc, DC_OK);
    }
    snprintf(q, sizeof(q),
             "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND "
             "application_name = 'datachat'",
             F.dbname);
    *backends = pgfx_count(F.admin, q);
    F.vt->close(h);
    set_pool_size(4);
    return ms;
}

static void test_pool_runs_one_handles_statements_in_parallel(void **state)
{
    (void)state;
    long backends = 0;
    assert_true(db_concurrent(&F.db));
    /* Two half-second statements on one handle: together, not one after
     * the other, and on exactly the two connections they needed. */
    int64_t ms = run_parallel(4, 2, "SELECT pg_sleep(0.5)", &backends);
    print_message("  pool 4, 2 x 500 ms: %lld ms, %ld backends\n", (long long)ms, backends);
    assert_true(ms < 950);
    assert_int_equal(backends, 2);
    /* A pool of one serialises them: the timing above can fail. */
    ms = run_parallel(1, 2, "SELECT pg_sleep(0.5)", &backends);
    print_message("  pool 1, 2 x 500 ms: %lld ms, %ld backends\n", (long long)ms, backends);
    assert_true(ms >= 1000);
    assert_int_equal(backends, 1);
}

static void test_pool_never_opens_more_than_pool_size(void **state)
{
    (void)state;
    long backends = 0;
    int64_t ms = run_parallel(2, 6, "SELECT pg_sleep(0.3)", &backends);
    print_message("  pool 2, 6 x 300 ms: %lld ms, %ld backends\n", (long long)ms, backends);
    assert_int_equal(backends, 2);
    assert_true(ms >= 900); /* three rounds of two */
}

/* ---- failures through the gate ------------------------------------------------ */

static int gate_ok(const char *sql, int64_t want)
{
    struct gate_decision dec;
    struct dc_result *r = NULL;
    int rc = gate_run(F.gate, "tester", &F.db, sql, NULL, 0, NULL, &r, &dec);
    if (rc != DC_OK)
        print_error("  %s -> %s: %s\n", sql, dec.code, dec.reason);
    int ok = rc == DC_OK && result_nrows(r) == 1 && result_get(r, 0, 0)->v.i == want;
    result_free(r);
    gate_decision_clear(&dec);
    return ok;
}

struct slow {
    struct gate *g;
    int rc;
    struct gate_decision dec;
};

static void *run_slow(void *arg)
{
    struct slow *s = arg;
    struct dc_result *r = NULL;
    s->rc = gate_run(s->g, "tester", &F.db, SLOW_SQL, NULL, 0, "a slow question", &r, &s->dec);
    result_free(r);
    return NULL;
}

static void test_connection_killed_mid_query_fails_that_query_only(void **state)
{
    (void)state;
    char q[512];
    struct slow s;
    pthread_t th;
    memset(&s, 0, sizeof(s));
    s.g = F.gate;
    assert_true(gate_ok("SELECT count(*) FROM t", 20));
    assert_int_equal(pthread_create(&th, NULL, run_slow, &s), 0);
    snprintf(q, sizeof(q),
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = "
             "'%s' AND application_name = 'datachat' AND state = 'active' AND query LIKE "
             "'%%generate_series%%'",
             F.dbname);
    long killed = 0;
    for (int i = 0; i < 100 && killed < 1; i++) {
        usleep(50 * 1000);
        killed = pgfx_count(F.admin, q);
    }
    pthread_join(th, NULL);
    assert_int_equal(killed, 1);
    print_message("  killed: %s: %s\n", s.dec.code, s.dec.reason);
    assert_int_not_equal(s.rc, DC_OK);
    assert_string_equal(s.dec.code, "E-DB-CONNECTION-LOST");
    gate_decision_clear(&s.dec);
    assert_true(pgfx_audit_has(&F, "E-DB-CONNECTION-LOST"));
    assert_true(pgfx_audit_has(&F, "a slow question"));
    /* The same handle answers the next statement, reconnected. */
    assert_true(gate_ok("SELECT count(*) FROM t WHERE id <= 5", 5));
}

static void test_statement_timeout_fails_that_query_only(void **state)
{
    (void)state;
    struct gate *g = NULL;
    struct gate_limits lim = {100, 300, 1 << 20};
    struct slow s;
    memset(&s, 0, sizeof(s));
    assert_int_equal(gate_new(F.audit, &lim, &g), DC_OK);
    s.g = g;
    int64_t t0 = now_ms();
    run_slow(&s);
    int64_t ms = now_ms() - t0;
    print_message("  timeout after %lld ms: %s: %s\n", (long long)ms, s.dec.code, s.dec.reason);
    assert_int_equal(s.rc, DC_ETIMEOUT);
    assert_string_equal(s.dec.code, "E-GATE-TIMEOUT");
    assert_true(ms < 5000);
    gate_decision_clear(&s.dec);
    gate_free(g);
    assert_true(pgfx_audit_has(&F, "E-GATE-TIMEOUT"));
    assert_true(gate_ok("SELECT count(*) FROM t", 20));
}

static void test_server_gone_gives_one_clear_error_then_answers_again(void **state)
{
    (void)state;
    const char *stop = getenv("DC_PGE_STOP"), *start = getenv("DC_PGE_START");
    struct gate_decision dec;
    struct dc_result *r = NULL;
    if (!stop || !start) {
        print_message("  DC_PGE_STOP/DC_PGE_START not set (run through pg_errors.sh)\n");
        skip();
    }
    assert_true(gate_ok("SELECT count(*) FROM t", 20));
    PQfinish(F.admin);
    F.admin = NULL;
    assert_int_equal(system(stop), 0);
    int rc = gate_run(F.gate, "tester", &F.db, "SELECT count(*) FROM t", NULL, 0, NULL, &r, &dec);
    print_message("  server gone: %s: %s\n", dec.code, dec.reason);
    assert_int_not_equal(rc, DC_OK);
    assert_null(r);
    assert_string_equal(dec.code, "E-DB-UNREACHABLE");
    assert_non_null(strstr(dec.reason, "reconnecting failed"));
    gate_decision_clear(&dec);
    assert_int_equal(system(start), 0);
    /* Back: the pool reconnects without being told. */
    assert_true(gate_ok("SELECT count(*) FROM t", 20));
    F.admin = pgfx_connect(F.dbname);
    assert_non_null(F.admin);
}

int main(int argc, char **argv)
{
    int code = 0;
    if (pgfx_args(argc, argv, &F, &code) != 0)
        return code;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_runs_one_handles_statements_in_parallel),
        cmocka_unit_test(test_pool_never_opens_more_than_pool_size),
        cmocka_unit_test(test_connection_killed_mid_query_fails_that_query_only),
        cmocka_unit_test(test_statement_timeout_fails_that_query_only),
        cmocka_unit_test(test_server_gone_gives_one_clear_error_then_answers_again),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
