#include "tools.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>

#include "audit.h"
#include "config.h"
#include "ctx.h"
#include "hostapi.h"
#include "luart.h"
#include "pluginlock.h"
#include "registry.h"
#include "sandbox.h"
#include "util.h"

struct tool_inst {
    const struct cfg_tool *cfg;
    const struct dc_plugin_ref *plugin;
    const struct dc_tool_vtable *vt;
    struct host_self self;
    struct dc_host host;
    void *state;
    int inited;
    struct luart *lua; /* `use: "lua:..."`: the script instead of plugin/vt */
    struct sandbox *sb; /* sandboxed: the plugin runs in a datachat-worker */
};

struct toolset {
    struct tool_inst *t;
    size_t n;
    struct audit *audit; /* sandbox failures are recorded here; may be NULL */
};

void tools_free(struct toolset *ts)
{
    if (!ts)
        return;
    for (size_t i = ts->n; i-- > 0;) {
        if (ts->t[i].inited && ts->t[i].vt && ts->t[i].vt->fini)
            ts->t[i].vt->fini(ts->t[i].state);
        luart_close(ts->t[i].lua);
        sandbox_free(ts->t[i].sb);
    }
    free(ts->t);
    free(ts);
}

/* Loads a Lua tool's script with the tool's `with:` as its `config`. */
static int lua_tool_open(const struct dc_config *cfg, struct tool_inst *t, char *err,
                         size_t errlen)
{
    char *path = luart_script_path(cfg->dir, t->cfg->use);
    char *lib = luart_find_lib(path);
    char lerr[1024] = "";
    int rc = path ? DC_OK : DC_ENOMEM;
    if (rc == DC_OK)
        rc = luart_open(path, t->cfg->use + 4, lib, NULL, &t->lua, lerr, sizeof(lerr));
    for (size_t i = 0; rc == DC_OK && i < t->cfg->with.nopts; i++) {
        const struct cfg_opt *o = &t->cfg->with.opts[i];
        rc = luart_set_option(t->lua, o->key, o->value, o->is_list ? (const char *const *)o->items
                                                                    : NULL, o->nitems);
    }
    if (rc == DC_OK && !luart_defines(t->lua, "invoke"))
        rc = util_err(lerr, sizeof(lerr), DC_EINVAL, "E-LUA-NO-INVOKE: the script defines no "
                      "function invoke(args)");
    free(path);
    free(lib);
    if (rc != DC_OK)
        return util_err(err, errlen, rc, "%s:%d:%d: tool '%s' (%s): %s", cfg->path, t->cfg->line,
                        t->cfg->col, t->cfg->name, t->cfg->use, lerr[0] ? lerr : "out of memory");
    t->self.plugin_name = t->cfg->use;
    t->self.min_level = DC_LOG_WARN;
    hostapi_init(&t->host, &t->self);
    return DC_OK;
}

/* Starts the tool's worker: the plugin is loaded and initialised there,
 * never in this process. */
static int sandbox_tool_open(const struct dc_config *cfg, struct tool_inst *t, char *err,
                             size_t errlen)
{
    char serr[512] = "";
    struct sandbox_opts so = {.plugin_path = t->plugin->path,
                              .tool = t->cfg->name,
                              .with = &t->cfg->with,
                              .deadline_ms = cfg->timeout_ms};
    int rc = sandbox_new(&so, &t->sb, serr, sizeof(serr));
    if (rc != DC_OK)
        return util_err(err, errlen, rc, "%s:%d:%d: tool '%s' (plugin %s, sandboxed): %s",
                        cfg->path, t->cfg->line, t->cfg->col, t->cfg->name, t->plugin->name,
                        serr);
    return DC_OK;
}

void tools_set_audit(struct toolset *ts, struct audit *a)
{
    if (ts)
        ts->audit = a;
}

/* A sandboxed tool that failed (crashed, hung, broke the protocol, or gave
 * up) leaves an audit record: it is what an attack looks like from outside. */
static void audit_sandbox_failure(struct toolset *ts, struct dc_ctx *ctx, const char *name,
                                  int64_t us)
{
    const char *code = ctx_error_code(ctx);
    if (!ts->audit)
        return;
    char err[256], what[320];
    snprintf(what, sizeof(what), "tool call: %s", name);
    struct audit_record r = {.event = "error",
                             .principal = ctx_get(ctx, "principal"),
                             .database = ctx_get(ctx, "database"),
                             .rows = -1,
                             .duration_us = us,
                             .outcome = "error",
                             .code = code ? code : "E-TOOL-FAILED",
                             .reason = ctx_error_message(ctx),
                             .question = what};
    if (audit_append(ts->audit, &r, err, sizeof(err)) != DC_OK)
        ctx_fail(ctx, "E-AUDIT-WRITE", "%s", err);
}

int tools_new(const struct dc_config *cfg, const struct registry *reg, struct toolset **out,
              char *err, size_t errlen)
{
    int rc = DC_OK;
    struct toolset *ts = calloc(1, sizeof(*ts));
    if (!ts)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    ts->t = calloc(cfg->ntools ? cfg->ntools : 1, sizeof(*ts->t));
    if (!ts->t) {
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < cfg->ntools; i++) {
        struct tool_inst *t = &ts->t[i];
        t->cfg = &cfg->tools[i];
        if (luart_is_lua_use(t->cfg->use)) {
            ts->n++;
            rc = lua_tool_open(cfg, t, err, errlen);
            if (rc != DC_OK)
                goto cleanup;
            continue;
        }
        t->plugin = registry_find(reg, DC_KIND_TOOL, t->cfg->use);
        if (!t->plugin) {
            rc = util_err(err, errlen, DC_ENOTFOUND,
                          "%s:%d:%d: tool '%s' uses '%s', but no tool plugin of that name is "
                          "loaded (see `datachat plugins list`)",
                          cfg->path, t->cfg->line, t->cfg->col, t->cfg->name, t->cfg->use);
            goto cleanup;
        }
        t->vt = t->plugin->vtable;
        t->self.plugin_name = t->plugin->name;
        t->self.min_level = DC_LOG_WARN;
        hostapi_init(&t->host, &t->self);
        ts->n++;
        /* Tier 5 is custom code: it runs in the worker; so does a plugin
         * installed with `plugins install --sandbox`. */
        const struct pluginlock *lk = registry_lock(reg);
        const struct pluginlock_entry *le =
            lk ? pluginlock_find_file(lk, t->plugin->path) : NULL;
        if (t->cfg->sandbox || t->vt->tier >= 5 || (le && le->sandbox)) {
            rc = sandbox_tool_open(cfg, t, err, errlen);
            if (rc != DC_OK)
                goto cleanup;
            continue;
        }
        if (t->vt->init) {
            char perr[512] = "";
            int prc = t->vt->init(&t->host, &t->cfg->with, &t->state, perr, sizeof(perr));
            if (prc != DC_OK) {
                rc = util_err(err, errlen, prc < 0 ? prc : DC_ERR,
                              "tool '%s' (plugin %s): init failed: %s", t->cfg->name,
                              t->plugin->name, perr[0] ? perr : "no reason given");
                goto cleanup;
            }
        }
        t->inited = 1;
    }
    *out = ts;
    ts = NULL;
cleanup:
    tools_free(ts);
    return rc;
}

size_t tools_count(const struct toolset *ts)
{
    return ts ? ts->n : 0;
}

int tools_info(const struct toolset *ts, size_t i, struct tool_info *out)
{
    if (!ts || i >= ts->n)
        return DC_ENOTFOUND;
    const struct tool_inst *t = &ts->t[i];
    out->name = t->cfg->name;
    out->plugin = t->lua ? t->cfg->use : t->plugin->name;
    /* A Lua tool is custom code: tier 5, described by its script's file. */
    out->description = t->lua ? "Lua script tool" : t->vt->description;
    out->params_schema = t->lua ? NULL : t->vt->params_schema;
    out->tier = t->lua ? 5 : t->vt->tier;
    out->sandbox = t->sb ? 1 : t->cfg->sandbox;
    return DC_OK;
}

int tools_call(struct toolset *ts, const char *name, const char *args_json, struct dc_ctx *ctx)
{
    struct tool_inst *t = NULL;
    for (size_t i = 0; ts && i < ts->n; i++)
        if (strcmp(ts->t[i].cfg->name, name) == 0)
            t = &ts->t[i];
    if (!t) {
        ctx_fail(ctx, "E-TOOL-UNKNOWN", "no tool named '%s' is configured (see `datachat tools "
                                        "list`)", name);
        return DC_ENOTFOUND;
    }
    json_error_t jerr;
    json_t *args = json_loads(args_json ? args_json : "{}", JSON_REJECT_DUPLICATES, &jerr);
    if (!args || !json_is_object(args)) {
        ctx_fail(ctx, "E-TOOL-ARGS", "tool '%s': arguments must be a JSON object%s%s", name,
                 args ? "" : ": ", args ? "" : jerr.text);
        json_decref(args);
        return DC_EINVAL;
    }
    char *canon = json_dumps(args, JSON_COMPACT);
    json_decref(args);
    if (!canon || ctx_set(ctx, "args", canon) != DC_OK || ctx_set(ctx, "tool", name) != DC_OK) {
        free(canon);
        return DC_ENOMEM;
    }
    free(canon);
    const char *pname = t->lua ? t->cfg->use : t->plugin->name;
    if (ctx_trace_begin(ctx, name, pname) != DC_OK)
        return DC_ENOMEM;
    int64_t t0 = util_now_us();
    char lerr[8] = ""; /* luart records its error in ctx itself */
    int rc = t->lua  ? luart_run_tool(t->lua, &t->host, ctx, lerr, sizeof(lerr))
             : t->sb ? sandbox_call(t->sb, ctx_get(ctx, "args"), ctx)
                     : t->vt->invoke(t->state, ctx);
    ctx_trace_end(ctx, rc == DC_OK ? "ok" : NULL, util_now_us() - t0);
    if (rc != DC_OK && t->sb)
        audit_sandbox_failure(ts, ctx, name, util_now_us() - t0);
    if (rc != DC_OK) {
        ctx_fail(ctx, "E-TOOL-FAILED", "tool '%s' (plugin %s) failed without a reason", name,
                 pname);
        return rc < 0 ? rc : DC_ERR;
    }
    return DC_OK;
}
