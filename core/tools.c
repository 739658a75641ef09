#include "tools.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>

#include "approval.h"
#include "audit.h"
#include "config.h"
#include "ctx.h"
#include "hostapi.h"
#include "httptool.h"
#include "jschema.h"
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
    struct luart *lua; /* `use: "lua:..."` in-process: the script instead of plugin/vt */
    int is_lua;        /* `use: "lua:..."`, in-process (lua) or sandboxed (sb) */
    struct httptool *http; /* `use: http`: a YAML-described HTTP tool (tier 5, core code) */
    struct sandbox *sb; /* sandboxed: the plugin runs in a datachat-worker */
    struct toolset *ts; /* the owner: its audit log records the worker's HTTP */
};

/* The default tool set: plugins/tool-builtin, one plugin per tool. */
static const char *const builtin_tools[] = {
    "query_database", "list_tables", "describe_table", "sample_rows", "read_file",
    "list_files", "explain_query_plan", "profile_table", "update_datapoint"};
#define NBUILTIN (sizeof(builtin_tools) / sizeof(builtin_tools[0]))

struct toolset {
    struct tool_inst *t;
    size_t n;
    struct audit *audit; /* every call is recorded here; may be NULL */
    struct cfg_tool builtin_cfg[NBUILTIN]; /* the default tools' config */
    struct cfg_opt builtin_dir[NBUILTIN];  /* their `dir` (update_datapoint), if any */
    char *approvals;     /* the approvals file, next to the audit log */
};

void tools_free(struct toolset *ts)
{
    if (!ts)
        return;
    for (size_t i = ts->n; i-- > 0;) {
        if (ts->t[i].inited && ts->t[i].vt && ts->t[i].vt->fini)
            ts->t[i].vt->fini(ts->t[i].state);
        luart_close(ts->t[i].lua);
        httptool_free(ts->t[i].http);
        sandbox_free(ts->t[i].sb);
    }
    free(ts->t);
    for (size_t i = 0; i < NBUILTIN; i++) {
        free(ts->builtin_cfg[i].name);
        free(ts->builtin_dir[i].key);
        free(ts->builtin_dir[i].value);
    }
    free(ts->approvals);
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
static void sandbox_log(void *arg, int level, const char *msg)
{
    struct tool_inst *t = arg;
    t->host.log(&t->host, level, "%s", msg);
}

/* A Lua tool is custom code (tier 5): it runs in a worker unless the config
 * says `sandbox: false` in so many words. */
static int lua_sandboxed(const struct cfg_tool *c)
{
    return !c->sandbox_set || c->sandbox;
}

/* The worker's HTTP, once the sandbox allowed the host: fetched here with
 * the core's hardening; the reply must fit one IPC message to the worker. */
#define WORKER_HTTP_MAX_BYTES (128 << 10)

static int worker_http(void *arg, const char *method, const char *url,
                       const char *const *headers, const char *body, long *status, char **resp,
                       char *err, size_t errlen)
{
    size_t n = 0;
    const struct httptool_request rq = {.method = method,
                                        .url = url,
                                        .body = body,
                                        .headers = headers,
                                        .connect_ms = 2000,
                                        .total_ms = 10000,
                                        .max_bytes = WORKER_HTTP_MAX_BYTES};
    (void)arg;
    return httptool_fetch(&rq, status, resp, &n, err, errlen);
}

/* Every request a worker made, allowed or not, is an audit record naming
 * the tool, method and host (never the path or query, which may carry
 * data), with the status and size or the refusal. */
static int worker_http_note(void *arg, const char *principal, const char *method,
                            const char *url, int rc, long status, size_t bytes, const char *why)
{
    const struct tool_inst *t = arg;
    struct audit *a = t->ts ? t->ts->audit : NULL;
    if (!a)
        return DC_OK;
    char host[256], what[400], applied[160], code[48] = "E-SANDBOX-HTTP", aerr[256];
    httptool_url_host(url, host, sizeof(host));
    snprintf(what, sizeof(what), "http request: tool %s: %.16s %s", t->cfg->name, method,
             host[0] ? host : "(no host)");
    snprintf(applied, sizeof(applied), "tool http_allow (%zu host(s)); status %ld; %zu bytes",
             t->cfg->nhttp_allow, status, bytes);
    size_t n = why ? strcspn(why, ":") : 0;
    if (why && strncmp(why, "E-", 2) == 0 && why[n] == ':' && n < sizeof(code))
        snprintf(code, sizeof(code), "%.*s", (int)n, why);
    const char *outcome = rc == DC_OK                               ? "ok"
                          : rc == DC_EDENIED || rc == DC_EINVAL ? "refused"
                                                                    : "error";
    struct audit_record r = {.event = rc == DC_OK                  ? "http"
                                      : strcmp(outcome, "refused") == 0 ? "refusal"
                                                                         : "error",
                             .principal = principal,
                             .rows = -1,
                             .duration_us = -1,
                             .outcome = outcome,
                             .code = rc == DC_OK ? NULL : code,
                             .reason = rc == DC_OK ? NULL : why,
                             .question = what,
                             .policy = applied,
                             .tool = t->cfg->name};
    return audit_append(a, &r, aerr, sizeof(aerr));
}

/* http_request (ABI 1.4) of a tool in this process: the same allow list,
 * transport and audit record as a sandboxed tool's requests. */
static int inproc_http(void *arg, struct dc_ctx *c, const char *method, const char *url,
                       const char *const *headers, const char *body, long *status, char **resp,
                       char *err, size_t errlen)
{
    struct tool_inst *t = arg;
    *resp = NULL;
    int rc = sandbox_http_allowed(url, (const char *const *)t->cfg->http_allow, err, errlen);
    if (rc == DC_OK)
        rc = sandbox_http_headers_ok(headers, err, errlen);
    if (rc == DC_OK)
        rc = worker_http(t, method, url, headers, body, status, resp, err, errlen);
    int nrc = worker_http_note(t, ctx_get(c, "principal"), method, url, rc, *status,
                               *resp ? strlen(*resp) : 0, rc == DC_OK ? NULL : err);
    if (rc == DC_OK && nrc != DC_OK) {
        free(*resp);
        *resp = NULL;
        rc = util_err(err, errlen, nrc, "E-AUDIT-WRITE: the request could not be recorded, so "
                      "its response is withheld");
    }
    return rc;
}

static int sandbox_tool_open(const struct dc_config *cfg, struct tool_inst *t, char *err,
                             size_t errlen)
{
    char serr[1024] = "";
    char *script = t->plugin ? NULL : luart_script_path(cfg->dir, t->cfg->use);
    char *lib = script ? luart_find_lib(script) : NULL;
    if (!t->plugin && !script)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    if (!t->plugin) {
        t->self.plugin_name = t->cfg->use;
        t->self.min_level = DC_LOG_WARN;
        hostapi_init(&t->host, &t->self);
    }
    struct sandbox_opts so = {.plugin_path = t->plugin ? t->plugin->path : script,
                              .tool = t->cfg->name,
                              .with = &t->cfg->with,
                              .deadline_ms = cfg->timeout_ms,
                              .lua_name = script ? t->cfg->use + 4 : NULL,
                              .lua_lib = lib,
                              .log = sandbox_log,
                              .log_arg = t,
                              .http_allow = (const char *const *)t->cfg->http_allow,
                              .http = worker_http,
                              .http_arg = t,
                              .http_note = worker_http_note};
    int rc = sandbox_new(&so, &t->sb, serr, sizeof(serr));
    free(script);
    free(lib);
    if (rc != DC_OK)
        return util_err(err, errlen, rc, "%s:%d:%d: tool '%s' (%s%s, sandboxed): %s", cfg->path,
                        t->cfg->line, t->cfg->col, t->cfg->name, t->plugin ? "plugin " : "",
                        t->plugin ? t->plugin->name : t->cfg->use, serr);
    return DC_OK;
}

void tools_set_audit(struct toolset *ts, struct audit *a)
{
    if (ts)
        ts->audit = a;
}

/* Every call leaves an audit record with the tool's name, tier and the
 * SHA-256 of its canonical arguments (fields tool, tool_tier, args_sha256):
 * ok, refused (approvals, bad arguments) or error. A
 * sandboxed tool that failed is what an attack looks like from outside. */
static int audit_tool_call(struct toolset *ts, struct dc_ctx *ctx, const char *name, int tier,
                           const char *canon, const char *outcome, int64_t us)
{
    if (!ts->audit)
        return DC_OK;
    const char *code = ctx_get(ctx, "refused") ? ctx_get(ctx, "refused") : ctx_error_code(ctx);
    char err[256], what[320], ahash[65] = "";
    if (canon)
        util_sha256_hex(canon, strlen(canon), ahash);
    snprintf(what, sizeof(what), "tool call: %s", name);
    int ok = strcmp(outcome, "ok") == 0;
    struct audit_record r = {.event = ok ? "tool" : strcmp(outcome, "refused") == 0 ? "refusal"
                                                                                     : "error",
                             .principal = ctx_get(ctx, "principal"),
                             .database = ctx_get(ctx, "database"),
                             .rows = -1,
                             .duration_us = us,
                             .outcome = outcome,
                             .code = ok ? NULL : code ? code : "E-TOOL-FAILED",
                             .reason = ok ? NULL : ctx_error_message(ctx),
                             .question = what,
                             .tool = name,
                             .tool_tier = tier,
                             .args_sha256 = ahash[0] ? ahash : NULL};
    if (audit_append(ts->audit, &r, err, sizeof(err)) != DC_OK) {
        ctx_fail(ctx, "E-AUDIT-WRITE", "%s", err);
        return DC_EIO;
    }
    return DC_OK;
}

/* A tool implemented by a plugin: in this process, or in a worker when it
 * is custom code (tier 5) or was installed sandboxed. */
static int plugin_tool_open(const struct dc_config *cfg, const struct registry *reg,
                            struct tool_inst *t, char *err, size_t errlen)
{
    t->vt = t->plugin->vtable;
    t->self.plugin_name = t->plugin->name;
    t->self.min_level = DC_LOG_WARN;
    t->self.denied = ~t->plugin->caps;
    hostapi_init(&t->host, &t->self);
    /* Tier 5 is custom code: it runs in the worker; so does a plugin
     * installed with `plugins install --sandbox`. */
    const struct pluginlock *lk = registry_lock(reg);
    const struct pluginlock_entry *le = lk ? pluginlock_find_file(lk, t->plugin->path) : NULL;
    int custom = t->cfg->sandbox_set ? t->cfg->sandbox : t->vt->tier >= 5;
    if (custom || (le && le->sandbox))
        return sandbox_tool_open(cfg, t, err, errlen);
    t->self.http = inproc_http; /* hosts on its http_allow, as when sandboxed */
    t->self.http_arg = t;
    if (t->vt->init) {
        char perr[512] = "";
        int prc = t->vt->init(&t->host, &t->cfg->with, &t->state, perr, sizeof(perr));
        if (prc != DC_OK)
            return util_err(err, errlen, prc < 0 ? prc : DC_ERR,
                            "tool '%s' (plugin %s): init failed: %s", t->cfg->name,
                            t->plugin->name, perr[0] ? perr : "no reason given");
    }
    t->inited = 1;
    return DC_OK;
}

static int configured(const struct dc_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->ntools; i++)
        if (strcmp(cfg->tools[i].name, name) == 0)
            return 1;
    return 0;
}

/* The default tools, with no `with:` (declared defaults apply); one whose
 * plugin is not installed is simply not offered. */
static int builtin_tools_open(const struct dc_config *cfg, struct registry *reg,
                              struct toolset *ts, char *err, size_t errlen)
{
    for (size_t j = 0; j < NBUILTIN; j++) {
        if (configured(cfg, builtin_tools[j]))
            continue;
        const struct dc_plugin_ref *p = registry_resolve(reg, DC_KIND_TOOL, builtin_tools[j]);
        if (!p)
            continue;
        struct cfg_tool *ct = &ts->builtin_cfg[j];
        ct->name = util_strdup(builtin_tools[j]);
        if (!ct->name)
            return util_err(err, errlen, DC_ENOMEM, "out of memory");
        ct->use = ct->name;
        ct->with.decl = ((const struct dc_tool_vtable *)p->vtable)->options;
        /* A built-in that writes DataPoints writes where they are read:
         * the first user DataPoint directory of the config. */
        if (strcmp(builtin_tools[j], "update_datapoint") == 0 && cfg->ndp_user_dirs > 0) {
            struct cfg_opt *o = &ts->builtin_dir[j];
            o->key = util_strdup("dir");
            o->value = util_strdup(cfg->dp_user_dirs[0]);
            if (!o->key || !o->value)
                return util_err(err, errlen, DC_ENOMEM, "out of memory");
            ct->with.opts = o;
            ct->with.nopts = 1;
        }
        struct tool_inst *t = &ts->t[ts->n++];
        t->cfg = ct;
        t->ts = ts;
        t->plugin = p;
        int rc = plugin_tool_open(cfg, reg, t, err, errlen);
        if (rc != DC_OK)
            return rc;
    }
    return DC_OK;
}

int tools_new(const struct dc_config *cfg, struct registry *reg, struct toolset **out,
              char *err, size_t errlen)
{
    int rc = DC_OK;
    char *vdir = NULL;
    struct toolset *ts = calloc(1, sizeof(*ts));
    if (!ts)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    ts->t = calloc(cfg->ntools + NBUILTIN, sizeof(*ts->t));
    vdir = util_dirname(cfg->audit_path ? cfg->audit_path : "var/audit.jsonl");
    ts->approvals = vdir ? util_join_path(vdir, "approvals.json") : NULL;
    if (!ts->t || !ts->approvals) {
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < cfg->ntools; i++) {
        struct tool_inst *t = &ts->t[i];
        t->cfg = &cfg->tools[i];
        t->ts = ts;
        if (luart_is_lua_use(t->cfg->use)) {
            ts->n++;
            t->is_lua = 1;
            rc = lua_sandboxed(t->cfg) ? sandbox_tool_open(cfg, t, err, errlen)
                                       : lua_tool_open(cfg, t, err, errlen);
            if (rc != DC_OK)
                goto cleanup;
            continue;
        }
        if (httptool_is_use(t->cfg->use)) {
            ts->n++;
            char herr[512] = "";
            rc = httptool_open(t->cfg->name, &t->cfg->with, &t->http, herr, sizeof(herr));
            if (rc != DC_OK) {
                rc = util_err(err, errlen, rc, "%s:%d:%d: %s", cfg->path, t->cfg->line,
                              t->cfg->col, herr);
                goto cleanup;
            }
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
        ts->n++;
        rc = plugin_tool_open(cfg, reg, t, err, errlen);
        if (rc != DC_OK)
            goto cleanup;
    }
    rc = builtin_tools_open(cfg, reg, ts, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    *out = ts;
    ts = NULL;
cleanup:
    free(vdir);
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
    if (t->http) { /* core code, described by its `with:` */
        out->plugin = "http";
        out->description = httptool_description(t->http);
        out->params_schema = httptool_params_schema(t->http);
        out->tier = 5;
        out->sandbox = 0;
        return DC_OK;
    }
    out->plugin = t->is_lua ? t->cfg->use : t->plugin->name;
    /* A Lua tool is custom code: tier 5, described by its script's file. */
    out->description = t->is_lua ? "Lua script tool" : t->vt->description;
    out->params_schema = t->is_lua ? NULL : t->vt->params_schema;
    out->tier = t->is_lua ? 5 : t->vt->tier;
    out->sandbox = t->sb != NULL;
    return DC_OK;
}

static int tool_tier(const struct tool_inst *t)
{
    return t->is_lua || t->http ? 5 : t->vt->tier;
}

/* The arguments must be one JSON object; *rest is its compact text. */
static int object_args(const char *args_json, char **rest, struct dc_ctx *ctx)
{
    json_error_t jerr;
    *rest = NULL;
    json_t *args = json_loads(args_json ? args_json : "{}", JSON_REJECT_DUPLICATES, &jerr);
    if (!args || !json_is_object(args)) {
        const char *why = !args && strstr(jerr.text, "\\u0000")
                              ? "NUL characters (\\u0000) are not allowed"
                              : jerr.text;
        ctx_fail(ctx, "E-TOOL-ARGS", "arguments: must be a JSON object%s%s", args ? "" : ": ",
                 args ? "" : why);
        json_decref(args);
        return DC_EINVAL;
    }
    *rest = json_dumps(args, JSON_COMPACT);
    json_decref(args);
    return *rest ? DC_OK : DC_ENOMEM;
}

/* Tier 4 writes: no token, a pending approval is recorded and the call is
 * refused with its id; a token must be this exact call's, unused, unexpired. */
static int check_approval(struct toolset *ts, const char *name, const char *canon,
                          const char *token, struct dc_ctx *ctx)
{
    char code[32] = "", err[512] = "", id[33] = "";
    int64_t timeout = 0;
    int rc = approval_timeout(&timeout, err, sizeof(err));
    if (rc == DC_OK && !token) {
        rc = approval_request(ts->approvals, name, canon, timeout, id, err, sizeof(err));
        if (rc == DC_OK) {
            if (ctx_set(ctx, "approval.id", id) != DC_OK ||
                ctx_set(ctx, "refused", "E-APPROVAL-REQUIRED") != DC_OK)
                return DC_ENOMEM;
            ctx_fail(ctx, "E-APPROVAL-REQUIRED", "tool '%s' writes (tier 4) and needs "
                     "approval '%s': approve it with `datachat tools approve %s` or POST "
                     "/api/v1/approvals/%s, then call again with the token", name, id, id, id);
            return DC_EDENIED;
        }
    } else if (rc == DC_OK) {
        rc = approval_consume(ts->approvals, token, name, canon, code, err, sizeof(err));
    }
    if (rc == DC_OK)
        return DC_OK;
    if (code[0] && ctx_set(ctx, "refused", code) != DC_OK)
        return DC_ENOMEM;
    ctx_fail(ctx, code[0] ? code : "E-APPROVAL-STORE", "tool '%s': %s", name, err);
    return rc;
}

int tools_approve(struct toolset *ts, const char *id, char token[65], char code[32], char *err,
                  size_t errlen)
{
    int64_t timeout = 0;
    code[0] = '\0';
    int rc = approval_timeout(&timeout, err, errlen);
    if (rc != DC_OK)
        return rc;
    rc = approval_grant(ts->approvals, id, timeout, token, code, err, errlen);
    if (!ts->audit)
        return rc;
    char what[96], aerr[256];
    snprintf(what, sizeof(what), "approval: %.40s", id);
    struct audit_record r = {.event = rc == DC_OK ? "approval" : "refusal",
                             .rows = -1,
                             .duration_us = -1,
                             .outcome = rc == DC_OK ? "ok" : code[0] ? "refused" : "error",
                             .code = rc == DC_OK ? NULL : code[0] ? code : "E-APPROVAL-STORE",
                             .reason = rc == DC_OK ? NULL : err,
                             .question = what};
    if (audit_append(ts->audit, &r, aerr, sizeof(aerr)) != DC_OK && rc == DC_OK)
        return util_err(err, errlen, DC_EIO, "E-AUDIT-WRITE: %s", aerr);
    return rc;
}

int tools_call(struct toolset *ts, const char *name, const char *args_json, const char *token,
               struct dc_ctx *ctx)
{
    struct tool_inst *t = NULL;
    char *raw = NULL, *canon = NULL;
    char jerr[512] = "";
    int64_t t0 = util_now_us();
    for (size_t i = 0; ts && i < ts->n; i++)
        if (strcmp(ts->t[i].cfg->name, name) == 0)
            t = &ts->t[i];
    if (!t) {
        ctx_fail(ctx, "E-TOOL-UNKNOWN", "no tool named '%s' is configured (see `datachat tools "
                                        "list`)", name);
        return DC_ENOTFOUND;
    }
    int tier = tool_tier(t);
    const char *pname = t->is_lua ? t->cfg->use : t->http ? "http" : t->plugin->name;
    int rc = object_args(args_json, &raw, ctx);
    if (rc == DC_OK) {
        const char *schema = t->is_lua ? NULL
                             : t->http ? httptool_params_schema(t->http)
                                       : t->vt->params_schema;
        rc = jschema_check_text(schema, raw, "arguments", &canon,
                                jerr, sizeof(jerr));
        if (rc == DC_EINVAL)
            ctx_fail(ctx, "E-TOOL-ARGS", "tool '%s': %s (see `datachat tools list --json` for "
                     "its parameters)", name, jerr);
    }
    if (rc == DC_OK && tier == 4)
        rc = check_approval(ts, name, canon, token, ctx);
    if (rc != DC_OK) {
        int arc = audit_tool_call(ts, ctx, name, tier, canon ? canon : raw,
                                  ctx_get(ctx, "refused") || rc == DC_EINVAL ? "refused"
                                                                               : "error",
                                  util_now_us() - t0);
        rc = arc != DC_OK ? arc : rc;
        goto cleanup;
    }
    if (ctx_set(ctx, "args", canon) != DC_OK || ctx_set(ctx, "tool", name) != DC_OK ||
        ctx_trace_begin(ctx, name, pname) != DC_OK) {
        rc = DC_ENOMEM;
        goto cleanup;
    }
    char lerr[8] = ""; /* luart records its error in ctx itself */
    rc = t->http ? httptool_call(t->http, canon, ctx)
         : t->lua ? luart_run_tool(t->lua, &t->host, ctx, lerr, sizeof(lerr))
         : t->sb ? sandbox_call(t->sb, ctx_get(ctx, "args"), ctx)
                 : t->vt->invoke(t->state, ctx);
    ctx_trace_end(ctx, rc == DC_OK ? "ok" : NULL, util_now_us() - t0);
    if (rc != DC_OK)
        ctx_fail(ctx, "E-TOOL-FAILED", "tool '%s' (plugin %s) failed without a reason", name,
                 pname);
    int arc = audit_tool_call(ts, ctx, name, tier, canon,
                              rc == DC_OK ? "ok" : ctx_get(ctx, "refused") ? "refused" : "error",
                              util_now_us() - t0);
    if (rc == DC_OK)
        rc = arc;
    else
        rc = rc < 0 ? rc : DC_ERR;
cleanup:
    free(raw);
    free(canon);
    return rc;
}
