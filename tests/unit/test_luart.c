/* The Lua runner: contracts (stage outcome, tool result), the dc table
 * against a fake gate backend, the helper library, pooled-state resets,
 * limits, error text, and the config checks for `use: "lua:..."`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <datachat/host.h>

#include "config.h"
#include "ctx.h"
#include "hostapi.h"
#include "luart.h"
#include "result.h"

struct seen {
    int queries;
    char sql[256];
    char db[64];
    size_t nparams;
    int deny;
};

static int fake_query(void *arg, struct dc_ctx *c, const char *db, const char *sql,
                      const struct dc_value *params, size_t nparams, struct dc_result **out)
{
    struct seen *s = arg;
    s->queries++;
    snprintf(s->sql, sizeof(s->sql), "%s", sql);
    snprintf(s->db, sizeof(s->db), "%s", db ? db : "(null)");
    s->nparams = nparams;
    if (s->deny) {
        ctx_fail(c, "E-GATE-WRITE", "refused");
        return DC_EDENIED;
    }
    struct dc_result *r = result_new();
    assert_non_null(r);
    assert_int_equal(result_add_column(r, "name", DC_TEXT, "TEXT"), DC_OK);
    assert_int_equal(result_add_column(r, "n", DC_INT, "INTEGER"), DC_OK);
    for (int i = 0; i < 2; i++) {
        struct dc_value v[2] = {dc_value_text(i ? "b" : "a", 1), dc_value_int(10 + i)};
        assert_int_equal(result_append_row(r, v, 2), DC_OK);
    }
    (void)params;
    *out = r;
    return DC_OK;
}

struct env {
    struct seen seen;
    struct dc_host h;
    struct dc_ctx *ctx;
};

static void env_init(struct env *e)
{
    memset(e, 0, sizeof(*e));
    hostapi_init(&e->h, NULL);
    struct ctx_backend be = {&e->seen, NULL, fake_query};
    e->ctx = ctx_new(&be);
    assert_non_null(e->ctx);
    assert_int_equal(ctx_set(e->ctx, "question", "What is the Salary of Ann?"), DC_OK);
    assert_int_equal(ctx_set(e->ctx, "principal", "analyst"), DC_OK);
}

static struct luart *open_text(const char *text, const char *lib, const struct luart_limits *lim)
{
    struct luart *s = NULL;
    char err[1024] = "";
    int rc = luart_open_buffer(text, strlen(text), "t.lua", lib, lim, &s, err, sizeof(err));
    if (rc != DC_OK)
        fail_msg("luart_open_buffer: %s", err);
    return s;
}

static void test_luart_stage_returns_declared_outcome(void **state)
{
    (void)state;
    struct env e;
    env_init(&e);
    struct luart *s = open_text("outcomes = {'yes', 'no'}\n"
                                "function run(ctx)\n"
                                "  if ctx.question:find('Salary') then return 'yes' end\n"
                                "  return 'no'\n"
                                "end\n",
                                NULL, NULL);
    const char *const *o = luart_outcomes(s);
    assert_non_null(o);
    assert_string_equal(o[0], "yes");
    assert_string_equal(o[1], "no");
    assert_null(o[2]);
    assert_true(luart_defines(s, "run"));
    assert_false(luart_defines(s, "invoke"));
    const char *out = NULL;
    char err[256];
    assert_int_equal(luart_run_stage(s, &e.h, e.ctx, &out, err, sizeof(err)), DC_OK);
    assert_string_equal(out, "yes");
    luart_close(s);
    ctx_free(e.ctx);
}

static void test_luart_dc_query_passes_through_the_backend(void **state)
{
    (void)state;
    struct env e;
    env_init(&e);
    struct luart *s = open_text("function invoke(args)\n"
                                "  local rows, cols = dc.query('demo', 'SELECT name, n FROM t "
                                "WHERE a = ? AND b = ?', {1, 'x'})\n"
                                "  return { first = rows[1].name, n = rows[2].n, c = cols[2],\n"
                                "           count = #rows }\n"
                                "end\n",
                                NULL, NULL);
    char err[256];
    assert_int_equal(ctx_set(e.ctx, "args", "{}"), DC_OK);
    assert_int_equal(luart_run_tool(s, &e.h, e.ctx, err, sizeof(err)), DC_OK);
    assert_int_equal(e.seen.queries, 1);
    assert_string_equal(e.seen.db, "demo");
    assert_int_equal(e.seen.nparams, 2);
    const char *res = ctx_get(e.ctx, "result");
    assert_non_null(res);
    assert_non_null(strstr(res, "\"first\":\"a\""));
    assert_non_null(strstr(res, "\"n\":11"));
    assert_non_null(strstr(res, "\"c\":\"n\""));
    assert_non_null(strstr(res, "\"count\":2"));
    luart_close(s);
    ctx_free(e.ctx);
}

static void test_luart_refused_query_fails_the_call_with_the_gate_error(void **state)
{
    (void)state;
    struct env e;
    env_init(&e);
    e.seen.deny = 1;
    struct luart *s = open_text("function invoke(args) dc.query(nil, 'DELETE FROM t') end\n",
                                NULL, NULL);
    char err[512];
    assert_int_not_equal(luart_run_tool(s, &e.h, e.ctx, err, sizeof(err)), DC_OK);
    assert_non_null(strstr(err, "refused"));
    assert_string_equal(ctx_error_code(e.ctx), "E-GATE-WRITE");
    luart_close(s);
    ctx_free(e.ctx);
}

static void test_luart_emit_get_and_reserved_keys(void **state)
{
    (void)state;
    struct env e;
    env_init(&e);
    struct luart *s = open_text("outcomes = {'ok'}\n"
                                "function run(ctx)\n"
                                "  dc.emit('x.list', {1, 2})\n"
                                "  dc.emit('x.who', dc.get('principal'))\n"
                                "  local ok = pcall(dc.emit, 'principal', 'admin')\n"
                                "  dc.emit('x.refused', not ok)\n"
                                "  return 'ok'\n"
                                "end\n",
                                NULL, NULL);
    const char *out = NULL;
    char err[256];
    assert_int_equal(luart_run_stage(s, &e.h, e.ctx, &out, err, sizeof(err)), DC_OK);
    assert_string_equal(ctx_get(e.ctx, "x.list"), "[1,2]");
    assert_string_equal(ctx_get(e.ctx, "x.who"), "analyst");
    assert_string_equal(ctx_get(e.ctx, "x.refused"), "true");
    assert_string_equal(ctx_get(e.ctx, "principal"), "analyst");
    luart_close(s);
    ctx_free(e.ctx);
}

/* What the sandbox worker installs: ctx reads, emits and trace notes go to
 * hooks (the core's context) instead of the call's local context. */
struct hooked {
    char emitted[256];
    char traced[128];
    int gets;
};

static int hook_get(void *arg, const char *key, const char **value, char *err, size_t errlen)
{
    struct hooked *h = arg;
    h->gets++;
    if (strcmp(key, "broken") == 0) {
        snprintf(err, errlen, "E-SANDBOX-TOO-BIG: too big");
        return DC_ELIMIT;
    }
    *value = strcmp(key, "question") == 0 ? "from the core" : NULL;
    return DC_OK;
}

static int hook_emit(void *arg, const char *key, const char *value, char *err, size_t errlen)
{
    struct hooked *h = arg;
    size_t n = strlen(h->emitted);
    snprintf(h->emitted + n, sizeof(h->emitted) - n, "%s=%s;", key, value ? value : "nil");
    if (strcmp(key, "refuse") == 0) {
        snprintf(err, errlen, "over the limit");
        return DC_ELIMIT;
    }
    return DC_OK;
}

static void hook_trace(void *arg, const char *msg)
{
    struct hooked *h = arg;
    snprintf(h->traced, sizeof(h->traced), "%s", msg);
}

static void test_luart_ctx_hooks_route_reads_emits_and_traces(void **state)
{
    (void)state;
    struct env e;
    env_init(&e);
    struct hooked hk = {0};
    struct luart *s = open_text("outcomes = {'ok'}\n"
                                "function run(ctx)\n"
                                "  dc.emit('q', ctx.question)\n"
                                "  dc.emit('g', dc.get('question'))\n"
                                "  dc.emit('t', {a = 1})\n"
                                "  dc.emit('gone', nil)\n"
                                "  dc.trace('noted')\n"
                                "  local ok1 = pcall(dc.get, 'broken')\n"
                                "  local ok2 = pcall(dc.emit, 'refuse', 'x')\n"
                                "  local ok3 = pcall(dc.emit, 'principal', 'root')\n"
                                "  dc.emit('oks', tostring(ok1) .. tostring(ok2) .. tostring(ok3))\n"
                                "  return 'ok'\n"
                                "end\n",
                                NULL, NULL);
    const struct luart_ctx_hooks hooks = {&hk, hook_get, hook_emit, hook_trace};
    luart_set_ctx_hooks(s, &hooks);
    const char *out = NULL;
    char err[256];
    assert_int_equal(luart_run_stage(s, &e.h, e.ctx, &out, err, sizeof(err)), DC_OK);
    assert_string_equal(hk.emitted, "q=from the core;g=from the core;t={\"a\":1};gone=nil;"
                                    "refuse=x;oks=falsefalsefalse;");
    assert_string_equal(hk.traced, "noted");
    assert_int_equal(hk.gets, 3);
    assert_true(luart_reserved_key("principal"));
    assert_false(luart_reserved_key("route"));
    luart_close(s);
    ctx_free(e.ctx);
}

static void test_luart_pooled_state_forgets_globals_between_calls(void **state)
{
    (void)state;
    struct env e;
    env_init(&e);
    struct luart *s = open_text("outcomes = {'first', 'again'}\n"
                                "local calls = 0\n"
                                "function run(ctx)\n"
                                "  calls = calls + 1\n"
                                "  local seen = leftover\n"
                                "  leftover = true\n"
                                "  setmetatable(_G, {__index = function() return 1 end})\n"
                                "  if seen or calls > 1 then return 'again' end\n"
                                "  return 'first'\n"
                                "end\n",
                                NULL, NULL);
    for (int i = 0; i < 3; i++) {
        const char *out = NULL;
        char err[256];
        assert_int_equal(luart_run_stage(s, &e.h, e.ctx, &out, err, sizeof(err)), DC_OK);
        assert_string_equal(out, "first");
    }
    luart_close(s);
    ctx_free(e.ctx);
}

static void test_luart_json_round_trip(void **state)
{
    (void)state;
    struct env e;
    env_init(&e);
    struct luart *s = open_text(
        "function invoke(args)\n"
        "  local t = dc.json.decode(dc.json.encode({a = {1, 2, 3}, b = 'x', c = true}))\n"
        "  assert(t.a[3] == 3 and t.b == 'x' and t.c == true)\n"
        "  local ok, msg = pcall(dc.json.encode, {f = print})\n"
        "  assert(not ok and msg:find('no JSON form'))\n"
        "  return { args = args, echo = t.a }\n"
        "end\n",
        NULL, NULL);
    char err[256];
    assert_int_equal(ctx_set(e.ctx, "args", "{\"k\":[1,{\"z\":null}]}"), DC_OK);
    assert_int_equal(luart_run_tool(s, &e.h, e.ctx, err, sizeof(err)), DC_OK);
    assert_string_equal(ctx_get(e.ctx, "result"), "{\"args\":{\"k\":[1,{}]},\"echo\":[1,2,3]}");
    luart_close(s);
    ctx_free(e.ctx);
}

static void test_luart_helper_library_is_dc_util(void **state)
{
    (void)state;
    struct env e;
    env_init(&e);
    char lib[1024];
    snprintf(lib, sizeof(lib), "%s/lua/lib/dc_util.lua", DC_SOURCE_DIR);
    struct luart *s = open_text("outcomes = {'match', 'other'}\n"
                                "function run(ctx)\n"
                                "  assert(not pcall(function() dc.util.has_word = nil end))\n"
                                "  assert(dc.util.quote_ident('orders') == '\"orders\"')\n"
                                "  assert(not pcall(dc.util.quote_ident, 'x; drop'))\n"
                                "  if dc.util.has_word(ctx.question, config.word) then\n"
                                "    return 'match'\n"
                                "  end\n"
                                "  return 'other'\n"
                                "end\n",
                                lib, NULL);
    assert_int_equal(luart_set_option(s, "word", "salary", NULL, 0), DC_OK);
    const char *out = NULL;
    char err[512];
    int rc = luart_run_stage(s, &e.h, e.ctx, &out, err, sizeof(err));
    if (rc != DC_OK)
        fail_msg("%s", err);
    assert_string_equal(out, "match");
    luart_close(s);
    ctx_free(e.ctx);
}

static void test_luart_limits_stop_loops_and_allocations(void **state)
{
    (void)state;
    struct env e;
    env_init(&e);
    struct luart_limits lim = {(size_t)2 << 20, 500000, LUART_POOLED};
    struct luart *s = open_text("outcomes = {'ok'}\n"
                                "function run(ctx)\n"
                                "  if ctx.mode == 'loop' then while true do end end\n"
                                "  local t = {}\n"
                                "  for i = 1, 1e8 do t[i] = {} end\n"
                                "end\n",
                                NULL, &lim);
    const char *out = NULL;
    char err[512];
    assert_int_equal(luart_run_stage(s, &e.h, e.ctx, &out, err, sizeof(err)), DC_ENOMEM);
    assert_non_null(strstr(err, "E-LUA-MEMORY"));
    assert_string_equal(ctx_error_code(e.ctx), "E-LUA-MEMORY");
    ctx_free(e.ctx);
    env_init(&e);
    assert_int_equal(ctx_set(e.ctx, "mode", "loop"), DC_OK);
    assert_int_equal(luart_run_stage(s, &e.h, e.ctx, &out, err, sizeof(err)), DC_ETIMEOUT);
    assert_non_null(strstr(err, "E-LUA-DEADLINE"));
    assert_non_null(strstr(err, "t.lua:3:"));
    luart_close(s);
    ctx_free(e.ctx);
}

static void test_luart_syntax_error_cites_file_and_line(void **state)
{
    (void)state;
    struct luart *s = NULL;
    char err[512];
    const char *text = "outcomes = {'ok'}\nfunction run(ctx)\n  return = 1\nend\n";
    assert_int_equal(luart_open_buffer(text, strlen(text), "stages/bad.lua", NULL, NULL, &s, err,
                                       sizeof(err)),
                     DC_EINVAL);
    assert_null(s);
    assert_non_null(strstr(err, "E-LUA-SYNTAX"));
    assert_non_null(strstr(err, "stages/bad.lua:3:"));
}

static void test_luart_undeclared_outcome_is_returned_as_is(void **state)
{
    (void)state;
    struct env e;
    env_init(&e);
    struct luart *s = open_text("outcomes = {'ok'}\nfunction run(ctx) return 'typo' end\n", NULL,
                                NULL);
    const char *out = NULL;
    char err[256];
    assert_int_equal(luart_run_stage(s, &e.h, e.ctx, &out, err, sizeof(err)), DC_OK);
    assert_string_equal(out, "typo");
    luart_close(s);
    ctx_free(e.ctx);
}

static void test_luart_script_path_resolves_against_the_config_dir(void **state)
{
    (void)state;
    char *p = luart_script_path("/etc/dc", "lua:stages/x.lua");
    assert_string_equal(p, "/etc/dc/stages/x.lua");
    free(p);
    p = luart_script_path("/etc/dc", "lua:/abs/x.lua");
    assert_string_equal(p, "/abs/x.lua");
    free(p);
    assert_null(luart_script_path("/etc/dc", "intent"));
}

/* config check: a typo in `on:` of a Lua stage, and a missing script. */
static const struct dc_plugin_descriptor *no_plugins(void *arg, int kind, const char *name)
{
    (void)arg;
    (void)kind;
    (void)name;
    return NULL;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void test_config_lua_stage_outcome_typo_and_missing_script(void **state)
{
    (void)state;
    char dir[] = "/tmp/dc-luart-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char script[256], cfgp[256];
    snprintf(script, sizeof(script), "%s/route.lua", dir);
    snprintf(cfgp, sizeof(cfgp), "%s/dc.yaml", dir);
    write_file(script, "outcomes = {'match', 'other'}\nfunction run(ctx) return 'other' end\n");
    write_file(cfgp, "version: 1\n"
                     "pipeline:\n"
                     "  entry: triage\n"
                     "  stages:\n"
                     "    triage:\n"
                     "      use: \"lua:route.lua\"\n"
                     "      on: { mtach: done, other: done }\n"
                     "    done: { use: \"lua:route.lua\" }\n"
                     "tools:\n"
                     "  gone: { use: \"lua:tools/gone.lua\" }\n");
    struct dc_config *cfg = NULL;
    struct cfg_diags *d = calloc(1, sizeof(*d));
    assert_non_null(d);
    assert_int_equal(config_load(cfgp, &cfg, d), DC_EINVAL);
    int missing = 0;
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->d[i].code, "E-CFG-LUA-NOT-FOUND") == 0 && d->d[i].line == 10)
            missing = 1;
    assert_true(missing);
    config_free(cfg);
    cfg = NULL;

    write_file(cfgp, "version: 1\n"
                     "pipeline:\n"
                     "  entry: triage\n"
                     "  stages:\n"
                     "    triage:\n"
                     "      use: \"lua:route.lua\"\n"
                     "      on: { mtach: done, other: done }\n"
                     "    done: { use: \"lua:route.lua\" }\n");
    assert_int_equal(config_load(cfgp, &cfg, d), DC_OK);
    assert_int_equal(config_resolve(cfg, no_plugins, NULL, d), DC_EINVAL);
    assert_int_equal(d->n, 1);
    assert_string_equal(d->d[0].code, "E-CFG-UNKNOWN-OUTCOME");
    assert_int_equal(d->d[0].line, 7);
    assert_non_null(strstr(d->d[0].hint, "match"));
    config_free(cfg);
    free(d);
    unlink(script);
    unlink(cfgp);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_luart_stage_returns_declared_outcome),
        cmocka_unit_test(test_luart_dc_query_passes_through_the_backend),
        cmocka_unit_test(test_luart_refused_query_fails_the_call_with_the_gate_error),
        cmocka_unit_test(test_luart_emit_get_and_reserved_keys),
        cmocka_unit_test(test_luart_ctx_hooks_route_reads_emits_and_traces),
        cmocka_unit_test(test_luart_pooled_state_forgets_globals_between_calls),
        cmocka_unit_test(test_luart_json_round_trip),
        cmocka_unit_test(test_luart_helper_library_is_dc_util),
        cmocka_unit_test(test_luart_limits_stop_loops_and_allocations),
        cmocka_unit_test(test_luart_syntax_error_cites_file_and_line),
        cmocka_unit_test(test_luart_undeclared_outcome_is_returned_as_is),
        cmocka_unit_test(test_luart_script_path_resolves_against_the_config_dir),
        cmocka_unit_test(test_config_lua_stage_outcome_typo_and_missing_script),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
