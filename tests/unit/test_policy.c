/* Access policies: the loader (every error class with file:line:col),
 * role merging and defaults, checks against a live catalog, the catalog a
 * principal sees, and the gate enforcing them on a real SQLite database:
 * filters, masks, denials, rate and concurrency limits, the audit field. */
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
#include <sqlite3.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "audit.h"
#include "config.h"
#include "db.h"
#include "gate.h"
#include "hostapi.h"
#include "policy.h"
#include "registry.h"
#include "result.h"
#include "schema.h"

#ifndef DC_SQLITE_PLUGIN
#define DC_SQLITE_PLUGIN DC_BINARY_DIR "/plugins/connector-sqlite.so"
#endif

static const char *GOOD =
    "principals:\n"
    "  staff:\n"
    "    databases:\n"
    "      hr:\n"
    "        max_rows: 500\n"
    "        queries_per_minute: 10\n"
    "        tables:\n"
    "          depts: { allowed: true }\n"
    "          people: { allowed: false }\n"
    "  analyst:\n"
    "    roles: [staff]\n"
    "    databases:\n"
    "      hr:\n"
    "        mode: read_only\n"
    "        max_rows: 100\n"
    "        statement_timeout_ms: 2000\n"
    "        concurrent_queries: 1\n"
    "        tables:\n"
    "          main.people:\n"
    "            allowed: true\n"
    "            row_filter: \"region = 'EU'\"\n"
    "            columns:\n"
    "              denied: [salary]\n"
    "              masked: { ssn: last4, email: email, phone: hash, notes: \"null\",\n"
    "                        code: { sql: \"upper(code)\" } }\n"
    "          secrets: { allowed: false }\n"
    "        default_table: { allowed: true }\n";

/* Loads text and expects one diagnostic with code at line:col. */
static void expect_error(const char *text, const char *code, int line, int col)
{
    struct policy_set *ps = NULL;
    struct cfg_diags d;
    int rc = policy_load_string(text, strlen(text), "p.yaml", &ps, &d);
    assert_int_equal(rc, DC_EINVAL);
    assert_null(ps);
    assert_true(d.n >= 1);
    if (strcmp(d.d[0].code, code) != 0)
        fail_msg("expected %s, got %s: %s", code, d.d[0].code, d.d[0].msg);
    assert_string_equal(d.d[0].file, "p.yaml");
    if (line)
        assert_int_equal(d.d[0].line, line);
    if (col)
        assert_int_equal(d.d[0].col, col);
}

static void test_policy_loads_the_pinned_format(void **state)
{
    (void)state;
    struct policy_set *ps = NULL;
    struct cfg_diags d;
    assert_int_equal(policy_load_string(GOOD, strlen(GOOD), "p.yaml", &ps, &d), DC_OK);
    assert_int_equal(ps->np, 2);
    const struct policy_principal *a = policy_find(ps, "analyst");
    assert_non_null(a);
    assert_int_equal(a->nroles, 1);
    assert_string_equal(a->dbs[0].tables[0].name, "people"); /* "main." dropped */
    assert_int_equal(a->dbs[0].tables[0].ncols, 6);
    policy_set_free(ps);
}

static void test_policy_rejects_unknown_key_with_line(void **state)
{
    (void)state;
    expect_error("principals:\n  a:\n    databases:\n      hr:\n        max_rowz: 5\n",
                 "E-POLICY-UNKNOWN-KEY", 5, 9);
    expect_error("principalz: {}\n", "E-POLICY-UNKNOWN-KEY", 1, 1);
    expect_error("principals:\n  a:\n    databases:\n      hr:\n        tables:\n"
                 "          t: { allow: true }\n",
                 "E-POLICY-UNKNOWN-KEY", 6, 16);
}

static void test_policy_rejects_unknown_mask_rule(void **state)
{
    (void)state;
    expect_error("principals:\n  a:\n    databases:\n      hr:\n        tables:\n"
                 "          t:\n            columns:\n              masked: { ssn: last5 }\n",
                 "E-POLICY-UNKNOWN-MASK", 8, 30);
    expect_error("principals:\n  a:\n    databases:\n      hr:\n        tables:\n"
                 "          t:\n            columns:\n              masked: { ssn: { expr: x } }\n",
                 "E-POLICY-UNKNOWN-MASK", 8, 0);
}

static void test_policy_rejects_bad_values_and_types(void **state)
{
    (void)state;
    expect_error("principals:\n  a:\n    databases:\n      hr:\n        max_rows: -3\n",
                 "E-POLICY-VALUE", 5, 19);
    expect_error("principals:\n  a:\n    databases:\n      hr:\n        max_rows: 10x\n",
                 "E-POLICY-VALUE", 5, 0);
    expect_error("principals:\n  a:\n    databases:\n      hr:\n        mode: read_write\n",
                 "E-POLICY-MODE", 5, 15);
    expect_error("principals:\n  a:\n    databases:\n      hr:\n        tables:\n"
                 "          t: { allowed: maybe }\n",
                 "E-POLICY-TYPE", 6, 25);
    expect_error("principals: [a, b]\n", "E-POLICY-TYPE", 1, 13);
    expect_error("principals:\n  a:\n    roles: staff\n", "E-POLICY-TYPE", 3, 12);
    expect_error("principals:\n  a:\n    databases:\n      hr:\n        tables:\n"
                 "          t: { row_filter: \"  \" }\n",
                 "E-POLICY-ROW-FILTER", 6, 0);
}

static void test_policy_rejects_syntax_duplicates_and_conflicts(void **state)
{
    (void)state;
    expect_error("principals:\n  a: [\n", "E-POLICY-SYNTAX", 0, 0);
    expect_error("", "E-POLICY-EMPTY", 0, 0);
    expect_error("principals:\n  a: {}\n  a: {}\n", "E-POLICY-DUPLICATE", 3, 3);
    expect_error("principals:\n  a:\n    databases:\n      hr:\n        tables:\n"
                 "          t: {}\n          main.t: {}\n",
                 "E-POLICY-DUPLICATE", 7, 11);
    expect_error("principals:\n  a:\n    databases:\n      hr:\n        tables:\n"
                 "          t:\n            columns:\n              denied: [x]\n"
                 "              masked: { x: hash }\n",
                 "E-POLICY-CONFLICT", 9, 25);
}

static void test_policy_rejects_unknown_roles_and_cycles(void **state)
{
    (void)state;
    expect_error("principals:\n  a:\n    roles: [ghost]\n", "E-POLICY-UNKNOWN-ROLE", 3, 13);
    expect_error("principals:\n  a:\n    roles: [b]\n  b:\n    roles: [a]\n",
                 "E-POLICY-ROLE-CYCLE", 0, 0);
    expect_error("principals:\n  a:\n    roles: [a]\n", "E-POLICY-ROLE-CYCLE", 3, 13);
}

static void test_policy_glob_matching_nothing_is_an_error(void **state)
{
    (void)state;
    struct policy_set *ps = NULL;
    struct cfg_diags d;
    assert_int_equal(policy_load_glob("/nonexistent-dir-xyz/*.yaml", &ps, &d), DC_EINVAL);
    assert_null(ps);
    assert_string_equal(d.d[0].code, "E-POLICY-FILE");
}

static void test_policy_roles_merge_principal_first(void **state)
{
    (void)state;
    struct policy_set *ps = NULL;
    struct policy_rules *r = NULL;
    struct cfg_diags d;
    assert_int_equal(policy_load_string(GOOD, strlen(GOOD), "p.yaml", &ps, &d), DC_OK);
    assert_int_equal(policy_resolve(ps, "analyst", "hr", &r), DC_OK);
    assert_int_equal(r->max_rows, 100);   /* own value wins */
    assert_int_equal(r->per_minute, 10);  /* from the role */
    assert_int_equal(r->timeout_ms, 2000);
    assert_int_equal(r->concurrent, 1);
    assert_true(policy_table_allowed(r, "people"));      /* own rule beats the role's deny */
    assert_true(policy_table_allowed(r, "public.people"));
    assert_true(policy_table_allowed(r, "depts"));       /* from the role */
    assert_false(policy_table_allowed(r, "secrets"));
    assert_true(policy_table_allowed(r, "anything_else")); /* default_table */
    assert_true(policy_column_denied(r, "people", "SALARY"));
    assert_true(policy_table_shadowed(policy_rules_table(r, "people")));
    assert_false(policy_table_shadowed(policy_rules_table(r, "depts")));
    policy_rules_free(r);

    assert_int_equal(policy_resolve(ps, "staff", "hr", &r), DC_OK);
    assert_false(policy_table_allowed(r, "people"));
    assert_false(policy_table_allowed(r, "anything_else")); /* default is deny */
    policy_rules_free(r);

    assert_int_equal(policy_resolve(ps, "staff", "other", &r), DC_OK);
    assert_false(r->has_db);
    assert_false(policy_table_allowed(r, "depts"));
    policy_rules_free(r);

    assert_int_equal(policy_resolve(ps, "nobody", "hr", &r), DC_ENOTFOUND);
    policy_set_free(ps);
}

static struct dc_schema *hr_schema(int with_salary)
{
    struct dc_schema *s = schema_new();
    assert_non_null(s);
    struct dc_column_info pc[7];
    const char *names[] = {"id", "region", "ssn", "email", "phone", "notes", "salary"};
    memset(pc, 0, sizeof(pc));
    for (int i = 0; i < 7; i++) {
        pc[i].struct_size = sizeof(pc[i]);
        pc[i].name = names[i];
        pc[i].decl_type = "TEXT";
        pc[i].type = DC_TEXT;
    }
    struct dc_column_info code = pc[0];
    code.name = "code";
    struct dc_column_info all[8];
    memcpy(all, pc, sizeof(pc));
    all[7] = code;
    struct dc_table_info t = {sizeof(t), NULL, "people", "table", 10, NULL,
                              with_salary ? 8 : 6, all, 0, NULL};
    if (!with_salary) {
        all[6] = code;
        t.ncolumns = 7;
    }
    assert_int_equal(schema_add_table(s, &t), DC_OK);
    struct dc_table_info u = {sizeof(u), NULL, "secrets", "table", 1, NULL, 1, pc, 0, NULL};
    assert_int_equal(schema_add_table(s, &u), DC_OK);
    struct dc_table_info v = {sizeof(v), NULL, "depts", "table", 1, NULL, 1, pc, 0, NULL};
    assert_int_equal(schema_add_table(s, &v), DC_OK);
    return s;
}

static void test_policy_checks_tables_and_columns_against_schema(void **state)
{
    (void)state;
    struct policy_set *ps = NULL;
    struct cfg_diags d;
    assert_int_equal(policy_load_string(GOOD, strlen(GOOD), "p.yaml", &ps, &d), DC_OK);
    struct dc_schema *s = hr_schema(1);
    memset(&d, 0, sizeof(d));
    assert_int_equal(policy_check_schema(ps, "hr", s, &d), DC_OK);
    schema_free(s);

    s = hr_schema(0); /* no salary column */
    memset(&d, 0, sizeof(d));
    assert_int_equal(policy_check_schema(ps, "hr", s, &d), DC_EINVAL);
    assert_string_equal(d.d[0].code, "E-POLICY-NO-COLUMN");
    assert_int_equal(d.d[0].line, 23);
    schema_free(s);

    s = schema_new();
    memset(&d, 0, sizeof(d));
    assert_int_equal(policy_check_schema(ps, "hr", s, &d), DC_EINVAL);
    assert_string_equal(d.d[0].code, "E-POLICY-NO-TABLE");
    assert_true(d.d[0].line > 0);
    schema_free(s);
    policy_set_free(ps);
}

static void test_policy_filters_the_catalog(void **state)
{
    (void)state;
    struct policy_set *ps = NULL;
    struct policy_rules *r = NULL;
    struct dc_schema *out = NULL;
    struct cfg_diags d;
    assert_int_equal(policy_load_string(GOOD, strlen(GOOD), "p.yaml", &ps, &d), DC_OK);
    assert_int_equal(policy_resolve(ps, "analyst", "hr", &r), DC_OK);
    struct dc_schema *s = hr_schema(1);
    assert_int_equal(policy_filter_schema(r, s, &out), DC_OK);
    assert_null(schema_find(out, "secrets"));
    const struct dc_table_info *t = schema_find(out, "people");
    assert_non_null(t);
    assert_int_equal(t->ncolumns, 7); /* salary gone */
    assert_int_equal(t->row_count, -1); /* filtered: no count to give the filter away */
    for (size_t i = 0; i < t->ncolumns; i++)
        assert_string_not_equal(t->columns[i].name, "salary");
    schema_free(out);
    schema_free(s);
    policy_rules_free(r);
    policy_set_free(ps);
}

static void test_policy_session_sql_shadows_and_stubs(void **state)
{
    (void)state;
    struct policy_set *ps = NULL;
    struct policy_rules *r = NULL;
    struct cfg_diags d;
    char **v = NULL;
    size_t n = 0;
    char err[256];
    assert_int_equal(policy_load_string(GOOD, strlen(GOOD), "p.yaml", &ps, &d), DC_OK);
    assert_int_equal(policy_resolve(ps, "analyst", "hr", &r), DC_OK);
    struct dc_schema *s = hr_schema(1);
    assert_int_equal(policy_session_sql(r, s, "sqlite", 0, &v, &n, err, sizeof(err)), DC_OK);
    assert_int_equal(n, 1);
    assert_non_null(strstr(v[0], "CREATE TEMP VIEW \"people\""));
    assert_non_null(strstr(v[0], "FROM main.\"people\" WHERE (\nregion = 'EU'\n)"));
    assert_null(strstr(v[0], "\"salary\""));
    assert_non_null(strstr(v[0], "dc_mask_hash(\"phone\")"));
    policy_strv_free(v, n);
    assert_int_equal(policy_session_sql(r, s, "sqlite", 1, &v, &n, err, sizeof(err)), DC_OK);
    assert_int_equal(n, 1);
    assert_non_null(strstr(v[0], "NULL AS \"salary\""));
    assert_null(strstr(v[0], "main."));
    policy_strv_free(v, n);
    assert_int_equal(policy_session_sql(r, s, "postgres", 0, &v, &n, err, sizeof(err)),
                     DC_EUNSUPPORTED);
    schema_free(s);
    policy_rules_free(r);
    policy_set_free(ps);
}

static void test_policy_postgres_shadow_query_masks_filters_and_drops(void **state)
{
    (void)state;
    struct policy_set *ps = NULL;
    struct policy_rules *r = NULL;
    struct cfg_diags d;
    assert_int_equal(policy_load_string(GOOD, strlen(GOOD), "p.yaml", &ps, &d), DC_OK);
    assert_int_equal(policy_resolve(ps, "analyst", "hr", &r), DC_OK);
    struct dc_schema *s = hr_schema(1);
    const struct dc_table_info *ti = schema_find(s, "people");
    assert_non_null(ti);
    char *q = policy_shadow_query(policy_rules_table(r, "people"), ti, "postgres");
    assert_non_null(q);
    assert_true(strncmp(q, "SELECT ", 7) == 0);
    assert_non_null(strstr(q, "WHERE (\nregion = 'EU'\n) OFFSET 0"));
    assert_null(strstr(q, "\"salary\""));
    assert_non_null(strstr(q, "pg_catalog.sha256("));
    assert_null(strstr(q, "dc_mask_hash"));
    free(q);
    assert_null(policy_shadow_query(policy_rules_table(r, "people"), ti, "sqlite"));
    /* Every mask has a PostgreSQL form, over pg_catalog functions only. */
    for (int m = POLICY_MASK_EMAIL; m <= POLICY_MASK_SQL; m++) {
        char *e = policy_mask_expr(m, "upper(@)", "\"c\"", "postgres");
        assert_non_null(e);
        assert_null(strstr(e, "dc_mask"));
        free(e);
    }
    char *e = policy_mask_expr(POLICY_MASK_LAST4, NULL, "\"ssn\"", "postgres");
    assert_non_null(strstr(e, "pg_catalog.right(CAST(\"ssn\" AS text), 4)"));
    free(e);
    schema_free(s);
    policy_rules_free(r);
    policy_set_free(ps);
}

/* ---- The gate enforcing a policy on SQLite ------------------------------- */

struct fixture {
    void *dl;
    struct dc_plugin_ref ref;
    struct cfg_opt opt;
    struct dc_opts opts;
    struct db db;
    struct audit *audit;
    struct gate *gate;
    struct policy_set *ps;
    char dir[64];
    char db_path[128];
    char audit_path[128];
};

static const char *GATE_POLICY =
    "principals:\n"
    "  analyst:\n"
    "    databases:\n"
    "      hr:\n"
    "        max_rows: 2\n"
    "        statement_timeout_ms: 3000\n"
    "        queries_per_minute: 3\n"
    "        concurrent_queries: 1\n"
    "        tables:\n"
    "          people:\n"
    "            row_filter: \"region = 'EU'\"\n"
    "            columns: { denied: [salary], masked: { ssn: last4 } }\n"
    "        default_table: { allowed: true }\n"
    "  broken:\n"
    "    databases:\n"
    "      other:\n"
    "        tables: { nothere: { allowed: true } }\n";

static int gate_setup(void **state)
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
    snprintf(f->dir, sizeof(f->dir), "/tmp/dc-policy-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db_path, sizeof(f->db_path), "%s/hr.db", f->dir);
    snprintf(f->audit_path, sizeof(f->audit_path), "%s/audit.jsonl", f->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->db_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE people(id INTEGER PRIMARY KEY, region TEXT, "
                                  "ssn TEXT, salary INTEGER);"
                                  "INSERT INTO people VALUES (1,'EU','123-45-6789',10),"
                                  "(2,'EU','223-45-6789',20),(3,'US','323-45-6789',30),"
                                  "(4,'EU','423-45-6789',40);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    f->opt.key = (char *)"path";
    f->opt.value = f->db_path;
    f->opts.opts = &f->opt;
    f->opts.nopts = 1;
    f->opts.decl = ((const struct dc_connector_vtable *)f->ref.vtable)->options;
    struct dc_host h;
    hostapi_init(&h, NULL);
    assert_int_equal(db_init(&f->db, "hr", &f->ref, &f->opts, &h), DC_OK);
    char err[512] = "";
    if (audit_open(f->audit_path, AUDIT_FSYNC_NEVER, &f->audit, err, sizeof(err)) != DC_OK)
        fail_msg("audit_open: %s", err);
    assert_int_equal(gate_new(f->audit, NULL, &f->gate), DC_OK);
    struct cfg_diags d;
    assert_int_equal(
        policy_load_string(GATE_POLICY, strlen(GATE_POLICY), "gate.yaml", &f->ps, &d), DC_OK);
    gate_set_policies(f->gate, f->ps);
    *state = f;
    return 0;
}

static int gate_teardown(void **state)
{
    struct fixture *f = *state;
    char p[256];
    gate_free(f->gate);
    policy_set_free(f->ps);
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

static int run(struct fixture *f, const char *who, const char *sql, struct dc_result **out,
               struct gate_decision *dec)
{
    memset(dec, 0, sizeof(*dec));
    return gate_run(f->gate, who, &f->db, sql, NULL, 0, NULL, out, dec);
}

static void test_gate_policy_filters_masks_and_caps_rows(void **state)
{
    struct fixture *f = *state;
    struct dc_result *r = NULL;
    struct gate_decision dec;
    assert_int_equal(run(f, "analyst", "SELECT id, ssn FROM people ORDER BY id", &r, &dec), DC_OK);
    assert_int_equal(result_nrows(r), 2); /* max_rows 2 of the 3 EU rows */
    assert_true(result_truncated(r));
    assert_string_equal(result_get(r, 0, 1)->v.s.p, "***6789");
    assert_true(dec.npolicies >= 1);
    assert_non_null(strstr(dec.limits, "max_rows=2"));
    result_free(r);
    gate_decision_clear(&dec);
    assert_int_equal(run(f, "analyst", "SELECT count(*) FROM people WHERE region = 'US' OR 1", &r,
                         &dec),
                     DC_OK);
    assert_int_equal(result_get(r, 0, 0)->v.i, 3);
    result_free(r);
    gate_decision_clear(&dec);
}

static void test_gate_policy_refuses_with_codes(void **state)
{
    struct fixture *f = *state;
    struct gate_decision dec;
    assert_int_equal(run(f, "analyst", "SELECT salary FROM people", NULL, &dec), DC_EDENIED);
    assert_string_equal(dec.code, "E-POLICY-COLUMN-DENIED");
    gate_decision_clear(&dec);
    assert_int_equal(run(f, "analyst", "SELECT id FROM main.people", NULL, &dec), DC_EDENIED);
    assert_string_equal(dec.code, "E-POLICY-DIRECT-READ");
    gate_decision_clear(&dec);
    assert_int_equal(run(f, "stranger", "SELECT 1", NULL, &dec), DC_EDENIED);
    assert_string_equal(dec.code, "E-POLICY-NO-PRINCIPAL");
    gate_decision_clear(&dec);
    /* explain judges the same way and does not spend the rate budget */
    for (int i = 0; i < 5; i++) {
        memset(&dec, 0, sizeof(dec));
        assert_int_equal(gate_explain(f->gate, "analyst", &f->db, "SELECT * FROM people", &dec),
                         DC_EDENIED);
        assert_string_equal(dec.code, "E-POLICY-COLUMN-DENIED");
        gate_decision_clear(&dec);
    }
}

static void test_gate_policy_rate_limit_reports_budget(void **state)
{
    struct fixture *f = *state;
    struct gate_decision dec;
    struct dc_result *r = NULL;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(run(f, "analyst", "SELECT 1", &r, &dec), DC_OK);
        result_free(r);
        gate_decision_clear(&dec);
    }
    assert_int_equal(run(f, "analyst", "SELECT 1", &r, &dec), DC_EDENIED);
    assert_null(r);
    assert_string_equal(dec.code, "E-POLICY-RATE");
    assert_non_null(strstr(dec.reason, "0 left"));
    assert_non_null(strstr(dec.reason, "ms"));
    gate_decision_clear(&dec);
}

struct slow {
    struct fixture *f;
    int rc;
};

static void *slow_query(void *arg)
{
    struct slow *s = arg;
    struct gate_decision dec;
    struct dc_result *r = NULL;
    memset(&dec, 0, sizeof(dec));
    s->rc = gate_run(s->f->gate, "analyst", &s->f->db,
                     "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) "
                     "SELECT count(*) FROM c",
                     NULL, 0, NULL, &r, &dec);
    result_free(r);
    gate_decision_clear(&dec);
    return NULL;
}

static void test_gate_policy_concurrency_limit(void **state)
{
    struct fixture *f = *state;
    struct slow s = {f, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, slow_query, &s), 0);
    usleep(300 * 1000);
    struct gate_decision dec;
    assert_int_equal(run(f, "analyst", "SELECT 1", NULL, &dec), DC_EDENIED);
    assert_string_equal(dec.code, "E-POLICY-CONCURRENCY");
    assert_non_null(strstr(dec.reason, "0 left"));
    gate_decision_clear(&dec);
    pthread_join(th, NULL);
    assert_int_equal(s.rc, DC_ETIMEOUT); /* statement_timeout_ms 3000 stopped it */
}

static void test_gate_policy_catalog_hides_denied(void **state)
{
    struct fixture *f = *state;
    char err[256] = "";
    const struct dc_schema *s = gate_schema(f->gate, "analyst", &f->db, err, sizeof(err));
    assert_non_null(s);
    const struct dc_table_info *t = schema_find(s, "people");
    assert_non_null(t);
    for (size_t i = 0; i < t->ncolumns; i++)
        assert_string_not_equal(t->columns[i].name, "salary");
    assert_null(gate_schema(f->gate, "stranger", &f->db, err, sizeof(err)));
    assert_non_null(strstr(err, "E-POLICY-NO-PRINCIPAL"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_loads_the_pinned_format),
        cmocka_unit_test(test_policy_rejects_unknown_key_with_line),
        cmocka_unit_test(test_policy_rejects_unknown_mask_rule),
        cmocka_unit_test(test_policy_rejects_bad_values_and_types),
        cmocka_unit_test(test_policy_rejects_syntax_duplicates_and_conflicts),
        cmocka_unit_test(test_policy_rejects_unknown_roles_and_cycles),
        cmocka_unit_test(test_policy_glob_matching_nothing_is_an_error),
        cmocka_unit_test(test_policy_roles_merge_principal_first),
        cmocka_unit_test(test_policy_checks_tables_and_columns_against_schema),
        cmocka_unit_test(test_policy_filters_the_catalog),
        cmocka_unit_test(test_policy_session_sql_shadows_and_stubs),
        cmocka_unit_test(test_policy_postgres_shadow_query_masks_filters_and_drops),
        cmocka_unit_test_setup_teardown(test_gate_policy_filters_masks_and_caps_rows, gate_setup,
                                        gate_teardown),
        cmocka_unit_test_setup_teardown(test_gate_policy_refuses_with_codes, gate_setup,
                                        gate_teardown),
        cmocka_unit_test_setup_teardown(test_gate_policy_rate_limit_reports_budget, gate_setup,
                                        gate_teardown),
        cmocka_unit_test_setup_teardown(test_gate_policy_concurrency_limit, gate_setup,
                                        gate_teardown),
        cmocka_unit_test_setup_teardown(test_gate_policy_catalog_hides_denied, gate_setup,
                                        gate_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
