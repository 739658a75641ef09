#include "hostapi.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctx.h"
#include "datapoint.h"
#include "hostcaps.h"
#include "result.h"
#include "schema.h"
#include "sha256.h"
#include "util.h"

static const char *level_name(int level)
{
    switch (level) {
    case DC_LOG_ERROR: return "error";
    case DC_LOG_WARN: return "warn";
    case DC_LOG_INFO: return "info";
    default: return "debug";
    }
}

static void host_log(const struct dc_host *h, int level, const char *fmt, ...)
{
    const struct host_self *self = h ? h->self : NULL;
    int min = self ? self->min_level : DC_LOG_WARN;
    if (level > min)
        return;
    struct sbuf b;
    sbuf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    sbuf_vaddf(&b, fmt, ap);
    va_end(ap);
    const char *name = self && self->plugin_name ? self->plugin_name : "plugin";
    if (self && self->sink)
        self->sink(self->sink_arg, level, name, b.p ? b.p : "");
    else
        fprintf(stderr, "datachat: %s: %s: %s\n", level_name(level), name, b.p ? b.p : "");
    sbuf_free(&b);
}

static void host_ctx_trace(struct dc_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx_vtrace_note(c, fmt, ap);
    va_end(ap);
}

/* The stubs get no host pointer, only the context; the step running now
 * is the plugin's own (stages and tools open one around every call). */
void hostcaps_fail(struct dc_ctx *c, const char *cap, const char *entry)
{
    size_t n = ctx_ntrace(c);
    const struct trace_step *st = n ? ctx_trace_at(c, n - 1) : NULL;
    const char *who = st && st->plugin ? st->plugin : "the calling plugin";
    ctx_fail(c, "E-PLUGIN-CAPABILITY",
             "plugin '%s' called %s, which needs the host capability \"%s\" that the plugin "
             "does not declare; declare it in DC_PLUGIN_DEFINE_CAPS and rebuild "
             "(`datachat plugins info %s` shows what it declares)",
             who, entry, cap, st && st->plugin ? st->plugin : "NAME");
}

static void host_ctx_fail(struct dc_ctx *c, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx_vfail(c, code, fmt, ap);
    va_end(ap);
}

/* The request's identity belongs to the core: a plugin that could rewrite
 * "principal" would run its queries under another principal's policy. */
/* "trace.step" is not stored: its value, a JSON object {"name", "outcome",
 * "reason", "us", "detail": {...}}, becomes a finished sub-step of the
 * running stage in the answer's trace (sqlgen's attempts). Only "name" is
 * required; a value of another shape is DC_EINVAL. */
static int add_substep(struct dc_ctx *c, const char *value)
{
    json_t *o = value ? json_loads(value, 0, NULL) : NULL;
    int rc = DC_EINVAL;
    const char *name = json_string_value(json_object_get(o, "name"));
    json_t *detail = json_object_get(o, "detail");
    json_t *us = json_object_get(o, "us");
    if (!json_is_object(o) || !name || !*name || (detail && !json_is_object(detail)) ||
        (us && !json_is_integer(us)))
        goto cleanup;
    char *dtext = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    if (detail && !dtext) {
        rc = DC_ENOMEM;
        goto cleanup;
    }
    rc = ctx_trace_add(c, name, NULL, json_string_value(json_object_get(o, "outcome")),
                       json_string_value(json_object_get(o, "reason")), dtext,
                       us ? (int64_t)json_integer_value(us) : 0);
    free(dtext);
cleanup:
    json_decref(o);
    return rc;
}

static int host_ctx_set(struct dc_ctx *c, const char *key, const char *value)
{
    if (key && strcmp(key, "principal") == 0)
        return DC_EDENIED;
    if (key && strcmp(key, "trace.step") == 0)
        return add_substep(c, value);
    return ctx_set(c, key, value);
}

static const struct dc_result *host_ctx_result(struct dc_ctx *c)
{
    return ctx_result(c);
}

static int host_ctx_arg(struct dc_ctx *c, const char *name, struct dc_value *out)
{
    if (!c || !name || !out)
        return DC_EINVAL;
    const char *args = ctx_get(c, "args");
    json_error_t jerr;
    json_t *root = json_loads(args ? args : "{}", JSON_REJECT_DUPLICATES, &jerr);
    int rc = DC_OK;
    if (!root || !json_is_object(root)) {
        rc = DC_EINVAL;
        goto cleanup;
    }
    json_t *v = json_object_get(root, name);
    if (!v) {
        rc = DC_ENOTFOUND;
        goto cleanup;
    }
    /* Text is parked in the context so the borrowed pointer outlives root. */
    struct sbuf key;
    sbuf_init(&key);
    sbuf_addf(&key, "arg.%s", name);
    char *text = NULL;
    if (json_is_string(v))
        text = strndup(json_string_value(v), json_string_length(v));
    else if (json_is_object(v) || json_is_array(v))
        text = json_dumps(v, JSON_COMPACT);
    if (json_is_integer(v)) {
        *out = dc_value_int(json_integer_value(v));
    } else if (json_is_real(v)) {
        *out = dc_value_real(json_real_value(v));
    } else if (json_is_boolean(v)) {
        out->type = DC_BOOL;
        out->v.i = json_is_true(v);
    } else if (json_is_null(v)) {
        *out = (struct dc_value){.type = DC_NULL};
    } else if (!text || !key.p || ctx_set(c, key.p, text) != DC_OK) {
        rc = DC_ENOMEM;
    } else {
        const char *kept = ctx_get(c, key.p);
        *out = dc_value_text(kept, strlen(kept));
        if (!json_is_string(v))
            out->type = DC_JSON;
    }
    free(text);
    sbuf_free(&key);
cleanup:
    json_decref(root);
    return rc;
}

static json_t *value_to_json(const struct dc_value *v)
{
    switch (v->type) {
    case DC_NULL: return json_null();
    case DC_INT: return json_integer(v->v.i);
    case DC_BOOL: return json_boolean(v->v.i);
    case DC_REAL: return json_real(v->v.d);
    case DC_JSON: return json_loadb(v->v.s.p, v->v.s.n, 0, NULL);
    default: return json_stringn(v->v.s.p ? v->v.s.p : "", v->v.s.n);
    }
}

static int host_ctx_result_set(struct dc_ctx *c, const char *name, const struct dc_value *v)
{
    if (!c || !name || !v)
        return DC_EINVAL;
    const char *cur = ctx_get(c, "result");
    json_t *root = cur ? json_loads(cur, 0, NULL) : json_object();
    json_t *jv = value_to_json(v);
    int rc = DC_OK;
    if (!root || !json_is_object(root) || !jv) {
        rc = DC_EINVAL; /* "result" is not an object, or v is not valid JSON */
        json_decref(jv);
        goto cleanup;
    }
    if (json_object_set_new(root, name, jv) != 0) {
        rc = DC_ENOMEM;
        goto cleanup;
    }
    char *s = json_dumps(root, JSON_COMPACT);
    rc = s ? ctx_set(c, "result", s) : DC_ENOMEM;
    free(s);
cleanup:
    json_decref(root);
    return rc;
}


static size_t host_dp_count(struct dc_ctx *c)
{
    return dp_set_count(ctx_dps(c));
}

static const struct dc_datapoint_info *host_dp_at(struct dc_ctx *c, size_t i)
{
    return dp_info(dp_set_at(ctx_dps(c), i));
}

static const struct dc_datapoint_info *host_dp_find(struct dc_ctx *c, const char *id)
{
    return dp_info(dp_set_find(ctx_dps(c), id));
}

/* The public rendering first, so the pointer the plugin holds is the one
 * dp_rendered_free gets back. */
struct host_rendered {
    struct dc_dp_rendered pub;
    struct dp_rendered r;
};

static int host_dp_render(struct dc_ctx *c, const char *id, const char *backend,
                          const char *const *names, const char *const *values, size_t nargs,
                          struct dc_dp_rendered **out, char *err, size_t errlen)
{
    struct dp_arg *args = NULL;
    struct host_rendered *hr = NULL;
    int rc;
    *out = NULL;
    const struct dp *d = id ? dp_set_find(ctx_dps(c), id) : NULL;
    if (!d) {
        rc = util_err(err, errlen, DC_ENOTFOUND, "E-DP-UNKNOWN: no DataPoint with id '%s'",
                      id ? id : "(null)");
        goto cleanup;
    }
    args = calloc(nargs ? nargs : 1, sizeof(*args));
    hr = calloc(1, sizeof(*hr));
    if (!args || !hr) {
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < nargs; i++) {
        args[i].name = names[i];
        args[i].value = values[i];
    }
    rc = dp_render(d, backend, args, nargs, &hr->r, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    hr->pub.struct_size = sizeof(hr->pub);
    hr->pub.sql = hr->r.sql;
    hr->pub.params = hr->r.params;
    hr->pub.nparams = hr->r.nparams;
    hr->pub.variant = hr->r.backend;
    *out = &hr->pub;
    hr = NULL;
cleanup:
    free(hr);
    free(args);
    return rc;
}

static void host_dp_rendered_free(struct dc_dp_rendered *r)
{
    if (!r)
        return;
    struct host_rendered *hr = (struct host_rendered *)r;
    dp_rendered_free(&hr->r);
    free(hr);
}

static int host_llm_complete(struct dc_ctx *c, const char *instance, const char *request_json,
                             const char **reply, char *err, size_t errlen)
{
    if (reply)
        *reply = NULL;
    if (!c || !request_json || !reply)
        return util_err(err, errlen, DC_EINVAL, "E-LLM-REQUEST: llm_complete needs a request");
    int rc = ctx_llm_complete(c, instance, request_json);
    if (rc == DC_OK)
        *reply = ctx_get(c, "llm.reply");
    if (rc == DC_OK && !*reply)
        rc = DC_ERR;
    if (rc != DC_OK) {
        const char *code = ctx_error_code(c), *msg = ctx_error_message(c);
        if (!code && ctx_get(c, "llm.error")) /* an "optional" call's failure */
            return util_err(err, errlen, rc, "%s", ctx_get(c, "llm.error"));
        return util_err(err, errlen, rc, "%s: %s", code ? code : "E-LLM-FAILED",
                        msg ? msg : "the model call failed without a reason");
    }
    return DC_OK;
}

/* A DataPoint file checked alone (update_datapoint validates before it
 * writes): per-file checks only, cross-file ones need the whole set. */
static int host_dp_validate(struct dc_ctx *c, const char *text, size_t len, const char *name,
                            char *err, size_t errlen)
{
    (void)c;
    struct dp_set *s = NULL;
    struct dp_diags dg;
    memset(&dg, 0, sizeof(dg));
    if (!text || !name)
        return util_err(err, errlen, DC_EINVAL, "E-DP-INVALID: dp_validate needs text and name");
    int rc = dp_set_new(&s);
    if (rc == DC_OK)
        rc = dp_set_load_string(s, text, len, name, DP_USER, &dg);
    if (dg.n) {
        dp_diag_format(&dg.d[0], err, errlen);
        rc = DC_EINVAL;
    } else if (rc != DC_OK) {
        util_err(err, errlen, rc, "E-DP-INVALID: %s could not be checked", name);
    } else if (dp_set_count_all(s) != 1) {
        rc = util_err(err, errlen, DC_EINVAL, "%s: E-DP-INVALID: the file holds no DataPoint",
                      name);
    }
    dp_diags_free(&dg);
    dp_set_free(s);
    return rc;
}

/* The body is kept in the context ("http.body") so the plugin borrows it
 * like an llm reply and frees nothing. */
static int host_http_request(const struct dc_host *h, struct dc_ctx *c, const char *method,
                             const char *url, const char *const *headers, const char *body,
                             long *status, const char **resp, char *err, size_t errlen)
{
    const struct host_self *self = h ? h->self : NULL;
    char *got = NULL;
    if (status)
        *status = 0;
    if (resp)
        *resp = NULL;
    if (!c || !method || !url || !status || !resp)
        return util_err(err, errlen, DC_EINVAL, "E-HTTP-REQUEST: http_request needs a context, "
                        "a method, a URL, status and resp");
    if (!self || !self->http)
        return util_err(err, errlen, DC_EDENIED, "E-HTTP-UNAVAILABLE: only tools may make HTTP "
                        "requests, to the hosts on their http_allow list");
    int rc = self->http(self->http_arg, c, method, url, headers, body, status, &got, err,
                        errlen);
    if (rc == DC_OK && ctx_set(c, "http.body", got ? got : "") != DC_OK)
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
    free(got);
    if (rc == DC_OK)
        *resp = ctx_get(c, "http.body");
    return rc;
}

void hostapi_init(struct dc_host *h, struct host_self *self)
{
    memset(h, 0, sizeof(*h));
    h->struct_size = sizeof(*h);
    h->abi_major = DC_ABI_MAJOR;
    h->abi_minor = DC_ABI_MINOR;
    h->host_version = DC_VERSION;
    h->self = self;
    h->log = host_log;
    h->opt_str = opts_str;
    h->opt_int = opts_int;
    h->opt_bool = opts_bool;
    h->opt_number = opts_number;
    h->opt_list_len = opts_list_len;
    h->opt_list_item = opts_list_item;
    h->result_new = result_new;
    h->result_free = result_free;
    h->result_add_column = result_add_column;
    h->result_append_row = result_append_row;
    h->result_set_truncated = result_set_truncated;
    h->result_ncols = result_ncols;
    h->result_nrows = result_nrows;
    h->result_col_name = result_col_name;
    h->result_col_type = result_col_type;
    h->result_get = result_get;
    h->result_truncated = result_truncated;
    h->schema_add_table = schema_add_table;
    h->schema_ntables = schema_ntables;
    h->schema_table = schema_table;
    h->schema_find = schema_find;
    h->ctx_get = ctx_get;
    h->ctx_set = host_ctx_set;
    h->ctx_trace = host_ctx_trace;
    h->ctx_fail = host_ctx_fail;
    h->ctx_query = ctx_query;
    h->ctx_schema = ctx_schema;
    h->ctx_set_result = ctx_set_result;
    h->ctx_result = host_ctx_result;
    h->ctx_arg = host_ctx_arg;
    h->ctx_result_set = host_ctx_result_set;
    h->result_render = result_render;
    h->sha256_hex = sha256_hex_of;
    h->dp_count = host_dp_count;
    h->dp_at = host_dp_at;
    h->dp_find = host_dp_find;
    h->dp_render = host_dp_render;
    h->dp_rendered_free = host_dp_rendered_free;
    h->retrieve = ctx_retrieve;
    h->llm_complete = host_llm_complete;
    h->sql_check = ctx_sql_check;
    h->dp_validate = host_dp_validate;
    h->http_request = host_http_request;
    /* Keep this last: it replaces entries set above (ABI 1.3 capabilities). */
    if (self && self->denied)
        hostcaps_restrict(h, ~self->denied);
}
