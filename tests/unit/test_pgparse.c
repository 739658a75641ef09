/* pgparse: PostgreSQL text judged on libpg_query's parse tree. Each case
 * names the SQL and the code it must get ("" = accepted). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <datachat/value.h>

#include "pgparse.h"

struct pg_case {
    const char *sql;
    const char *code; /* "" when accepted */
};

static void expect_code(const char *sql, const char *code)
{
    struct pgparse_info info;
    char err[512] = "";
    memset(&info, 0, sizeof(info));
    int rc = pgparse_check(sql, &info, err, sizeof(err));
    if (strcmp(info.code, code) != 0 || (code[0] ? rc != DC_EDENIED : rc != DC_OK)) {
        print_error("SQL: %s\n  wanted '%s', got rc %d code '%s': %s\n", sql, code, rc,
                    info.code, err);
        pgparse_info_clear(&info);
        fail();
    }
    if (code[0])
        assert_true(err[0] != '\0'); /* every refusal says why */
    pgparse_info_clear(&info);
}

static void run_cases(const struct pg_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        expect_code(c[i].sql, c[i].code);
}

#define RUN(cases) run_cases(cases, sizeof(cases) / sizeof(cases[0]))

static void test_pgparse_accepts_reading_queries(void **state)
{
    (void)state;
    static const struct pg_case cases[] = {
        {"SELECT 1", ""},
        {"select * from orders where status = 'paid' limit 10", ""},
        {"SELECT o.order_id, c.email FROM orders o JOIN customers c ON c.customer_id = "
         "o.customer_id",
         ""},
        {"SELECT * FROM orders LEFT JOIN payments USING (order_id)", ""},
        {"WITH t AS (SELECT customer_id, sum(total_amount) s FROM orders GROUP BY 1) SELECT * "
         "FROM t ORDER BY s DESC",
         ""},
        {"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT n "
         "FROM r",
         ""},
        {"SELECT customer_id, rank() OVER (PARTITION BY region_id ORDER BY signup_date) FROM "
         "customers",
         ""},
        {"SELECT 1 UNION SELECT 2 INTERSECT SELECT 2 EXCEPT SELECT 3", ""},
        {"SELECT * FROM orders WHERE customer_id IN (SELECT customer_id FROM customers WHERE "
         "country = 'France')",
         ""},
        {"SELECT (SELECT max(amount) FROM payments p WHERE p.order_id = o.order_id) FROM "
         "orders o",
         ""},
        {"EXPLAIN SELECT * FROM orders", ""},
        {"EXPLAIN (FORMAT JSON) SELECT count(*) FROM orders", ""},
        {"EXPLAIN ANALYZE SELECT 1", ""},
        {"VALUES (1, 'a'), (2, 'b')", ""},
        {"TABLE orders", ""},
        {"SELECT * FROM orders WHERE order_id = $1 AND status = $2", ""},
        {"SELECT date_trunc('month', order_date), count(*) FROM public.orders GROUP BY 1", ""},
        {"SELECT '; DELETE FROM orders' AS s", ""},
        {"SELECT $$ DROP TABLE orders $$", ""},
        {"SELECT 1 -- ; DELETE FROM orders", ""},
        {"SELECT \"pg_sleep\" FROM (SELECT 1 AS \"pg_sleep\") t", ""}, /* a column, not a call */
        {"SELECT 1;", ""},
    };
    RUN(cases);
}

static void test_pgparse_refuses_writes_anywhere(void **state)
{
    (void)state;
    static const struct pg_case cases[] = {
        {"DELETE FROM orders", "E-GATE-WRITE"},
        {"INSERT INTO orders VALUES (1)", "E-GATE-WRITE"},
        {"UPDATE orders SET status = 'x'", "E-GATE-WRITE"},
        {"TRUNCATE orders", "E-GATE-WRITE"},
        {"MERGE INTO orders o USING payments p ON o.order_id = p.order_id WHEN MATCHED THEN "
         "DELETE",
         "E-GATE-WRITE"},
        {"WITH d AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM d", "E-GATE-WRITE"},
        {"WITH a AS (SELECT 1), u AS (UPDATE orders SET status = 'x' RETURNING 1) SELECT * "
         "FROM a",
         "E-GATE-WRITE"},
        {"SELECT * FROM (WITH i AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM i) s",
         "E-GATE-WRITE"}, /* the raw parser accepts it; the walk finds the INSERT */
        {"EXPLAIN ANALYZE DELETE FROM orders", "E-GATE-WRITE"},
        {"EXPLAIN (ANALYZE, BUFFERS) UPDATE orders SET status = 'x'", "E-GATE-WRITE"},
        {"EXPLAIN DELETE FROM orders", "E-GATE-WRITE"},
        {"SELECT * INTO newtable FROM orders", "E-GATE-INTO"},
        {"SELECT * FROM orders FOR UPDATE", "E-GATE-LOCK"},
        {"SELECT * FROM orders FOR SHARE SKIP LOCKED", "E-GATE-LOCK"},
        {"SELECT * FROM (SELECT * FROM orders FOR KEY SHARE) s", "E-GATE-LOCK"},
        {"LOCK TABLE orders", "E-GATE-LOCK"},
        {"CREATE TABLE x (a int)", "E-GATE-DDL"},
        {"CREATE TABLE x AS SELECT 1", "E-GATE-DDL"},
        {"DROP TABLE orders", "E-GATE-DDL"},
        {"ALTER TABLE orders ADD COLUMN x int", "E-GATE-DDL"},
        {"GRANT ALL ON orders TO public", "E-GATE-DDL"},
        {"VACUUM orders", "E-GATE-DDL"},
        {"REFRESH MATERIALIZED VIEW mv", "E-GATE-DDL"},
    };
    RUN(cases);
}

static void test_pgparse_refuses_session_and_transaction_control(void **state)
{
    (void)state;
    static const struct pg_case cases[] = {
        {"BEGIN", "E-GATE-TXN"},
        {"COMMIT", "E-GATE-TXN"},
        {"ROLLBACK", "E-GATE-TXN"},
        {"SAVEPOINT a", "E-GATE-TXN"},
        {"SET TRANSACTION READ WRITE", "E-GATE-TXN"},
        {"SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "E-GATE-TXN"},
        {"START TRANSACTION READ WRITE", "E-GATE-TXN"},
        {"RELEASE SAVEPOINT a", "E-GATE-TXN"},
        {"SET statement_timeout = 0", "E-GATE-SESSION"},
        {"SET LOCAL search_path = evil", "E-GATE-SESSION"},
        {"RESET ALL", "E-GATE-SESSION"},
        {"SHOW data_directory", "E-GATE-SESSION"},
        {"DISCARD ALL", "E-GATE-SESSION"},
        {"LISTEN chan", "E-GATE-SESSION"},
        {"NOTIFY chan, 'x'", "E-GATE-SESSION"},
        {"PREPARE p AS DELETE FROM orders", "E-GATE-SESSION"},
        {"EXECUTE p", "E-GATE-SESSION"},
        {"EXPLAIN ANALYZE EXECUTE p", "E-GATE-SESSION"},
        {"DO $$ BEGIN DELETE FROM orders; END $$", "E-GATE-SESSION"},
        {"CALL do_things()", "E-GATE-SESSION"},
        {"DECLARE c CURSOR FOR SELECT 1", "E-GATE-SESSION"},
        {"COPY orders TO STDOUT", "E-GATE-COPY"},
        {"COPY orders FROM STDIN", "E-GATE-COPY"},
        {"COPY orders FROM '/etc/passwd'", "E-GATE-COPY"},
        {"COPY (SELECT 1) TO PROGRAM 'rm -rf /'", "E-GATE-COPY"},
    };
    RUN(cases);
}

static void test_pgparse_refuses_multiple_statements(void **state)
{
    (void)state;
    static const struct pg_case cases[] = {
        {"SELECT 1; DELETE FROM orders", "E-GATE-MULTI"},
        {"SELECT 1; SELECT 2", "E-GATE-MULTI"},
        {"SELECT 1 /* comment */; DROP TABLE orders", "E-GATE-MULTI"},
        {"SELECT $x$;$x$; DELETE FROM orders", "E-GATE-MULTI"},
        {"SELECT 1 -- x\n; DELETE FROM orders", "E-GATE-MULTI"},
        {"", "E-GATE-EMPTY"},
        {"-- only a comment", "E-GATE-EMPTY"},
        {";;", "E-GATE-EMPTY"},
        {"SELEC 1", "E-GATE-PARSE"},
        {"SELECT 'unterminated", "E-GATE-PARSE"},
    };
    RUN(cases);
}

static void test_pgparse_refuses_denied_functions_however_spelled(void **state)
{
    (void)state;
    static const struct pg_case cases[] = {
        {"SELECT pg_sleep(10)", "E-GATE-FUNC-DENIED"},
        {"SELECT \"pg_sleep\"(10)", "E-GATE-FUNC-DENIED"},
        {"SELECT \"PG_SLEEP\"(10)", "E-GATE-FUNC-DENIED"},
        {"SELECT PG_SLEEP(10)", "E-GATE-FUNC-DENIED"},
        {"SELECT pg_catalog.pg_sleep(10)", "E-GATE-FUNC-DENIED"},
        {"SELECT \"pg_catalog\".\"pg_sleep\"(10)", "E-GATE-FUNC-DENIED"},
        {"SELECT U&\"pg_\\0073leep\"(10)", "E-GATE-FUNC-DENIED"},
        {"SELECT U&\"pg\\005fsleep\"(10)", "E-GATE-FUNC-DENIED"},
        {"SELECT U&\"pg!005fsleep\" UESCAPE '!' (10)", "E-GATE-FUNC-DENIED"},
        {"SELECT pg_sleep_for('1 minute')", "E-GATE-FUNC-DENIED"},
        {"SELECT * FROM orders WHERE pg_sleep(1) IS NULL", "E-GATE-FUNC-DENIED"},
        {"SELECT * FROM orders ORDER BY (SELECT pg_sleep(1))", "E-GATE-FUNC-DENIED"},
        {"WITH s AS (SELECT pg_sleep(1)) SELECT * FROM s", "E-GATE-FUNC-DENIED"},
        {"SELECT 1 UNION SELECT pg_advisory_lock(1)", "E-GATE-FUNC-DENIED"},
        {"SELECT pg_try_advisory_xact_lock(1)", "E-GATE-FUNC-DENIED"},
        {"SELECT * FROM dblink('host=evil', 'DELETE FROM x') AS t(a int)", "E-GATE-FUNC-DENIED"},
        {"SELECT dblink_exec('DELETE FROM x')", "E-GATE-FUNC-DENIED"},
        {"SELECT lo_import('/etc/passwd')", "E-GATE-FUNC-DENIED"},
        {"SELECT lo_export(1, '/tmp/x')", "E-GATE-FUNC-DENIED"},
        {"SELECT pg_read_file('/etc/passwd')", "E-GATE-FUNC-DENIED"},
        {"SELECT pg_read_binary_file('postgresql.conf')", "E-GATE-FUNC-DENIED"},
        {"SELECT * FROM pg_ls_dir('.')", "E-GATE-FUNC-DENIED"},
        {"SELECT pg_stat_file('PG_VERSION')", "E-GATE-FUNC-DENIED"},
        {"SELECT set_config('statement_timeout', '0', false)", "E-GATE-FUNC-DENIED"},
        {"SELECT current_setting('data_directory')", "E-GATE-FUNC-DENIED"},
        {"SELECT pg_reload_conf()", "E-GATE-FUNC-DENIED"},
        {"SELECT nextval('orders_order_id_seq')", "E-GATE-FUNC-DENIED"},
        {"SELECT setval('s', 1)", "E-GATE-FUNC-DENIED"},
        {"SELECT pg_terminate_backend(1)", "E-GATE-FUNC-DENIED"},
        {"SELECT pg_cancel_backend(1)", "E-GATE-FUNC-DENIED"},
        {"SELECT pg_switch_wal()", "E-GATE-FUNC-DENIED"},
        {"SELECT txid_current()", "E-GATE-FUNC-DENIED"},
        {"SELECT query_to_xml('DELETE FROM orders RETURNING 1', true, false, '')",
         "E-GATE-FUNC-DENIED"},
        {"SELECT table_to_xml('customers', true, false, '')", "E-GATE-FUNC-DENIED"},
        {"SELECT ts_stat('SELECT 1')", "E-GATE-FUNC-DENIED"},
        {"SELECT pg_notify('c', 'x')", "E-GATE-FUNC-DENIED"},
        {"SELECT public.pg_sleep(1)", "E-GATE-FUNC-DENIED"},
        {"SELECT count(*) FILTER (WHERE pg_sleep(1) IS NULL) FROM orders", "E-GATE-FUNC-DENIED"},
        {"SELECT sum(x) OVER (ORDER BY pg_sleep(1)) FROM (VALUES (1)) v(x)",
         "E-GATE-FUNC-DENIED"},
        {"SELECT CASE WHEN true THEN pg_sleep(1) END", "E-GATE-FUNC-DENIED"},
        {"SELECT ARRAY[pg_sleep(1)]", "E-GATE-FUNC-DENIED"},
        {"SELECT * FROM ROWS FROM (generate_series(1,2), pg_sleep(1)) t", "E-GATE-FUNC-DENIED"},
        {"SELECT * FROM orders o, LATERAL (SELECT pg_sleep(1)) s", "E-GATE-FUNC-DENIED"},
    };
    RUN(cases);
}

static void test_pgparse_refuses_catalog_references(void **state)
{
    (void)state;
    static const struct pg_case cases[] = {
        {"SELECT * FROM pg_catalog.pg_tables", "E-GATE-CATALOG"},
        {"SELECT * FROM pg_tables", "E-GATE-CATALOG"},
        {"SELECT * FROM PG_AUTHID", "E-GATE-CATALOG"},
        {"SELECT * FROM information_schema.tables", "E-GATE-CATALOG"},
        {"SELECT * FROM \"information_schema\".\"columns\"", "E-GATE-CATALOG"},
        {"SELECT * FROM orders WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_user)",
         "E-GATE-CATALOG"},
        {"SELECT * FROM pg_toast.pg_toast_1234", "E-GATE-CATALOG"},
        {"SELECT 1 UNION SELECT count(*) FROM pg_shadow", "E-GATE-CATALOG"},
        {"SELECT * FROM orders o JOIN pg_stat_activity a ON true", "E-GATE-CATALOG"},
    };
    RUN(cases);
}

static void test_pgparse_reports_every_table_and_params(void **state)
{
    (void)state;
    struct pgparse_info info;
    char err[256];
    memset(&info, 0, sizeof(info));
    info.want_fingerprint = 1;
    assert_int_equal(pgparse_check("WITH t AS (SELECT * FROM a) SELECT * FROM t JOIN s.b ON "
                                   "true WHERE x IN (SELECT y FROM \"C\" WHERE z = $2) "
                                   "UNION SELECT * FROM a",
                                   &info, err, sizeof(err)),
                     DC_OK);
    assert_int_equal(info.nparams, 2);
    assert_true(info.fingerprint[0] != '\0');
    const char *want[] = {"a", "t", "s.b", "C"};
    assert_int_equal(info.ntables, 4);
    for (size_t i = 0; i < 4; i++) {
        int found = 0;
        for (size_t j = 0; j < info.ntables; j++)
            found |= strcmp(info.tables[j].full, want[i]) == 0;
        if (!found)
            print_error("table %s not reported\n", want[i]);
        assert_true(found);
    }
    pgparse_info_clear(&info);
    assert_int_equal(info.want_fingerprint, 1);

    /* The same query with other literals has the same fingerprint. */
    char f1[24], f2[24];
    assert_int_equal(pgparse_check("SELECT * FROM orders WHERE order_id = 1", &info, err,
                                   sizeof(err)),
                     DC_OK);
    snprintf(f1, sizeof(f1), "%s", info.fingerprint);
    pgparse_info_clear(&info);
    assert_int_equal(pgparse_check("SELECT * FROM orders WHERE order_id = 99", &info, err,
                                   sizeof(err)),
                     DC_OK);
    snprintf(f2, sizeof(f2), "%s", info.fingerprint);
    assert_string_equal(f1, f2);
    pgparse_info_clear(&info);

    memset(&info, 0, sizeof(info));
    assert_int_equal(pgparse_check("EXPLAIN SELECT 1", &info, err, sizeof(err)), DC_OK);
    assert_int_equal(info.explain, 1);
    assert_string_equal(info.fingerprint, "");
    pgparse_info_clear(&info);
}

static void test_pgparse_deny_list_matches_patterns(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_non_null(pgparse_denied_function("pg_ls_waldir", &why));
    assert_non_null(why);
    assert_non_null(pgparse_denied_function("PG_CREATE_LOGICAL_REPLICATION_SLOT", NULL));
    assert_non_null(pgparse_denied_function("lo_unlink", NULL));
    assert_null(pgparse_denied_function("lower", NULL));
    assert_null(pgparse_denied_function("count", NULL));
    assert_null(pgparse_denied_function("pg_size_pretty", NULL));
    assert_null(pgparse_denied_function(NULL, NULL));
}

static void test_pgparse_survives_hostile_input(void **state)
{
    (void)state;
    /* Deep nesting: refused (by the parser or the walk), never a crash. */
    size_t depth = 5000;
    char *sql = malloc(depth * 2 + 16);
    assert_non_null(sql);
    char *p = sql;
    p += sprintf(p, "SELECT ");
    for (size_t i = 0; i < depth; i++)
        *p++ = '(';
    *p++ = '1';
    for (size_t i = 0; i < depth; i++)
        *p++ = ')';
    *p = '\0';
    struct pgparse_info info;
    char err[256];
    memset(&info, 0, sizeof(info));
    int rc = pgparse_check(sql, &info, err, sizeof(err));
    assert_true(rc == DC_OK || rc == DC_EDENIED);
    pgparse_info_clear(&info);
    free(sql);
    assert_int_equal(pgparse_check(NULL, &info, err, sizeof(err)), DC_EDENIED);
    assert_string_equal(info.code, "E-GATE-EMPTY");
    pgparse_info_clear(&info);
    assert_int_equal(pgparse_check("SELECT 1", NULL, err, sizeof(err)), DC_EINVAL);
}

/* ---- the policy rewrite ---------------------------------------------------- */

static const char *const rw_denied[] = {"salary"};
static const struct pgparse_shadow rw_sh[] = {
    {"public", "employees", "SELECT \"id\", \"name\", 'x' AS \"ssn\" FROM \"public\".\"employees\" "
                            "WHERE (\nregion = 'EU'\n) OFFSET 0",
     rw_denied, 1},
};

/* pgparse_check_rewrite (one parse, then one of the result) decides as the
 * separate passes do: pgparse_check, then pgparse_rewrite; the same code,
 * the same text, the same tables. */
static void check_rewrite_agrees(const char *sql)
{
    struct pgparse_info a, b;
    struct pgparse_rewrite ra, rb;
    char err[512] = "";
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&ra, 0, sizeof(ra));
    memset(&rb, 0, sizeof(rb));
    int rc1 = pgparse_check_rewrite(sql, rw_sh, 1, &a, &ra, err, sizeof(err));
    int rc2 = pgparse_check(sql, &b, err, sizeof(err));
    if (rc2 == DC_OK)
        rc2 = pgparse_rewrite(sql, rw_sh, 1, &rb, err, sizeof(err));
    const char *code2 = b.code[0] ? b.code : rb.code;
    if (rc1 != rc2 || strcmp(a.code, code2) != 0 || strcmp(ra.code, code2) != 0 ||
        (ra.sql == NULL) != (rb.sql == NULL) || (ra.sql && strcmp(ra.sql, rb.sql) != 0)) {
        print_error("SQL: %s\n  one parse: rc %d code '%s' -> %s\n  separate: rc %d code '%s' "
                    "-> %s\n",
                    sql, rc1, a.code, ra.sql ? ra.sql : "", rc2, code2, rb.sql ? rb.sql : "");
        fail();
    }
    if (rc1 == DC_OK) {
        assert_int_equal(a.ntables, b.ntables);
        for (size_t i = 0; i < a.ntables; i++)
            assert_string_equal(a.tables[i].full, b.tables[i].full);
    }
    pgparse_info_clear(&a);
    pgparse_info_clear(&b);
    pgparse_rewrite_clear(&ra);
    pgparse_rewrite_clear(&rb);
}

/* Rewrites sql; want is the code ("" = rewritten) and, when accepted, the
 * number of references replaced. */
static char *rewrite(const char *sql, const char *code, size_t nrewritten)
{
    check_rewrite_agrees(sql);
    struct pgparse_rewrite rw;
    char err[512] = "";
    memset(&rw, 0, sizeof(rw));
    int rc = pgparse_rewrite(sql, rw_sh, 1, &rw, err, sizeof(err));
    if (strcmp(rw.code, code) != 0 || (code[0] ? rc != DC_EDENIED : rc != DC_OK) ||
        (!code[0] && rw.nrewritten != nrewritten)) {
        print_error("SQL: %s\n  wanted '%s' (%zu), got rc %d code '%s' (%zu): %s\n  -> %s\n", sql,
                    code, nrewritten, rc, rw.code, rw.nrewritten, err, rw.sql ? rw.sql : "");
        pgparse_rewrite_clear(&rw);
        fail();
    }
    if (code[0])
        assert_true(err[0] != '\0');
    char *out = rw.sql ? strdup(rw.sql) : NULL;
    pgparse_rewrite_clear(&rw);
    if (out) {
        /* The rewritten text is itself a statement the gate accepts. */
        struct pgparse_info info;
        memset(&info, 0, sizeof(info));
        assert_int_equal(pgparse_check(out, &info, err, sizeof(err)), DC_OK);
        pgparse_info_clear(&info);
    }
    return out;
}

static void test_pgcheck_rewrite_refuses_what_check_refuses_in_one_parse(void **state)
{
    (void)state;
    static const struct {
        const char *sql, *code;
    } cases[] = {
        {"DELETE FROM employees", "E-GATE-WRITE"},
        {"WITH d AS (DELETE FROM employees RETURNING *) SELECT * FROM d", "E-GATE-WRITE"},
        {"SELECT 1; SELECT name FROM employees", "E-GATE-MULTI"},
        {"SELECT pg_read_file('/etc/passwd') FROM employees", "E-GATE-FUNC-DENIED"},
        {"SELECT * FROM pg_catalog.pg_authid", "E-GATE-CATALOG"},
        {"SELECT name FROM employees FOR UPDATE", "E-GATE-LOCK"},
        {"SELECT salary FROM employees", "E-POLICY-COLUMN-DENIED"},
        {"WITH employees AS (SELECT 1) SELECT * FROM employees", "E-POLICY-DIRECT-READ"},
        {"SELECT name FROM", "E-GATE-PARSE"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pgparse_info info;
        struct pgparse_rewrite rw;
        char err[512] = "";
        memset(&info, 0, sizeof(info));
        memset(&rw, 0, sizeof(rw));
        int rc = pgparse_check_rewrite(cases[i].sql, rw_sh, 1, &info, &rw, err, sizeof(err));
        if (rc != DC_EDENIED || strcmp(info.code, cases[i].code) != 0 ||
            strcmp(rw.code, cases[i].code) != 0 || rw.sql) {
            print_error("%s: wanted %s, got rc %d '%s'/'%s': %s\n", cases[i].sql, cases[i].code,
                        rc, info.code, rw.code, err);
            fail();
        }
        assert_true(err[0] != '\0');
        pgparse_info_clear(&info);
        pgparse_rewrite_clear(&rw);
        check_rewrite_agrees(cases[i].sql);
    }
    /* Accepted: the tables of the user's text, and the text to run. */
    struct pgparse_info info;
    struct pgparse_rewrite rw;
    char err[512] = "";
    memset(&info, 0, sizeof(info));
    memset(&rw, 0, sizeof(rw));
    assert_int_equal(pgparse_check_rewrite("SELECT e.name FROM employees e JOIN dept d ON d.id = "
                                           "e.dept_id",
                                           rw_sh, 1, &info, &rw, err, sizeof(err)),
                     DC_OK);
    assert_int_equal(info.ntables, 2);
    assert_int_equal(rw.nrewritten, 1);
    assert_non_null(strstr(rw.sql, "OFFSET 0"));
    pgparse_info_clear(&info);
    pgparse_rewrite_clear(&rw);
    /* Nothing shadowed: the text is run as written. */
    assert_int_equal(pgparse_check_rewrite("SELECT 1", rw_sh, 1, &info, &rw, err, sizeof(err)),
                     DC_OK);
    assert_int_equal(rw.nrewritten, 0);
    assert_string_equal(rw.sql, "SELECT 1");
    pgparse_info_clear(&info);
    pgparse_rewrite_clear(&rw);
    assert_int_equal(pgparse_check_rewrite("SELECT 1", rw_sh, 1, NULL, &rw, err, sizeof(err)),
                     DC_EINVAL);
}

static void test_pgrewrite_replaces_every_reference_however_spelled(void **state)
{
    (void)state;
    static const struct {
        const char *sql;
        size_t n;
    } cases[] = {
        {"SELECT name FROM employees", 1},
        {"SELECT name FROM public.employees", 1},
        {"SELECT name FROM \"public\".\"employees\"", 1},
        {"SELECT name FROM U&\"\\0065mployees\"", 1},
        {"SELECT name FROM U&\"!0065mployees\" UESCAPE '!'", 1},
        {"SELECT name FROM EMPLOYEES", 1},
        {"SELECT name FROM public . /* c */ employees", 1},
        {"SELECT name FROM ONLY employees", 1},
        {"SELECT name FROM ONLY (employees)", 1},
        {"SELECT e.name FROM employees e JOIN employees AS f ON e.id = f.id", 2},
        {"SELECT * FROM (SELECT name FROM employees) s", 1},
        {"WITH x AS (SELECT name FROM employees) SELECT * FROM x", 1},
        {"SELECT name FROM employees UNION SELECT name FROM employees", 2},
        {"SELECT 1 WHERE EXISTS (SELECT 1 FROM employees)", 1},
        {"SELECT 1 WHERE 1 IN (SELECT id FROM employees)", 1},
        {"SELECT d.x FROM (VALUES (1)) d(x), LATERAL (SELECT name FROM employees "
         "WHERE id = d.x) l",
         1},
        {"EXPLAIN SELECT name FROM employees", 1},
        {"SELECT name FROM other.employees", 0},
        {"SELECT name FROM employee", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        free(rewrite(cases[i].sql, "", cases[i].n));
}

static void test_pgrewrite_filter_is_one_conjunct_and_alias_kept(void **state)
{
    (void)state;
    char *out = rewrite("SELECT e.name FROM employees e WHERE 1=1 OR region = 'US'", "", 1);
    assert_non_null(out);
    assert_non_null(strstr(out, "WHERE (\nregion = 'EU'\n) OFFSET 0\n) e WHERE 1=1 OR"));
    free(out);
    out = rewrite("SELECT employees.name FROM employees", "", 1);
    assert_non_null(strstr(out, ") AS \"employees\""));
    free(out);
}

static void test_pgrewrite_refuses_what_it_cannot_prove(void **state)
{
    (void)state;
    static const struct pg_case cases[] = {
        {"WITH employees AS (SELECT 1 AS name) SELECT name FROM employees",
         "E-POLICY-DIRECT-READ"},
        {"WITH RECURSIVE Employees(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM employees "
         "WHERE n < 3) SELECT * FROM employees",
         "E-POLICY-DIRECT-READ"},
        {"SELECT salary FROM employees", "E-POLICY-COLUMN-DENIED"},
        {"SELECT e.salary FROM employees e", "E-POLICY-COLUMN-DENIED"},
        {"SELECT count(*) FROM employees WHERE salary > 0", "E-POLICY-COLUMN-DENIED"},
        {"SELECT name FROM employees ORDER BY \"salary\"", "E-POLICY-COLUMN-DENIED"},
        {"SELECT a FROM employees AS e(a, b, c)", "E-POLICY-REWRITE"},
        {"TABLE employees", "E-POLICY-REWRITE"},
        {"SELECT public.leak()", "E-POLICY-FUNCTION"},
        {"SELECT 1 OPERATOR(public.===) 2", "E-POLICY-FUNCTION"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        free(rewrite(cases[i].sql, cases[i].code, 0));
}

static void test_pgrewrite_reports_names_for_the_catalog_check(void **state)
{
    (void)state;
    struct pgparse_rewrite rw;
    char err[256];
    memset(&rw, 0, sizeof(rw));
    assert_int_equal(pgparse_rewrite("WITH c AS (SELECT 1) SELECT lower(name), 1 + 2, "
                                     "pg_catalog.upper('a'), '1'::mytype FROM projects, c",
                                     rw_sh, 1, &rw, err, sizeof(err)),
                     DC_OK);
    assert_int_equal(rw.nrewritten, 0);
    assert_int_equal(rw.nctes, 1);
    assert_string_equal(rw.ctes[0], "c");
    assert_int_equal(rw.nfunctions, 1);
    assert_string_equal(rw.functions[0], "lower");
    assert_int_equal(rw.noperators, 1);
    assert_string_equal(rw.operators[0], "+");
    assert_int_equal(rw.ntypes, 1);
    assert_string_equal(rw.types[0], "mytype");
    pgparse_rewrite_clear(&rw);
    assert_int_equal(pgparse_rewrite(NULL, rw_sh, 1, &rw, err, sizeof(err)), DC_EINVAL);
}

/* Regression: protobuf-c unpacks recursively with no depth limit, so a
 * long left-deep chain (1+1+...+1, a few KiB of text) overflowed the stack
 * before the depth was checked. Refused, never a crash, at every length. */
static void test_pgparse_refuses_deep_operator_chains_without_crashing(void **state)
{
    (void)state;
    static const size_t terms[] = {3000, 8100, 30000};
    for (size_t k = 0; k < sizeof(terms) / sizeof(terms[0]); k++) {
        char *sql = malloc(terms[k] * 2 + 16);
        assert_non_null(sql);
        char *p = sql + sprintf(sql, "SELECT 1");
        for (size_t i = 0; i < terms[k]; i++) {
            *p++ = '+';
            *p++ = '1';
        }
        *p = '\0';
        struct pgparse_info info;
        struct pgparse_rewrite rw;
        char err[256];
        memset(&info, 0, sizeof(info));
        memset(&rw, 0, sizeof(rw));
        assert_int_equal(pgparse_check(sql, &info, err, sizeof(err)), DC_EDENIED);
        assert_string_equal(info.code, "E-GATE-PARSE");
        assert_non_null(strstr(err, "nested too deeply"));
        assert_int_equal(pgparse_rewrite(sql, NULL, 0, &rw, err, sizeof(err)), DC_EDENIED);
        assert_string_equal(rw.code, "E-GATE-PARSE");
        pgparse_info_clear(&info);
        pgparse_rewrite_clear(&rw);
        free(sql);
    }
    /* A shorter chain of the same shape is an ordinary query. */
    struct pgparse_info info;
    char sql[4100], err[256];
    char *p = sql + sprintf(sql, "SELECT 1");
    for (size_t i = 0; i < 1000; i++) {
        *p++ = '+';
        *p++ = '1';
    }
    *p = '\0';
    memset(&info, 0, sizeof(info));
    assert_int_equal(pgparse_check(sql, &info, err, sizeof(err)), DC_OK);
    pgparse_info_clear(&info);
}

/* The section of docs/SECURITY.md that starts at heading and ends at the
 * next heading of the same or a higher level. */
static char *doc_section(const char *heading)
{
    char path[1024];
    const char *src = getenv("DC_SOURCE_DIR");
    snprintf(path, sizeof(path), "%s/docs/SECURITY.md", src && *src ? src : DC_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    if (!f) {
        print_error("cannot open %s\n", path);
        return NULL;
    }
    static char doc[1 << 20];
    size_t n = fread(doc, 1, sizeof(doc) - 1, f);
    fclose(f);
    doc[n] = '\0';
    char *start = strstr(doc, heading);
    if (!start)
        return NULL;
    char *end = strstr(start + strlen(heading), "\n## ");
    char *end3 = strstr(start + strlen(heading), "\n### ");
    if (!end || (end3 && end3 < end))
        end = end3;
    size_t len = end ? (size_t)(end - start) : strlen(start);
    char *out = malloc(len + 1);
    if (out) {
        memcpy(out, start, len);
        out[len] = '\0';
    }
    return out;
}

/* Does the first column of some table row of sec hold `name`? */
static int doc_lists(const char *sec, const char *name)
{
    char want[128];
    snprintf(want, sizeof(want), "`%s`", name);
    for (const char *line = sec; line; line = strchr(line, '\n')) {
        line += *line == '\n';
        if (strncmp(line, "| `", 3) != 0)
            continue;
        const char *bar = strchr(line + 1, '|');
        const char *hit = strstr(line, want);
        if (hit && bar && hit < bar)
            return 1;
    }
    return 0;
}

static void test_pgparse_deny_list_and_catalog_rules_match_the_documentation(void **state)
{
    (void)state;
    char *sec = doc_section("### The PostgreSQL deny list");
    assert_non_null(sec);
    size_t n = 0;
    const char *name, *why;
    /* Every entry of the code's table is in the documented table ... */
    for (n = 0; (name = pgparse_deny_entry(n, &why)) != NULL; n++) {
        if (!doc_lists(sec, name))
            print_error("deny-list entry %s is not in docs/SECURITY.md\n", name);
        assert_true(doc_lists(sec, name));
        assert_non_null(why);
        assert_non_null(pgparse_denied_function(name, NULL));
    }
    assert_true(n > 40);
    /* ... and every name the documented table lists is in the code's. */
    size_t documented = 0;
    for (const char *p = sec; (p = strstr(p, "\n| `")) != NULL; p++) {
        const char *bar = strchr(p + 2, '|');
        for (const char *q = p + 2; (q = strchr(q, '`')) != NULL && bar && q < bar;) {
            const char *e = strchr(q + 1, '`');
            assert_non_null(e);
            char doc_name[128];
            snprintf(doc_name, sizeof(doc_name), "%.*s", (int)(e - q - 1), q + 1);
            int found = 0;
            for (size_t i = 0; (name = pgparse_deny_entry(i, NULL)) != NULL; i++)
                found |= strcmp(name, doc_name) == 0;
            if (!found)
                print_error("docs/SECURITY.md lists %s, which the deny list lacks\n", doc_name);
            assert_true(found);
            documented++;
            q = e + 1;
        }
    }
    assert_int_equal(documented, n);
    free(sec);

    /* The catalog rules: each pattern is named in the walk's rule. */
    sec = doc_section("### The validation walk");
    assert_non_null(sec);
    const char *rule = strstr(sec, "Every object with a `relname`");
    assert_non_null(rule);
    int schema = -1;
    for (n = 0; (name = pgparse_catalog_rule(n, &schema)) != NULL; n++) {
        char want[64];
        /* "pg_*" is written `pg_` in prose */
        snprintf(want, sizeof(want), "`%.*s`", (int)strcspn(name, "*"), name);
        if (!strstr(rule, want))
            print_error("catalog rule %s is not in docs/SECURITY.md\n", name);
        assert_non_null(strstr(rule, want));
        assert_true(schema == 0 || schema == 1);
    }
    assert_int_equal(n, 3);
    free(sec);
}

/* ---- the splice proof ------------------------------------------------------ */

static const struct pgparse_shadow proof_sh[] = {
    {"public", "employees",
     "SELECT \"id\", \"name\", \"region\", \"dept_id\", '***' AS \"ssn\" FROM "
     "\"public\".\"employees\" WHERE (\nregion = 'EU'\n) OFFSET 0",
     rw_denied, 1},
    {"public", "departments",
     "SELECT \"dept_id\", \"dname\" FROM \"public\".\"departments\" WHERE (\n"
     "dept_id IN (SELECT dept_id FROM employees) -- trailing comment\n) OFFSET 0",
     NULL, 0},
};
#define NPROOF (sizeof(proof_sh) / sizeof(proof_sh[0]))

/* Statements where the proof does not apply, and shapes around FROM items:
 * with the security corpora and the fuzz seeds, the whole corpus. */
static const char *const proof_extra[] = {
    "TABLE employees",
    "SELECT * FROM employees TABLESAMPLE SYSTEM (10)",
    "SELECT * FROM employees *",
    "SELECT * FROM employees * AS e",
    "SELECT * FROM ONLY employees e",
    "SELECT * FROM ONLY (employees) AS e",
    "SELECT * FROM (employees e JOIN departments d ON d.dept_id = e.dept_id)",
    "SELECT * FROM ((employees e CROSS JOIN departments))",
    "SELECT * FROM employees NATURAL JOIN departments",
    "SELECT * FROM departments d LEFT OUTER JOIN employees USING (dept_id)",
    "SELECT * FROM \"employees\"e, departments",
    "SELECT * FROM public.\"employees\"JOIN departments ON true",
    "SELECT * FROM/**/employees--c\n",
    "SELECT * FROM employees AS e(a, b)",
    "SELECT * FROM employees AS e(a, b, c, d, e, f)",
    "SELECT 1 FROM employees FOR UPDATE OF employees",
    "SELECT * INTO t FROM employees",
    "SELECT * FROM departments, LATERAL (SELECT * FROM employees) x",
    "SELECT * FROM ROWS FROM (generate_series(1, 2)) g, employees",
    "EXPLAIN (ANALYZE) SELECT * FROM employees JOIN departments USING (dept_id)",
    "WITH RECURSIVE r AS (SELECT 1 AS n FROM employees UNION ALL SELECT n + 1 FROM r) "
    "SELECT * FROM r, departments",
    "SELECT (SELECT count(*) FROM employees), array(SELECT dname FROM departments)",
    "SELECT * FROM U&\"!0065mployees\" UESCAPE '!' JOIN departments USING (dept_id)",
    "SELECT * FROM employees WHERE id IN (TABLE departments)",
    "SELECT * FROM xmltable('/r' PASSING (SELECT '<r/>'::xml FROM employees LIMIT 1) "
    "COLUMNS a int) x",
};

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                break;
            buf = nb;
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf ? buf : strdup("");
}

struct corpus {
    char **sql;
    size_t n;
};

static void corpus_add(struct corpus *c, const char *s, size_t len)
{
    char **v = realloc(c->sql, (c->n + 1) * sizeof(*v));
    assert_non_null(v);
    c->sql = v;
    assert_non_null(v[c->n] = strndup(s, len));
    c->n++;
}

/* The SQL column (the fifth) of every case line of a security suite. */
static void corpus_add_cases(struct corpus *c, const char *path)
{
    char *text = read_text(path);
    if (!text) {
        print_error("cannot read %s\n", path);
        fail();
    }
    for (char *line = text; line && *line;) {
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *p = line;
        int bars = 0;
        if (line[0] != '#')
            for (; p < line + len && bars < 4; p++)
                bars += *p == '|';
        if (bars == 4) {
            while (*p == ' ')
                p++;
            corpus_add(c, p, (size_t)(line + len - p));
        }
        line = end ? end + 1 : NULL;
    }
    free(text);
}

static void corpus_add_dir(struct corpus *c, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        print_error("cannot open %s\n", dir);
        fail();
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[2048];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        char *text = read_text(path);
        if (text && strlen(text) < 8192)
            corpus_add(c, text, strlen(text));
        free(text);
    }
    closedir(d);
}

struct outcome {
    int rc, reparsed;
    char code[40], rwcode[40];
    char *sql;
    size_t nrewritten, ntables;
};

static void run_mode(const char *sql, const struct pgparse_shadow *sh,
                     struct pgparse_fragment *const *frags, int verify, struct outcome *o)
{
    struct pgparse_info info;
    struct pgparse_rewrite rw;
    char err[512] = "";
    memset(&info, 0, sizeof(info));
    memset(&rw, 0, sizeof(rw));
    rw.verify = verify;
    rw.frags = (const struct pgparse_fragment *const *)frags;
    o->rc = pgparse_check_rewrite(sql, sh, NPROOF, &info, &rw, err, sizeof(err));
    snprintf(o->code, sizeof(o->code), "%s", info.code);
    snprintf(o->rwcode, sizeof(o->rwcode), "%s", rw.code);
    o->sql = rw.sql ? strdup(rw.sql) : NULL;
    o->nrewritten = rw.nrewritten;
    o->ntables = info.ntables;
    o->reparsed = rw.reparsed;
    if (o->rc == DC_EDENIED)
        assert_true(err[0] != '\0');
    pgparse_info_clear(&info);
    pgparse_rewrite_clear(&rw);
    assert_int_equal(rw.verify, verify); /* kept by _clear */
    assert_ptr_equal(rw.frags, frags);
}

static int same(const struct outcome *a, const struct outcome *b)
{
    return a->rc == b->rc && strcmp(a->code, b->code) == 0 &&
           strcmp(a->rwcode, b->rwcode) == 0 && (a->sql == NULL) == (b->sql == NULL) &&
           (!a->sql || strcmp(a->sql, b->sql) == 0) && a->nrewritten == b->nrewritten &&
           a->ntables == b->ntables;
}

/* The proof (shadow queries checked beforehand or on each call) and the
 * paranoid mode decide exactly as the full re-parse on every statement of
 * both security corpora, the fuzz seeds and the shapes above: what the
 * re-parse refuses the proof refuses, with the same code and text. */
static void test_pgrewrite_proof_decides_as_the_full_reparse_on_the_whole_corpus(void **state)
{
    (void)state;
    char dir[1024];
    const char *src = getenv("DC_SOURCE_DIR");
    struct corpus c = {NULL, 0};
    struct pgparse_shadow pre[NPROOF];
    struct pgparse_fragment *frag[NPROOF];
    memcpy(pre, proof_sh, sizeof(pre));
    for (size_t i = 0; i < NPROOF; i++) {
        char code[40], err[256];
        assert_int_equal(pgparse_fragment_new(proof_sh[i].query, &frag[i], code, err,
                                              sizeof(err)),
                         DC_OK);
        pre[i].query = NULL; /* the fragment's text is the one used */
    }
    src = src && *src ? src : DC_SOURCE_DIR;
    snprintf(dir, sizeof(dir), "%s/tests/security/pg_cases.txt", src);
    corpus_add_cases(&c, dir);
    snprintf(dir, sizeof(dir), "%s/tests/security/cases.txt", src);
    corpus_add_cases(&c, dir);
    snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/pgrewrite", src);
    corpus_add_dir(&c, dir);
    snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/pgparse", src);
    corpus_add_dir(&c, dir);
    for (size_t i = 0; i < sizeof(proof_extra) / sizeof(proof_extra[0]); i++)
        corpus_add(&c, proof_extra[i], strlen(proof_extra[i]));
    assert_true(c.n > 200);
    size_t proved = 0, fell_back = 0, refused = 0;
    for (size_t i = 0; i < c.n; i++) {
        struct outcome ref, fast, fast_each, both;
        run_mode(c.sql[i], proof_sh, NULL, PGPARSE_VERIFY_REPARSE, &ref);
        run_mode(c.sql[i], pre, frag, PGPARSE_VERIFY_PROOF, &fast);
        run_mode(c.sql[i], proof_sh, NULL, PGPARSE_VERIFY_PROOF, &fast_each);
        run_mode(c.sql[i], pre, frag, PGPARSE_VERIFY_BOTH, &both);
        if (!same(&ref, &fast) || !same(&ref, &fast_each) || !same(&ref, &both)) {
            print_error("SQL: %s\n  re-parse: rc %d '%s' %s\n  proof:    rc %d '%s' %s\n"
                        "  each:     rc %d '%s'\n  both:     rc %d '%s'\n",
                        c.sql[i], ref.rc, ref.code, ref.sql ? ref.sql : "", fast.rc, fast.code,
                        fast.sql ? fast.sql : "", fast_each.rc, fast_each.code, both.rc,
                        both.code);
            fail();
        }
        if (fast.rc == DC_OK && fast.nrewritten)
            fast.reparsed ? fell_back++ : proved++;
        refused += ref.rc != DC_OK;
        assert_true(ref.reparsed || ref.rc != DC_OK || !ref.nrewritten);
        struct outcome *all[] = {&ref, &fast, &fast_each, &both};
        for (size_t k = 0; k < 4; k++)
            free(all[k]->sql);
    }
    /* Both paths were exercised, and the proof carries the common case. */
    assert_true(proved > 100);
    assert_true(refused > 50);
    for (size_t i = 0; i < c.n; i++)
        free(c.sql[i]);
    free(c.sql);
    for (size_t i = 0; i < NPROOF; i++)
        pgparse_fragment_free(frag[i]);
    (void)fell_back;
}

/* Where the replaced tokens are not a plain FROM item the proof does not
 * apply and the rewritten text is parsed again; where they are, it is not. */
static void test_pgrewrite_proof_applies_only_to_plain_from_items(void **state)
{
    (void)state;
    static const struct {
        const char *sql;
        const char *code;
        int reparsed;
    } cases[] = {
        {"SELECT name FROM employees", "", 0},
        {"SELECT e.name FROM departments d JOIN employees e USING (dept_id)", "", 0},
        {"SELECT name FROM ONLY (employees)", "", 0},
        {"SELECT name FROM (employees e CROSS JOIN departments)", "", 0},
        {"SELECT name FROM public./**/employees", "", 0},
        {"TABLE employees", "E-POLICY-REWRITE", 1},
        {"SELECT name FROM employees TABLESAMPLE SYSTEM (10)", "E-POLICY-REWRITE", 1},
        {"SELECT name FROM employees *", "E-POLICY-REWRITE", 1},
        {"SELECT 1 WHERE 1 IN (TABLE employees)", "E-POLICY-REWRITE", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct outcome o;
        run_mode(cases[i].sql, proof_sh, NULL, PGPARSE_VERIFY_PROOF, &o);
        if (strcmp(o.code, cases[i].code) != 0 || o.reparsed != cases[i].reparsed) {
            print_error("SQL: %s\n  wanted '%s' reparsed %d, got '%s' reparsed %d\n",
                        cases[i].sql, cases[i].code, cases[i].reparsed, o.code, o.reparsed);
            fail();
        }
        free(o.sql);
    }
}

/* A shadow query is checked as one parenthesised SELECT under every rule,
 * once (pgparse_fragment_new) or, without a fragment, on each call. */
static void test_pgfragment_refuses_anything_but_one_parenthesised_select(void **state)
{
    (void)state;
    static const struct pg_case cases[] = {
        {"SELECT 1 AS a -- no newline after this comment", ""},
        {"WITH x AS (SELECT 1 AS a) SELECT a FROM x OFFSET 0", ""},
        {"SELECT 1;", "E-GATE-PARSE"},
        {"SELECT 1) AS a, (SELECT 2", "E-POLICY-REWRITE"},
        {"SELECT 1) AS a CROSS JOIN (SELECT 2", "E-POLICY-REWRITE"},
        {"SELECT pg_sleep(1) AS a", "E-GATE-FUNC-DENIED"},
        {"SELECT * FROM pg_catalog.pg_authid", "E-GATE-CATALOG"},
        {"SELECT 1 FOR UPDATE", "E-GATE-LOCK"},
        {"DELETE FROM employees RETURNING id", "E-GATE-PARSE"},
        {"SELECT 1 /* unterminated", "E-GATE-PARSE"},
        {"SELECT '", "E-GATE-PARSE"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pgparse_fragment *f = NULL;
        char code[40] = "", err[256] = "";
        int rc = pgparse_fragment_new(cases[i].sql, &f, code, err, sizeof(err));
        if (strcmp(code, cases[i].code) != 0 || (rc == DC_OK) != !cases[i].code[0] ||
            (rc == DC_OK) != (f != NULL)) {
            print_error("fragment %s: wanted '%s', got rc %d '%s': %s\n", cases[i].sql,
                        cases[i].code, rc, code, err);
            fail();
        }
        if (f)
            assert_string_equal(pgparse_fragment_text(f), cases[i].sql);
        else
            assert_true(err[0] != '\0');
        pgparse_fragment_free(f);
        if (!cases[i].code[0])
            continue;
        /* Unchecked, it is refused when a statement would use it. */
        struct pgparse_shadow bad = {"public", "employees", cases[i].sql, NULL, 0};
        struct outcome o;
        for (int verify = PGPARSE_VERIFY_PROOF; verify <= PGPARSE_VERIFY_BOTH; verify++) {
            struct pgparse_info info;
            struct pgparse_rewrite rw;
            memset(&info, 0, sizeof(info));
            memset(&rw, 0, sizeof(rw));
            rw.verify = verify;
            o.rc = pgparse_check_rewrite("SELECT * FROM employees", &bad, 1, &info, &rw, err,
                                         sizeof(err));
            assert_int_equal(o.rc, DC_EDENIED);
            assert_string_equal(rw.code, "E-POLICY-REWRITE");
            assert_null(rw.sql);
            pgparse_info_clear(&info);
            pgparse_rewrite_clear(&rw);
        }
    }
    struct pgparse_fragment *f = NULL;
    assert_int_equal(pgparse_fragment_new(NULL, &f, NULL, NULL, 0), DC_EINVAL);
    assert_int_equal(pgparse_fragment_new("SELECT 1", NULL, NULL, NULL, 0), DC_EINVAL);
    struct pgparse_shadow none = {"public", "employees", NULL, NULL, 0};
    struct pgparse_rewrite rw;
    char err[64];
    memset(&rw, 0, sizeof(rw));
    assert_int_equal(pgparse_rewrite("SELECT 1", &none, 1, &rw, err, sizeof(err)), DC_EINVAL);
    pgparse_fragment_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pgparse_accepts_reading_queries),
        cmocka_unit_test(test_pgparse_refuses_writes_anywhere),
        cmocka_unit_test(test_pgparse_refuses_session_and_transaction_control),
        cmocka_unit_test(test_pgparse_refuses_multiple_statements),
        cmocka_unit_test(test_pgparse_refuses_denied_functions_however_spelled),
        cmocka_unit_test(test_pgparse_refuses_catalog_references),
        cmocka_unit_test(test_pgparse_reports_every_table_and_params),
        cmocka_unit_test(test_pgparse_deny_list_matches_patterns),
        cmocka_unit_test(test_pgparse_survives_hostile_input),
        cmocka_unit_test(test_pgrewrite_replaces_every_reference_however_spelled),
        cmocka_unit_test(test_pgrewrite_filter_is_one_conjunct_and_alias_kept),
        cmocka_unit_test(test_pgrewrite_refuses_what_it_cannot_prove),
        cmocka_unit_test(test_pgrewrite_reports_names_for_the_catalog_check),
        cmocka_unit_test(test_pgcheck_rewrite_refuses_what_check_refuses_in_one_parse),
        cmocka_unit_test(test_pgparse_refuses_deep_operator_chains_without_crashing),
        cmocka_unit_test(test_pgparse_deny_list_and_catalog_rules_match_the_documentation),
        cmocka_unit_test(test_pgrewrite_proof_decides_as_the_full_reparse_on_the_whole_corpus),
        cmocka_unit_test(test_pgrewrite_proof_applies_only_to_plain_from_items),
        cmocka_unit_test(test_pgfragment_refuses_anything_but_one_parenthesised_select),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
