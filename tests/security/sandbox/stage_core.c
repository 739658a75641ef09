/*
 * The core's side of sandboxed Lua stages and described scripts, driven
 * directly through core/sandbox.h against the real datachat-worker:
 * outcomes, ctx reads, dc.emit and dc.trace over IPC, the core's refusal of
 * keys it owns, an undeclared outcome, os.execute, a spinning stage killed
 * at the deadline and the next run served by a new worker, `describe`
 * (config check) of good and hostile scripts, and a tool plugin built
 * against ABI 1.0 loading in the worker.
 *   sandbox-stage-core WORKER PLUGIN_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <datachat/plugin.h>

#include "config.h"
#include "ctx.h"
#include "ipc.h"
#include "sandbox.h"
#include "util.h"

static const char STAGE[] =
    "outcomes = { 'yes', 'no' }\n"
    "options = { level = { type = 'int', default = '3', help = 'how hard' } }\n"
    "function run(ctx)\n"
    "  local q = ctx.question\n"
    "  if q == 'maybe' then return 'maybe' end\n"
    "  if q == 'exec' then os.execute('id') end\n"
    "  if q == 'loop' then while true do end end\n"
    "  if q == 'principal' then dc.emit('principal', 'root') end\n"
    "  if q == 'del' then dc.emit('gone', nil) end\n"
    "  if q == 'big' then dc.emit('big', string.rep('x', 300000)) end\n"
    "  dc.trace('saw ' .. q)\n"
    "  dc.emit('seen', q .. '|' .. tostring(dc.get('principal')))\n"
    "  dc.emit('table', { n = 1 })\n"
    "  return 'yes'\n"
    "end\n";

static const char HOSTILE[] = "os.execute('id')\noutcomes = { 'yes' }\n"
                              "function run(ctx) return 'yes' end\n";

static int fails;

static void expect(int ok, const char *what, const char *detail)
{
    printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", what, detail ? ": " : "", detail ? detail : "");
    fails += !ok;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int rc = fputs(text, f) < 0 ? -1 : 0;
    return fclose(f) != 0 ? -1 : rc;
}

/* One run with question q; returns rc, *outcome and the ctx (caller frees). */
static int run(struct sandbox *sb, const char *q, const char **outcome, struct dc_ctx **out)
{
    struct dc_ctx *c = ctx_new(NULL);
    if (!c || ctx_set(c, "question", q) != DC_OK || ctx_set(c, "principal", "p1") != DC_OK ||
        ctx_set(c, "gone", "here") != DC_OK || ctx_trace_begin(c, "s", "lua:stage.lua") != DC_OK) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    *out = c;
    return sandbox_run_stage(sb, c, outcome);
}

static void check_stage(const char *worker, const char *script)
{
    const struct dc_opts none = {0};
    struct sandbox_opts so = {.worker_path = worker, .plugin_path = script, .tool = "s",
                              .with = &none, .lua_name = "stage.lua", .deadline_ms = 300,
                              .kind = SANDBOX_STAGE};
    struct sandbox *sb = NULL;
    char err[1024] = "";
    if (sandbox_new(&so, &sb, err, sizeof(err)) != DC_OK) {
        expect(0, "a sandboxed stage starts", err);
        return;
    }
    const char *const *outs = sandbox_outcomes(sb);
    expect(outs && outs[0] && strcmp(outs[0], "yes") == 0 && outs[1] &&
               strcmp(outs[1], "no") == 0 && !outs[2],
           "the worker reports the declared outcomes", NULL);
    const char *o = NULL;
    struct dc_ctx *c = NULL;
    int rc = run(sb, "hello", &o, &c);
    ctx_trace_end(c, o, 0); /* notes are joined into the step when it ends */
    const struct trace_step *st = ctx_trace_at(c, 0);
    expect(rc == DC_OK && o && strcmp(o, "yes") == 0, "run(ctx) returns its outcome",
           ctx_error_message(c));
    expect(ctx_get(c, "seen") && strcmp(ctx_get(c, "seen"), "hello|p1") == 0,
           "ctx reads and dc.emit reach the core's context", ctx_get(c, "seen"));
    expect(ctx_get(c, "table") && strcmp(ctx_get(c, "table"), "{\"n\":1}") == 0,
           "an emitted table arrives as JSON", ctx_get(c, "table"));
    expect(st && st->reason && strstr(st->reason, "saw hello"), "dc.trace notes the step",
           st ? st->reason : NULL);
    ctx_free(c);
    pid_t pid = sandbox_pid(sb);

    rc = run(sb, "del", &o, &c);
    expect(rc == DC_OK && !ctx_get(c, "gone"), "dc.emit(key, nil) deletes in the core", NULL);
    ctx_free(c);

    static const struct {
        const char *q, *code, *what;
    } bad[] = {
        {"principal", "E-LUA-RUNTIME", "emitting the principal is refused"},
        {"maybe", "E-SANDBOX-OUTCOME", "an undeclared outcome fails the stage"},
        {"exec", "E-LUA-RUNTIME", "os.execute is not there"},
        {"big", "E-LUA-RUNTIME", "an emit over the message limit is a script error"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rc = run(sb, bad[i].q, &o, &c);
        const char *code = ctx_error_code(c);
        int ok = rc != DC_OK && code && strcmp(code, bad[i].code) == 0 &&
                 strcmp(ctx_get(c, "principal"), "p1") == 0 && sandbox_pid(sb) == pid;
        expect(ok, bad[i].what, ctx_error_message(c));
        ctx_free(c);
    }

    rc = run(sb, "loop", &o, &c);
    expect(rc != DC_OK && ctx_error_code(c) && strcmp(ctx_error_code(c), "E-SANDBOX-TIMEOUT") == 0 &&
               sandbox_pid(sb) == 0,
           "a spinning stage's worker is killed at the deadline", ctx_error_message(c));
    ctx_free(c);
    rc = run(sb, "again", &o, &c);
    expect(rc == DC_OK && o && strcmp(o, "yes") == 0 && sandbox_pid(sb) != 0 &&
               sandbox_pid(sb) != pid,
           "the next run is served by a new worker", ctx_error_message(c));
    ctx_free(c);
    sandbox_free(sb);
}

static void check_describe(const char *worker, const char *script, const char *hostile)
{
    struct sandbox_opts so = {.worker_path = worker, .plugin_path = script, .tool = "check",
                              .lua_name = "stage.lua"};
    struct sandbox_lua_desc *d = NULL;
    char err[1024] = "";
    int rc = sandbox_lua_describe(&so, &d, err, sizeof(err));
    expect(rc == DC_OK && d && d->defines_run && !d->defines_invoke && d->outcomes &&
               strcmp(d->outcomes[0], "yes") == 0 && d->options &&
               strcmp(d->options[0].name, "level") == 0 && d->options[0].type == DC_OPT_INT &&
               d->options[0].default_value && strcmp(d->options[0].default_value, "3") == 0 &&
               !d->options[1].name,
           "describe returns the script's declarations", err);
    sandbox_lua_desc_free(d);
    so.plugin_path = hostile;
    so.lua_name = "hostile.lua";
    d = NULL;
    err[0] = '\0';
    rc = sandbox_lua_describe(&so, &d, err, sizeof(err));
    expect(rc != DC_OK && !d && strstr(err, "in the worker") && strstr(err, "hostile.lua:1"),
           "a hostile top level fails describe in the worker", err);
}

static void check_abi10(const char *worker, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/sbabi10.so", dir);
    const struct dc_opts none = {0};
    struct sandbox_opts so = {.worker_path = worker, .plugin_path = path, .tool = "v10",
                              .with = &none};
    struct sandbox *sb = NULL;
    char err[1024] = "";
    int rc = sandbox_new(&so, &sb, err, sizeof(err));
    struct dc_ctx *c = rc == DC_OK ? ctx_new(NULL) : NULL;
    if (c)
        rc = sandbox_call(sb, "{}", c);
    const char *res = c ? ctx_get(c, "result") : NULL;
    expect(rc == DC_OK && res && strcmp(res, "{\"abi\":\"1.0\"}") == 0,
           "a tool plugin built against ABI 1.0 loads and runs in the worker",
           c ? ctx_error_message(c) : err);
    ctx_free(c);
    sandbox_free(sb);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: sandbox-stage-core WORKER PLUGIN_DIR\n");
        return 2;
    }
    char dir[] = "/tmp/dc-stage-core-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char script[128], hostile[128];
    snprintf(script, sizeof(script), "%s/stage.lua", dir);
    snprintf(hostile, sizeof(hostile), "%s/hostile.lua", dir);
    if (write_file(script, STAGE) != 0 || write_file(hostile, HOSTILE) != 0) {
        perror("write");
        return 1;
    }
    check_stage(argv[1], script);
    check_describe(argv[1], script, hostile);
    check_abi10(argv[1], argv[2]);
    unlink(script);
    unlink(hostile);
    rmdir(dir);
    printf("sandbox-stage-core: %d failed\n", fails);
    return fails ? 1 : 0;
}
