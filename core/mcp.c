#include "mcp.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "answerjson.h"
#include "ctx.h"
#include "runtime.h"
#include "tools.h"
#include "util.h"

#include <datachat/value.h>

/* JSON-RPC 2.0 error codes. */
enum {
    RPC_PARSE = -32700,
    RPC_INVALID_REQUEST = -32600,
    RPC_NO_METHOD = -32601,
    RPC_INVALID_PARAMS = -32602,
    RPC_INTERNAL = -32603
};

/* Rows an `ask` answer carries in its structured content. */
#define MCP_ASK_ROWS 200
/* The tools/call params._meta key carrying a tier-4 approval token
 * (docs/TOOLS.md); prefixed, as MCP asks of implementation keys. */
#define MCP_APPROVAL_META "datachat/approval_token"

/* Newest first; a client asking for another gets the newest. */
static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05",
                                       NULL};

static const char ask_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"question\":{\"type\":\"string\",\"description\":\"the question in plain language\"},"
    "\"database\":{\"type\":\"string\",\"description\":\"a configured database name "
    "(default: the configured default)\"}},"
    "\"required\":[\"question\"],\"additionalProperties\":false}";

struct mcp {
    struct runtime *rt;
    char *db;
    char *principal;
    char version[16]; /* negotiated, "" before initialize */
};

int mcp_new(struct runtime *rt, const char *db_name, const char *principal, struct mcp **out)
{
    *out = NULL;
    struct mcp *m = calloc(1, sizeof(*m));
    if (!m)
        return DC_ENOMEM;
    m->rt = rt;
    if ((db_name && !(m->db = strdup(db_name))) ||
        (principal && !(m->principal = strdup(principal)))) {
        mcp_free(m);
        return DC_ENOMEM;
    }
    *out = m;
    return DC_OK;
}

void mcp_free(struct mcp *m)
{
    if (!m)
        return;
    free(m->db);
    free(m->principal);
    free(m);
}

static json_t *rpc_error(json_t *id, int code, const char *message)
{
    return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                     "error", "code", code, "message", message);
}

static json_t *rpc_result(json_t *id, json_t *result)
{
    if (!result)
        return NULL;
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

char *mcp_error_reply(int code, const char *message)
{
    json_t *e = rpc_error(NULL, code, message);
    char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    return s;
}

/* ---- initialize ---------------------------------------------------------- */

static json_t *do_initialize(struct mcp *m, json_t *params)
{
    const char *want = json_string_value(json_object_get(params, "protocolVersion"));
    const char *use = versions[0];
    for (size_t i = 0; want && versions[i]; i++)
        if (strcmp(want, versions[i]) == 0)
            use = versions[i];
    snprintf(m->version, sizeof(m->version), "%s", use);
    return json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s, s:s}, s:s}", "protocolVersion", use,
                     "capabilities", "tools", "listChanged", 0, "serverInfo", "name", "datachat",
                     "title", "DataChat", "version", DC_VERSION, "instructions",
                     "Ask questions of the configured databases in plain language with the "
                     "`ask` tool; every query passes DataChat's read-only gate and access "
                     "policies. The other tools are the ones configured for this principal.");
}

/* ---- tools/list ---------------------------------------------------------- */

static json_t *tool_entry(const char *name, const char *description, const char *schema)
{
    json_t *in = schema ? json_loads(schema, 0, NULL) : NULL;
    if (!json_is_object(in)) {
        /* A tool without a schema (or with one that is not an object)
         * takes an arbitrary object, as tools_call checks. */
        json_decref(in);
        in = json_pack("{s:s}", "type", "object");
    }
    if (!json_object_get(in, "type"))
        json_object_set_new(in, "type", json_string("object"));
    return json_pack("{s:s, s:s, s:o}", "name", name, "description",
                     description ? description : "", "inputSchema", in);
}

static json_t *do_tools_list(struct mcp *m)
{
    json_t *tools = json_array();
    if (!tools)
        return NULL;
    json_array_append_new(tools,
                          tool_entry("ask",
                                     "Answer a question about the data in plain language: "
                                     "returns the answer, the SQL that ran and the rows.",
                                     ask_schema));
    size_t n = m->rt->tools ? tools_count(m->rt->tools) : 0;
    for (size_t i = 0; i < n; i++) {
        struct tool_info ti;
        if (tools_info(m->rt->tools, i, &ti) != DC_OK || strcmp(ti.name, "ask") == 0)
            continue;
        json_array_append_new(tools, tool_entry(ti.name, ti.description, ti.params_schema));
    }
    return json_pack("{s:o}", "tools", tools);
}

/* ---- tools/call ---------------------------------------------------------- */

static json_t *text_content(const char *text)
{
    return json_pack("[{s:s, s:s}]", "type", "text", "text", text ? text : "");
}

/* A failed call is a tool result with isError, so the model sees why. */
static json_t *call_error(struct dc_ctx *ctx, const char *fallback)
{
    const char *code = ctx ? (ctx_get(ctx, "refused") ? ctx_get(ctx, "refused")
                                                      : ctx_error_code(ctx))
                           : NULL;
    const char *msg = ctx ? (ctx_error_message(ctx) ? ctx_error_message(ctx)
                                                    : ctx_get(ctx, "answer"))
                          : NULL;
    struct sbuf b;
    sbuf_init(&b);
    sbuf_addf(&b, "%s: %s", code ? code : "E-TOOL-FAILED", msg ? msg : fallback);
    json_t *r = json_pack("{s:o, s:b}", "content", text_content(b.p ? b.p : fallback),
                          "isError", 1);
    sbuf_free(&b);
    return r;
}

static json_t *call_ask(struct mcp *m, json_t *args, json_t *id)
{
    const char *q = json_string_value(json_object_get(args, "question"));
    json_t *dbv = json_object_get(args, "database");
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v)
    {
        if (strcmp(key, "question") != 0 && strcmp(key, "database") != 0)
            return rpc_error(id, RPC_INVALID_PARAMS,
                             "ask takes only `question` and `database`");
    }
    if (!q)
        return rpc_error(id, RPC_INVALID_PARAMS, "ask needs `question` (a string)");
    if (dbv && !json_is_string(dbv))
        return rpc_error(id, RPC_INVALID_PARAMS, "ask's `database` must be a string");
    struct dc_ctx *ctx = NULL;
    int64_t t0 = util_now_us();
    int rc = runtime_ask(m->rt, q, dbv ? json_string_value(dbv) : m->db, m->principal, "json",
                         &ctx);
    json_t *res;
    if (!ctx)
        return rpc_error(id, RPC_INTERNAL, "out of memory");
    if (rc != DC_OK || ctx_error_code(ctx) || ctx_get(ctx, "refused")) {
        res = call_error(ctx, "the question could not be answered");
    } else {
        const char *answer = ctx_get(ctx, "answer");
        const char *sql = ctx_get(ctx, "sql.run") ? ctx_get(ctx, "sql.run") : ctx_get(ctx, "sql");
        struct sbuf b;
        sbuf_init(&b);
        sbuf_adds(&b, answer ? answer : "");
        if (sql)
            sbuf_addf(&b, "\n\nSQL: %s", sql);
        json_t *structured = answerjson_new(ctx, util_now_us() - t0, MCP_ASK_ROWS);
        res = json_pack("{s:o, s:o, s:b}", "content", text_content(b.p), "structuredContent",
                        structured ? structured : json_object(), "isError", 0);
        sbuf_free(&b);
    }
    ctx_free(ctx);
    return rpc_result(id, res);
}

static json_t *call_tool(struct mcp *m, const char *name, json_t *args, const char *token,
                         json_t *id)
{
    char *args_text = json_dumps(args, JSON_COMPACT);
    if (!args_text)
        return rpc_error(id, RPC_INTERNAL, "out of memory");
    struct dc_ctx *ctx = NULL;
    int rc = runtime_call_tool(m->rt, name, args_text, token, m->db, m->principal, &ctx);
    free(args_text);
    if (!ctx)
        return rpc_error(id, RPC_INTERNAL, "out of memory");
    json_t *out;
    const char *code = ctx_error_code(ctx);
    if (code && strcmp(code, "E-TOOL-UNKNOWN") == 0) {
        out = rpc_error(id, RPC_INVALID_PARAMS, ctx_error_message(ctx) ? ctx_error_message(ctx)
                                                                       : "unknown tool");
    } else if (rc != DC_OK || code || ctx_get(ctx, "refused")) {
        json_t *res = call_error(ctx, "the tool failed");
        /* The id a client grants (POST /api/v1/approvals/{id}) before
         * calling again with the token in _meta. */
        if (res && ctx_get(ctx, "approval.id"))
            json_object_set_new(res, "structuredContent",
                                json_pack("{s:s}", "approval_id", ctx_get(ctx, "approval.id")));
        out = rpc_result(id, res);
    } else {
        const char *result = ctx_get(ctx, "result");
        json_t *parsed = result ? json_loads(result, 0, NULL) : NULL;
        json_t *res = json_pack("{s:o, s:b}", "content", text_content(result ? result : "{}"),
                                "isError", 0);
        if (res && json_is_object(parsed))
            json_object_set(res, "structuredContent", parsed);
        json_decref(parsed);
        out = rpc_result(id, res);
    }
    ctx_free(ctx);
    return out;
}

static json_t *do_tools_call(struct mcp *m, json_t *params, json_t *id)
{
    const char *name = json_string_value(json_object_get(params, "name"));
    json_t *args = json_object_get(params, "arguments");
    /* The approval is request metadata, not a tool argument: it must not
     * reach the schema check or the hash the token is bound to. */
    json_t *meta = json_object_get(params, "_meta");
    json_t *tokv = json_object_get(meta, MCP_APPROVAL_META);
    if (!m->rt->cfg)
        return rpc_error(id, RPC_INTERNAL, "the runtime is not started");
    if (!name)
        return rpc_error(id, RPC_INVALID_PARAMS, "tools/call needs params.name (a string)");
    if (args && !json_is_object(args))
        return rpc_error(id, RPC_INVALID_PARAMS, "params.arguments must be an object");
    if (meta && !json_is_object(meta))
        return rpc_error(id, RPC_INVALID_PARAMS, "params._meta must be an object");
    if (tokv && !json_is_string(tokv))
        return rpc_error(id, RPC_INVALID_PARAMS,
                         "params._meta[\"" MCP_APPROVAL_META "\"] must be a string");
    json_t *empty = NULL;
    if (!args)
        args = empty = json_object();
    json_t *out = strcmp(name, "ask") == 0
                      ? call_ask(m, args, id)
                      : call_tool(m, name, args, json_string_value(tokv), id);
    json_decref(empty);
    return out;
}

/* ---- dispatch ------------------------------------------------------------ */

/* One message; NULL when no reply is due (notification or response). */
static json_t *handle_one(struct mcp *m, json_t *msg)
{
    if (!json_is_object(msg))
        return rpc_error(NULL, RPC_INVALID_REQUEST, "a message must be a JSON object");
    json_t *idv = json_object_get(msg, "id");
    json_t *method = json_object_get(msg, "method");
    json_t *params = json_object_get(msg, "params");
    int has_id = idv != NULL;
    if (idv && !json_is_string(idv) && !json_is_integer(idv) && !json_is_null(idv))
        return rpc_error(NULL, RPC_INVALID_REQUEST, "id must be a string or an integer");
    if (!json_is_string(json_object_get(msg, "jsonrpc")) ||
        strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0") != 0)
        return rpc_error(idv, RPC_INVALID_REQUEST, "jsonrpc must be \"2.0\"");
    if (!method) {
        if (json_object_get(msg, "result") || json_object_get(msg, "error"))
            return NULL; /* a response; this server sends no requests */
        return rpc_error(idv, RPC_INVALID_REQUEST, "a request needs a method");
    }
    if (!json_is_string(method))
        return rpc_error(idv, RPC_INVALID_REQUEST, "method must be a string");
    if (params && !json_is_object(params))
        return rpc_error(idv, RPC_INVALID_PARAMS, "params must be an object");
    const char *name = json_string_value(method);
    if (!has_id)
        return NULL; /* notifications (initialized, cancelled, ...) need no action here */
    json_t *res;
    if (strcmp(name, "initialize") == 0)
        res = rpc_result(idv, do_initialize(m, params));
    else if (strcmp(name, "ping") == 0)
        res = rpc_result(idv, json_object());
    else if (strcmp(name, "tools/list") == 0)
        res = rpc_result(idv, do_tools_list(m));
    else if (strcmp(name, "tools/call") == 0)
        res = do_tools_call(m, params, idv);
    else {
        char text[200];
        snprintf(text, sizeof(text), "method '%.120s' is not supported", name);
        res = rpc_error(idv, RPC_NO_METHOD, text);
    }
    return res ? res : rpc_error(idv, RPC_INTERNAL, "out of memory");
}

int mcp_handle(struct mcp *m, const char *text, size_t len, char **reply)
{
    *reply = NULL;
    json_error_t je;
    json_t *msg = len > MCP_MAX_MESSAGE
                      ? NULL
                      : json_loadb(text, len, JSON_REJECT_DUPLICATES,
                                   &je);
    json_t *out = NULL;
    if (!msg) {
        char why[300];
        if (len > MCP_MAX_MESSAGE)
            snprintf(why, sizeof(why), "the message is over %u bytes", MCP_MAX_MESSAGE);
        else
            snprintf(why, sizeof(why), "not valid JSON at line %d column %d: %s", je.line,
                     je.column, je.text);
        out = rpc_error(NULL, RPC_PARSE, why);
    } else if (json_is_array(msg)) {
        if (json_array_size(msg) == 0) {
            out = rpc_error(NULL, RPC_INVALID_REQUEST, "an empty batch");
        } else {
            out = json_array();
            size_t i;
            json_t *one;
            json_array_foreach(msg, i, one)
            {
                json_t *r = handle_one(m, one);
                if (r)
                    json_array_append_new(out, r);
            }
            if (out && json_array_size(out) == 0) {
                json_decref(out);
                out = NULL;
                json_decref(msg);
                return DC_OK;
            }
        }
    } else {
        out = handle_one(m, msg);
        if (!out) {
            json_decref(msg);
            return DC_OK;
        }
    }
    json_decref(msg);
    if (!out)
        return DC_ENOMEM;
    *reply = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    return *reply ? DC_OK : DC_ENOMEM;
}
