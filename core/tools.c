#include "tools.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>

#include "config.h"
#include "ctx.h"
#include "hostapi.h"
#include "registry.h"
#include "util.h"

struct tool_inst {
    const struct cfg_tool *cfg;
    const struct dc_plugin_ref *plugin;
    const struct dc_tool_vtable *vt;
    struct host_self self;
    struct dc_host host;
    void *state;
    int inited;
};

struct toolset {
    struct tool_inst *t;
    size_t n;
};

void tools_free(struct toolset *ts)
{
    if (!ts)
        return;
    for (size_t i = ts->n; i-- > 0;)
        if (ts->t[i].inited && ts->t[i].vt->fini)
            ts->t[i].vt->fini(ts->t[i].state);
    free(ts->t);
    free(ts);
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
    out->plugin = t->plugin->name;
    out->description = t->vt->description;
    out->params_schema = t->vt->params_schema;
    out->tier = t->vt->tier;
    out->sandbox = t->cfg->sandbox;
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
    if (ctx_trace_begin(ctx, name, t->plugin->name) != DC_OK)
        return DC_ENOMEM;
    int64_t t0 = util_now_us();
    int rc = t->vt->invoke(t->state, ctx);
    ctx_trace_end(ctx, rc == DC_OK ? "ok" : NULL, util_now_us() - t0);
    if (rc != DC_OK) {
        ctx_fail(ctx, "E-TOOL-FAILED", "tool '%s' (plugin %s) failed without a reason", name,
                 t->plugin->name);
        return rc < 0 ? rc : DC_ERR;
    }
    return DC_OK;
}
