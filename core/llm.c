#include "llm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <datachat/host.h>

#include "config.h"
#include "ctx.h"
#include "registry.h"
#include "util.h"

struct llm_inst {
    const struct cfg_llm *cfg;
    const struct dc_plugin_ref *plugin;
    const struct dc_llm_vtable *vt;
    struct host_self self;
    struct dc_host host;
    void *state;
    int inited;
};

struct llmset {
    struct llm_inst *l;
    size_t n;
};

void llms_free(struct llmset *s)
{
    if (!s)
        return;
    for (size_t i = s->n; i-- > 0;)
        if (s->l[i].inited && s->l[i].vt->fini)
            s->l[i].vt->fini(s->l[i].state);
    free(s->l);
    free(s);
}

/* A provider reports a bad option as "E-CFG-CODE: key: text"; the message
 * then points at that option's own line rather than the llm entry's. */
static int init_error(const struct dc_config *cfg, const struct llm_inst *l, int prc,
                      const char *perr, char *err, size_t errlen)
{
    int rc = prc < 0 ? prc : DC_ERR;
    const char *p = perr;
    size_t cl = strncmp(p, "E-CFG-", 6) == 0 ? strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ-") : 0;
    const char *key = cl && strncmp(p + cl, ": ", 2) == 0 ? p + cl + 2 : NULL;
    size_t kl = key ? strspn(key, "abcdefghijklmnopqrstuvwxyz_") : 0;
    if (kl && strncmp(key + kl, ": ", 2) == 0) {
        int line = l->cfg->line, col = l->cfg->col;
        for (size_t i = 0; i < l->cfg->opts.nopts; i++) {
            const struct cfg_opt *o = &l->cfg->opts.opts[i];
            if (strlen(o->key) == kl && strncmp(o->key, key, kl) == 0 && o->line > 0) {
                line = o->line;
                col = o->col;
            }
        }
        return util_err(err, errlen, rc, "%s:%d:%d: %.*s: llm.%s.%.*s: %s", cfg->path, line, col,
                        (int)cl, p, l->cfg->name, (int)kl, key, key + kl + 2);
    }
    return util_err(err, errlen, rc, "%s:%d:%d: llm '%s' (provider %s): %s", cfg->path,
                    l->cfg->line, l->cfg->col, l->cfg->name, l->plugin->name,
                    perr[0] ? perr : "init failed without a reason");
}

int llms_new(const struct dc_config *cfg, const struct registry *reg, hostapi_log_sink sink,
             void *sink_arg, int log_level, struct llmset **out, char *err, size_t errlen)
{
    int rc = DC_OK;
    struct llmset *s = calloc(1, sizeof(*s));
    if (!s)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    s->l = calloc(cfg->nllms ? cfg->nllms : 1, sizeof(*s->l));
    if (!s->l) {
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < cfg->nllms; i++) {
        struct llm_inst *l = &s->l[i];
        l->cfg = &cfg->llms[i];
        l->plugin = registry_find(reg, DC_KIND_LLM, l->cfg->provider);
        if (!l->plugin) {
            rc = util_err(err, errlen, DC_ENOTFOUND,
                          "%s:%d:%d: llm '%s' uses provider '%s', but no llm plugin of that name "
                          "is loaded (see `datachat plugins list`)",
                          cfg->path, l->cfg->line, l->cfg->col, l->cfg->name, l->cfg->provider);
            goto cleanup;
        }
        l->vt = l->plugin->vtable;
        l->self.plugin_name = l->plugin->name;
        l->self.sink = sink;
        l->self.sink_arg = sink_arg;
        l->self.min_level = log_level;
        l->self.denied = ~l->plugin->caps;
        hostapi_init(&l->host, &l->self);
        s->n++;
        if (l->vt->init) {
            char perr[512] = "";
            int prc = l->vt->init(&l->host, &l->cfg->opts, &l->state, perr, sizeof(perr));
            if (prc != DC_OK) {
                rc = init_error(cfg, l, prc, perr, err, errlen);
                goto cleanup;
            }
        }
        l->inited = 1;
    }
    *out = s;
    s = NULL;
cleanup:
    llms_free(s);
    return rc;
}

size_t llms_count(const struct llmset *s)
{
    return s ? s->n : 0;
}

const char *llms_name(const struct llmset *s, size_t i)
{
    return s && i < s->n ? s->l[i].cfg->name : NULL;
}

int llms_complete(struct llmset *s, const char *name, struct dc_ctx *ctx,
                  const char *request_json)
{
    struct llm_inst *l = NULL;
    for (size_t i = 0; s && i < s->n; i++)
        if (name ? strcmp(s->l[i].cfg->name, name) == 0
                 : strcmp(s->l[i].cfg->name, "default") == 0)
            l = &s->l[i];
    if (!l && !name && s && s->n)
        l = &s->l[0];
    if (!l) {
        if (name)
            ctx_fail(ctx, "E-LLM-UNKNOWN", "no llm named '%s' is configured; add it under llm: "
                                           "in the config", name);
        else
            ctx_fail(ctx, "E-LLM-NONE", "no language model is configured; add one under llm: "
                                        "(see docs/LLM.md) or ask a question the deterministic "
                                        "path can answer");
        return DC_ENOTFOUND;
    }
    /* A reply left from an earlier call must never pass for this one's. */
    if (ctx_set(ctx, "llm.reply", NULL) != DC_OK || ctx_set(ctx, "llm.usage", NULL) != DC_OK)
        return DC_ENOMEM;
    /* An "optional" call (a stage with a deterministic fallback) must not
     * leave its failure as the request's error; the reason moves to
     * "llm.error" for the caller. */
    int optional = 0, had_error = ctx_error_code(ctx) != NULL;
    json_t *req = request_json ? json_loads(request_json, 0, NULL) : NULL;
    optional = json_is_true(json_object_get(req, "optional"));
    json_decref(req);
    if (ctx_set(ctx, "llm.error", NULL) != DC_OK)
        return DC_ENOMEM;
    int rc = l->vt->complete(l->state, ctx, request_json ? request_json : "");
    if (rc != DC_OK && optional && !had_error) {
        const char *code = ctx_error_code(ctx);
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s: %s", code ? code : "E-LLM-FAILED",
                 ctx_error_message(ctx) ? ctx_error_message(ctx) : "the model call failed");
        if (code)
            ctx_clear_error(ctx, code);
        if (ctx_set(ctx, "llm.error", msg) != DC_OK)
            return DC_ENOMEM;
        return rc < 0 ? rc : DC_ERR;
    }
    if (rc != DC_OK) {
        ctx_fail(ctx, "E-LLM-FAILED", "llm '%s' (provider %s) failed without a reason",
                 l->cfg->name, l->plugin->name);
        return rc < 0 ? rc : DC_ERR;
    }
    return DC_OK;
}
