/* Config graph loader: every error class with its code and exact position,
 * the plugin-dependent checks against fake descriptors, defaults, paths,
 * graph output and the option accessors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <datachat/plugin.h>

#include "config.h"

#define TEST_FILE "/nonexistent-cfg-dir/datachat.yaml"
#define TEST_DIR "/nonexistent-cfg-dir"

struct fixture {
    struct cfg_diags d;
    struct dc_config *cfg;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    config_free(f->cfg);
    free(f);
    return 0;
}

static int load(struct fixture *f, const char *yaml)
{
    config_free(f->cfg);
    f->cfg = NULL;
    return config_load_string(yaml, strlen(yaml), TEST_FILE, &f->cfg, &f->d);
}

static void dump(const struct cfg_diags *d)
{
    char buf[1200];
    for (size_t i = 0; i < d->n; i++) {
        config_diag_format(&d->d[i], buf, sizeof(buf));
        print_message("  %s\n", buf);
    }
}

/* The first diagnostic with this code; fails the test when there is none. */
static const struct cfg_diag *expect_diag(const struct cfg_diags *d, const char *code, int line,
                                          int col)
{
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(d->d[i].code, code) == 0 && d->d[i].line == line &&
            (col == 0 || d->d[i].col == col))
            return &d->d[i];
    }
    print_message("expected %s at %d:%d, got:\n", code, line, col);
    dump(d);
    fail();
    return NULL;
}

static size_t count_code(const struct cfg_diags *d, const char *code)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        n += strcmp(d->d[i].code, code) == 0;
    return n;
}

static void expect_clean(struct fixture *f, int rc)
{
    if (rc != DC_OK || f->d.n != 0)
        dump(&f->d);
    assert_int_equal(rc, DC_OK);
    assert_int_equal(f->d.n, 0);
    assert_non_null(f->cfg);
}

static void expect_failed(struct fixture *f, int rc)
{
    assert_int_equal(rc, DC_EINVAL);
    assert_null(f->cfg);
    assert_true(f->d.n > 0);
}

/* ------------------------------------------------------------------------ */

static void test_config_loads_minimal_graph_with_defaults(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\n"
                     "databases:\n"
                     "  demo: { connector: sqlite, path: var/demo.db }\n"
                     "  other: { connector: sqlite, path: var/other.db }\n"
                     "pipeline:\n"
                     "  entry: a\n"
                     "  stages:\n"
                     "    a: { use: intent, on: { ok: b } }\n"
                     "    b: { use: answer }\n");
    expect_clean(f, rc);
    struct dc_config *c = f->cfg;
    assert_int_equal(c->version, 1);
    assert_string_equal(c->path, TEST_FILE);
    assert_string_equal(c->dir, TEST_DIR);
    assert_string_equal(c->default_database, "demo");
    assert_string_equal(c->audit_path, TEST_DIR "/var/audit.jsonl");
    assert_string_equal(c->store_url, "sqlite:" TEST_DIR "/var/state.db");
    assert_int_equal(c->audit_fsync, CFG_FSYNC_ALWAYS);
    assert_int_equal(c->max_rows, 1000);
    assert_int_equal(c->timeout_ms, 30000);
    assert_int_equal(c->max_question_bytes, 65536);
    assert_int_equal(c->max_steps, 0);
    assert_null(c->policies);
    assert_null(c->default_principal);
    assert_int_equal(c->ndbs, 2);
    assert_string_equal(c->dbs[1].connector, "sqlite");
    assert_int_equal(c->dbs[1].line, 4);
    assert_int_equal(c->dbs[1].col, 3);
    assert_int_equal(c->dbs[1].opts.nopts, 1);
    assert_string_equal(c->dbs[1].opts.opts[0].key, "path");
    assert_string_equal(c->dbs[1].opts.opts[0].value, "var/other.db");
    assert_int_equal(c->dbs[1].opts.opts[0].line, 4);
    assert_int_equal(c->dbs[1].opts.opts[0].col, 31);
    const struct cfg_stage *a = config_find_stage(c, "a");
    assert_non_null(a);
    assert_string_equal(a->use, "intent");
    assert_int_equal(a->nedges, 1);
    assert_string_equal(a->edges[0].label, "ok");
    assert_string_equal(a->edges[0].target, "b");
    assert_int_equal(a->edges[0].line, 8);
    assert_int_equal(a->edges[0].col, 29);
    assert_non_null(config_find_db(c, "other"));
    assert_null(config_find_db(c, "missing"));
    assert_null(config_find_stage(c, "zzz"));
}

static void test_config_reports_syntax_error_at_libyaml_mark(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\nfoo: bar: baz\n");
    expect_failed(f, rc);
    assert_int_equal(f->d.n, 1);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-SYNTAX", 2, 9);
    assert_non_null(strstr(d->msg, "mapping values are not allowed"));
    assert_string_equal(d->file, TEST_FILE);
}

static void test_config_rejects_unknown_top_level_key_with_suggestion(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\n"
                     "pipeline:\n"
                     "  entry: a\n"
                     "  stages: { a: { use: answer } }\n"
                     "polices: config/policies/*.yaml\n");
    expect_failed(f, rc);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-UNKNOWN-KEY", 5, 1);
    assert_non_null(strstr(d->msg, "polices"));
    assert_non_null(strstr(d->hint, "did you mean 'policies'?"));
    assert_non_null(strstr(d->hint, "default_principal"));
    assert_int_equal(f->d.n, 1);
}

static void test_config_rejects_unknown_nested_key(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\n"
                     "pipeline:\n"
                     "  entry: a\n"
                     "  stages:\n"
                     "    a: { use: answer, wiht: { x: 1 } }\n"
                     "audit: { path: a.jsonl, fsnyc: never }\n");
    expect_failed(f, rc);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-UNKNOWN-KEY", 5, 23);
    assert_non_null(strstr(d->hint, "did you mean 'with'?"));
    assert_non_null(strstr(d->msg, "pipeline.stages.a"));
    d = expect_diag(&f->d, "E-CFG-UNKNOWN-KEY", 6, 25);
    assert_non_null(strstr(d->hint, "did you mean 'fsync'?"));
    assert_int_equal(f->d.n, 2);
}

static void test_config_rejects_duplicate_key_naming_first_line(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\n"
                     "pipeline:\n"
                     "  entry: a\n"
                     "  stages:\n"
                     "    a: { use: intent, on: { ok: b } }\n"
                     "    b: { use: answer }\n"
                     "    a: { use: other }\n");
    expect_failed(f, rc);
    assert_int_equal(f->d.n, 1);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-DUPLICATE-KEY", 7, 5);
    assert_non_null(strstr(d->msg, "first defined at line 5"));
}

static void test_config_rejects_duplicate_key_in_option_map(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\n"
                     "databases:\n"
                     "  demo:\n"
                     "    connector: sqlite\n"
                     "    path: a.db\n"
                     "    path: b.db\n"
                     "pipeline: { entry: a, stages: { a: { use: answer } } }\n");
    expect_failed(f, rc);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-DUPLICATE-KEY", 6, 5);
    assert_non_null(strstr(d->msg, "first defined at line 5"));
}

static void test_config_rejects_wrong_type(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\n"
                     "pipeline:\n"
                     "  entry: a\n"
                     "  max_steps: ten\n"
                     "  stages: { a: { use: answer } }\n"
                     "limits: { timeout_ms: \"30\" }\n"
                     "tools: { t: { use: x, sandbox: maybe } }\n");
    expect_failed(f, rc);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-TYPE", 4, 14);
    assert_non_null(strstr(d->msg, "pipeline.max_steps must be an integer"));
    d = expect_diag(&f->d, "E-CFG-TYPE", 6, 23);
    assert_non_null(strstr(d->hint, "quotes"));
    expect_diag(&f->d, "E-CFG-TYPE", 7, 32);
    assert_int_equal(f->d.n, 3);
}

static void test_config_rejects_max_steps_out_of_range(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\n"
                     "pipeline: { entry: a, max_steps: 1001, stages: { a: { use: answer } } }\n");
    expect_failed(f, rc);
    expect_diag(&f->d, "E-CFG-RANGE", 2, 34);
    rc = load(f, "version: 1\n"
                 "pipeline: { entry: a, max_steps: 0, stages: { a: { use: answer } } }\n");
    expect_failed(f, rc);
    expect_diag(&f->d, "E-CFG-RANGE", 2, 34);
}

static void test_config_rejects_missing_entry(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\n"
                     "databases: { demo: { connector: sqlite } }\n"
                     "pipeline:\n"
                     "  stages: { a: { use: answer } }\n");
    expect_failed(f, rc);
    assert_int_equal(f->d.n, 1);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-MISSING", 3, 1);
    assert_non_null(strstr(d->msg, "pipeline.entry"));
}

static void test_config_rejects_missing_version_and_use(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "pipeline:\n"
                     "  entry: a\n"
                     "  stages:\n"
                     "    a: { with: { x: 1 } }\n");
    expect_failed(f, rc);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-MISSING", 1, 1);
    assert_non_null(strstr(d->msg, "version"));
    d = expect_diag(&f->d, "E-CFG-MISSING", 4, 5);
    assert_non_null(strstr(d->msg, "use"));
}

static void test_config_rejects_entry_naming_no_stage(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\n"
                     "pipeline:\n"
                     "  entry: intnet\n"
                     "  stages: { intent: { use: answer } }\n");
    expect_failed(f, rc);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-DANGLING-EDGE", 3, 10);
    assert_non_null(strstr(d->hint, "did you mean 'intent'?"));
}

static void test_config_rejects_dangling_edge_at_edge_line(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\n"
                     "pipeline:\n"
                     "  entry: a\n"
                     "  stages:\n"
                     "    a:\n"
                     "      use: intent\n"
                     "      on:\n"
                     "        ok: b\n"
                     "        fail: nowhere\n"
                     "    b: { use: answer }\n");
    expect_failed(f, rc);
    assert_int_equal(f->d.n, 1);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-DANGLING-EDGE", 9, 9);
    assert_non_null(strstr(d->msg, "nowhere"));
}

static void test_config_rejects_unreachable_stage(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\n"
                     "pipeline:\n"
                     "  entry: a\n"
                     "  stages:\n"
                     "    a: { use: intent, on: { ok: b } }\n"
                     "    b: { use: answer }\n"
                     "    orphan: { use: answer }\n");
    expect_failed(f, rc);
    assert_int_equal(f->d.n, 1);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-UNREACHABLE", 7, 5);
    assert_non_null(strstr(d->msg, "orphan"));
}

static const char cycle_yaml[] = "version: 1\n"
                                 "pipeline:\n"
                                 "  entry: a\n"
                                 "%s"
                                 "  stages:\n"
                                 "    a: { use: intent, on: { ok: b } }\n"
                                 "    b: { use: check, on: { retry: a, done: c } }\n"
                                 "    c: { use: answer }\n";

static void test_config_rejects_cycle_without_max_steps(void **state)
{
    struct fixture *f = *state;
    char buf[512];
    snprintf(buf, sizeof(buf), cycle_yaml, "");
    int rc = load(f, buf);
    expect_failed(f, rc);
    assert_int_equal(f->d.n, 1);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-CYCLE", 6, 28);
    assert_non_null(strstr(d->hint, "max_steps"));
}

static void test_config_accepts_cycle_with_max_steps(void **state)
{
    struct fixture *f = *state;
    char buf[512];
    snprintf(buf, sizeof(buf), cycle_yaml, "  max_steps: 8\n");
    int rc = load(f, buf);
    expect_clean(f, rc);
    assert_int_equal(f->cfg->max_steps, 8);
}

static void test_config_rejects_inline_secret(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\n"
                     "databases:\n"
                     "  wh: { connector: postgres, password: hunter2 }\n"
                     "  pg:\n"
                     "    connector: postgres\n"
                     "    dsn: \"postgresql://app:s3cret@db.example/prod\"\n"
                     "llm:\n"
                     "  default: { provider: openai, apiKey: sk-123, max_tokens: 512 }\n"
                     "pipeline: { entry: a, stages: { a: { use: answer, with: { Auth-Token: x } } } }\n");
    expect_failed(f, rc);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-INLINE-SECRET", 3, 30);
    assert_string_equal(d->hint,
                        "put the value in an environment variable and name it with password_env");
    d = expect_diag(&f->d, "E-CFG-INLINE-SECRET", 6, 10);
    assert_non_null(strstr(d->hint, "dsn_env"));
    expect_diag(&f->d, "E-CFG-INLINE-SECRET", 8, 32);
    expect_diag(&f->d, "E-CFG-INLINE-SECRET", 9, 59);
    /* max_tokens is not a secret */
    assert_int_equal(f->d.n, 4);
}

static void test_config_accepts_env_keys_and_rejects_bad_env_name(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\n"
                     "databases:\n"
                     "  wh: { connector: postgres, dsn_env: WAREHOUSE_DSN, password_env: PG_PASS }\n"
                     "pipeline: { entry: a, stages: { a: { use: answer } } }\n");
    expect_clean(f, rc);
    rc = load(f, "version: 1\n"
                 "databases:\n"
                 "  wh: { connector: postgres, password_env: \"hunter2 x\" }\n"
                 "pipeline: { entry: a, stages: { a: { use: answer } } }\n");
    expect_failed(f, rc);
    assert_int_equal(f->d.n, 1);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-TYPE", 3, 44);
    assert_non_null(strstr(d->msg, "environment variable"));
}

static void test_config_rejects_anchors_and_aliases(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\n"
                     "databases:\n"
                     "  demo: &db { connector: sqlite, path: a.db }\n"
                     "  copy: *db\n"
                     "pipeline: { entry: a, stages: { a: { use: answer } } }\n");
    expect_failed(f, rc);
    assert_int_equal(count_code(&f->d, "E-CFG-ALIAS"), 2);
    expect_diag(&f->d, "E-CFG-ALIAS", 3, 9);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-ALIAS", 4, 9);
    assert_non_null(strstr(d->msg, "*db"));
    assert_int_equal(f->d.n, 2);
}

static void test_config_rejects_other_versions(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 2\npipeline: { entry: a, stages: { a: { use: answer } } }\n");
    expect_failed(f, rc);
    assert_int_equal(f->d.n, 1);
    expect_diag(&f->d, "E-CFG-VERSION", 1, 10);
}

static void test_config_reports_all_errors_sorted_by_line(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\n"
                     "limits: { max_rows: many }\n"
                     "pipeline:\n"
                     "  entry: a\n"
                     "  stages:\n"
                     "    a: { use: intent, on: { ok: gone } }\n"
                     "    b: { use: answer }\n"
                     "colour: blue\n"
                     "databases: { \"bad name\": { connector: sqlite } }\n");
    expect_failed(f, rc);
    assert_int_equal(f->d.n, 5);
    assert_string_equal(f->d.d[0].code, "E-CFG-TYPE");
    assert_int_equal(f->d.d[0].line, 2);
    assert_string_equal(f->d.d[1].code, "E-CFG-DANGLING-EDGE");
    assert_int_equal(f->d.d[1].line, 6);
    assert_string_equal(f->d.d[2].code, "E-CFG-UNREACHABLE");
    assert_int_equal(f->d.d[2].line, 7);
    assert_string_equal(f->d.d[3].code, "E-CFG-UNKNOWN-KEY");
    assert_int_equal(f->d.d[3].line, 8);
    assert_string_equal(f->d.d[4].code, "E-CFG-NAME");
    assert_int_equal(f->d.d[4].line, 9);
    for (size_t i = 1; i < f->d.n; i++)
        assert_true(f->d.d[i - 1].line <= f->d.d[i].line);
}

static void test_config_caps_diagnostics_and_counts_dropped(void **state)
{
    struct fixture *f = *state;
    char *buf = malloc(100 * 16 + 256);
    assert_non_null(buf);
    size_t n = (size_t)sprintf(buf, "version: 1\npipeline: { entry: a, stages: { a: { use: x } } }\n");
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(buf + n, "bogus%d: 1\n", i);
    int rc = config_load_string(buf, n, TEST_FILE, &f->cfg, &f->d);
    free(buf);
    expect_failed(f, rc);
    assert_int_equal(f->d.n, CFG_MAX_DIAGS);
    assert_int_equal(f->d.dropped, 100 - CFG_MAX_DIAGS);
}

static void test_config_rejects_nested_mapping_in_options(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\n"
                     "pipeline:\n"
                     "  entry: a\n"
                     "  stages:\n"
                     "    a: { use: sqlgen, with: { retry: { max: 3 }, tags: [a, [b]] } }\n");
    expect_failed(f, rc);
    expect_diag(&f->d, "E-CFG-TYPE", 5, 38);
    expect_diag(&f->d, "E-CFG-TYPE", 5, 60);
    assert_int_equal(f->d.n, 2);
}

static void test_config_rejects_bad_names_and_dangling_default_database(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\n"
                     "databases: { demo: { connector: sqlite } }\n"
                     "default_database: dmeo\n"
                     "pipeline: { entry: a, stages: { a: { use: answer }, \"b/c\": { use: x } } }\n");
    expect_failed(f, rc);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-DANGLING-REF", 3, 19);
    assert_non_null(strstr(d->hint, "did you mean 'demo'?"));
    expect_diag(&f->d, "E-CFG-NAME", 4, 53);
}

static void test_config_refuses_too_large_and_too_deep(void **state)
{
    struct fixture *f = *state;
    size_t big = 1024 * 1024 + 1;
    char *buf = malloc(big);
    assert_non_null(buf);
    memset(buf, '#', big);
    int rc = config_load_string(buf, big, TEST_FILE, &f->cfg, &f->d);
    free(buf);
    expect_failed(f, rc);
    expect_diag(&f->d, "E-CFG-TOO-LARGE", 0, 0);

    char deep[256];
    size_t n = (size_t)sprintf(deep, "version: 1\nx: ");
    for (int i = 0; i < 40; i++)
        deep[n++] = '[';
    for (int i = 0; i < 40; i++)
        deep[n++] = ']';
    deep[n++] = '\n';
    deep[n] = '\0';
    rc = load(f, deep);
    expect_failed(f, rc);
    expect_diag(&f->d, "E-CFG-TOO-DEEP", 2, 0);
}

static void test_config_resolves_relative_paths_against_config_dir(void **state)
{
    struct fixture *f = *state;
    setenv("HOME", "/home/tester", 1);
    int rc = load(f, "version: 1\n"
                     "plugins: { dirs: [plugins, ../shared/plugins, ~/.datachat/plugins, /opt/p] }\n"
                     "policies: policies/*.yaml\n"
                     "audit: { path: ../var/audit.jsonl, fsync: never }\n"
                     "store: { url: \"sqlite:./state.db\" }\n"
                     "default_principal: alice\n"
                     "limits: { max_rows: 10, timeout_ms: 0, max_question_bytes: 100 }\n"
                     "pipeline: { entry: a, stages: { a: { use: answer } } }\n");
    expect_clean(f, rc);
    struct dc_config *c = f->cfg;
    assert_int_equal(c->nplugin_dirs, 4);
    assert_string_equal(c->plugin_dirs[0], TEST_DIR "/plugins");
    assert_string_equal(c->plugin_dirs[1], "/shared/plugins");
    assert_string_equal(c->plugin_dirs[2], "/home/tester/.datachat/plugins");
    assert_string_equal(c->plugin_dirs[3], "/opt/p");
    assert_string_equal(c->policies, TEST_DIR "/policies/*.yaml");
    assert_string_equal(c->audit_path, "/var/audit.jsonl");
    assert_int_equal(c->audit_fsync, CFG_FSYNC_NEVER);
    assert_string_equal(c->store_url, "sqlite:" TEST_DIR "/state.db");
    assert_string_equal(c->default_principal, "alice");
    assert_int_equal(c->max_rows, 10);
    assert_int_equal(c->timeout_ms, 0);
    assert_int_equal(c->max_question_bytes, 100);
    assert_null(c->default_database);
}

/* ---- config_resolve against fake plugins ------------------------------- */

static const struct dc_option sqlite_opts[] = {
    {"path", DC_OPT_PATH, 1, NULL, "database file"},
    {"pool", DC_OPT_INT, 0, "4", "connections"},
    {"ratio", DC_OPT_NUMBER, 0, "0.5", "sample ratio"},
    {"readonly", DC_OPT_BOOL, 0, "true", "open read-only"},
    {"schemas", DC_OPT_LIST, 0, NULL, "schemas to read"},
    {"dsn_env", DC_OPT_ENV, 0, NULL, "DSN variable"},
    {"label", DC_OPT_STRING, 0, NULL, "display name"},
    DC_OPTIONS_END};
static const struct dc_connector_vtable sqlite_vt = {
    .struct_size = sizeof(struct dc_connector_vtable),
    .dialect = "sqlite",
    .options = sqlite_opts,
};

static const char *const intent_outcomes[] = {"ok",     "retry", "done",    "catalog", "sql",
                                               "metric", "tool",  "clarify", "refuse",  NULL};
static const char *const catalog_outcomes[] = {"ok", "not_found", NULL};
static const struct dc_option intent_opts[] = {
    {"threshold", DC_OPT_NUMBER, 0, "0.7", "confidence"}, DC_OPTIONS_END};
static const struct dc_stage_vtable intent_vt = {
    .struct_size = sizeof(struct dc_stage_vtable),
    .options = intent_opts,
    .outcomes = intent_outcomes,
};
static const struct dc_stage_vtable catalog_vt = {
    .struct_size = sizeof(struct dc_stage_vtable),
    .outcomes = catalog_outcomes,
};
static const char *const compiler_outcomes[] = {"ok", "unsure", NULL};
static const struct dc_stage_vtable compiler_vt = {
    .struct_size = sizeof(struct dc_stage_vtable),
    .outcomes = compiler_outcomes,
};
static const char *const metric_outcomes[] = {"ok", "clarify", "no_match", NULL};
static const struct dc_stage_vtable metric_vt = {
    .struct_size = sizeof(struct dc_stage_vtable),
    .outcomes = metric_outcomes,
};
static const struct dc_stage_vtable answer_vt = {
    .struct_size = sizeof(struct dc_stage_vtable),
};
/* An older, shorter vtable: only struct_size is covered, so the host must
 * not read options or outcomes from it. */
static const struct dc_stage_vtable tiny_vt = {
    .struct_size = sizeof(size_t),
    .options = intent_opts,
    .outcomes = intent_outcomes,
};
static const struct dc_option llm_opts[] = {
    {"model", DC_OPT_STRING, 1, NULL, "model name"},
    {"api_key_env", DC_OPT_ENV, 0, NULL, "key variable"},
    DC_OPTIONS_END};
static const struct dc_llm_vtable llm_vt = {
    .struct_size = sizeof(struct dc_llm_vtable),
    .options = llm_opts,
};
static const struct dc_option tool_opts[] = {
    {"script", DC_OPT_PATH, 1, NULL, "script"}, DC_OPTIONS_END};
static const struct dc_tool_vtable tool_vt = {
    .struct_size = sizeof(struct dc_tool_vtable),
    .options = tool_opts,
};

#define DESC(kind_, name_, vt_) \
    {DC_PLUGIN_MAGIC, sizeof(struct dc_plugin_descriptor), DC_ABI_MAJOR, DC_ABI_MINOR, \
     DC_BUILD_SIG, name_, "1.0", "MIT", kind_, vt_, "test plugin", DC_CAP_UNDECLARED}

static const struct dc_plugin_descriptor fake_plugins[] = {
    DESC(DC_KIND_CONNECTOR, "sqlite", &sqlite_vt),
    DESC(DC_KIND_STAGE, "intent", &intent_vt),
    DESC(DC_KIND_STAGE, "catalog", &catalog_vt),
    DESC(DC_KIND_STAGE, "answer", &answer_vt),
    DESC(DC_KIND_STAGE, "compiler", &compiler_vt),
    DESC(DC_KIND_STAGE, "metric", &metric_vt),
    DESC(DC_KIND_STAGE, "tiny", &tiny_vt),
    DESC(DC_KIND_LLM, "openai", &llm_vt),
    DESC(DC_KIND_TOOL, "lua", &tool_vt),
};

static const struct dc_plugin_descriptor *fake_lookup(void *arg, int kind, const char *name)
{
    int *calls = arg;
    if (calls)
        (*calls)++;
    for (size_t i = 0; i < sizeof(fake_plugins) / sizeof(fake_plugins[0]); i++)
        if (fake_plugins[i].kind == kind && strcmp(fake_plugins[i].name, name) == 0)
            return &fake_plugins[i];
    return NULL;
}

static const char resolve_base[] =
    "version: 1\n"
    "databases:\n"
    "  demo: { connector: sqlite, path: ../var/demo.db, schemas: [main, aux] }\n"
    "llm:\n"
    "  default: { provider: openai, model: small, api_key_env: OPENAI_KEY }\n"
    "pipeline:\n"
    "  entry: a\n"
    "  stages:\n"
    "    a: { use: intent, with: { threshold: 0.9 }, on: { ok: b } }\n"
    "    b: { use: answer }\n"
    "tools:\n"
    "  run: { use: lua, sandbox: true, with: { script: tools/run.lua } }\n";

static void test_config_resolve_accepts_declared_options_and_makes_paths_absolute(void **state)
{
    struct fixture *f = *state;
    int calls = 0;
    expect_clean(f, load(f, resolve_base));
    int rc = config_resolve(f->cfg, fake_lookup, &calls, &f->d);
    if (rc != DC_OK)
        dump(&f->d);
    assert_int_equal(rc, DC_OK);
    assert_int_equal(f->d.n, 0);
    assert_int_equal(calls, 5);
    const struct cfg_database *db = config_find_db(f->cfg, "demo");
    assert_ptr_equal(db->opts.decl, sqlite_opts);
    assert_string_equal(opts_str(&db->opts, "path"), "/var/demo.db");
    assert_string_equal(opts_str(&f->cfg->tools[0].with, "script"), TEST_DIR "/tools/run.lua");
    assert_int_equal(f->cfg->tools[0].sandbox, 1);
    assert_ptr_equal(f->cfg->llms[0].opts.decl, llm_opts);
    assert_ptr_equal(config_find_stage(f->cfg, "a")->with.decl, intent_opts);
}

static void test_config_resolve_rejects_unknown_plugin(void **state)
{
    struct fixture *f = *state;
    expect_clean(f, load(f, "version: 1\n"
                            "databases: { demo: { connector: oracle } }\n"
                            "pipeline:\n"
                            "  entry: a\n"
                            "  stages:\n"
                            "    a: { use: nosuch }\n"));
    int rc = config_resolve(f->cfg, fake_lookup, NULL, &f->d);
    assert_int_equal(rc, DC_EINVAL);
    assert_int_equal(f->d.n, 2);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-UNKNOWN-PLUGIN", 2, 14);
    assert_non_null(strstr(d->msg, "connector plugin 'oracle'"));
    d = expect_diag(&f->d, "E-CFG-UNKNOWN-PLUGIN", 6, 5);
    assert_non_null(strstr(d->msg, "stage plugin 'nosuch'"));
    assert_non_null(strstr(d->hint, "plugins.dirs"));
}

static void test_config_resolve_rejects_plugin_of_wrong_kind(void **state)
{
    struct fixture *f = *state;
    expect_clean(f, load(f, "version: 1\n"
                            "pipeline: { entry: a, stages: { a: { use: sqlite } } }\n"));
    assert_int_equal(config_resolve(f->cfg, fake_lookup, NULL, &f->d), DC_EINVAL);
    expect_diag(&f->d, "E-CFG-UNKNOWN-PLUGIN", 2, 33);
}

static void test_config_resolve_rejects_undeclared_option(void **state)
{
    struct fixture *f = *state;
    expect_clean(f, load(f, "version: 1\n"
                            "databases:\n"
                            "  demo:\n"
                            "    connector: sqlite\n"
                            "    path: a.db\n"
                            "    pools: 3\n"
                            "pipeline: { entry: a, stages: { a: { use: answer } } }\n"));
    assert_int_equal(config_resolve(f->cfg, fake_lookup, NULL, &f->d), DC_EINVAL);
    assert_int_equal(f->d.n, 1);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-UNKNOWN-KEY", 6, 5);
    assert_non_null(strstr(d->hint, "did you mean 'pool'?"));
    assert_non_null(strstr(d->hint, "path, pool, ratio, readonly, schemas, dsn_env, label"));
}

static void test_config_resolve_rejects_bad_typed_options(void **state)
{
    struct fixture *f = *state;
    expect_clean(f, load(f, "version: 1\n"
                            "databases:\n"
                            "  demo:\n"
                            "    connector: sqlite\n"
                            "    path: a.db\n"
                            "    pool: 3x\n"
                            "    ratio: 1e400\n"
                            "    readonly: perhaps\n"
                            "    schemas: main\n"
                            "    label: [a, b]\n"
                            "pipeline: { entry: a, stages: { a: { use: answer } } }\n"));
    assert_int_equal(config_resolve(f->cfg, fake_lookup, NULL, &f->d), DC_EINVAL);
    assert_int_equal(f->d.n, 5);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-TYPE", 6, 5);
    assert_non_null(strstr(d->msg, "integer"));
    expect_diag(&f->d, "E-CFG-TYPE", 7, 5);
    expect_diag(&f->d, "E-CFG-TYPE", 8, 5);
    d = expect_diag(&f->d, "E-CFG-TYPE", 9, 5);
    assert_non_null(strstr(d->msg, "list"));
    expect_diag(&f->d, "E-CFG-TYPE", 10, 5);
}

static void test_config_resolve_rejects_missing_required_option(void **state)
{
    struct fixture *f = *state;
    expect_clean(f, load(f, "version: 1\n"
                            "databases:\n"
                            "  demo: { connector: sqlite, pool: 2 }\n"
                            "llm:\n"
                            "  big: { provider: openai }\n"
                            "pipeline: { entry: a, stages: { a: { use: answer } } }\n"));
    assert_int_equal(config_resolve(f->cfg, fake_lookup, NULL, &f->d), DC_EINVAL);
    assert_int_equal(f->d.n, 2);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-MISSING", 3, 3);
    assert_non_null(strstr(d->msg, "'path'"));
    d = expect_diag(&f->d, "E-CFG-MISSING", 5, 3);
    assert_non_null(strstr(d->msg, "'model'"));
}

static void test_config_resolve_rejects_unknown_outcome(void **state)
{
    struct fixture *f = *state;
    expect_clean(f, load(f, "version: 1\n"
                            "pipeline:\n"
                            "  entry: a\n"
                            "  stages:\n"
                            "    a:\n"
                            "      use: intent\n"
                            "      on: { ok: b, oops: b }\n"
                            "    b: { use: answer }\n"));
    assert_int_equal(config_resolve(f->cfg, fake_lookup, NULL, &f->d), DC_EINVAL);
    assert_int_equal(f->d.n, 1);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-UNKNOWN-OUTCOME", 7, 20);
    assert_non_null(strstr(d->msg, "oops"));
    assert_non_null(strstr(d->hint, "declared outcomes: ok, retry, done, catalog"));
}

static void test_config_resolve_reads_no_fields_past_vtable_size(void **state)
{
    struct fixture *f = *state;
    expect_clean(f, load(f, "version: 1\n"
                            "pipeline:\n"
                            "  entry: a\n"
                            "  stages:\n"
                            "    a: { use: tiny, with: { threshold: 0.5 }, on: { ok: b } }\n"
                            "    b: { use: answer }\n"));
    assert_int_equal(config_resolve(f->cfg, fake_lookup, NULL, &f->d), DC_EINVAL);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-UNKNOWN-KEY", 5, 29);
    assert_non_null(strstr(d->hint, "declares no options"));
    d = expect_diag(&f->d, "E-CFG-UNKNOWN-OUTCOME", 5, 53);
    assert_non_null(strstr(d->hint, "declares no outcomes"));
    assert_int_equal(f->d.n, 2);
}

static void test_config_opts_accessors_serve_values_and_defaults(void **state)
{
    struct fixture *f = *state;
    expect_clean(f, load(f, "version: 1\n"
                            "databases:\n"
                            "  demo:\n"
                            "    connector: sqlite\n"
                            "    path: a.db\n"
                            "    readonly: off\n"
                            "    schemas: [main, aux]\n"
                            "    label: Demo\n"
                            "pipeline: { entry: a, stages: { a: { use: answer } } }\n"));
    struct dc_opts *o = &f->cfg->dbs[0].opts;
    int64_t i = 0;
    double x = 0;
    int b = -1;
    /* before resolve: no declarations, so no defaults */
    assert_int_equal(opts_int(o, "pool", &i), DC_ENOTFOUND);
    assert_int_equal(config_resolve(f->cfg, fake_lookup, NULL, &f->d), DC_OK);
    assert_int_equal(opts_int(o, "pool", &i), DC_OK);
    assert_int_equal(i, 4);
    assert_int_equal(opts_number(o, "ratio", &x), DC_OK);
    assert_true(x > 0.49 && x < 0.51);
    assert_int_equal(opts_bool(o, "readonly", &b), DC_OK);
    assert_int_equal(b, 0);
    assert_string_equal(opts_str(o, "label"), "Demo");
    assert_int_equal(opts_int(o, "label", &i), DC_EINVAL);
    assert_int_equal(opts_bool(o, "label", &b), DC_EINVAL);
    assert_int_equal(opts_number(o, "label", &x), DC_EINVAL);
    assert_null(opts_str(o, "dsn_env"));
    assert_int_equal(opts_int(o, "dsn_env", &i), DC_ENOTFOUND);
    assert_int_equal(opts_int(o, "nosuch", &i), DC_ENOTFOUND);
    assert_int_equal(opts_list_len(o, "schemas"), 2);
    assert_string_equal(opts_list_item(o, "schemas", 1), "aux");
    assert_null(opts_list_item(o, "schemas", 2));
    assert_null(opts_str(o, "schemas"));
    assert_int_equal(opts_list_len(o, "label"), 0);
    assert_int_equal(opts_list_len(o, "nosuch"), 0);
}

static void test_config_opts_bool_accepts_all_spellings(void **state)
{
    (void)state;
    struct cfg_opt v[] = {
        {"a", 0, "true", NULL, 0, 1, 1}, {"b", 0, "No", NULL, 0, 1, 1},
        {"c", 0, "ON", NULL, 0, 1, 1},   {"d", 0, "0", NULL, 0, 1, 1},
        {"e", 0, "yes", NULL, 0, 1, 1},  {"f", 0, "2", NULL, 0, 1, 1},
    };
    struct dc_opts o = {v, 6, NULL};
    int b = -1;
    assert_int_equal(opts_bool(&o, "a", &b), DC_OK);
    assert_int_equal(b, 1);
    assert_int_equal(opts_bool(&o, "b", &b), DC_OK);
    assert_int_equal(b, 0);
    assert_int_equal(opts_bool(&o, "c", &b), DC_OK);
    assert_int_equal(b, 1);
    assert_int_equal(opts_bool(&o, "d", &b), DC_OK);
    assert_int_equal(b, 0);
    assert_int_equal(opts_bool(&o, "e", &b), DC_OK);
    assert_int_equal(b, 1);
    assert_int_equal(opts_bool(&o, "f", &b), DC_EINVAL);
}

/* ---- defaults, the shipped file, output ---------------------------------- */

static void test_config_default_loads_and_passes_graph_checks(void **state)
{
    struct fixture *f = *state;
    int rc = config_default("/srv/dc", &f->cfg, &f->d);
    expect_clean(f, rc);
    struct dc_config *c = f->cfg;
    assert_string_equal(c->dir, "/srv/dc");
    assert_string_equal(c->audit_path, "/srv/dc/var/audit.jsonl");
    assert_string_equal(c->store_url, "sqlite:/srv/dc/var/state.db");
    assert_string_equal(c->default_database, "demo");
    assert_string_equal(c->entry, "intent");
    assert_int_equal(c->max_steps, 16);
    assert_int_equal(c->nstages, 5);
    assert_non_null(config_find_stage(c, "catalog"));
    assert_non_null(config_find_stage(c, "compiler"));
    assert_non_null(config_find_stage(c, "metric"));
    assert_int_equal(config_find_stage(c, "intent")->nedges, 6);
    assert_int_equal(config_resolve(c, fake_lookup, NULL, &f->d), DC_OK);
    assert_string_equal(opts_str(&config_find_db(c, "demo")->opts, "path"), "/srv/dc/var/demo.db");
}

static void test_config_shipped_file_loads_cleanly(void **state)
{
    struct fixture *f = *state;
    const char *src = getenv("DC_SOURCE_DIR");
    char path[4096], root[4096];
    snprintf(path, sizeof(path), "%s/config/datachat.yaml", src ? src : DC_SOURCE_DIR);
    int rc = config_load(path, &f->cfg, &f->d);
    expect_clean(f, rc);
    struct dc_config *c = f->cfg;
    assert_non_null(realpath(src ? src : DC_SOURCE_DIR, root));
    char want[4200];
    snprintf(want, sizeof(want), "%s/var/audit.jsonl", root);
    assert_string_equal(c->audit_path, want);
    snprintf(want, sizeof(want), "sqlite:%s/var/state.db", root);
    assert_string_equal(c->store_url, want);
    assert_string_equal(c->entry, "intent");
    assert_int_equal(c->max_steps, 16);
    assert_int_equal(c->nplugin_dirs, 0);
    assert_int_equal(c->audit_fsync, CFG_FSYNC_ALWAYS);
    assert_int_equal(c->max_rows, 1000);
    assert_int_equal(config_resolve(c, fake_lookup, NULL, &f->d), DC_OK);
    snprintf(want, sizeof(want), "%s/var/demo.db", root);
    assert_string_equal(opts_str(&config_find_db(c, "demo")->opts, "path"), want);

    /* the built-in default describes the same graph */
    struct dc_config *def = NULL;
    struct cfg_diags *d2 = calloc(1, sizeof(*d2));
    assert_non_null(d2);
    assert_int_equal(config_default(root, &def, d2), DC_OK);
    char *a = config_graph_text(c), *b = config_graph_text(def);
    assert_string_equal(a, b);
    free(a);
    free(b);
    config_free(def);
    free(d2);
}

static void test_config_load_reports_missing_file(void **state)
{
    struct fixture *f = *state;
    int rc = config_load("/nonexistent-cfg-dir/none.yaml", &f->cfg, &f->d);
    expect_failed(f, rc);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-IO", 0, 0);
    assert_string_equal(d->file, "/nonexistent-cfg-dir/none.yaml");
}

static void test_config_graph_text_lists_edges_and_terminals(void **state)
{
    struct fixture *f = *state;
    expect_clean(f, config_default("/srv/dc", &f->cfg, &f->d));
    char *t = config_graph_text(f->cfg);
    assert_non_null(t);
    assert_non_null(strstr(t, "entry: intent"));
    assert_non_null(strstr(t, "intent --catalog--> catalog\n"));
    assert_non_null(strstr(t, "intent --refuse--> reply\n"));
    assert_non_null(strstr(t, "catalog --not_found--> reply\n"));
    assert_non_null(strstr(t, "reply [terminal]\n"));
    assert_null(strstr(t, "intent [terminal]"));
    free(t);
}

static void test_config_graph_dot_is_a_digraph_with_entry_marked(void **state)
{
    struct fixture *f = *state;
    expect_clean(f, config_default("/srv/dc", &f->cfg, &f->d));
    char *t = config_graph_dot(f->cfg);
    assert_non_null(t);
    assert_int_equal(strncmp(t, "digraph pipeline {\n", 19), 0);
    assert_string_equal(t + strlen(t) - 2, "}\n");
    assert_non_null(strstr(t, "\"<entry>\" -> \"intent\""));
    assert_non_null(strstr(t, "\"intent\" [label=\"intent\\n(intent)\", style=bold"));
    assert_non_null(strstr(t, "\"intent\" -> \"catalog\" [label=\"catalog\"];"));
    assert_non_null(strstr(t, "\"reply\" [label=\"reply\\n(answer)\", peripheries=2];"));
    /* braces balance, quotes pair up */
    int depth = 0, quotes = 0;
    for (const char *p = t; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (*p == '"')
            quotes ^= 1;
        else if (!quotes && *p == '{')
            depth++;
        else if (!quotes && *p == '}')
            depth--;
    }
    assert_int_equal(depth, 0);
    assert_int_equal(quotes, 0);
    free(t);
}

static void test_config_diag_format_names_file_line_code_and_hint(void **state)
{
    (void)state;
    struct cfg_diag d;
    char out[1200];
    memset(&d, 0, sizeof(d));
    strcpy(d.file, "config/datachat.yaml");
    d.line = 12;
    d.col = 7;
    strcpy(d.code, "E-CFG-UNKNOWN-KEY");
    strcpy(d.msg, "unknown key 'entyr' in pipeline");
    strcpy(d.hint, "did you mean 'entry'?");
    config_diag_format(&d, out, sizeof(out));
    assert_string_equal(out, "config/datachat.yaml:12:7: E-CFG-UNKNOWN-KEY: unknown key 'entyr' "
                             "in pipeline (hint: did you mean 'entry'?)");
    d.hint[0] = '\0';
    d.line = 0;
    config_diag_format(&d, out, sizeof(out));
    assert_string_equal(out, "config/datachat.yaml: E-CFG-UNKNOWN-KEY: unknown key 'entyr' in "
                             "pipeline");
}

static const char dp_graph[] = "version: 1\n"
                               "pipeline:\n"
                               "  entry: a\n"
                               "  stages:\n"
                               "    a: { use: answer }\n";

static void test_config_datapoints_default_beside_the_config(void **state)
{
    struct fixture *f = *state;
    expect_clean(f, load(f, dp_graph));
    assert_int_equal(f->cfg->ndp_user_dirs, 1);
    assert_string_equal(f->cfg->dp_user_dirs[0], TEST_DIR "/datapoints/user");
    assert_string_equal(f->cfg->dp_managed_dir, TEST_DIR "/datapoints/managed");
}

static void test_config_datapoints_dirs_resolve_against_config_dir(void **state)
{
    struct fixture *f = *state;
    char yaml[512];
    snprintf(yaml, sizeof(yaml),
             "%sdatapoints:\n  user: [../dp/user, /abs/more]\n  managed: ../dp/managed\n",
             dp_graph);
    expect_clean(f, load(f, yaml));
    assert_int_equal(f->cfg->ndp_user_dirs, 2);
    assert_string_equal(f->cfg->dp_user_dirs[0], "/dp/user");
    assert_string_equal(f->cfg->dp_user_dirs[1], "/abs/more");
    assert_string_equal(f->cfg->dp_managed_dir, "/dp/managed");
    snprintf(yaml, sizeof(yaml), "%sdatapoints: { user: [] }\n", dp_graph);
    expect_clean(f, load(f, yaml));
    assert_int_equal(f->cfg->ndp_user_dirs, 0);
}

static void test_config_datapoints_rejects_unknown_key_and_wrong_type(void **state)
{
    struct fixture *f = *state;
    char yaml[512];
    snprintf(yaml, sizeof(yaml),
             "%sdatapoints:\n  user: datapoints/user\n  manged: x\n  managed: [a]\n",
             dp_graph);
    expect_failed(f, load(f, yaml));
    expect_diag(&f->d, "E-CFG-TYPE", 7, 9);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-UNKNOWN-KEY", 8, 3);
    assert_non_null(strstr(d->hint, "managed"));
    expect_diag(&f->d, "E-CFG-TYPE", 9, 12);
}

static void test_config_server_defaults_and_tokens_load(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\n"
                     "pipeline: { entry: a, stages: { a: { use: answer } } }\n");
    expect_clean(f, rc);
    assert_null(f->cfg->server.listen);
    assert_int_equal(f->cfg->server.ntokens, 0);
    assert_int_equal(f->cfg->server.body_bytes, 1024 * 1024);
    assert_true(f->cfg->server.concurrent_requests > 0);
    assert_true(f->cfg->server.requests_per_minute > 0);
    rc = load(f, "version: 1\n"
                 "pipeline: { entry: a, stages: { a: { use: answer } } }\n"
                 "server:\n"
                 "  listen: 127.0.0.1:9000\n"
                 "  tokens:\n"
                 "    - { sha256: 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08, "
                 "principal: alice }\n"
                 "  limits: { body_bytes: 2048, header_bytes: 8192, requests_per_minute: 5,\n"
                 "            concurrent_requests: 3, timeout_s: 2 }\n");
    expect_clean(f, rc);
    assert_string_equal(f->cfg->server.listen, "127.0.0.1:9000");
    assert_int_equal(f->cfg->server.ntokens, 1);
    assert_string_equal(f->cfg->server.tokens[0].principal, "alice");
    assert_int_equal(f->cfg->server.tokens[0].sha256[0], 0x9f);
    assert_int_equal(f->cfg->server.tokens[0].sha256[31], 0x08);
    assert_int_equal(f->cfg->server.body_bytes, 2048);
    assert_int_equal(f->cfg->server.header_bytes, 8192);
    assert_int_equal(f->cfg->server.requests_per_minute, 5);
    assert_int_equal(f->cfg->server.concurrent_requests, 3);
    assert_int_equal(f->cfg->server.timeout_s, 2);
}

static void test_config_server_rejects_bad_listen_tokens_and_limits(void **state)
{
    struct fixture *f = *state;
    int rc = load(f, "version: 1\n"
                     "pipeline: { entry: a, stages: { a: { use: answer } } }\n"
                     "server:\n"
                     "  listen: localhost\n"
                     "  tokens:\n"
                     "    - { sha256: s3cr3t, principal: alice }\n"
                     "    - { principal: bob }\n"
                     "    - { sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08, "
                     "principal: carol }\n"
                     "    - { sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08, "
                     "principal: dave }\n"
                     "  limits: { body_bytes: 0, rate: 3 }\n");
    expect_failed(f, rc);
    expect_diag(&f->d, "E-CFG-SERVER-LISTEN", 4, 11);
    const struct cfg_diag *d = expect_diag(&f->d, "E-CFG-SERVER-TOKEN", 6, 17);
    assert_non_null(strstr(d->hint, "sha256sum"));
    expect_diag(&f->d, "E-CFG-MISSING", 7, 7);
    d = expect_diag(&f->d, "E-CFG-SERVER-TOKEN", 9, 17);
    assert_non_null(strstr(d->msg, "line 8"));
    expect_diag(&f->d, "E-CFG-RANGE", 10, 25);
    expect_diag(&f->d, "E-CFG-UNKNOWN-KEY", 10, 28);
    assert_int_equal(count_code(&f->d, "E-CFG-SERVER-TOKEN"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_config_loads_minimal_graph_with_defaults),
        T(test_config_reports_syntax_error_at_libyaml_mark),
        T(test_config_rejects_unknown_top_level_key_with_suggestion),
        T(test_config_rejects_unknown_nested_key),
        T(test_config_rejects_duplicate_key_naming_first_line),
        T(test_config_rejects_duplicate_key_in_option_map),
        T(test_config_rejects_wrong_type),
        T(test_config_rejects_max_steps_out_of_range),
        T(test_config_rejects_missing_entry),
        T(test_config_rejects_missing_version_and_use),
        T(test_config_rejects_entry_naming_no_stage),
        T(test_config_rejects_dangling_edge_at_edge_line),
        T(test_config_rejects_unreachable_stage),
        T(test_config_rejects_cycle_without_max_steps),
        T(test_config_accepts_cycle_with_max_steps),
        T(test_config_rejects_inline_secret),
        T(test_config_accepts_env_keys_and_rejects_bad_env_name),
        T(test_config_rejects_anchors_and_aliases),
        T(test_config_rejects_other_versions),
        T(test_config_reports_all_errors_sorted_by_line),
        T(test_config_caps_diagnostics_and_counts_dropped),
        T(test_config_rejects_nested_mapping_in_options),
        T(test_config_rejects_bad_names_and_dangling_default_database),
        T(test_config_refuses_too_large_and_too_deep),
        T(test_config_resolves_relative_paths_against_config_dir),
        T(test_config_resolve_accepts_declared_options_and_makes_paths_absolute),
        T(test_config_resolve_rejects_unknown_plugin),
        T(test_config_resolve_rejects_plugin_of_wrong_kind),
        T(test_config_resolve_rejects_undeclared_option),
        T(test_config_resolve_rejects_bad_typed_options),
        T(test_config_resolve_rejects_missing_required_option),
        T(test_config_resolve_rejects_unknown_outcome),
        T(test_config_resolve_reads_no_fields_past_vtable_size),
        T(test_config_opts_accessors_serve_values_and_defaults),
        T(test_config_opts_bool_accepts_all_spellings),
        T(test_config_default_loads_and_passes_graph_checks),
        T(test_config_shipped_file_loads_cleanly),
        T(test_config_load_reports_missing_file),
        T(test_config_graph_text_lists_edges_and_terminals),
        T(test_config_graph_dot_is_a_digraph_with_entry_marked),
        T(test_config_diag_format_names_file_line_code_and_hint),
        T(test_config_datapoints_default_beside_the_config),
        T(test_config_datapoints_dirs_resolve_against_config_dir),
        T(test_config_datapoints_rejects_unknown_key_and_wrong_type),
        T(test_config_server_defaults_and_tokens_load),
        T(test_config_server_rejects_bad_listen_tokens_and_limits),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
