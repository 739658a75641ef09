/*
 * Lua stage call cost: one run(ctx) of a trivial Lua stage through luart,
 * with pooled states (the default) and with a fresh state per call, against
 * a no-op stage call through a stage vtable (what the pipeline does for an
 * in-process .so stage once it is loaded), all in the same run. Prints the
 * medians and the ratios; fails only when a median misses its target by
 * far (limits are arguments: the machine is shared).
 * Usage: lua_bench LUA_LIMIT_US PLUGIN_LIMIT_US
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "ctx.h"
#include "hostapi.h"
#include "luart.h"
#include "util.h"

#define LUA_CALLS 2000
#define PLUGIN_CALLS 200000

static const char *const noop_outcomes[] = {"ok", NULL};

static int noop_run(void *state, struct dc_ctx *ctx, const char **outcome)
{
    (void)state;
    (void)ctx;
    *outcome = noop_outcomes[0];
    return DC_OK;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_d);
    return v[n / 2];
}

static int bench_lua(int mode, const struct dc_host *h, struct dc_ctx *ctx, double *out)
{
    static const char script[] = "outcomes = {\"ok\", \"other\"}\n"
                                 "function run(ctx)\n"
                                 "  if ctx.question == nil then return \"other\" end\n"
                                 "  return \"ok\"\n"
                                 "end\n";
    struct luart_limits lim = {0, 0, mode};
    struct luart *s = NULL;
    char err[512];
    if (luart_open_buffer(script, strlen(script), "bench.lua", NULL, &lim, &s, err,
                          sizeof(err)) != DC_OK) {
        fprintf(stderr, "luart_open: %s\n", err);
        return 1;
    }
    double *t = malloc(LUA_CALLS * sizeof(*t));
    if (!t) {
        luart_close(s);
        return 1;
    }
    for (size_t i = 0; i < LUA_CALLS; i++) {
        const char *o = NULL;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        int rc = luart_run_stage(s, h, ctx, &o, err, sizeof(err));
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (rc != DC_OK || strcmp(o, "ok") != 0) {
            fprintf(stderr, "run: %s\n", err);
            free(t);
            luart_close(s);
            return 1;
        }
        t[i] = (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
    }
    *out = median(t, LUA_CALLS);
    free(t);
    luart_close(s);
    return 0;
}

int main(int argc, char **argv)
{
    double lua_limit = argc > 1 ? atof(argv[1]) : 50.0;
    double plugin_limit = argc > 2 ? atof(argv[2]) : 1.0;
    struct dc_host h;
    hostapi_init(&h, NULL);
    struct dc_ctx *ctx = ctx_new(NULL);
    if (!ctx || ctx_set(ctx, "question", "how many orders") != DC_OK)
        return 1;

    /* the in-process call: batches of 1000 through the vtable pointer */
    struct dc_stage_vtable vt = {sizeof(vt), NULL, noop_outcomes, NULL, NULL, noop_run};
    struct dc_stage_vtable *volatile vp = &vt;
    double batches[PLUGIN_CALLS / 1000];
    for (size_t b = 0; b < PLUGIN_CALLS / 1000; b++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < 1000; i++) {
            const char *o = NULL;
            if (vp->run(NULL, ctx, &o) != DC_OK || !o)
                return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        batches[b] = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 +
                      (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / 1000.0;
    }
    double plugin = median(batches, PLUGIN_CALLS / 1000);
    double pooled, fresh;
    if (bench_lua(LUART_POOLED, &h, ctx, &pooled) || bench_lua(LUART_FRESH, &h, ctx, &fresh))
        return 1;
    ctx_free(ctx);
    printf("no-op stage call (vtable)   median %8.3f us  (target < %.1f us)\n", plugin,
           plugin_limit);
    printf("Lua stage, pooled state     median %8.3f us  (target < %.1f us)  %.0fx the no-op\n",
           pooled, lua_limit, pooled / (plugin > 0.001 ? plugin : 0.001));
    printf("Lua stage, fresh state      median %8.3f us  %.1fx pooled\n", fresh,
           fresh / pooled);
    int bad = 0;
    if (pooled > lua_limit) {
        printf("FAIL: the pooled Lua stage call misses its target\n");
        bad = 1;
    }
    if (plugin > plugin_limit) {
        printf("FAIL: the in-process stage call misses its target\n");
        bad = 1;
    }
    return bad;
}
