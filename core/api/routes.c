#include "api/routes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <datachat/value.h>

#include "answerjson.h"
#include "api/metrics.h"
#include "api/router.h"
#include "api/server.h"
#include "api/stream.h"
#include "ctx.h"
#include "datapoint.h"
#include "db.h"
#include "registry.h"
#include "runtime.h"
#include "session.h"
#include "store.h"
#include "tools.h"
#include "util.h"

/* ------------------------------------------------------------------------
 * Shared pieces.
 */

/* The HTTP status for a finished request context, like the CLI's exit
 * codes: refusals 403, bad input 400/404, everything else 500. */
static int ctx_status(struct dc_ctx *ctx, int rc, const char **field)
{
    *field = NULL;
    if (ctx_get(ctx, "refused"))
        return 403;
    const char *code = ctx_error_code(ctx);
    if (rc == DC_OK && !code)
        return 200;
    if (!code)
        return 500;
    if (strcmp(code, "E-DB-UNKNOWN") == 0) {
        *field = "database";
        return 404;
    }
    if (strcmp(code, "E-TOOL-UNKNOWN") == 0) {
        *field = "tool";
        return 404;
    }
    if (strcmp(code, "E-TOOL-ARGS") == 0) {
        *field = "arguments";
        return 422;
    }
    if (strcmp(code, "E-TOOL-NO-TABLE") == 0 || strcmp(code, "E-FS-NOT-FOUND") == 0)
        return 404;
    if (strcmp(code, "E-QUERY-TOO-LONG") == 0) {
        *field = "message";
        return 413;
    }
    if (strncmp(code, "E-QUERY-", 8) == 0) {
        *field = "message";
        return 400;
    }
    if (strncmp(code, "E-DP-", 5) == 0)
        return 400;
    return 500;
}

/* Adds the {code, message, field} members every non-2xx body carries. */
static void add_error_members(json_t *o, struct dc_ctx *ctx, int status, const char *field)
{
    if (status < 300)
        return;
    const char *code = ctx_get(ctx, "refused") ? ctx_get(ctx, "refused") : ctx_error_code(ctx);
    const char *msg = ctx_error_message(ctx) ? ctx_error_message(ctx) : ctx_get(ctx, "answer");
    json_t *m = json_string(msg ? msg : "the request failed");
    json_object_set_new(o, "code", json_string(code ? code : "E-API-INTERNAL"));
    json_object_set_new(o, "message", m ? m : json_string("the request failed"));
    json_object_set_new(o, "field", field ? json_string(field) : json_null());
}

static const char *opt_string(json_t *body, const char *key)
{
    json_t *v = json_object_get(body, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void bad_field(struct api_req *rq, int status, const char *code, const char *field,
                      const char *msg)
{
    struct api_error e;
    api_error_set(&e, status, code, field, "%s", msg);
    api_reply_error(rq, &e);
}

/* ------------------------------------------------------------------------
 * POST /api/v1/chat
 */
static const struct api_field chat_fields[] = {
    {"message", API_T_STRING, 1, "the question, in words"},
    {"database", API_T_STRING, 0, "a configured database; default: the config's"},
    {"target_database", API_T_STRING, 0, "same as database (one of the two)"},
    {"session_id", API_T_STRING, 0,
     "a conversation: follow-ups build on its earlier turns (docs/CONVERSATION.md)"},
    {"stream", API_T_BOOL, 0, "true: a text/event-stream of trace steps, then the answer"},
    {"yes", API_T_BOOL, 0, "true: run SQL a language model wrote even below the review threshold"},
    {NULL, 0, 0, NULL},
};

static void sse_event(struct sbuf *b, const char *event, json_t *data)
{
    char *s = data ? json_dumps(data, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    /* JSON_COMPACT never emits a newline, so one data: line holds it. */
    sbuf_addf(b, "event: %s\ndata: %s\n\n", event, s ? s : "null");
    free(s);
}

static void chat_work(struct api_req *rq)
{
    const char *msg = opt_string(rq->body, "message");
    const char *db = opt_string(rq->body, "database");
    if (!db)
        db = opt_string(rq->body, "target_database");
    struct dc_ctx *ctx = NULL;
    int yes = json_is_true(json_object_get(rq->body, "yes"));
    const char *session = opt_string(rq->body, "session_id"); /* checked by chat_handler */
    int rc = runtime_ask_confirmed(rq->rt, msg, db, rq->principal, "json", session, yes, &ctx);
    if (!ctx) {
        bad_field(rq, 500, "E-API-NOMEM", NULL, "out of memory");
        return;
    }
    const char *field;
    int status = ctx_status(ctx, rc, &field);
    rq->refused = ctx_get(ctx, "refused") != NULL;
    rq->audited = rq->refused || ctx_get(ctx, "sql.run") != NULL;
    json_t *o = answerjson_new(ctx, util_now_us() - rq->t0_us, API_MAX_ANSWER_ROWS);
    if (o) {
        json_t *sid = json_object_get(rq->body, "session_id");
        json_object_set(o, "session_id", sid ? sid : json_null());
        add_error_members(o, ctx, status, field);
    }
    api_reply_json(rq, status, o);
    ctx_free(ctx);
}

/* A streamed chat owns copies of what it reads: its connection may close
 * while the pipeline still runs (the stream then drops what is pushed). */
struct chat_stream {
    struct runtime *rt;
    struct api_stream *st;
    char *msg, *db, *session, *principal;
    json_t *session_id; /* as sent, or NULL */
    int yes;
    int64_t t0_us;
    size_t sent; /* trace steps already sent */
};

static void chat_stream_free(void *arg)
{
    struct chat_stream *cs = arg;
    api_stream_unref(cs->st);
    free(cs->msg);
    free(cs->db);
    free(cs->session);
    free(cs->principal);
    json_decref(cs->session_id);
    free(cs);
}

static void push_event(struct api_stream *st, const char *event, json_t *data)
{
    struct sbuf b;
    sbuf_init(&b);
    sse_event(&b, event, data);
    if (!b.oom)
        api_stream_push(st, b.p, b.len);
    sbuf_free(&b);
}

/* Sends the trace steps recorded since the last call; every step is closed
 * when the pipeline reports a stage done, and at the end. */
static void push_steps(void *arg, struct dc_ctx *ctx)
{
    struct chat_stream *cs = arg;
    for (; cs->sent < ctx_ntrace(ctx); cs->sent++) {
        json_t *j = answerjson_step(ctx_trace_at(ctx, cs->sent));
        push_event(cs->st, "trace", j);
        json_decref(j);
    }
}

/* Each trace event goes out as its stage finishes, then the answer (or the
 * error, with its code) as the last event. The HTTP status is 200 either
 * way: it was sent before the outcome was known. */
static void chat_stream_work(void *arg)
{
    struct chat_stream *cs = arg;
    struct dc_ctx *ctx = NULL;
    int rc = runtime_ask_observed(cs->rt, cs->msg, cs->db, cs->principal, "json", cs->session,
                                  cs->yes, push_steps, cs, &ctx);
    json_t *o = NULL;
    int status = 500;
    if (ctx) {
        const char *field;
        status = ctx_status(ctx, rc, &field);
        push_steps(cs, ctx);
        o = answerjson_new(ctx, util_now_us() - cs->t0_us, API_MAX_ANSWER_ROWS);
        if (o) {
            json_object_set(o, "session_id", cs->session_id ? cs->session_id : json_null());
            add_error_members(o, ctx, status, field);
        }
    }
    if (!o)
        o = json_pack("{s:s, s:s, s:n}", "code", "E-API-NOMEM", "message", "out of memory",
                      "field");
    push_event(cs->st, status < 300 ? "answer" : "error", o);
    json_decref(o);
    api_stream_end(cs->st);
    ctx_free(ctx);
    chat_stream_free(cs);
}

/* stream: true. The events are sent live (docs/API.md), so the pipeline
 * runs on the pool apart from the connection, which streams meanwhile. */
static int chat_stream_start(struct api_req *rq, const char *db)
{
    struct chat_stream *cs = calloc(1, sizeof(*cs));
    const char *session = opt_string(rq->body, "session_id");
    int ok = cs && api_stream_new(&cs->st) == DC_OK &&
             (cs->msg = util_strdup(opt_string(rq->body, "message"))) != NULL &&
             (!db || (cs->db = util_strdup(db)) != NULL) &&
             (!session || (cs->session = util_strdup(session)) != NULL) &&
             (!rq->principal || (cs->principal = util_strdup(rq->principal)) != NULL);
    if (!ok) {
        if (cs)
            chat_stream_free(cs);
        bad_field(rq, 500, "E-API-NOMEM", NULL, "out of memory");
        return API_DONE;
    }
    cs->rt = rq->rt;
    cs->yes = json_is_true(json_object_get(rq->body, "yes"));
    cs->session_id = json_incref(json_object_get(rq->body, "session_id"));
    cs->t0_us = rq->t0_us;
    api_reply_stream(rq, 200, "text/event-stream", cs->st);
    api_req_spawn(rq, chat_stream_work, chat_stream_free, cs);
    return API_DONE;
}

static int chat_handler(struct api_req *rq)
{
    const char *db = opt_string(rq->body, "database");
    const char *tdb = opt_string(rq->body, "target_database");
    if (db && tdb && strcmp(db, tdb) != 0) {
        bad_field(rq, 400, "E-API-CONFLICT", "target_database",
                  "database and target_database name different databases; send one");
        return API_DONE;
    }
    const char *session = opt_string(rq->body, "session_id");
    if (session && !session_id_valid(session)) {
        bad_field(rq, 400, "E-SESSION-ID", "session_id",
                  "session_id must be 1-64 letters, digits or _.:-");
        return API_DONE;
    }
    if (json_is_true(json_object_get(rq->body, "stream")))
        return chat_stream_start(rq, db ? db : tdb);
    api_req_defer(rq, chat_work);
    return API_ASYNC;
}

/* ------------------------------------------------------------------------
 * POST /api/v1/feedback (docs/CONVERSATION.md)
 */
static const struct api_field feedback_fields[] = {
    {"answer_id", API_T_STRING, 1, "the answer's \"answer_id\""},
    {"verdict", API_T_STRING, 1, "\"right\" or \"wrong\""},
    {"comment", API_T_STRING, 0, "what was wrong (a wrong verdict needs this or sql)"},
    {"sql", API_T_STRING, 0, "the corrected SQL; checked by the gate, never run"},
    {NULL, 0, 0, NULL},
};

static void feedback_work(struct api_req *rq)
{
    const char *aid = opt_string(rq->body, "answer_id");
    const char *verdict = opt_string(rq->body, "verdict");
    char err[1024] = "";
    int64_t id = 0;
    int rc = session_feedback(rq->rt, aid, verdict, opt_string(rq->body, "comment"),
                              opt_string(rq->body, "sql"), &id, err, sizeof(err));
    if (rc == DC_OK) {
        api_reply_json(rq, 201,
                       json_pack("{s:I, s:s, s:s}", "feedback_id", (json_int_t)id, "answer_id",
                                 aid, "verdict", verdict));
        return;
    }
    char code[40];
    const char *msg = session_err_split(err, "E-API-INTERNAL", code, sizeof(code));
    int status = rc == DC_ENOTFOUND ? 404 : rc == DC_EINVAL ? 400 : rc == DC_EDENIED ? 403 : 500;
    const char *field = strstr(code, "VERDICT") || strstr(code, "CONFLICT") ? "verdict"
                        : strstr(code, "SQL")                              ? "sql"
                        : strstr(code, "ANSWER") || strstr(code, "-ID")    ? "answer_id"
                                                                           : NULL;
    bad_field(rq, status, code, field, msg);
}

static int feedback_handler(struct api_req *rq)
{
    api_req_defer(rq, feedback_work);
    return API_ASYNC;
}

/* ------------------------------------------------------------------------
 * Tools.
 */
static int tools_list_handler(struct api_req *rq)
{
    json_t *arr = json_array();
    struct toolset *ts = rq->rt->tools;
    for (size_t i = 0; arr && i < tools_count(ts); i++) {
        struct tool_info ti;
        if (tools_info(ts, i, &ti) != DC_OK)
            continue;
        json_t *schema = ti.params_schema ? json_loads(ti.params_schema, 0, NULL) : NULL;
        if (!schema)
            schema = json_pack("{s:s}", "type", "object");
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s?, s:o, s:i, s:b}", "name", ti.name,
                                             "plugin", ti.plugin, "description", ti.description,
                                             "parameters", schema, "tier", ti.tier, "sandbox",
                                             ti.sandbox));
    }
    api_reply_json(rq, 200, json_pack("{s:o}", "tools", arr));
    return API_DONE;
}

static const struct api_field exec_fields[] = {
    {"tool", API_T_STRING, 1, "a configured tool's name (GET /api/v1/tools)"},
    {"arguments", API_T_OBJECT, 0, "the tool's arguments, per its JSON Schema"},
    {"target_database", API_T_STRING, 0, "the database the tool works on"},
    {"approval_token", API_T_STRING, 0,
     "for a tier-4 tool: the token POST /api/v1/approvals/{id} granted for these arguments"},
    {NULL, 0, 0, NULL},
};

static void exec_work(struct api_req *rq)
{
    json_t *a = json_object_get(rq->body, "arguments");
    char *args = a ? json_dumps(a, JSON_COMPACT) : NULL;
    struct dc_ctx *ctx = NULL;
    int rc = runtime_call_tool(rq->rt, opt_string(rq->body, "tool"), args ? args : "{}",
                               opt_string(rq->body, "approval_token"),
                               opt_string(rq->body, "target_database"), rq->principal, &ctx);
    free(args);
    if (!ctx) {
        bad_field(rq, 500, "E-API-NOMEM", NULL, "out of memory");
        return;
    }
    const char *field;
    int status = ctx_status(ctx, rc, &field);
    rq->refused = ctx_get(ctx, "refused") != NULL;
    rq->audited = rq->refused || ctx_get(ctx, "sql.run") != NULL;
    json_t *o = json_object();
    const char *res = ctx_get(ctx, "result");
    json_t *rj = res ? json_loads(res, JSON_DECODE_ANY, NULL) : NULL;
    if (!rj && res)
        rj = json_string(res);
    json_object_set_new(o, "tool", json_string(opt_string(rq->body, "tool")));
    json_object_set_new(o, "result", rj ? rj : json_null());
    if (ctx_error_code(ctx))
        json_object_set_new(o, "error", json_pack("{s:s, s:s?}", "code", ctx_error_code(ctx),
                                                  "message", ctx_error_message(ctx)));
    if (ctx_get(ctx, "approval.id"))
        json_object_set_new(o, "approval_id", json_string(ctx_get(ctx, "approval.id")));
    add_error_members(o, ctx, status, field);
    api_reply_json(rq, status, o);
    ctx_free(ctx);
}

/* Grants a pending tier-4 approval; the token goes back to the caller once
 * and is stored only as a hash. */
static void approve_work(struct api_req *rq)
{
    const char *id = api_param(&rq->params, "id");
    char token[65] = "", code[32] = "", err[512] = "";
    int rc = tools_approve(rq->rt->tools, id ? id : "", token, code, err, sizeof(err));
    if (rc == DC_OK) {
        api_reply_json(rq, 200, json_pack("{s:s, s:s}", "approval_id", id, "approval_token",
                                          token));
        return;
    }
    int status = strcmp(code, "E-APPROVAL-UNKNOWN") == 0 ? 404
                 : strcmp(code, "E-APPROVAL-GRANTED") == 0 ? 409
                 : code[0]                                 ? 403
                                                           : 500;
    bad_field(rq, status, code[0] ? code : "E-APPROVAL-STORE", status == 404 ? "id" : NULL, err);
}

static int approve_handler(struct api_req *rq)
{
    api_req_defer(rq, approve_work);
    return API_ASYNC;
}

static int exec_handler(struct api_req *rq)
{
    api_req_defer(rq, exec_work);
    return API_ASYNC;
}

/* ------------------------------------------------------------------------
 * Databases, health, readiness, metrics, OpenAPI.
 */
static int databases_handler(struct api_req *rq)
{
    struct runtime *rt = rq->rt;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < rt->ndbs; i++) {
        const struct db *d = &rt->dbs[i];
        int is_default = rt->cfg->default_database &&
                         strcmp(rt->cfg->default_database, d->name) == 0;
        json_array_append_new(arr, json_pack("{s:s, s:s?, s:b}", "name", d->name, "connector",
                                             d->plugin ? d->plugin->name : NULL, "default",
                                             is_default));
    }
    api_reply_json(rq, 200, json_pack("{s:o}", "databases", arr));
    return API_DONE;
}

static int health_handler(struct api_req *rq)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    api_reply_text(rq, 200, "application/json", util_strdup(ok), sizeof(ok) - 1);
    return API_DONE;
}

static void ready_work(struct api_req *rq)
{
    struct runtime *rt = rq->rt;
    int ready = registry_count(rt->reg) > 0 && rt->pipe != NULL;
    json_t *dbs = json_array();
    for (size_t i = 0; i < rt->ndbs; i++) {
        char err[512] = "";
        int ok = db_open(&rt->dbs[i], err, sizeof(err)) == DC_OK;
        ready &= ok;
        json_array_append_new(dbs, json_pack("{s:s, s:b, s:s?}", "name", rt->dbs[i].name,
                                             "reachable", ok, "error", ok ? NULL : err));
    }
    api_reply_json(rq, ready ? 200 : 503,
                   json_pack("{s:s, s:I, s:o}", "status", ready ? "ready" : "not ready",
                             "plugins", (json_int_t)registry_count(rt->reg), "databases", dbs));
}

static int ready_handler(struct api_req *rq)
{
    api_req_defer(rq, ready_work);
    return API_ASYNC;
}

static int metrics_handler(struct api_req *rq)
{
    size_t len = 0;
    char *text = server_metrics_text(rq->server, &len);
    struct store_cache_stats cs;
    session_cache_stats(rq->rt, &cs);
    const uint64_t counts[4] = {cs.sql_hits, cs.sql_misses, cs.result_hits, cs.result_misses};
    char *cache = text ? metrics_cache_text(counts) : NULL;
    struct sbuf b;
    sbuf_init(&b);
    sbuf_adds(&b, text ? text : "");
    sbuf_adds(&b, cache ? cache : "");
    free(text);
    free(cache);
    len = b.len;
    text = b.oom ? NULL : sbuf_detach(&b);
    sbuf_free(&b);
    api_reply_text(rq, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    return API_DONE;
}

static int openapi_handler(struct api_req *rq)
{
    api_reply_json(rq, 200, router_openapi(server_router(rq->server), DC_VERSION));
    return API_DONE;
}

/* ------------------------------------------------------------------------
 * DataPoints.
 */
static void dp_list_work(struct api_req *rq)
{
    struct dp_set *s = NULL;
    struct dp_diags dg = {0};
    int rc = dp_set_load_config(rq->rt->cfg, &s, &dg);
    if (rc == DC_ENOMEM || !s) {
        bad_field(rq, 500, "E-API-NOMEM", NULL, "out of memory");
        goto cleanup;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < dp_set_count(s); i++) {
        const struct dc_datapoint_info *in = dp_info(dp_set_at(s, i));
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s?}", "id", in->id,
                                             "type", in->type, "name", in->name, "source",
                                             in->source, "database", in->database, "file",
                                             in->file));
    }
    api_reply_json(rq, 200,
                   json_pack("{s:o, s:I}", "datapoints", arr, "problems",
                             (json_int_t)(dg.n + dg.dropped)));
cleanup:
    dp_diags_free(&dg);
    dp_set_free(s);
}

static int dp_list_handler(struct api_req *rq)
{
    api_req_defer(rq, dp_list_work);
    return API_ASYNC;
}

static const struct api_field dp_fields[] = {
    {"file", API_T_STRING, 1, "the file name to create, e.g. revenue.yaml"},
    {"content", API_T_STRING, 1, "the DataPoint's YAML text"},
    {NULL, 0, 0, NULL},
};

static int dp_name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len < 6 || len > 128 || n[0] == '.' || n[0] == '-')
        return 0;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return 0;
    return strcmp(n + len - 5, ".yaml") == 0 || strcmp(n + len - 4, ".yml") == 0;
}

/* mkdir -p: the configured user directory may not exist yet. */
static int make_dirs(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(path))
        return -1;
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return -1;
        path[i] = c;
    }
    return 0;
}

/* Writes through a temporary file and link(), which refuses to replace an
 * existing file, so two requests for the same name cannot both win. */
static int write_new_file(const char *dir, const char *dst, const char *text, size_t len,
                          char *err, size_t errlen)
{
    struct sbuf tmp;
    int rc = DC_EIO, fd = -1;
    sbuf_init(&tmp);
    sbuf_addf(&tmp, "%s/.api.%ld.%lld.tmp", dir, (long)getpid(), (long long)util_now_us());
    if (tmp.oom) {
        sbuf_free(&tmp);
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    }
    if (make_dirs(dir) != 0) {
        util_err(err, errlen, DC_EIO, "cannot create %s: %s", dir, strerror(errno));
        goto cleanup;
    }
    fd = open(tmp.p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        util_err(err, errlen, DC_EIO, "cannot write in %s: %s", dir, strerror(errno));
        goto cleanup;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            util_err(err, errlen, DC_EIO, "cannot write in %s: %s", dir, strerror(errno));
            goto cleanup;
        }
        off += (size_t)w;
    }
    int c = fsync(fd) | close(fd);
    fd = -1;
    if (c != 0) {
        util_err(err, errlen, DC_EIO, "cannot write in %s: %s", dir, strerror(errno));
        goto cleanup;
    }
    if (link(tmp.p, dst) != 0) {
        rc = errno == EEXIST ? DC_EINVAL : DC_EIO;
        util_err(err, errlen, rc, "%s", errno == EEXIST ? "the file already exists"
                                                          : strerror(errno));
        goto cleanup;
    }
    rc = DC_OK;
cleanup:
    if (fd >= 0)
        close(fd);
    unlink(tmp.p);
    sbuf_free(&tmp);
    return rc;
}

static void dp_add_work(struct api_req *rq)
{
    const struct dc_config *cfg = rq->rt->cfg;
    const char *file = opt_string(rq->body, "file");
    const char *text = opt_string(rq->body, "content");
    size_t len = json_string_length(json_object_get(rq->body, "content"));
    struct dp_set *s = NULL;
    struct dp_diags dg = {0};
    char *dst = NULL;
    if (cfg->ndp_user_dirs == 0) {
        bad_field(rq, 409, "E-DP-NO-USER-DIR", NULL,
                  "no user DataPoint directory is configured (datapoints.user)");
        goto cleanup;
    }
    dst = util_join_path(cfg->dp_user_dirs[0], file);
    if (!dst || dp_set_load_config(cfg, &s, &dg) == DC_ENOMEM || !s) {
        bad_field(rq, 500, "E-API-NOMEM", NULL, "out of memory");
        goto cleanup;
    }
    dp_diags_free(&dg); /* the existing set's own problems are not this request's */
    memset(&dg, 0, sizeof(dg));
    size_t before = dp_set_count_all(s);
    int rc = dp_set_load_string(s, text, len, dst, DP_USER, &dg);
    if (rc == DC_OK) {
        const struct dc_datapoint_info *ni = dp_info(dp_set_at_all(s, before));
        for (size_t i = 0; i < before; i++) {
            const struct dp *o = dp_set_at_all(s, i);
            if (dp_source(o) == DP_USER && strcmp(dp_info(o)->id, ni->id) == 0) {
                char msg[700];
                snprintf(msg, sizeof(msg), "id '%s' is already used by %s; choose another id",
                         ni->id, dp_info(o)->file);
                bad_field(rq, 409, "E-DP-ID-CLASH", "content", msg);
                goto cleanup;
            }
        }
        dp_set_finish(s, &dg);
    }
    json_t *problems = json_array();
    for (size_t i = 0; i < dg.n; i++) {
        if (strcmp(dg.d[i].file, dst) != 0)
            continue;
        char line[1600];
        dp_diag_format(&dg.d[i], line, sizeof(line));
        json_array_append_new(problems, json_pack("{s:s, s:i, s:i, s:s}", "code", dg.d[i].code,
                                                  "line", dg.d[i].line, "col", dg.d[i].col,
                                                  "message", line));
    }
    if (rc != DC_OK || json_array_size(problems)) {
        json_t *first = json_array_get(problems, 0);
        api_reply_json(rq, 422,
                       json_pack("{s:s, s:s, s:s, s:o}", "code",
                                 first ? json_string_value(json_object_get(first, "code"))
                                       : "E-DP-INVALID",
                                 "message",
                                 first ? json_string_value(json_object_get(first, "message"))
                                       : "the DataPoint is not valid",
                                 "field", "content", "problems", problems));
        goto cleanup;
    }
    json_decref(problems);
    char err[512];
    rc = write_new_file(cfg->dp_user_dirs[0], dst, text, len, err, sizeof(err));
    if (rc != DC_OK) {
        bad_field(rq, rc == DC_EINVAL ? 409 : 500,
                  rc == DC_EINVAL ? "E-DP-FILE-EXISTS" : "E-API-IO", "file", err);
        goto cleanup;
    }
    const struct dc_datapoint_info *ni = dp_info(dp_set_at_all(s, before));
    api_reply_json(rq, 201, json_pack("{s:s, s:s, s:s}", "id", ni->id, "type", ni->type,
                                      "file", dst));
cleanup:
    dp_diags_free(&dg);
    dp_set_free(s);
    free(dst);
}

static int dp_add_handler(struct api_req *rq)
{
    const char *file = opt_string(rq->body, "file");
    const char *text = opt_string(rq->body, "content");
    if (!dp_name_ok(file)) {
        bad_field(rq, 400, "E-API-FIELD", "file",
                  "file must be a plain file name ending in .yaml or .yml (letters, digits, "
                  "'_', '-', '.'; no directories)");
        return API_DONE;
    }
    if (json_string_length(json_object_get(rq->body, "content")) > DP_MAX_FILE_BYTES ||
        strlen(text) != json_string_length(json_object_get(rq->body, "content"))) {
        bad_field(rq, 400, "E-API-FIELD", "content",
                  "content must be at most 1 MiB of text without NUL characters");
        return API_DONE;
    }
    api_req_defer(rq, dp_add_work);
    return API_ASYNC;
}

/* ------------------------------------------------------------------------
 * The table.
 */
static const struct api_route builtin[] = {
    {"POST", "/api/v1/chat", 1, chat_fields,
     "Answer a question: JSON, or an SSE stream of trace steps then the answer",
     "application/json", chat_handler, NULL},
    {"POST", "/api/v1/feedback", 1, feedback_fields,
     "Record whether an answer was right; corrected SQL becomes an example",
     "application/json", feedback_handler, NULL},
    {"GET", "/api/v1/tools", 1, NULL, "List the configured tools with JSON-Schema parameters",
     "application/json", tools_list_handler, NULL},
    {"POST", "/api/v1/tools/execute", 1, exec_fields, "Call a configured tool",
     "application/json", exec_handler, NULL},
    {"POST", "/api/v1/approvals/{id}", 1, NULL,
     "Grant a pending tier-4 tool approval; returns its single-use token", "application/json",
     approve_handler, NULL},
    {"GET", "/api/v1/databases", 1, NULL, "List the configured databases", "application/json",
     databases_handler, NULL},
    {"GET", "/api/v1/datapoints", 1, NULL, "List the DataPoints in effect",
     "application/json", dp_list_handler, NULL},
    {"POST", "/api/v1/datapoints", 1, dp_fields,
     "Validate a DataPoint and write it into the user directory", "application/json",
     dp_add_handler, NULL},
    {"GET", "/health", 0, NULL, "Liveness: the server answers", "application/json",
     health_handler, NULL},
    {"GET", "/ready", 0, NULL, "Readiness: plugins loaded and databases reachable",
     "application/json", ready_handler, NULL},
    {"GET", "/metrics", 0, NULL, "Prometheus metrics", "text/plain", metrics_handler, NULL},
    {"GET", "/api/v1/openapi.json", 0, NULL, "This OpenAPI document", "application/json",
     openapi_handler, NULL},
};

int routes_add_builtin(struct router *r)
{
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
        int rc = router_add(r, &builtin[i]);
        if (rc != DC_OK)
            return rc;
    }
    return DC_OK;
}
