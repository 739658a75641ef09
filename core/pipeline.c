#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>

#include "audit.h"
#include "config.h"
#include "ctx.h"
#include "hostapi.h"
#include "luart.h"
#include "registry.h"
#include "sandbox.h"
#include "util.h"

/* With no max_steps the graph is acyclic (config_load checks), so a walk
 * visits each stage at most once. */
struct stage_inst {
    const struct cfg_stage *cfg;
    const struct dc_plugin_ref *plugin;
    const struct dc_stage_vtable *vt;
    struct host_self self;
    struct dc_host host;
    void *state;
    int inited;
    struct luart *lua; /* `use: "lua:..."`: the script instead of plugin/vt */
    struct sandbox *sb; /* `sandbox: true` Lua stage: the script runs in a worker */
};

struct pipeline {
    const struct dc_config *cfg;
    struct stage_inst *st;
    size_t n;
    size_t entry;
    int max_steps;
    struct audit *audit; /* where sandboxed stage failures are recorded; may be NULL */
};

void pipeline_set_audit(struct pipeline *p, struct audit *a)
{
    if (p)
        p->audit = a;
}

/* A sandboxed stage that failed is what an attack by its script looks like
 * from outside: it leaves an audit record, as a failed sandboxed tool does. */
static int audit_sandbox_failure(const struct pipeline *p, const struct stage_inst *s,
                                 struct dc_ctx *ctx, int64_t us)
{
    if (!p->audit)
        return DC_OK;
    char what[320], err[256];
    snprintf(what, sizeof(what), "sandboxed stage: %s (%s)", s->cfg->name, s->cfg->use);
    struct audit_record r = {.event = "error",
                             .principal = ctx_get(ctx, "principal"),
                             .database = ctx_get(ctx, "database"),
                             .rows = -1,
                             .duration_us = us,
                             .outcome = "error",
                             .code = ctx_error_code(ctx) ? ctx_error_code(ctx) : "E-STAGE-FAILED",
                             .reason = ctx_error_message(ctx),
                             .question = what,
                             .policy = "stage sandbox (datachat-worker)"};
    if (audit_append(p->audit, &r, err, sizeof(err)) != DC_OK) {
        ctx_fail(ctx, "E-AUDIT-WRITE", "%s", err);
        return DC_EIO;
    }
    return DC_OK;
}

void pipeline_free(struct pipeline *p)
{
    if (!p)
        return;
    for (size_t i = p->n; i-- > 0;) {
        if (p->st[i].inited && p->st[i].vt && p->st[i].vt->fini)
            p->st[i].vt->fini(p->st[i].state);
        luart_close(p->st[i].lua);
        sandbox_free(p->st[i].sb);
    }
    free(p->st);
    free(p);
}

static long stage_index(const struct pipeline *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->st[i].cfg->name, name) == 0)
            return (long)i;
    return -1;
}

static void stage_worker_log(void *arg, int level, const char *msg)
{
    const struct stage_inst *s = arg;
    s->host.log(&s->host, level, "%s", msg);
}

/* A sandboxed Lua stage: its script runs (top level included) only in its
 * datachat-worker, never in this process. */
static int lua_stage_sandbox(const struct dc_config *cfg, struct stage_inst *s, char *path,
                             char *lib, char *lerr, size_t lerrlen)
{
    const struct sandbox_opts so = {.plugin_path = path,
                                    .tool = s->cfg->name,
                                    .with = &s->cfg->with,
                                    .deadline_ms = cfg->timeout_ms,
                                    .lua_name = s->cfg->use + 4,
                                    .lua_lib = lib,
                                    .log = stage_worker_log,
                                    .log_arg = s,
                                    .kind = SANDBOX_STAGE};
    return sandbox_new(&so, &s->sb, lerr, lerrlen);
}

/* Loads a Lua stage's script with the stage's `with:` as its `config`. */
static int lua_stage_open(const struct dc_config *cfg, struct stage_inst *s,
                          pipeline_log_sink sink, void *sink_arg, int log_level, char *err,
                          size_t errlen)
{
    char *path = luart_script_path(cfg->dir, s->cfg->use);
    char *lib = luart_find_lib(path);
    char lerr[1024] = "";
    int rc = path ? DC_OK : DC_ENOMEM;
    s->self.plugin_name = s->cfg->use;
    s->self.sink = sink;
    s->self.sink_arg = sink_arg;
    s->self.min_level = log_level;
    hostapi_init(&s->host, &s->self);
    if (rc == DC_OK && s->cfg->sandbox)
        rc = lua_stage_sandbox(cfg, s, path, lib, lerr, sizeof(lerr));
    else if (rc == DC_OK)
        rc = luart_open(path, s->cfg->use + 4, lib, NULL, &s->lua, lerr, sizeof(lerr));
    for (size_t i = 0; rc == DC_OK && s->lua && i < s->cfg->with.nopts; i++) {
        const struct cfg_opt *o = &s->cfg->with.opts[i];
        rc = luart_set_option(s->lua, o->key, o->value, o->is_list ? (const char *const *)o->items
                                                                    : NULL, o->nitems);
    }
    if (rc == DC_OK && s->lua && !luart_defines(s->lua, "run"))
        rc = util_err(lerr, sizeof(lerr), DC_EINVAL, "E-LUA-NO-RUN: the script defines no "
                      "function run(ctx)");
    free(path);
    free(lib);
    if (rc != DC_OK)
        return util_err(err, errlen, rc, "%s:%d:%d: stage '%s' (%s): %s", cfg->path,
                        s->cfg->line, s->cfg->col, s->cfg->name, s->cfg->use,
                        lerr[0] ? lerr : "out of memory");
    return DC_OK;
}

int pipeline_new(const struct dc_config *cfg, const struct registry *reg,
                 pipeline_log_sink sink, void *sink_arg, int log_level,
                 struct pipeline **out, char *err, size_t errlen)
{
    int rc = DC_OK;
    struct pipeline *p = calloc(1, sizeof(*p));
    if (!p)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    p->cfg = cfg;
    p->n = cfg->nstages;
    p->max_steps = cfg->max_steps > 0 ? cfg->max_steps : (int)cfg->nstages;
    p->st = calloc(p->n ? p->n : 1, sizeof(*p->st));
    if (!p->st) {
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < p->n; i++) {
        struct stage_inst *s = &p->st[i];
        s->cfg = &cfg->stages[i];
        if (luart_is_lua_use(s->cfg->use)) {
            rc = lua_stage_open(cfg, s, sink, sink_arg, log_level, err, errlen);
            if (rc != DC_OK)
                goto cleanup;
            continue;
        }
        s->plugin = registry_find(reg, DC_KIND_STAGE, s->cfg->use);
        if (!s->plugin) {
            rc = util_err(err, errlen, DC_ENOTFOUND,
                          "%s:%d:%d: stage '%s' uses '%s', but no stage plugin of that name is "
                          "loaded (see `datachat plugins list`)",
                          cfg->path, s->cfg->line, s->cfg->col, s->cfg->name, s->cfg->use);
            goto cleanup;
        }
        s->vt = s->plugin->vtable;
        s->self.plugin_name = s->plugin->name;
        s->self.sink = sink;
        s->self.sink_arg = sink_arg;
        s->self.min_level = log_level;
        s->self.denied = ~s->plugin->caps;
        hostapi_init(&s->host, &s->self);
        if (s->vt->init) {
            char perr[512] = "";
            int prc = s->vt->init(&s->host, &s->cfg->with, &s->state, perr, sizeof(perr));
            if (prc != DC_OK) {
                rc = util_err(err, errlen, prc < 0 ? prc : DC_ERR,
                              "stage '%s' (plugin %s): init failed: %s", s->cfg->name,
                              s->plugin->name, perr[0] ? perr : "no reason given");
                goto cleanup;
            }
        }
        s->inited = 1;
    }
    long e = stage_index(p, cfg->entry ? cfg->entry : "");
    if (e < 0) {
        rc = util_err(err, errlen, DC_EINVAL, "%s: pipeline entry '%s' is not a stage", cfg->path,
                      cfg->entry ? cfg->entry : "");
        goto cleanup;
    }
    p->entry = (size_t)e;
    *out = p;
    p = NULL;
cleanup:
    pipeline_free(p);
    return rc;
}

static int outcome_declared(const struct stage_inst *s, const char *outcome)
{
    const char *const *outs = s->sb ? sandbox_outcomes(s->sb)
                              : s->lua ? luart_outcomes(s->lua)
                                       : s->vt->outcomes;
    if (!outs)
        return 0;
    for (const char *const *o = outs; *o; o++)
        if (strcmp(*o, outcome) == 0)
            return 1;
    return 0;
}

int pipeline_run(struct pipeline *p, struct dc_ctx *ctx)
{
    return pipeline_run_observed(p, ctx, NULL, NULL);
}

int pipeline_run_observed(struct pipeline *p, struct dc_ctx *ctx, pipeline_step_fn on_step,
                          void *arg)
{
    size_t cur = p->entry;
    for (int step = 1;; step++) {
        if (step > p->max_steps) {
            ctx_fail(ctx, "E-PIPELINE-MAX-STEPS",
                     "the pipeline ran %d steps without finishing (pipeline.max_steps); check "
                     "the graph for a loop with `datachat config graph`",
                     p->max_steps);
            return DC_ELIMIT;
        }
        struct stage_inst *s = &p->st[cur];
        const char *pname = s->lua || s->sb ? s->cfg->use : s->plugin->name;
        if (ctx_trace_begin(ctx, s->cfg->name, pname) != DC_OK)
            return DC_ENOMEM;
        const char *outcome = NULL;
        int64_t t0 = util_now_us();
        char lerr[8] = ""; /* luart records its error in ctx itself */
        int rc = s->sb    ? sandbox_run_stage(s->sb, ctx, &outcome)
                 : s->lua ? luart_run_stage(s->lua, &s->host, ctx, &outcome, lerr, sizeof(lerr))
                          : s->vt->run(s->state, ctx, &outcome);
        int64_t us = util_now_us() - t0;
        if (rc != DC_OK) {
            ctx_trace_end(ctx, NULL, us);
            ctx_fail(ctx, "E-STAGE-FAILED", "stage '%s' (plugin %s) failed without a reason",
                     s->cfg->name, pname);
            if (s->sb)
                audit_sandbox_failure(p, s, ctx, us);
            return rc < 0 ? rc : DC_ERR;
        }
        if (!outcome || !outcome_declared(s, outcome)) {
            ctx_trace_end(ctx, outcome, us);
            ctx_fail(ctx, "E-PIPELINE-BAD-OUTCOME",
                     "stage '%s' (plugin %s) returned outcome '%s', which the plugin does not "
                     "declare; the plugin is faulty",
                     s->cfg->name, pname, outcome ? outcome : "(none)");
            return DC_EABI;
        }
        ctx_trace_end(ctx, outcome, us);
        if (on_step)
            on_step(arg, ctx);
        if (s->cfg->nedges == 0)
            return DC_OK;
        const char *next = NULL;
        for (size_t i = 0; i < s->cfg->nedges; i++)
            if (strcmp(s->cfg->edges[i].label, outcome) == 0)
                next = s->cfg->edges[i].target;
        if (!next) {
            ctx_fail(ctx, "E-PIPELINE-NO-EDGE",
                     "stage '%s' returned '%s' but %s:%d has no edge for it; add `%s: <stage>` "
                     "under its `on:`",
                     s->cfg->name, outcome, p->cfg->path, s->cfg->line, outcome);
            return DC_EINVAL;
        }
        long n = stage_index(p, next);
        if (n < 0) {
            ctx_fail(ctx, "E-PIPELINE-NO-EDGE", "edge %s -%s-> %s points at no stage",
                     s->cfg->name, outcome, next);
            return DC_EINVAL;
        }
        cur = (size_t)n;
    }
}
