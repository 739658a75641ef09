/*
 * The Lua sandbox attack suite: every tests/security/sandbox/lua_<name>.lua
 * is configured as a tool and called in ONE runtime, the way a server would
 * call it. Each attack must fail with the expected E-LUA-* (or gate) error,
 * after each one a benign dc.query tool must still answer and be audited,
 * and the scripts that must not even load (syntax error, bytecode, missing
 * file) must be refused by the config check with file:line.
 * MODE "inprocess" configures the tools with `sandbox: false` (the Lua
 * limits alone); "sandboxed" leaves the default, so each script runs in a
 * datachat-worker under seccomp and its dc.query goes over IPC to the core.
 * Usage: lua_attacks DATACHAT_EXE DEMO_DB SANDBOX_DIR WORK_DIR MODE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <datachat/value.h>

#include "config.h"
#include "ctx.h"
#include "runtime.h"

struct attack {
    const char *name;
    const char *args;
    int want_ok;
    const char *want[5];  /* substrings of "CODE: message" (or the result) */
    const char *never[3]; /* substrings that must not appear */
    int audited;          /* the attack itself leaves an audit record */
};

static const struct attack attacks[] = {
    {"os_execute", NULL, 0, {"E-LUA-RUNTIME", "global 'os'"}, {0}, 0},
    {"io_open", NULL, 0, {"E-LUA-RUNTIME", "global 'io'"}, {0}, 0},
    {"require", NULL, 0, {"E-LUA-RUNTIME", "global 'require'"}, {0}, 0},
    {"package_loadlib", NULL, 0, {"E-LUA-RUNTIME", "global 'package'"}, {0}, 0},
    {"load_bytecode", NULL, 0, {"E-LUA-RUNTIME", "global 'load'"}, {0}, 0},
    {"string_dump", NULL, 0, {"E-LUA-RUNTIME", "field 'dump'"}, {0}, 0},
    {"metatable_persist", "{\"phase\":\"tamper\"}", 1,
     {"\"string_mt\":false", "\"rawset\":false", "\"setmetatable\":false"},
     {"\"string_field\":true", "\"math\":true", "\"dc\":true"}, 0},
    {"metatable_persist", "{\"phase\":\"check\"}", 1,
     {"\"upper\":\"A\"", "\"global\":true", "\"print\":\"function\"",
      "\"query\":\"function\"", "\"undefined\":true"},
     {"pwned"}, 0},
    {"infinite_loop", NULL, 0, {"E-LUA-DEADLINE", "time limit"}, {0}, 0},
    {"pcall_loop", NULL, 0, {"E-LUA-DEADLINE", "time limit"}, {0}, 0},
    {"string_rep", NULL, 0, {"E-LUA-RUNTIME", "too large"}, {0}, 0},
    {"string_rep", "{\"n\":1073741824}", 0, {"E-LUA-MEMORY", "memory limit"}, {0}, 0},
    {"deep_recursion", NULL, 0, {"E-LUA-"}, {0}, 0},
    {"table_unpack", NULL, 0, {"E-LUA-RUNTIME", "too many results"}, {0}, 0},
    {"coroutine_bomb", NULL, 0, {"E-LUA-RUNTIME", "global 'coroutine'"}, {0}, 0},
    /* a bomb may meet the deadline before the cap on a loaded machine */
    {"coroutine_bomb", "{\"tables\":true}", 0, {"E-LUA-"}, {"E-LUA-RUNTIME"}, 0},
    {"runtime_error", NULL, 0,
     {"E-LUA-RUNTIME", "lua_runtime_error.lua:4:", "lua_runtime_error.lua:8: in function 'outer'"},
     {"[C]", ".c:", "luart"}, 0},
    {"gate_write", NULL, 0, {"E-"}, {0}, 1},
    {"emit_principal", NULL, 0, {"E-LUA-RUNTIME", "cannot be changed"}, {0}, 0},
    {"gc_finalizer", NULL, 0, {"E-LUA-RUNTIME", "__gc"}, {0}, 0},
    /* in-process: "only tools that run sandboxed"; sandboxed: the core's
     * allow list (both modes say "dc.http:" and never fetch) */
    {"http", NULL, 0, {"E-LUA-RUNTIME", "dc.http: E-"}, {"\"status\""}, 0},
    {"http", "{\"url\":\"file:///etc/passwd\"}", 0, {"E-LUA-RUNTIME", "dc.http: E-"},
     {"root:"}, 0},
};

static long count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    long n = 0;
    int ch;
    if (!f)
        return 0;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

static const char *tool_extra = ""; /* set once in main from MODE */
static const char *with_extra = "";  /* `with:` of the next config's tools */

static int write_config(const char *path, const char *db, const char *dir, const char *audit,
                        const char *const *tools, size_t ntools)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "version: 1\ndatabases:\n  demo: { connector: sqlite, path: \"%s\" }\n"
               "pipeline:\n  entry: reply\n  stages:\n    reply: { use: answer }\n"
               "audit: { path: \"%s\", fsync: never }\ntools:\n",
            db, audit);
    for (size_t i = 0; i < ntools; i++)
        fprintf(f, "  %s: { use: \"lua:%s/lua_%s.lua\"%s%s }\n", tools[i], dir, tools[i],
                tool_extra, with_extra);
    return fclose(f) == 0 ? 0 : -1;
}

static int call(struct runtime *rt, const char *tool, const char *args, char *out, size_t outlen)
{
    struct dc_ctx *ctx = NULL;
    int rc = runtime_call_tool(rt, tool, args, NULL, NULL, NULL, &ctx);
    if (rc == DC_OK)
        snprintf(out, outlen, "%s", ctx && ctx_get(ctx, "result") ? ctx_get(ctx, "result") : "");
    else
        snprintf(out, outlen, "%s: %s", ctx && ctx_error_code(ctx) ? ctx_error_code(ctx) : "?",
                 ctx && ctx_error_message(ctx) ? ctx_error_message(ctx) : "?");
    ctx_free(ctx);
    return rc;
}

/* A config naming one bad script must be refused at load with these words. */
static int expect_load_error(const char *exe, const char *db, const char *dir, const char *work,
                             const char *tool, const char *w1, const char *w2)
{
    char cfgp[1024], audit[1024];
    snprintf(cfgp, sizeof(cfgp), "%s/bad_%s.yaml", work, tool);
    snprintf(audit, sizeof(audit), "%s/bad_audit.jsonl", work);
    const char *tools[] = {tool};
    if (write_config(cfgp, db, dir, audit, tools, 1) != 0)
        return 1;
    struct runtime_opts o = {.config_path = cfgp, .exe_path = exe};
    struct runtime *rt = NULL;
    char err[1024] = "";
    int rc = runtime_load(&o, &rt, err, sizeof(err));
    char all[8192] = "";
    size_t used = 0;
    for (size_t i = 0; rt && i < rt->diags.n && used < sizeof(all); i++) {
        char line[2048];
        config_diag_format(&rt->diags.d[i], line, sizeof(line));
        used += (size_t)snprintf(all + used, sizeof(all) - used, "%s\n", line);
    }
    runtime_free(rt);
    int ok = rc != DC_OK && strstr(all, w1) && strstr(all, w2);
    printf("%s load %s: %s", ok ? "ok  " : "FAIL", tool, all[0] ? all : "(loaded)\n");
    return ok ? 0 : 1;
}

/* dc.log from the script lands in the core's log (stderr here), from the
 * worker too, which has no stderr of its own. */
/* One call of log_forward with stderr captured into text. */
static int call_captured(struct runtime *rt, const char *work, const char *args, char *out,
                         size_t outlen, char *text, size_t textlen)
{
    char path[1100];
    snprintf(path, sizeof(path), "%s/stderr.txt", work);
    fflush(stderr);
    int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (saved < 0 || fd < 0 || dup2(fd, 2) < 0)
        return -1;
    close(fd);
    int rc = call(rt, "log_forward", args, out, outlen);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(text, 1, textlen - 1, f) : 0;
    text[n] = '\0';
    if (f)
        fclose(f);
    return rc;
}

static int count_of(const char *text, const char *word)
{
    int n = 0;
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word))
        n++;
    return n;
}

static int check_log_forwarded(struct runtime *rt, const char *work, int sandboxed)
{
    char out[256];
    static char text[1 << 17];
    int rc = call_captured(rt, work, NULL, out, sizeof(out), text, sizeof(text));
    /* and nothing of the host: luaL_Buffer's placeholder once printed as
     * "userdata: 0x..." after the arguments */
    int ok = rc == DC_OK && strstr(text, "forwarded-log-marker 42\n") && strstr(text, "warn") &&
             !strstr(text, "userdata") && !strstr(text, "0x");
    printf("%s log_forward -> %s; log: %s\n", ok ? "ok  " : "FAIL", out, text);
    if (!ok || !sandboxed)
        return ok ? 0 : 1;
    /* a worker cannot flood the core's log: 100 lines a call, then a note */
    rc = call_captured(rt, work, "{\"flood\":1000}", out, sizeof(out), text, sizeof(text));
    int lines = count_of(text, "flood line");
    ok = rc == DC_OK && lines > 0 && lines < 100 && strstr(text, "were dropped");
    printf("%s log flood -> %s; %d lines kept\n", ok ? "ok  " : "FAIL", out, lines);
    return ok ? 0 : 1;
}

/* A valid `with:` loads, and the declared default reaches `config`. */
static int expect_options_ok(const char *exe, const char *db, const char *dir, const char *work)
{
    char cfgp[1024], audit[1024], out[512] = "";
    snprintf(cfgp, sizeof(cfgp), "%s/options_ok.yaml", work);
    snprintf(audit, sizeof(audit), "%s/options_audit.jsonl", work);
    const char *tools[] = {"options"};
    if (write_config(cfgp, db, dir, audit, tools, 1) != 0)
        return 1;
    struct runtime_opts o = {.config_path = cfgp, .exe_path = exe};
    struct runtime *rt = NULL;
    char err[1024] = "";
    int rc = runtime_load(&o, &rt, err, sizeof(err));
    if (rc == DC_OK)
        rc = runtime_start(rt, &o, err, sizeof(err));
    if (rc == DC_OK)
        rc = call(rt, "options", NULL, out, sizeof(out));
    runtime_free(rt);
    int ok = rc == DC_OK && strstr(out, "\"label\":\"hello\"") && strstr(out, "\"limit\":10");
    printf("%s options ok -> %s%s\n", ok ? "ok  " : "FAIL", out, err);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 6 || (strcmp(argv[5], "inprocess") != 0 && strcmp(argv[5], "sandboxed") != 0)) {
        fprintf(stderr, "usage: lua_attacks DATACHAT_EXE DEMO_DB SANDBOX_DIR WORK_DIR "
                        "inprocess|sandboxed\n");
        return 2;
    }
    tool_extra = strcmp(argv[5], "inprocess") == 0 ? ", sandbox: false" : "";
    const char *exe = argv[1], *db = argv[2], *dir = argv[3], *work = argv[4];
    char cfgp[1024], audit[1024];
    int fails = 0;
    mkdir(work, 0700);
    snprintf(cfgp, sizeof(cfgp), "%s/lua_attacks.yaml", work);
    snprintf(audit, sizeof(audit), "%s/audit.jsonl", work);
    remove(audit);
    char head[1100];
    snprintf(head, sizeof(head), "%s.head", audit);
    remove(head);

    const char *tools[32];
    size_t nt = 0;
    tools[nt++] = "ok_query";
    tools[nt++] = "log_forward";
    for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
        int dup = 0;
        for (size_t j = 0; j < nt; j++)
            dup |= strcmp(tools[j], attacks[i].name) == 0;
        if (!dup)
            tools[nt++] = attacks[i].name;
    }
    if (write_config(cfgp, db, dir, audit, tools, nt) != 0) {
        fprintf(stderr, "cannot write %s\n", cfgp);
        return 1;
    }
    struct runtime_opts o = {.config_path = cfgp, .exe_path = exe};
    struct runtime *rt = NULL;
    char err[2048] = "";
    if (runtime_load(&o, &rt, err, sizeof(err)) != DC_OK ||
        runtime_start(rt, &o, err, sizeof(err)) != DC_OK) {
        for (size_t i = 0; rt && i < rt->diags.n; i++) {
            char line[2048];
            config_diag_format(&rt->diags.d[i], line, sizeof(line));
            fprintf(stderr, "%s\n", line);
        }
        fprintf(stderr, "runtime: %s\n", err);
        runtime_free(rt);
        return 1;
    }
    for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
        const struct attack *a = &attacks[i];
        char out[4096];
        long before = count_lines(audit);
        int rc = call(rt, a->name, a->args, out, sizeof(out));
        long after = count_lines(audit);
        int ok = (rc == DC_OK) == a->want_ok;
        for (size_t w = 0; w < 5; w++)
            if (a->want[w] && !strstr(out, a->want[w]))
                ok = 0;
        for (size_t w = 0; w < 3; w++) {
            if (a->never[w] && strstr(out, a->never[w]))
                ok = 0;
        }
        if (a->audited && after <= before)
            ok = 0;
        /* still serving: a benign query right after, audited */
        char ok_out[1024];
        long b2 = count_lines(audit);
        int src = call(rt, "ok_query", NULL, ok_out, sizeof(ok_out));
        int serving = src == DC_OK && strstr(ok_out, "\"n\":") && count_lines(audit) > b2; /* the query, and the call itself */
        printf("%s %s%s%s -> %s\n", ok && serving ? "ok  " : "FAIL", a->name,
               a->args ? " " : "", a->args ? a->args : "", out);
        if (!serving)
            printf("     the next call failed: %s\n", ok_out);
        fails += !(ok && serving);
    }
    fails += check_log_forwarded(rt, work, strcmp(argv[5], "sandboxed") == 0);
    runtime_free(rt);

    /* declared options: unknown, missing and wrongly typed `with:` entries */
    with_extra = ", with: { label: x, limt: 3 }";
    fails += expect_load_error(exe, db, dir, work, "options", "E-CFG-UNKNOWN-KEY", "'limt'");
    with_extra = ", with: { limit: 3 }";
    fails += expect_load_error(exe, db, dir, work, "options", "E-CFG-MISSING", "'label'");
    with_extra = ", with: { label: x, limit: many }";
    fails += expect_load_error(exe, db, dir, work, "options", "E-CFG-TYPE", ".yaml:10:");
    with_extra = ", with: { label: x, tags: one }";
    fails += expect_load_error(exe, db, dir, work, "options", "E-CFG-TYPE", "must be a list");
    with_extra = ", with: { anything: 1 }"; /* a script without `options` takes none */
    fails += expect_load_error(exe, db, dir, work, "ok_query", "E-CFG-UNKNOWN-KEY",
                               "declares no options");
    with_extra = ", with: { label: hello }";
    fails += expect_options_ok(exe, db, dir, work);
    with_extra = "";

    fails += expect_load_error(exe, db, dir, work, "syntax_error", "E-CFG-LUA-SCRIPT",
                               "lua_syntax_error.lua:4:");
    fails += expect_load_error(exe, db, dir, work, "bytecode_file", "E-CFG-LUA-SCRIPT",
                               "binary chunk");
    fails += expect_load_error(exe, db, dir, work, "no_such_script", "E-CFG-LUA-NOT-FOUND",
                               ".yaml:10:");
    printf("%d failure(s)\n", fails);
    return fails ? 1 : 0;
}
