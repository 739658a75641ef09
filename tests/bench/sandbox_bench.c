/* The sandbox's cost: a warm worker round trip for the no-op tool sbnoop
 * against calling the same tool in process, both measured in this run.
 * With NOOP.lua, the same no-op as a Lua tool in a warm worker too; with
 * STAGE.lua, a no-op sandboxed Lua stage (run(ctx) reading one key).
 * Fails when a sandboxed p50 is over MAX_US (the target is 2 ms).
 * Usage: sandbox_bench WORKER PLUGIN.so CALLS MAX_US [NOOP.lua [STAGE.lua]] */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "config.h"
#include "ctx.h"
#include "hostapi.h"
#include "sandbox.h"
#include "util.h"

/* Nanoseconds: an in-process call takes well under a microsecond. */
static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double p50(int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp64);
    return (double)v[n / 2];
}

/* n warm calls of a started sandbox; the p50 in us, or -1 on a failure. */
static double run_boxed(const struct sandbox_opts *so, int n, int64_t *t, int64_t *start_us)
{
    char err[512] = "";
    struct sandbox *sb = NULL;
    int64_t s0 = util_now_us();
    if (sandbox_new(so, &sb, err, sizeof(err)) != DC_OK) {
        fprintf(stderr, "sandbox: %s\n", err);
        return -1;
    }
    *start_us = util_now_us() - s0;
    for (int i = 0; i < n; i++) {
        struct dc_ctx *c = ctx_new(NULL);
        if (!c)
            return -1;
        const char *outcome = NULL;
        int64_t t0 = now_ns();
        int rc = so->kind == SANDBOX_STAGE ? sandbox_run_stage(sb, c, &outcome)
                                           : sandbox_call(sb, "{}", c);
        t[i] = now_ns() - t0;
        const char *res = so->kind == SANDBOX_STAGE ? outcome : ctx_get(c, "result");
        const char *want = so->kind == SANDBOX_STAGE ? "ok" : "{\"ok\":1}";
        if (rc != DC_OK || !res || strcmp(res, want) != 0) {
            fprintf(stderr, "call %d failed: %s\n", i,
                    ctx_error_message(c) ? ctx_error_message(c) : "wrong result");
            ctx_free(c);
            sandbox_free(sb);
            return -1;
        }
        ctx_free(c);
    }
    sandbox_free(sb);
    return p50(t, n) / 1000.0;
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 7) {
        fprintf(stderr, "usage: %s WORKER PLUGIN.so CALLS MAX_US [NOOP.lua [STAGE.lua]]\n",
                argv[0]);
        return 2;
    }
    int n = atoi(argv[3]);
    double max_us = atof(argv[4]);
    if (n < 10)
        n = 10;
    int64_t *t = calloc((size_t)n, sizeof(*t));
    void *dl = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    dc_plugin_describe_fn fn = dl ? (dc_plugin_describe_fn)dlsym(dl, DC_PLUGIN_SYMBOL) : NULL;
    if (!t || !fn) {
        fprintf(stderr, "cannot load %s: %s\n", argv[2], dlerror());
        return 1;
    }
    const struct dc_tool_vtable *vt = fn()->vtable;
    struct dc_host h;
    hostapi_init(&h, NULL);
    struct dc_opts none = {0};
    void *state = NULL;
    if (vt->init(&h, &none, &state, NULL, 0) != DC_OK)
        return 1;

    /* In process: the plugin's invoke on a fresh context, as tools_call does. */
    for (int i = 0; i < n; i++) {
        struct dc_ctx *c = ctx_new(NULL);
        if (!c || ctx_set(c, "args", "{}") != DC_OK)
            return 1;
        int64_t t0 = now_ns();
        int rc = vt->invoke(state, c);
        t[i] = now_ns() - t0;
        ctx_free(c);
        if (rc != DC_OK)
            return 1;
    }
    double inproc = p50(t, n) / 1000.0;

    struct sandbox_opts so = {.worker_path = argv[1], .plugin_path = argv[2], .tool = "noop",
                              .with = &none};
    int64_t start_us = 0, lua_start_us = 0;
    double boxed = run_boxed(&so, n, t, &start_us);
    double lua_boxed = 0, stage_boxed = 0;
    if (boxed >= 0 && argc >= 6) {
        struct sandbox_opts lo = {.worker_path = argv[1], .plugin_path = argv[5],
                                  .tool = "lua_noop", .with = &none, .lua_name = "noop.lua"};
        lua_boxed = run_boxed(&lo, n, t, &lua_start_us);
    }
    int64_t stage_start_us = 0;
    if (boxed >= 0 && lua_boxed >= 0 && argc == 7) {
        struct sandbox_opts st = {.worker_path = argv[1], .plugin_path = argv[6],
                                  .tool = "noop_stage", .with = &none,
                                  .lua_name = "noop_stage.lua", .kind = SANDBOX_STAGE};
        stage_boxed = run_boxed(&st, n, t, &stage_start_us);
    }
    free(t);
    if (boxed < 0 || lua_boxed < 0 || stage_boxed < 0)
        return 1;
    if (vt->fini)
        vt->fini(state);
    dlclose(dl);
    double base = inproc > 0.001 ? inproc : 0.001;
    printf("no-op tool, %d calls: in process p50 %.3f us; sandboxed (warm worker) p50 %.1f us "
           "(target < 2000 us); ratio %.0fx; worker start %lld us\n",
           n, inproc, boxed, boxed / base, (long long)start_us);
    if (argc >= 6)
        printf("no-op Lua tool, %d calls: sandboxed (warm worker) p50 %.1f us (target < 2000 us); "
               "ratio %.0fx the in-process no-op; worker start %lld us\n",
               n, lua_boxed, lua_boxed / base, (long long)lua_start_us);
    if (argc == 7)
        printf("no-op Lua stage, %d runs: sandboxed (warm worker) p50 %.1f us (target < 2000 us); "
               "ratio %.0fx the in-process no-op; worker start %lld us\n",
               n, stage_boxed, stage_boxed / base, (long long)stage_start_us);
    if (boxed > max_us || lua_boxed > max_us || stage_boxed > max_us) {
        printf("FAIL: a sandboxed p50 (%.0f us, Lua tool %.0f us, Lua stage %.0f us) is over "
               "%.0f us\n", boxed, lua_boxed, stage_boxed, max_us);
        return 1;
    }
    return 0;
}
