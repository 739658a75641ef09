/* The gate with the PostgreSQL connector in one process, against the
 * throwaway cluster (PGHOST...): bound parameters of every type, the row
 * cap, refusals leaving audit records, a connection killed between two
 * statements being re-established, two statements at once, and a
 * principal's queries-per-minute and concurrency limits (the refusal says
 * what is left). Exit 77 without a cluster (1 when
 * CI=true). Argument: the build directory. */
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

#include "pg_fixture.h"
#include "policy.h"
#include "result.h"

static struct pg_fixture F;

static int setup(void **state)
{
    (void)state;
    struct gate_limits lim = {10, 5000, 1 << 20};
    return pgfx_setup(&F,
                      "datachat_gate",
                      "CREATE TABLE t (id int PRIMARY KEY, name text, price numeric(8,2), "
                      "data bytea, seen timestamptz);"
                      "INSERT INTO t SELECT g, 'name ' || g, g * 1.25, '\\x00ff'::bytea, "
                      "TIMESTAMPTZ '2024-05-01 10:00:00+00' FROM generate_series(1, 50) g;",
                      NULL, 0, "pgtest", &lim);
}

static int teardown(void **state)
{
    (void)state;
    pgfx_teardown(&F);
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
    PGresult *c = pgfx_exec(F.admin, "SELECT count(*) FROM t");
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
    PGresult *k = pgfx_exec(F.admin, sql);
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

/* ---- per-principal limits on PostgreSQL ------------------------------------ */

static const char limits_policy[] =
    "principals:\n"
    "  limited:\n"
    "    databases:\n"
    "      pgtest: { queries_per_minute: 3, default_table: { allowed: true } }\n"
    "  single:\n"
    "    databases:\n"
    "      pgtest: { concurrent_queries: 1, default_table: { allowed: true } }\n";

static struct gate *limits_gate(struct policy_set **ps)
{
    static struct cfg_diags diags;
    struct gate *g = NULL;
    struct gate_limits lim = {10, 20000, 1 << 20};
    assert_int_equal(policy_load_string(limits_policy, sizeof(limits_policy) - 1, "limits.yaml",
                                        ps, &diags),
                     DC_OK);
    assert_int_equal(gate_new(F.audit, &lim, &g), DC_OK);
    gate_set_policies(g, *ps);
    return g;
}

static int run_as(struct gate *g, const char *who, const char *sql, struct gate_decision *dec)
{
    struct dc_result *r = NULL;
    int rc = gate_run(g, who, &F.db, sql, NULL, 0, NULL, &r, dec);
    result_free(r);
    return rc;
}

static void test_postgres_rate_limit_says_what_is_left(void **state)
{
    (void)state;
    struct policy_set *ps = NULL;
    struct gate *g = limits_gate(&ps);
    struct gate_decision dec;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(run_as(g, "limited", "SELECT count(*) FROM t", &dec), DC_OK);
        gate_decision_clear(&dec);
    }
    assert_int_equal(run_as(g, "limited", "SELECT id FROM t WHERE id = 4", &dec), DC_EDENIED);
    print_message("  4th query: %s: %s\n", dec.code, dec.reason);
    assert_string_equal(dec.code, "E-POLICY-RATE");
    assert_non_null(strstr(dec.reason, "3 queries per minute"));
    assert_non_null(strstr(dec.reason, "0 left"));
    assert_non_null(strstr(dec.reason, "allowed in"));
    gate_decision_clear(&dec);
    assert_true(pgfx_audit_has(&F, "E-POLICY-RATE"));
    /* Another principal's budget is its own. */
    assert_int_equal(run_as(g, "single", "SELECT count(*) FROM t", &dec), DC_OK);
    gate_decision_clear(&dec);
    gate_free(g);
    policy_set_free(ps);
}

struct held {
    struct gate *g;
    int rc;
    struct gate_decision dec;
};

static void *run_held(void *arg)
{
    struct held *h = arg;
    h->rc = run_as(h->g, "single", "SELECT count(*) FROM generate_series(1, 2000000000)",
                   &h->dec);
    return NULL;
}

static void test_postgres_concurrency_limit_refuses_the_second_query(void **state)
{
    (void)state;
    struct policy_set *ps = NULL;
    struct gate *g = limits_gate(&ps);
    struct held h;
    struct gate_decision dec;
    pthread_t th;
    char q[400];
    memset(&h, 0, sizeof(h));
    h.g = g;
    assert_int_equal(pthread_create(&th, NULL, run_held, &h), 0);
    snprintf(q, sizeof(q),
             "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND application_name "
             "= 'datachat' AND state = 'active' AND query LIKE '%%generate_series%%'",
             F.dbname);
    long running = 0;
    for (int i = 0; i < 200 && running < 1; i++) {
        usleep(25 * 1000);
        running = pgfx_count(F.admin, q);
    }
    assert_int_equal(running, 1);
    assert_int_equal(run_as(g, "single", "SELECT count(*) FROM t", &dec), DC_EDENIED);
    print_message("  second query: %s: %s\n", dec.code, dec.reason);
    assert_string_equal(dec.code, "E-POLICY-CONCURRENCY");
    assert_non_null(strstr(dec.reason, "1 of 1 concurrent"));
    assert_non_null(strstr(dec.reason, "0 left"));
    gate_decision_clear(&dec);
    assert_true(pgfx_audit_has(&F, "E-POLICY-CONCURRENCY"));
    snprintf(q, sizeof(q),
             "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE datname = '%s' "
             "AND application_name = 'datachat' AND query LIKE '%%generate_series%%'",
             F.dbname);
    assert_true(pgfx_count(F.admin, q) >= 1);
    pthread_join(th, NULL);
    assert_int_not_equal(h.rc, DC_OK);
    gate_decision_clear(&h.dec);
    /* The slot is given back when the first one ends. */
    assert_int_equal(run_as(g, "single", "SELECT count(*) FROM t", &dec), DC_OK);
    gate_decision_clear(&dec);
    gate_free(g);
    policy_set_free(ps);
}

int main(int argc, char **argv)
{
    int code = 0;
    if (pgfx_args(argc, argv, &F, &code) != 0)
        return code;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postgres_binds_parameters_and_maps_types),
        cmocka_unit_test(test_postgres_caps_rows_and_refuses_writes),
        cmocka_unit_test(test_postgres_reconnects_after_a_dropped_connection),
        cmocka_unit_test(test_postgres_gate_runs_two_statements_at_once),
        cmocka_unit_test(test_postgres_rate_limit_says_what_is_left),
        cmocka_unit_test(test_postgres_concurrency_limit_refuses_the_second_query),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
