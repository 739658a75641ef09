/* datachat-worker: loads one tool plugin, confines itself, then serves the
 * core's calls over WORKER_FD until the core closes it. Any malformed
 * message from the core ends the process: there is no one to report to. */
#include "worker.h"

#include <dlfcn.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "config.h"
#include "ctx.h"
#include "hostapi.h"
#include "ipc.h"
#include "luart.h"
#include "registry.h"
#include "util.h"

struct worker {
    int fd;
    char *buf;
    const struct dc_tool_vtable *vt;
    void *state;
    struct luart *lua; /* a Lua tool: the script instead of vt */
    struct host_self self;
    struct dc_host host;
    struct dc_opts opts;
    int64_t next_id;
    const char *mode;    /* IPC_MODE_* */
    struct dc_ctx *cur;  /* the call or stage run in progress; NULL between */
    char *got;           /* the last value IPC_GET brought (luart_ctx_hooks.get) */
};

static void send_msg(struct worker *w, json_t *m);

/* The tool's log lines go to the core's log: the worker has no stderr. */
static void forward_log(void *arg, int level, const char *plugin, const char *msg)
{
    struct worker *w = arg;
    (void)plugin;
    json_t *m = ipc_msg_new(IPC_LOG);
    if (m && (json_object_set_new(m, "level", json_integer(level < 0 ? 0 : level)) != 0 ||
              json_object_set_new(m, "message", json_string(msg ? msg : "")) != 0)) {
        /* not UTF-8: say so rather than drop the line */
        json_object_set_new(m, "message", json_string("(a log line that is not UTF-8)"));
    }
    send_msg(w, m);
}

/* Receives and decodes one message from the core; exits on anything else. */
static json_t *recv_msg(struct worker *w, int *type)
{
    size_t n;
    char err[256];
    json_t *m = NULL;
    int rc = ipc_recv(w->fd, w->buf, IPC_MAX_MSG + 1, -1, &n, err, sizeof(err));
    if (rc == DC_EIO)
        _exit(0); /* the core went away or closed us: nothing left to do */
    if (rc != DC_OK || ipc_decode(w->buf, n, IPC_TO_WORKER, &m, type, err, sizeof(err)) != DC_OK)
        _exit(WORKER_EXIT_PROTOCOL);
    return m;
}

static void send_msg(struct worker *w, json_t *m)
{
    char err[256];
    int rc = m ? ipc_send(w->fd, m, err, sizeof(err)) : DC_ENOMEM;
    json_decref(m);
    if (rc != DC_OK)
        _exit(WORKER_EXIT_PROTOCOL);
}

static void send_error(struct worker *w, const char *code, const char *msg)
{
    json_t *m = ipc_msg_new(IPC_ERROR);
    if (m && (json_object_set_new(m, "code", json_string(code)) != 0 ||
              json_object_set_new(m, "message", json_string(msg ? msg : "")) != 0)) {
        json_decref(m);
        m = NULL;
    }
    send_msg(w, m);
}

/* The context's database access: every statement goes to the core, which
 * runs it through the gate with the caller's principal and audits it. */
static int backend_query(void *arg, struct dc_ctx *c, const char *db, const char *sql,
                         const struct dc_value *params, size_t nparams, struct dc_result **out)
{
    struct worker *w = arg;
    int64_t id = w->next_id++;
    json_t *m = ipc_msg_new(IPC_QUERY), *ps = json_array();
    if (!m || !ps)
        _exit(WORKER_EXIT_PROTOCOL);
    for (size_t i = 0; i < nparams; i++)
        if (json_array_append_new(ps, ipc_value_json(&params[i])) != 0)
            _exit(WORKER_EXIT_PROTOCOL);
    if (json_object_set_new(m, "id", json_integer(id)) != 0 ||
        json_object_set_new(m, "db", db ? json_string(db) : json_null()) != 0 ||
        json_object_set_new(m, "sql", json_string(sql)) != 0 ||
        json_object_set_new(m, "params", ps) != 0) {
        ctx_fail(c, "E-SANDBOX-QUERY", "the query could not be encoded (is it valid UTF-8?)");
        json_decref(m);
        return DC_EINVAL;
    }
    char err[256];
    int rc = ipc_send(w->fd, m, err, sizeof(err));
    json_decref(m);
    if (rc == DC_ELIMIT) {
        ctx_fail(c, "E-SANDBOX-TOO-BIG", "the query is over the %u-byte message limit",
                 IPC_MAX_MSG);
        return DC_ELIMIT;
    }
    if (rc != DC_OK)
        _exit(WORKER_EXIT_PROTOCOL);
    int type;
    json_t *r = recv_msg(w, &type);
    if (type != IPC_ROWS || json_integer_value(json_object_get(r, "id")) != id)
        _exit(WORKER_EXIT_PROTOCOL);
    const json_t *e = json_object_get(r, "error");
    if (e) {
        ctx_fail(c, json_string_value(json_object_get(e, "code")), "%s",
                 json_string_value(json_object_get(e, "message")));
        json_decref(r);
        return DC_EDENIED;
    }
    rc = ipc_rows_get(r, out, err, sizeof(err));
    json_decref(r);
    if (rc != DC_OK)
        _exit(WORKER_EXIT_PROTOCOL);
    return DC_OK;
}

static json_t *headers_json(const char *const *headers)
{
    json_t *a = json_array();
    for (size_t i = 0; a && headers && headers[i]; i++)
        if (json_array_append_new(a, json_string(headers[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* An HTTP request of the tool: the core checks the host, fetches and
 * audits; here it is only a message. */
static int http_forward(struct worker *w, const char *method, const char *url,
                        const char *const *headers, const char *body, long *status, char **resp,
                        char *err, size_t errlen)
{
    int64_t id = w->next_id++;
    json_t *m = ipc_msg_new(IPC_HTTP);
    if (!m || json_object_set_new(m, "id", json_integer(id)) != 0 ||
        json_object_set_new(m, "method", json_string(method)) != 0 ||
        json_object_set_new(m, "url", json_string(url)) != 0 ||
        json_object_set_new(m, "body", body ? json_string(body) : json_null()) != 0 ||
        (headers && json_object_set_new(m, "headers", headers_json(headers)) != 0)) {
        json_decref(m);
        return util_err(err, errlen, DC_EINVAL, "E-SANDBOX-HTTP: the request could not be "
                        "encoded (is it valid UTF-8?)");
    }
    int rc = ipc_send(w->fd, m, err, errlen);
    json_decref(m);
    if (rc == DC_ELIMIT)
        return util_err(err, errlen, rc, "E-SANDBOX-TOO-BIG: the request is over the %u-byte "
                        "message limit", IPC_MAX_MSG);
    if (rc != DC_OK)
        _exit(WORKER_EXIT_PROTOCOL);
    int type;
    json_t *r = recv_msg(w, &type);
    if (type != IPC_HTTP_REPLY || json_integer_value(json_object_get(r, "id")) != id)
        _exit(WORKER_EXIT_PROTOCOL);
    const json_t *e = json_object_get(r, "error");
    if (e) {
        rc = util_err(err, errlen, DC_EDENIED, "%s: %s",
                      json_string_value(json_object_get(e, "code")),
                      json_string_value(json_object_get(e, "message")));
    } else {
        *status = (long)json_integer_value(json_object_get(r, "status"));
        *resp = util_strdup(json_string_value(json_object_get(r, "body")));
        rc = *resp ? DC_OK : util_err(err, errlen, DC_ENOMEM, "out of memory");
    }
    json_decref(r);
    return rc;
}

/* dc.http of a sandboxed script. */
static int http_via_core(void *arg, const char *method, const char *url, const char *body,
                         long *status, char **resp, char *err, size_t errlen)
{
    return http_forward(arg, method, url, NULL, body, status, resp, err, errlen);
}

/* http_request (ABI 1.4) of a sandboxed .so tool. */
static int host_http_via_core(void *arg, struct dc_ctx *c, const char *method, const char *url,
                              const char *const *headers, const char *body, long *status,
                              char **resp, char *err, size_t errlen)
{
    (void)c;
    if (!method || !url)
        return util_err(err, errlen, DC_EINVAL, "E-HTTP-REQUEST: a method and a URL are "
                        "required");
    return http_forward(arg, method, url, headers, body, status, resp, err, errlen);
}

/* A stage reads the request's context, which stays in the core. */
static int ctx_get_via_core(void *arg, const char *key, const char **value, char *err,
                            size_t errlen)
{
    struct worker *w = arg;
    if (!w->cur || strcmp(w->mode, IPC_MODE_STAGE) != 0) {
        *value = w->cur ? ctx_get(w->cur, key) : NULL;
        return DC_OK;
    }
    int64_t id = w->next_id++;
    json_t *m = ipc_msg_new(IPC_GET);
    if (!m || json_object_set_new(m, "id", json_integer(id)) != 0 ||
        json_object_set_new(m, "key", json_string(key)) != 0) {
        json_decref(m);
        return util_err(err, errlen, DC_EINVAL, "the key is not valid UTF-8");
    }
    send_msg(w, m);
    int type;
    json_t *r = recv_msg(w, &type);
    if (type != IPC_VALUE || json_integer_value(json_object_get(r, "id")) != id)
        _exit(WORKER_EXIT_PROTOCOL);
    const json_t *e = json_object_get(r, "error"), *v = json_object_get(r, "value");
    int rc = DC_OK;
    free(w->got);
    w->got = NULL;
    if (e)
        rc = util_err(err, errlen, DC_ELIMIT, "%s: %s",
                      json_string_value(json_object_get(e, "code")),
                      json_string_value(json_object_get(e, "message")));
    else if (json_is_string(v) && !(w->got = util_strdup(json_string_value(v))))
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
    *value = w->got;
    json_decref(r);
    return rc;
}

/* dc.emit: the value goes to the core's context (the stage's blackboard,
 * or the tool call's), as an in-process emit would set it. */
static int emit_to_core(void *arg, const char *key, const char *value, char *err, size_t errlen)
{
    struct worker *w = arg;
    if (!w->cur)
        return util_err(err, errlen, DC_EINVAL, "dc.emit works only during run/invoke");
    json_t *m = ipc_msg_new(IPC_EMIT);
    if (!m || json_object_set_new(m, "key", json_string(key)) != 0 ||
        json_object_set_new(m, "value", value ? json_string(value) : json_null()) != 0) {
        json_decref(m);
        return util_err(err, errlen, DC_EINVAL, "the key or value is not valid UTF-8");
    }
    int rc = ipc_send(w->fd, m, err, errlen);
    json_decref(m);
    if (rc == DC_ELIMIT)
        return util_err(err, errlen, rc, "the value is over the %u-byte message limit",
                        IPC_MAX_MSG);
    if (rc != DC_OK)
        _exit(WORKER_EXIT_PROTOCOL);
    return DC_OK;
}

static void trace_to_core(void *arg, const char *msg)
{
    struct worker *w = arg;
    json_t *m = ipc_msg_new(IPC_TRACE);
    if (!w->cur || !m || json_object_set_new(m, "message", json_string(msg)) != 0) {
        json_decref(m); /* outside a run, or not UTF-8: a trace note is not worth dying for */
        return;
    }
    char err[128];
    int rc = ipc_send(w->fd, m, err, sizeof(err));
    json_decref(m);
    if (rc != DC_OK && rc != DC_ELIMIT)
        _exit(WORKER_EXIT_PROTOCOL);
}

/* A fresh local context carrying the identity keys the core sent; its
 * queries go back to the core. */
static struct dc_ctx *call_ctx(struct worker *w, const json_t *m)
{
    struct ctx_backend be = {.arg = w, .query = backend_query};
    struct dc_ctx *c = ctx_new(&be);
    if (!c)
        _exit(WORKER_EXIT_PROTOCOL);
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)json_object_get(m, "ctx"), k, v)
        if (ctx_set(c, k, json_string_value(v)) != DC_OK)
            _exit(WORKER_EXIT_PROTOCOL);
    return c;
}

static void send_failure(struct worker *w, struct dc_ctx *c, const char *fallback)
{
    send_error(w, ctx_error_code(c) ? ctx_error_code(c) : "E-TOOL-FAILED",
               ctx_error_message(c) ? ctx_error_message(c) : fallback);
}

static void serve_stage(struct worker *w, const json_t *m)
{
    struct dc_ctx *c = call_ctx(w, m);
    if (ctx_set(c, "stage", json_string_value(json_object_get(m, "stage"))) != DC_OK)
        _exit(WORKER_EXIT_PROTOCOL);
    const char *outcome = NULL;
    char lerr[8]; /* luart records its error in c */
    w->cur = c;
    int rc = luart_run_stage(w->lua, &w->host, c, &outcome, lerr, sizeof(lerr));
    w->cur = NULL;
    if (rc != DC_OK || ctx_error_code(c) || !outcome) {
        send_failure(w, c, "the stage failed without a reason");
    } else {
        json_t *out = ipc_msg_new(IPC_OUTCOME);
        if (!out || json_object_set_new(out, "outcome", json_string(outcome)) != 0)
            _exit(WORKER_EXIT_PROTOCOL);
        send_msg(w, out);
    }
    ctx_free(c);
}

static void serve_call(struct worker *w, const json_t *m)
{
    struct dc_ctx *c = call_ctx(w, m);
    char *args = json_dumps(json_object_get(m, "args"), JSON_COMPACT);
    if (!args)
        _exit(WORKER_EXIT_PROTOCOL);
    if (ctx_set(c, "args", args) != DC_OK ||
        ctx_set(c, "tool", json_string_value(json_object_get(m, "tool"))) != DC_OK)
        _exit(WORKER_EXIT_PROTOCOL);
    free(args);
    char lerr[8]; /* luart records its error in c */
    w->cur = c;
    int rc = w->lua ? luart_run_tool(w->lua, &w->host, c, lerr, sizeof(lerr))
                    : w->vt->invoke(w->state, c);
    w->cur = NULL;
    if (rc != DC_OK || ctx_error_code(c)) {
        send_failure(w, c, "the tool failed without a reason");
    } else {
        const char *res = ctx_get(c, "result");
        json_t *out = ipc_msg_new(IPC_RESULT);
        if (!out || json_object_set_new(out, "result", res ? json_string(res) : json_null()))
            _exit(WORKER_EXIT_PROTOCOL);
        char err[256];
        int src = ipc_send(w->fd, out, err, sizeof(err));
        json_decref(out);
        if (src == DC_ELIMIT)
            send_error(w, "E-SANDBOX-TOO-BIG", "the tool's result is over the message limit");
        else if (src != DC_OK)
            _exit(WORKER_EXIT_PROTOCOL);
    }
    ctx_free(c);
}

/* The hello's "with" as the option set the plugin's accessors read. */
static int build_opts(struct worker *w, const json_t *with, const struct dc_option *decl)
{
    size_t n = json_object_size(with), i = 0;
    w->opts.opts = calloc(n ? n : 1, sizeof(*w->opts.opts));
    w->opts.decl = decl;
    if (!w->opts.opts)
        return DC_ENOMEM;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)with, k, v) {
        struct cfg_opt *o = &w->opts.opts[i++];
        w->opts.nopts = i;
        o->key = strdup(k);
        if (!o->key)
            return DC_ENOMEM;
        if (json_is_string(v)) {
            o->value = strdup(json_string_value(v));
            if (!o->value)
                return DC_ENOMEM;
            continue;
        }
        o->is_list = 1;
        o->items = calloc(json_array_size(v) + 1, sizeof(*o->items));
        if (!o->items)
            return DC_ENOMEM;
        size_t j;
        const json_t *x;
        json_array_foreach(v, j, x) {
            o->items[j] = strdup(json_string_value(x));
            if (!o->items[j])
                return DC_ENOMEM;
            o->nitems = j + 1;
        }
    }
    return DC_OK;
}

static const struct dc_tool_vtable *load_plugin(const char *path, const char **name,
                                                uint64_t *caps)
{
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl)
        return NULL;
    dc_plugin_describe_fn fn = (dc_plugin_describe_fn)dlsym(dl, DC_PLUGIN_SYMBOL);
    const struct dc_plugin_descriptor *d = fn ? fn() : NULL;
    /* The core's registry checked the file; a descriptor built before ABI
     * 1.3 is shorter than today's and has no capabilities field. */
    size_t min_size = offsetof(struct dc_plugin_descriptor, description) + sizeof(d->description);
    if (!d || d->magic != DC_PLUGIN_MAGIC || d->struct_size < min_size ||
        d->abi_major != DC_ABI_MAJOR || d->kind != DC_KIND_TOOL || !d->vtable)
        return NULL;
    /* The registry's rule: a vtable as long as ABI 1.0's loads; fields of
     * later minors are read only when struct_size covers them. */
    const struct dc_tool_vtable *vt = d->vtable;
    if (vt->struct_size < registry_min_vtable_size(DC_KIND_TOOL) || !vt->invoke)
        return NULL;
    *name = d->name;
    *caps = d->struct_size >= sizeof(*d) ? d->capabilities : DC_CAP_UNDECLARED;
    return vt;
}

/* A Lua tool's script and helper library, read while open() is allowed. */
struct lua_src {
    char *text, *lib;
    size_t len, lib_len;
    const char *lib_path;
};

static void read_lua(const json_t *hello, struct lua_src *src)
{
    char err[512];
    src->lib_path = json_string_value(json_object_get(hello, "lua_lib"));
    if (luart_read_source(json_string_value(json_object_get(hello, "plugin")), &src->text,
                          &src->len, err, sizeof(err)) != DC_OK ||
        (src->lib_path &&
         luart_read_source(src->lib_path, &src->lib, &src->lib_len, err, sizeof(err)) != DC_OK))
        _exit(WORKER_EXIT_PLUGIN);
}

/* Compiles the script and runs its top level, now under the filter. */
static int open_lua(struct worker *w, const char *name, struct lua_src *src, char *err,
                    size_t errlen)
{
    int rc = luart_open_sources(src->text, src->len, name, src->lib, src->lib_len,
                                src->lib_path, NULL, &w->lua, err, errlen);
    free(src->text);
    free(src->lib);
    if (rc != DC_OK || strcmp(w->mode, IPC_MODE_DESCRIBE) == 0)
        return rc; /* describe reports the declarations; config checks `with:` */
    const struct luart_ctx_hooks hooks = {.arg = w,
                                          .get = ctx_get_via_core,
                                          .emit = emit_to_core,
                                          .trace = trace_to_core};
    luart_set_ctx_hooks(w->lua, &hooks);
    const char *fn = strcmp(w->mode, IPC_MODE_STAGE) == 0 ? "run" : "invoke";
    for (size_t i = 0; rc == DC_OK && i < w->opts.nopts; i++) {
        const struct cfg_opt *o = &w->opts.opts[i];
        rc = luart_set_option(w->lua, o->key, o->value,
                              o->is_list ? (const char *const *)o->items : NULL, o->nitems);
    }
    if (rc == DC_OK)
        luart_set_http(w->lua, http_via_core, w);
    if (rc == DC_OK && !luart_defines(w->lua, fn))
        rc = util_err(err, errlen, DC_EINVAL, "%s: the script defines no function %s",
                      strcmp(fn, "run") == 0 ? "E-LUA-NO-RUN" : "E-LUA-NO-INVOKE",
                      strcmp(fn, "run") == 0 ? "run(ctx)" : "invoke(args)");
    return rc;
}

static json_t *str_list(const char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; a && v && v[i]; i++)
        if (json_array_append_new(a, json_string(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* ready for a Lua script: its outcome labels and, for describe, its
 * declared options and which entry points it defines. */
static void add_lua_decls(struct worker *w, json_t *ready)
{
    json_t *outs = str_list(luart_outcomes(w->lua));
    if (!outs || json_object_set_new(ready, "outcomes", outs) != 0)
        _exit(WORKER_EXIT_PROTOCOL);
    if (strcmp(w->mode, IPC_MODE_DESCRIBE) != 0)
        return;
    static const char *const fns[] = {"run", "invoke"};
    json_t *defs = json_array(), *opts = json_array();
    if (!defs || !opts)
        _exit(WORKER_EXIT_PROTOCOL);
    for (size_t i = 0; i < 2; i++)
        if (luart_defines(w->lua, fns[i]) && json_array_append_new(defs, json_string(fns[i])))
            _exit(WORKER_EXIT_PROTOCOL);
    for (const struct dc_option *o = luart_options(w->lua); o && o->name; o++) {
        json_t *d = json_pack("{s:s, s:i, s:b, s:s?, s:s?}", "name", o->name, "type", o->type,
                              "required", o->required, "default", o->default_value, "help",
                              o->help);
        if (!d || json_array_append_new(opts, d) != 0)
            _exit(WORKER_EXIT_PROTOCOL);
    }
    if (json_object_set_new(ready, "defines", defs) != 0 ||
        json_object_set_new(ready, "options", opts) != 0)
        _exit(WORKER_EXIT_PROTOCOL);
}

static void set_limit(int res, rlim_t v)
{
    struct rlimit rl = {.rlim_cur = v, .rlim_max = v};
    if (setrlimit(res, &rl) != 0)
        _exit(WORKER_EXIT_SETUP);
}

int main(void)
{
    struct worker w = {.fd = WORKER_FD, .next_id = 1};
    int type;
    /* The core owns this process's lifetime: if it dies, so do we. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() == 1)
        _exit(WORKER_EXIT_SETUP);
    int st = 0;
    socklen_t sl = sizeof(st);
    if (getsockopt(w.fd, SOL_SOCKET, SO_TYPE, &st, &sl) != 0 || st != SOCK_SEQPACKET)
        _exit(WORKER_EXIT_SETUP);
    close_range(WORKER_FD + 1, ~0U, 0);
    set_limit(RLIMIT_CORE, 0);
    set_limit(RLIMIT_FSIZE, 0);
    set_limit(RLIMIT_NPROC, 0);
    set_limit(RLIMIT_NOFILE, 16);
    w.buf = malloc(IPC_MAX_MSG + 1);
    if (!w.buf)
        _exit(WORKER_EXIT_SETUP);
    /* Jansson seeds its hash function from /dev/urandom on first use;
     * do it while open() is still allowed. */
    json_object_seed(0);

    json_t *hello = recv_msg(&w, &type);
    if (type != IPC_HELLO)
        _exit(WORKER_EXIT_PROTOCOL);
    const char *name = NULL;
    uint64_t caps = DC_CAP_UNDECLARED;
    const char *lua_name = json_string_value(json_object_get(hello, "lua"));
    const char *mode = json_string_value(json_object_get(hello, "mode"));
    w.mode = !mode                                   ? IPC_MODE_TOOL
             : strcmp(mode, IPC_MODE_STAGE) == 0     ? IPC_MODE_STAGE
             : strcmp(mode, IPC_MODE_DESCRIBE) == 0 ? IPC_MODE_DESCRIBE
             : strcmp(mode, IPC_MODE_TOOL) == 0     ? IPC_MODE_TOOL
                                                    : NULL;
    if (!w.mode || (!lua_name && strcmp(w.mode, IPC_MODE_TOOL) != 0))
        _exit(WORKER_EXIT_PROTOCOL); /* only Lua scripts run as stages or are described */
    struct lua_src src = {0};
    if (lua_name) {
        name = strdup(lua_name); /* outlives the hello; kept for the process's life */
        if (!name)
            _exit(WORKER_EXIT_SETUP);
        read_lua(hello, &src);
    } else {
        w.vt = load_plugin(json_string_value(json_object_get(hello, "plugin")), &name, &caps);
        if (!w.vt)
            _exit(WORKER_EXIT_PLUGIN);
    }
    if (build_opts(&w, json_object_get(hello, "with"), w.vt ? w.vt->options : NULL) != DC_OK)
        _exit(WORKER_EXIT_SETUP);
    w.self.plugin_name = name;
    w.self.sink = forward_log;
    w.self.sink_arg = &w;
    w.self.min_level = DC_LOG_DEBUG; /* the core's log decides what it keeps */
    w.self.denied = ~caps;
    w.self.http = host_http_via_core;
    w.self.http_arg = &w;
    hostapi_init(&w.host, &w.self);
    if (worker_confine(w.fd, json_integer_value(json_object_get(hello, "mem_mb")),
                       json_integer_value(json_object_get(hello, "cpu_s"))) != DC_OK)
        _exit(WORKER_EXIT_SETUP);

    /* From here on everything runs under the filter, init included: a Lua
     * script's top level first runs here. */
    char perr[1024] = "";
    if (lua_name && open_lua(&w, lua_name, &src, perr, sizeof(perr)) != DC_OK) {
        send_error(&w, "E-SANDBOX-INIT", perr);
        _exit(0);
    }
    json_decref(hello);
    if (w.vt && w.vt->init &&
        w.vt->init(&w.host, &w.opts, &w.state, perr, sizeof(perr)) != DC_OK) {
        send_error(&w, "E-SANDBOX-INIT", perr[0] ? perr : "init failed without a reason");
        _exit(0);
    }
    json_t *ready = ipc_msg_new(IPC_READY);
    if (!ready || json_object_set_new(ready, "name", json_string(name)) != 0)
        _exit(WORKER_EXIT_PROTOCOL);
    if (w.lua)
        add_lua_decls(&w, ready);
    send_msg(&w, ready);
    int want = strcmp(w.mode, IPC_MODE_STAGE) == 0 ? IPC_STAGE : IPC_CALL;
    for (;;) {
        json_t *m = recv_msg(&w, &type);
        if (strcmp(w.mode, IPC_MODE_DESCRIBE) == 0 || type != want)
            _exit(WORKER_EXIT_PROTOCOL);
        if (type == IPC_STAGE)
            serve_stage(&w, m);
        else
            serve_call(&w, m);
        json_decref(m);
    }
}
