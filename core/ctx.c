#include "ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "result.h"
#include "util.h"

struct ctx_kv {
    char *key;
    char *value;
};

struct dc_ctx {
    struct ctx_backend be;
    int has_be;
    struct ctx_kv *kv;
    size_t nkv, capkv;
    struct trace_step *trace;
    size_t ntrace, captrace;
    int trace_open;          /* step open_step is still running */
    size_t open_step;        /* sub-steps (ctx_trace_add) may follow it */
    struct sbuf note;        /* notes of the running step */
    char *err_code;
    char *err_msg;
    struct dc_result *result;
    const struct dp_set *dps; /* borrowed from the runtime */
    ctx_dps_fn dps_fn;        /* loads them on first use, when set */
    void *dps_arg;
    ctx_retrieve_fn retr_fn; /* retrieval, when the runtime installed it */
    void *retr_arg;
    struct ctx_model model;  /* llm calls and statement checks, when installed */
};

struct dc_ctx *ctx_new(const struct ctx_backend *be)
{
    struct dc_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (be) {
        c->be = *be;
        c->has_be = 1;
    }
    sbuf_init(&c->note);
    return c;
}

static void trace_step_free(struct trace_step *t)
{
    free(t->stage);
    free(t->plugin);
    free(t->outcome);
    free(t->reason);
    free(t->detail);
}

void ctx_free(struct dc_ctx *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nkv; i++) {
        free(c->kv[i].key);
        free(c->kv[i].value);
    }
    free(c->kv);
    for (size_t i = 0; i < c->ntrace; i++)
        trace_step_free(&c->trace[i]);
    free(c->trace);
    sbuf_free(&c->note);
    free(c->err_code);
    free(c->err_msg);
    result_free(c->result);
    free(c);
}

static struct ctx_kv *kv_find(struct dc_ctx *c, const char *key)
{
    for (size_t i = 0; i < c->nkv; i++)
        if (strcmp(c->kv[i].key, key) == 0)
            return &c->kv[i];
    return NULL;
}

const char *ctx_get(struct dc_ctx *c, const char *key)
{
    if (!c || !key)
        return NULL;
    struct ctx_kv *e = kv_find(c, key);
    return e ? e->value : NULL;
}

int ctx_set(struct dc_ctx *c, const char *key, const char *value)
{
    if (!c || !key || !*key)
        return DC_EINVAL;
    struct ctx_kv *e = kv_find(c, key);
    if (!value) {
        if (e) {
            free(e->key);
            free(e->value);
            *e = c->kv[--c->nkv];
        }
        return DC_OK;
    }
    char *v = strdup(value);
    if (!v)
        return DC_ENOMEM;
    if (e) {
        free(e->value);
        e->value = v;
        return DC_OK;
    }
    if (c->nkv == c->capkv) {
        size_t cap = c->capkv ? c->capkv * 2 : 16;
        struct ctx_kv *kv = realloc(c->kv, cap * sizeof(*kv));
        if (!kv) {
            free(v);
            return DC_ENOMEM;
        }
        c->kv = kv;
        c->capkv = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(v);
        return DC_ENOMEM;
    }
    c->kv[c->nkv].key = k;
    c->kv[c->nkv].value = v;
    c->nkv++;
    return DC_OK;
}

/* A zeroed slot past the last step (not yet counted), NULL on OOM. */
static struct trace_step *trace_next(struct dc_ctx *c)
{
    if (c->ntrace == c->captrace) {
        size_t cap = c->captrace ? c->captrace * 2 : 8;
        struct trace_step *t = realloc(c->trace, cap * sizeof(*t));
        if (!t)
            return NULL;
        c->trace = t;
        c->captrace = cap;
    }
    struct trace_step *t = &c->trace[c->ntrace];
    memset(t, 0, sizeof(*t));
    return t;
}

int ctx_trace_begin(struct dc_ctx *c, const char *stage, const char *plugin)
{
    struct trace_step *t = trace_next(c);
    if (!t)
        return DC_ENOMEM;
    t->stage = strdup(stage ? stage : "");
    t->plugin = strdup(plugin ? plugin : "");
    if (!t->stage || !t->plugin) {
        trace_step_free(t);
        return DC_ENOMEM;
    }
    c->open_step = c->ntrace++;
    c->trace_open = 1;
    sbuf_free(&c->note);
    return DC_OK;
}

int ctx_trace_add(struct dc_ctx *c, const char *stage, const char *plugin, const char *outcome,
                  const char *reason, const char *detail, int64_t us)
{
    if (!c)
        return DC_EINVAL;
    struct trace_step *t = trace_next(c);
    if (!t)
        return DC_ENOMEM;
    if (!plugin && c->trace_open && c->open_step < c->ntrace)
        plugin = c->trace[c->open_step].plugin;
    t->stage = strdup(stage ? stage : "");
    t->plugin = strdup(plugin ? plugin : "");
    t->outcome = outcome ? strdup(outcome) : NULL;
    t->reason = reason ? strdup(reason) : NULL;
    t->detail = detail ? strdup(detail) : NULL;
    t->us = us;
    if (!t->stage || !t->plugin || (outcome && !t->outcome) || (reason && !t->reason) ||
        (detail && !t->detail)) {
        trace_step_free(t);
        return DC_ENOMEM;
    }
    c->ntrace++;
    return DC_OK;
}

void ctx_trace_end(struct dc_ctx *c, const char *outcome, int64_t us)
{
    if (!c->trace_open || c->open_step >= c->ntrace)
        return;
    struct trace_step *t = &c->trace[c->open_step];
    t->outcome = outcome ? strdup(outcome) : NULL;
    t->us = us;
    if (c->note.len)
        t->reason = sbuf_detach(&c->note);
    sbuf_free(&c->note);
    c->trace_open = 0;
}

void ctx_vtrace_note(struct dc_ctx *c, const char *fmt, va_list ap)
{
    if (!c || !c->trace_open)
        return;
    if (c->note.len)
        sbuf_adds(&c->note, "; ");
    sbuf_vaddf(&c->note, fmt, ap);
}

void ctx_trace_note(struct dc_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx_vtrace_note(c, fmt, ap);
    va_end(ap);
}

size_t ctx_ntrace(const struct dc_ctx *c)
{
    return c ? c->ntrace : 0;
}

const struct trace_step *ctx_trace_at(const struct dc_ctx *c, size_t i)
{
    return c && i < c->ntrace ? &c->trace[i] : NULL;
}

void ctx_vfail(struct dc_ctx *c, const char *code, const char *fmt, va_list ap)
{
    if (!c || c->err_code)
        return;
    struct sbuf b;
    sbuf_init(&b);
    sbuf_vaddf(&b, fmt, ap);
    c->err_code = strdup(code && *code ? code : "E-INTERNAL");
    c->err_msg = sbuf_detach(&b);
}

void ctx_fail(struct dc_ctx *c, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx_vfail(c, code, fmt, ap);
    va_end(ap);
}

const char *ctx_error_code(const struct dc_ctx *c)
{
    return c ? c->err_code : NULL;
}

const char *ctx_error_message(const struct dc_ctx *c)
{
    return c ? c->err_msg : NULL;
}

void ctx_set_result(struct dc_ctx *c, struct dc_result *r)
{
    if (!c) {
        result_free(r);
        return;
    }
    if (c->result != r)
        result_free(c->result);
    c->result = r;
}

const struct dc_result *ctx_result(const struct dc_ctx *c)
{
    return c ? c->result : NULL;
}

int ctx_query(struct dc_ctx *c, const char *db, const char *sql,
              const struct dc_value *params, size_t nparams, struct dc_result **out)
{
    if (!c || !sql || !out)
        return DC_EINVAL;
    *out = NULL;
    if (!c->has_be || !c->be.query) {
        ctx_fail(c, "E-INTERNAL", "no database access in this context");
        return DC_EUNSUPPORTED;
    }
    return c->be.query(c->be.arg, c, db ? db : ctx_get(c, "database"), sql, params, nparams,
                       out);
}

int ctx_retrieve(struct dc_ctx *c, const char *query, size_t k, struct dc_retrieval_hit *hits,
                 size_t *n)
{
    if (!n)
        return DC_EINVAL;
    *n = 0;
    if (!c || !query || (k && !hits))
        return DC_EINVAL;
    if (!c->retr_fn)
        return DC_EUNSUPPORTED;
    return c->retr_fn(c->retr_arg, c, ctx_get(c, "database"), query, k, hits, n);
}

void ctx_set_retriever(struct dc_ctx *c, ctx_retrieve_fn fn, void *arg)
{
    if (c) {
        c->retr_fn = fn;
        c->retr_arg = arg;
    }
}

void ctx_set_model(struct dc_ctx *c, const struct ctx_model *m)
{
    if (c && m)
        c->model = *m;
}

int ctx_llm_complete(struct dc_ctx *c, const char *instance, const char *request_json)
{
    if (!c || !request_json)
        return DC_EINVAL;
    if (!c->model.llm) {
        ctx_fail(c, "E-LLM-NONE", "no language model is reachable from this context");
        return DC_EUNSUPPORTED;
    }
    return c->model.llm(c->model.arg, c, instance, request_json);
}

int ctx_sql_check(struct dc_ctx *c, const char *db, const char *sql, char *err, size_t errlen)
{
    if (!c || !sql)
        return util_err(err, errlen, DC_EINVAL, "E-GATE-INTERNAL: no statement to check");
    if (!c->model.check)
        return util_err(err, errlen, DC_EUNSUPPORTED,
                        "E-GATE-INTERNAL: statements cannot be checked in this context");
    return c->model.check(c->model.arg, c, db ? db : ctx_get(c, "database"), sql, err, errlen);
}

void ctx_clear_error(struct dc_ctx *c, const char *code)
{
    if (!c || !c->err_code || !code || strcmp(c->err_code, code) != 0)
        return;
    free(c->err_code);
    free(c->err_msg);
    c->err_code = NULL;
    c->err_msg = NULL;
}

const struct dc_schema *ctx_schema(struct dc_ctx *c, const char *db)
{
    if (!c || !c->has_be || !c->be.schema)
        return NULL;
    return c->be.schema(c->be.arg, c, db ? db : ctx_get(c, "database"));
}

void ctx_set_dps(struct dc_ctx *c, const struct dp_set *dps)
{
    if (c) {
        c->dps = dps;
        c->dps_fn = NULL;
    }
}

void ctx_set_dps_loader(struct dc_ctx *c, ctx_dps_fn fn, void *arg)
{
    if (c) {
        c->dps = NULL;
        c->dps_fn = fn;
        c->dps_arg = arg;
    }
}

const struct dp_set *ctx_dps(struct dc_ctx *c)
{
    if (!c)
        return NULL;
    if (c->dps_fn) {
        ctx_dps_fn fn = c->dps_fn;
        c->dps_fn = NULL; /* asked once per context, failure included */
        c->dps = fn(c->dps_arg, c);
    }
    return c->dps;
}
