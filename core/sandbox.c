#include "sandbox.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <datachat/host.h>
#include <datachat/plugin.h>
#include <datachat/value.h>

#include "config.h"
#include "ctx.h"
#include "ipc.h"
#include "luart.h"
#include "netlib.h"
#include "netlib.h"
#include "result.h"
#include "util.h"

#ifndef DC_WORKER_INSTALL_PATH
#define DC_WORKER_INSTALL_PATH "/usr/local/libexec/datachat/datachat-worker"
#endif

#define SANDBOX_FD 3 /* where the worker expects its socket (core/worker/worker.h) */
#define SANDBOX_START_MS 5000
#define SANDBOX_BACKOFF_MIN_MS 50
#define SANDBOX_BACKOFF_MAX_MS 5000
#define SANDBOX_MAX_LOGS 100 /* log lines forwarded per call (and at start) */
#define SANDBOX_MAX_EMITS 10000 /* dc.emit / dc.trace messages per call */
#define SANDBOX_MAX_HEADERS 32
#define SANDBOX_MAX_HEADER_BYTES 4096

struct sandbox {
    pthread_mutex_t mu;
    char *worker_path;
    char *plugin_path;
    char *tool;
    char *lua_name, *lua_lib;
    sandbox_log_fn log;
    void *log_arg;
    int logs_left;      /* a tool cannot flood the core's log */
    const char *const *http_allow;
    sandbox_http_fn http;
    void *http_arg;
    sandbox_http_note_fn http_note;
    json_t *with;
    int64_t deadline_ms, mem_mb, cpu_s;
    pid_t pid;
    int fd;
    char *buf;
    int fails;          /* consecutive crashes, timeouts and protocol errors */
    int64_t retry_at_us;
    int kind;           /* enum sandbox_kind */
    const char *what;   /* "tool" or "stage", for messages */
    const char *mode;   /* IPC_MODE_* sent in the hello */
    json_t *ready;      /* the last ready message */
    char **outcomes;    /* a stage's labels from its first ready; NULL-terminated */
    int emits_left;
};

void sandbox_describe_status(int status, char *out, size_t outlen)
{
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *abbrev = sigabbrev_np(sig);
        const char *why = "";
        switch (sig) {
        case SIGSYS: why = " (seccomp): the tool made a forbidden system call"; break;
        case SIGSEGV:
        case SIGBUS: why = ": the tool crashed on an invalid memory access"; break;
        case SIGXCPU: why = ": the tool used up its CPU time limit"; break;
        case SIGXFSZ: why = ": the tool tried to write a file"; break;
        case SIGABRT: why = ": the tool aborted (often: out of memory)"; break;
        case SIGKILL: why = ": the worker was stopped"; break;
        default: break;
        }
        snprintf(out, outlen, "killed by SIG%s%s", abbrev ? abbrev : "?", why);
    } else if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        const char *why = code == 70   ? ": it could not confine itself (rlimits or seccomp)"
                          : code == 71 ? ": the conversation with the core broke down"
                          : code == 72 ? ": it could not load the tool plugin"
                                       : ": the tool ended the process";
        snprintf(out, outlen, "exited with status %d%s", code, why);
    } else {
        snprintf(out, outlen, "ended with wait status %d", status);
    }
}

static int64_t backoff_ms(int fails)
{
    if (fails <= 1)
        return 0;
    int64_t ms = SANDBOX_BACKOFF_MIN_MS;
    for (int i = 2; i < fails && ms < SANDBOX_BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < SANDBOX_BACKOFF_MAX_MS ? ms : SANDBOX_BACKOFF_MAX_MS;
}

/* Stops the worker for good and collects its status (-1 if unknown). */
static int kill_reap(struct sandbox *sb)
{
    int st = -1;
    if (sb->pid > 0) {
        kill(sb->pid, SIGKILL);
        while (waitpid(sb->pid, &st, 0) < 0 && errno == EINTR)
            ;
    }
    if (sb->fd >= 0)
        close(sb->fd);
    sb->fd = -1;
    sb->pid = 0;
    return st;
}

/* The worker closed its end: it is exiting on its own. Its own status is
 * what the user needs ("killed by SIGSYS"), so give it a moment before the
 * SIGKILL that guarantees the reap. */
static int reap_dead(struct sandbox *sb)
{
    int st = -1;
    for (int i = 0; sb->pid > 0 && i < 200; i++) {
        pid_t p = waitpid(sb->pid, &st, WNOHANG);
        if (p == sb->pid) {
            sb->pid = 0;
            break;
        }
        if (p < 0 && errno != EINTR)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    int kst = kill_reap(sb);
    return st != -1 ? st : kst;
}

static void note_failure(struct sandbox *sb)
{
    sb->fails++;
    sb->retry_at_us = util_now_us() + backoff_ms(sb->fails) * 1000;
}

static char *default_worker_path(void)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *dir = util_dirname(self);
        char *p = dir ? util_join_path(dir, "datachat-worker") : NULL;
        free(dir);
        if (p && access(p, X_OK) == 0)
            return p;
        free(p);
    }
    return util_strdup(DC_WORKER_INSTALL_PATH);
}

static json_t *opts_json(const struct dc_opts *o)
{
    json_t *w = json_object();
    for (size_t i = 0; w && o && i < o->nopts; i++) {
        const struct cfg_opt *c = &o->opts[i];
        json_t *v;
        if (c->is_list) {
            v = json_array();
            for (size_t j = 0; v && j < c->nitems; j++)
                if (json_array_append_new(v, json_string(c->items[j])) != 0) {
                    json_decref(v);
                    v = NULL;
                }
        } else {
            v = json_string(c->value ? c->value : "");
        }
        if (!v || json_object_set_new(w, c->key, v) != 0) {
            json_decref(w);
            return NULL;
        }
    }
    return w;
}

static void forward_log(struct sandbox *sb, const json_t *m)
{
    json_int_t level = json_integer_value(json_object_get(m, "level"));
    if (!sb->log || sb->logs_left <= 0)
        return;
    if (--sb->logs_left == 0) {
        sb->log(sb->log_arg, DC_LOG_WARN, "further log lines of this call were dropped (at most "
                "100 per call)");
        return;
    }
    sb->log(sb->log_arg, level > DC_LOG_DEBUG ? DC_LOG_DEBUG : (int)level,
            json_string_value(json_object_get(m, "message")));
}

static int spawn_worker(struct sandbox *sb, char *err, size_t errlen)
{
    int sv[2] = {-1, -1};
    int rc = DC_OK;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int fa_ok = 0, attr_ok = 0;
    json_t *hello = NULL, *reply = NULL;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        rc = util_err(err, errlen, DC_EIO, "socketpair: %s", strerror(errno));
        goto cleanup;
    }
    /* A packet must fit the sender's buffer; the default may be smaller
     * than IPC_MAX_MSG plus overhead. */
    int sz = (int)IPC_MAX_MSG * 2;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    if (sv[1] == SANDBOX_FD) { /* dup2 onto itself would keep close-on-exec */
        int d = fcntl(sv[1], F_DUPFD_CLOEXEC, SANDBOX_FD + 1);
        if (d < 0) {
            rc = util_err(err, errlen, DC_EIO, "fcntl: %s", strerror(errno));
            goto cleanup;
        }
        close(sv[1]);
        sv[1] = d;
    }
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    if (posix_spawn_file_actions_init(&fa) != 0)
        goto spawn_fail;
    fa_ok = 1;
    if (posix_spawnattr_init(&attr) != 0)
        goto spawn_fail;
    attr_ok = 1;
    if (posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) != 0 ||
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0) != 0 ||
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, sv[1], SANDBOX_FD) != 0 ||
        posix_spawn_file_actions_addclosefrom_np(&fa, SANDBOX_FD + 1) != 0 ||
        posix_spawnattr_setsigmask(&attr, &none) != 0 ||
        posix_spawnattr_setsigdefault(&attr, &all) != 0 ||
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                            POSIX_SPAWN_SETSID) != 0)
        goto spawn_fail;
    char *argv[] = {(char *)"datachat-worker", NULL};
    char *envp[] = {NULL};
    int e = posix_spawn(&sb->pid, sb->worker_path, &fa, &attr, argv, envp);
    if (e != 0) {
        sb->pid = 0;
        rc = util_err(err, errlen, DC_EIO, "cannot start the worker %s: %s", sb->worker_path,
                      strerror(e));
        goto cleanup;
    }
    close(sv[1]);
    sv[1] = -1;
    sb->fd = sv[0];
    sv[0] = -1;

    hello = ipc_msg_new(IPC_HELLO);
    if (!hello || json_object_set_new(hello, "plugin", json_string(sb->plugin_path)) != 0 ||
        json_object_set_new(hello, "tool", json_string(sb->tool)) != 0 ||
        json_object_set(hello, "with", sb->with) != 0 ||
        json_object_set_new(hello, "mem_mb", json_integer(sb->mem_mb)) != 0 ||
        json_object_set_new(hello, "cpu_s", json_integer(sb->cpu_s)) != 0 ||
        (sb->lua_name && json_object_set_new(hello, "lua", json_string(sb->lua_name)) != 0) ||
        (sb->lua_lib && json_object_set_new(hello, "lua_lib", json_string(sb->lua_lib)) != 0) ||
        (sb->lua_name && json_object_set_new(hello, "mode", json_string(sb->mode)) != 0)) {
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
        goto fail_worker;
    }
    char ierr[256];
    if (ipc_send(sb->fd, hello, ierr, sizeof(ierr)) != DC_OK) {
        rc = util_err(err, errlen, DC_EIO, "the worker did not take the handshake: %s", ierr);
        goto fail_worker;
    }
    size_t n;
    int type = IPC_LOG;
    sb->logs_left = SANDBOX_MAX_LOGS;
    int64_t until = util_now_us() + (int64_t)SANDBOX_START_MS * 1000;
    while (type == IPC_LOG) { /* init may log before it answers */
        json_decref(reply);
        reply = NULL;
        int64_t left = (until - util_now_us()) / 1000;
        rc = left > 0 ? ipc_recv(sb->fd, sb->buf, IPC_MAX_MSG + 1, (int)left, &n, ierr,
                                 sizeof(ierr))
                      : util_err(ierr, sizeof(ierr), DC_ETIMEOUT, "no answer in %d ms",
                                 SANDBOX_START_MS);
        if (rc == DC_EIO) {
            char why[160];
            sandbox_describe_status(reap_dead(sb), why, sizeof(why));
            rc = util_err(err, errlen, DC_EIO, "the worker %s while starting", why);
            goto cleanup;
        }
        if (rc == DC_OK)
            rc = ipc_decode(sb->buf, n, IPC_TO_CORE, &reply, &type, ierr, sizeof(ierr));
        if (rc != DC_OK) {
            rc = util_err(err, errlen, rc, "handshake failed: %s", ierr);
            goto fail_worker;
        }
        if (type == IPC_LOG)
            forward_log(sb, reply);
    }
    if (type == IPC_ERROR) {
        rc = util_err(err, errlen, DC_ERR, "init failed in the worker: %s",
                      json_string_value(json_object_get(reply, "message")));
        goto fail_worker;
    }
    if (type != IPC_READY) {
        rc = util_err(err, errlen, DC_EINVAL, "handshake failed: the worker answered '%s'",
                      ipc_type_name(type));
        goto fail_worker;
    }
    json_decref(sb->ready);
    sb->ready = json_incref(reply);
    goto cleanup;
spawn_fail:
    rc = util_err(err, errlen, DC_ENOMEM, "cannot prepare the worker's start");
    goto cleanup;
fail_worker:
    kill_reap(sb);
cleanup:
    json_decref(hello);
    json_decref(reply);
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (attr_ok)
        posix_spawnattr_destroy(&attr);
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    return rc;
}

void sandbox_free(struct sandbox *sb)
{
    if (!sb)
        return;
    if (sb->pid > 0) {
        /* Closing the socket asks the worker to leave; it gets no choice. */
        close(sb->fd);
        sb->fd = -1;
        reap_dead(sb);
    }
    pthread_mutex_destroy(&sb->mu);
    json_decref(sb->with);
    json_decref(sb->ready);
    for (size_t i = 0; sb->outcomes && sb->outcomes[i]; i++)
        free(sb->outcomes[i]);
    free(sb->outcomes);
    free(sb->buf);
    free(sb->worker_path);
    free(sb->plugin_path);
    free(sb->tool);
    free(sb->lua_name);
    free(sb->lua_lib);
    free(sb);
}

/* A JSON list of strings as a NULL-terminated array; NULL for an empty or
 * absent list (and on OOM, with *oom set). */
static char **strv_from_json(const json_t *a, int *oom)
{
    size_t n = json_array_size(a);
    if (n == 0)
        return NULL;
    char **v = calloc(n + 1, sizeof(*v));
    for (size_t i = 0; v && i < n; i++)
        if (!(v[i] = util_strdup(json_string_value(json_array_get(a, i))))) {
            for (size_t j = 0; j < i; j++)
                free(v[j]);
            free(v);
            v = NULL;
        }
    *oom |= v == NULL;
    return v;
}

static int sandbox_start(const struct sandbox_opts *o, const char *mode,
                         struct sandbox **out, char *err, size_t errlen)
{
    *out = NULL;
    struct sandbox *sb = calloc(1, sizeof(*sb));
    if (!sb)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    sb->fd = -1;
    sb->kind = o->kind;
    sb->what = o->kind == SANDBOX_STAGE ? "stage" : "tool";
    sb->mode = mode;
    pthread_mutex_init(&sb->mu, NULL);
    sb->deadline_ms = o->deadline_ms > 0 ? o->deadline_ms : 30000;
    sb->mem_mb = o->mem_mb > 0 ? o->mem_mb : 256;
    sb->cpu_s = o->cpu_s > 0 ? o->cpu_s : 60;
    sb->worker_path = o->worker_path ? util_strdup(o->worker_path) : default_worker_path();
    sb->plugin_path = util_strdup(o->plugin_path);
    sb->tool = util_strdup(o->tool ? o->tool : "tool");
    sb->with = opts_json(o->with);
    sb->log = o->log;
    sb->log_arg = o->log_arg;
    sb->http_allow = o->http_allow;
    sb->http = o->http;
    sb->http_arg = o->http_arg;
    sb->http_note = o->http_note;
    sb->lua_name = o->lua_name ? util_strdup(o->lua_name) : NULL;
    sb->lua_lib = o->lua_lib ? util_strdup(o->lua_lib) : NULL;
    sb->buf = malloc(IPC_MAX_MSG + 1);
    int rc;
    if (!sb->worker_path || !sb->plugin_path || !sb->tool || !sb->with || !sb->buf ||
        (o->lua_name && !sb->lua_name) || (o->lua_lib && !sb->lua_lib)) {
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = spawn_worker(sb, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    if (sb->kind == SANDBOX_STAGE) {
        int oom = 0;
        sb->outcomes = strv_from_json(json_object_get(sb->ready, "outcomes"), &oom);
        if (oom) {
            rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
            goto cleanup;
        }
    }
    *out = sb;
    sb = NULL;
cleanup:
    sandbox_free(sb);
    return rc;
}

int sandbox_new(const struct sandbox_opts *o, struct sandbox **out, char *err, size_t errlen)
{
    if (o->kind == SANDBOX_STAGE && !o->lua_name)
        return util_err(err, errlen, DC_EINVAL, "only Lua stages run sandboxed");
    return sandbox_start(o, o->kind == SANDBOX_STAGE ? IPC_MODE_STAGE : IPC_MODE_TOOL, out, err,
                         errlen);
}

const char *const *sandbox_outcomes(const struct sandbox *sb)
{
    return (const char *const *)sb->outcomes;
}

void sandbox_lua_desc_free(struct sandbox_lua_desc *d)
{
    if (!d)
        return;
    for (size_t i = 0; d->outcomes && d->outcomes[i]; i++)
        free(d->outcomes[i]);
    free(d->outcomes);
    for (size_t i = 0; d->options && d->options[i].name; i++) {
        free((char *)d->options[i].name);
        free((char *)d->options[i].default_value);
        free((char *)d->options[i].help);
    }
    free(d->options);
    free(d);
}

static int desc_options(struct sandbox_lua_desc *d, const json_t *a)
{
    size_t n = json_array_size(a);
    if (n == 0)
        return DC_OK;
    d->options = calloc(n + 1, sizeof(*d->options));
    if (!d->options)
        return DC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(a, i);
        const json_t *dv = json_object_get(x, "default"), *hv = json_object_get(x, "help");
        struct dc_option *o = &d->options[i];
        o->type = (int)json_integer_value(json_object_get(x, "type"));
        o->required = json_is_true(json_object_get(x, "required"));
        o->default_value = json_is_string(dv) ? util_strdup(json_string_value(dv)) : NULL;
        o->help = json_is_string(hv) ? util_strdup(json_string_value(hv)) : NULL;
        o->name = util_strdup(json_string_value(json_object_get(x, "name")));
        if (!o->name || (json_is_string(dv) && !o->default_value) ||
            (json_is_string(hv) && !o->help)) {
            free((char *)o->name); /* keeps the array terminated where it was filled */
            free((char *)o->default_value);
            free((char *)o->help);
            memset(o, 0, sizeof(*o));
            return DC_ENOMEM;
        }
    }
    return DC_OK;
}

int sandbox_lua_describe(const struct sandbox_opts *o, struct sandbox_lua_desc **out, char *err,
                         size_t errlen)
{
    *out = NULL;
    struct sandbox_opts dopt = {.worker_path = o->worker_path,
                                .plugin_path = o->plugin_path,
                                .tool = o->tool,
                                .deadline_ms = o->deadline_ms,
                                .mem_mb = o->mem_mb,
                                .cpu_s = o->cpu_s,
                                .lua_name = o->lua_name,
                                .lua_lib = o->lua_lib};
    struct sandbox *sb = NULL;
    struct sandbox_lua_desc *d = NULL;
    if (!o->lua_name)
        return util_err(err, errlen, DC_EINVAL, "only Lua scripts can be described");
    int rc = sandbox_start(&dopt, IPC_MODE_DESCRIBE, &sb, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    d = calloc(1, sizeof(*d));
    int oom = !d;
    if (d) {
        d->outcomes = strv_from_json(json_object_get(sb->ready, "outcomes"), &oom);
        oom |= desc_options(d, json_object_get(sb->ready, "options")) != DC_OK;
        size_t i;
        const json_t *f;
        json_array_foreach(json_object_get(sb->ready, "defines"), i, f) {
            d->defines_run |= strcmp(json_string_value(f), "run") == 0;
            d->defines_invoke |= strcmp(json_string_value(f), "invoke") == 0;
        }
    }
    if (oom) {
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
        goto cleanup;
    }
    *out = d;
    d = NULL;
cleanup:
    sandbox_lua_desc_free(d);
    sandbox_free(sb);
    return rc;
}

pid_t sandbox_pid(struct sandbox *sb)
{
    pthread_mutex_lock(&sb->mu);
    pid_t p = sb->pid;
    pthread_mutex_unlock(&sb->mu);
    return p;
}

/* Runs the worker's query here, as the caller, and answers with rows. */
static int answer_query(struct sandbox *sb, const json_t *q, struct dc_ctx *ctx)
{
    const json_t *ps = json_object_get(q, "params");
    size_t np = json_array_size(ps);
    struct dc_value *vals = calloc(np ? np : 1, sizeof(*vals));
    char **owned = calloc(np ? np : 1, sizeof(*owned));
    struct dc_result *res = NULL;
    json_t *m = ipc_msg_new(IPC_ROWS);
    int rc = DC_ENOMEM;
    char ierr[256];
    if (!vals || !owned || !m ||
        json_object_set(m, "id", json_object_get(q, "id")) != 0)
        goto cleanup;
    for (size_t i = 0; i < np; i++)
        if (ipc_value_from(json_array_get(ps, i), &vals[i], &owned[i]) != DC_OK)
            goto cleanup;
    const json_t *db = json_object_get(q, "db");
    int qrc = ctx_query(ctx, json_is_string(db) ? json_string_value(db) : NULL,
                        json_string_value(json_object_get(q, "sql")), vals, np, &res);
    if (qrc == DC_OK && ipc_rows_put(m, res) != DC_OK)
        goto cleanup;
    if (qrc == DC_OK) {
        rc = ipc_send(sb->fd, m, ierr, sizeof(ierr));
        if (rc != DC_ELIMIT)
            goto cleanup;
        json_object_del(m, "cols");
        json_object_del(m, "rows");
        json_object_del(m, "truncated");
    }
    const char *code = qrc == DC_OK ? "E-SANDBOX-TOO-BIG"
                       : ctx_error_code(ctx) ? ctx_error_code(ctx) : "E-SANDBOX-QUERY";
    char msg[512];
    if (qrc == DC_OK)
        snprintf(msg, sizeof(msg), "the result (%zu rows) is over the %u-byte message limit; "
                 "ask for fewer rows or columns", result_nrows(res), IPC_MAX_MSG);
    else
        snprintf(msg, sizeof(msg), "%s", ctx_error_message(ctx) ? ctx_error_message(ctx)
                                                                : "the query failed");
    if (json_object_set_new(m, "error", json_pack("{s:s, s:s}", "code", code, "message", msg)))
        goto cleanup;
    rc = ipc_send(sb->fd, m, ierr, sizeof(ierr));
cleanup:
    for (size_t i = 0; owned && i < np; i++)
        free(owned[i]);
    free(owned);
    free(vals);
    result_free(res);
    json_decref(m);
    return rc;
}

int sandbox_http_allowed(const char *url, const char *const *allow, char *err, size_t errlen)
{
    char *scheme = NULL, *host = NULL, nerr[256] = "";
    int rc = netlib_url_parts(url ? url : "", &scheme, &host, nerr, sizeof(nerr));
    if (rc == DC_EINVAL) {
        rc = util_err(err, errlen, DC_EINVAL, "E-SANDBOX-HTTP-URL: '%.200s' is not an http(s) "
                      "URL with a host", url ? url : "");
        goto cleanup;
    }
    if (rc != DC_OK) {
        rc = util_err(err, errlen, rc, "%s", nerr);
        goto cleanup;
    }
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        rc = util_err(err, errlen, DC_EINVAL, "E-SANDBOX-HTTP-URL: scheme '%s' is not http or "
                      "https", scheme);
        goto cleanup;
    }
    rc = DC_EDENIED;
    for (size_t i = 0; allow && allow[i]; i++)
        if (strcasecmp(allow[i], host) == 0)
            rc = DC_OK;
    if (rc != DC_OK)
        util_err(err, errlen, rc, "E-SANDBOX-HTTP-HOST: host '%s' is not on the tool's allow "
                 "list; the core refused the request", host);
cleanup:
    free(scheme);
    free(host);
    return rc;
}

int sandbox_http_headers_ok(const char *const *headers, char *err, size_t errlen)
{
    size_t n = 0;
    for (; headers && headers[n]; n++) {
        const char *h = headers[n];
        size_t name = strcspn(h, ":");
        if (n >= SANDBOX_MAX_HEADERS || strlen(h) > SANDBOX_MAX_HEADER_BYTES)
            return util_err(err, errlen, DC_EINVAL, "E-SANDBOX-HTTP-HEADER: at most %d headers "
                            "of %d bytes each", SANDBOX_MAX_HEADERS, SANDBOX_MAX_HEADER_BYTES);
        if (name == 0 || h[name] != ':')
            return util_err(err, errlen, DC_EINVAL, "E-SANDBOX-HTTP-HEADER: header %zu is not "
                            "'Name: value'", n + 1);
        for (size_t i = 0; i < name; i++)
            if (!(isalnum((unsigned char)h[i]) || strchr("!#$%&'*+-.^_`|~", h[i])))
                return util_err(err, errlen, DC_EINVAL, "E-SANDBOX-HTTP-HEADER: header %zu has "
                                "an invalid name", n + 1);
        for (const char *c = h + name; *c; c++)
            if ((unsigned char)*c < 0x20 && *c != '\t')
                return util_err(err, errlen, DC_EINVAL, "E-SANDBOX-HTTP-HEADER: header %zu "
                                "holds a control character (CR or LF)", n + 1);
        if ((name == 4 && strncasecmp(h, "Host", 4) == 0) ||
            (name == 14 && strncasecmp(h, "Content-Length", 14) == 0) ||
            (name == 17 && strncasecmp(h, "Transfer-Encoding", 17) == 0))
            return util_err(err, errlen, DC_EDENIED, "E-SANDBOX-HTTP-HEADER: header '%.*s' is "
                            "set by the core", (int)name, h);
    }
    return DC_OK;
}

/* Answers the worker's HTTP request: the allow list, then the transport. */
static int answer_http(struct sandbox *sb, const json_t *q, struct dc_ctx *ctx)
{
    char err[512] = "", ierr[256];
    char *resp = NULL;
    long status = 0;
    const json_t *body = json_object_get(q, "body");
    const json_t *hj = json_object_get(q, "headers");
    size_t nh = json_array_size(hj);
    const char **headers = calloc(nh + 1, sizeof(*headers));
    if (!headers)
        return DC_ENOMEM;
    for (size_t i = 0; i < nh; i++)
        headers[i] = json_string_value(json_array_get(hj, i));
    int rc = sandbox_http_allowed(json_string_value(json_object_get(q, "url")), sb->http_allow,
                                  err, sizeof(err));
    if (rc == DC_OK)
        rc = sandbox_http_headers_ok(headers, err, sizeof(err));
    if (rc == DC_OK && !sb->http)
        rc = util_err(err, sizeof(err), DC_EDENIED,
                      "E-SANDBOX-HTTP-UNAVAILABLE: this core has no HTTP transport for tools");
    if (rc == DC_OK)
        rc = sb->http(sb->http_arg, json_string_value(json_object_get(q, "method")),
                      json_string_value(json_object_get(q, "url")), headers,
                      json_is_string(body) ? json_string_value(body) : NULL, &status, &resp, err,
                      sizeof(err));
    free(headers);
    json_t *text = rc == DC_OK ? json_string(resp ? resp : "") : NULL;
    if (rc == DC_OK && !text)
        rc = util_err(err, sizeof(err), DC_EINVAL,
                      "E-SANDBOX-HTTP-BODY: the response is not UTF-8 text");
    if (sb->http_note) {
        const char *method = json_string_value(json_object_get(q, "method"));
        const char *url = json_string_value(json_object_get(q, "url"));
        int nrc = sb->http_note(sb->http_arg, ctx_get(ctx, "principal"), method ? method : "",
                                url ? url : "", rc, status, resp ? strlen(resp) : 0,
                                rc == DC_OK ? NULL : err);
        if (rc == DC_OK && nrc != DC_OK) {
            json_decref(text);
            text = NULL;
            rc = util_err(err, sizeof(err), nrc, "E-AUDIT-WRITE: the request could not be "
                          "recorded, so its response is withheld");
        }
    }
    json_t *m = ipc_msg_new(IPC_HTTP_REPLY);
    int ok = m && json_object_set(m, "id", json_object_get(q, "id")) == 0;
    if (ok && rc == DC_OK) {
        ok = json_object_set_new(m, "status", json_integer(status < 0 ? 0 : status)) == 0 &&
             json_object_set(m, "body", text) == 0;
    } else if (ok) {
        size_t n = strcspn(err, ":");
        char code[49] = "E-SANDBOX-HTTP";
        if (strncmp(err, "E-", 2) == 0 && n < sizeof(code))
            snprintf(code, sizeof(code), "%.*s", (int)n, err);
        const char *msg = err[n] == ':' ? err + n + 1 + (err[n + 1] == ' ') : err;
        ok = json_object_set_new(m, "error", json_pack("{s:s, s:s}", "code", code, "message",
                                                        msg)) == 0;
    }
    json_decref(text);
    free(resp);
    rc = ok ? ipc_send(sb->fd, m, ierr, sizeof(ierr)) : DC_ENOMEM;
    json_decref(m);
    return rc;
}

/* A code from the worker is shown to users: keep it to the code alphabet. */
static const char *safe_code(const char *c)
{
    size_t n = c ? strlen(c) : 0;
    if (n < 3 || n > 48 || strncmp(c, "E-", 2) != 0)
        return "E-TOOL-FAILED";
    for (size_t i = 0; i < n; i++)
        if (!((c[i] >= 'A' && c[i] <= 'Z') || (c[i] >= '0' && c[i] <= '9') || c[i] == '-'))
            return "E-TOOL-FAILED";
    return c;
}

/* The call or stage message: the identity keys the worker's own context
 * needs (its queries still run here, as the caller). */
static json_t *call_msg(struct sandbox *sb, int type, const char *args_json, struct dc_ctx *ctx)
{
    static const char *const keys[] = {"principal", "database", "database.dialect", "today",
                                       NULL};
    json_t *m = ipc_msg_new(type), *c = json_object();
    json_t *args = type == IPC_CALL ? json_loads(args_json ? args_json : "{}",
                                                 JSON_REJECT_DUPLICATES, NULL)
                                    : NULL;
    if (!m || !c || (type == IPC_CALL && !json_is_object(args)))
        goto fail;
    for (size_t i = 0; keys[i]; i++) {
        const char *v = ctx_get(ctx, keys[i]);
        if (v && json_object_set_new(c, keys[i], json_string(v)) != 0)
            goto fail;
    }
    if (json_object_set_new(m, type == IPC_CALL ? "tool" : "stage", json_string(sb->tool)) != 0 ||
        (args && json_object_set(m, "args", args) != 0) || json_object_set(m, "ctx", c) != 0)
        goto fail;
    json_decref(args);
    json_decref(c);
    return m;
fail:
    json_decref(m);
    json_decref(c);
    json_decref(args);
    return NULL;
}

/* The worker broke a rule or died: stop it, say why, count the failure. */
static int worker_failed(struct sandbox *sb, struct dc_ctx *ctx, int rc, const char *what)
{
    char why[200];
    if (rc == DC_EIO) {
        sandbox_describe_status(reap_dead(sb), why, sizeof(why));
        ctx_fail(ctx, "E-SANDBOX-CRASH", "%s '%s': worker %s", sb->what, sb->tool, why);
    } else if (rc == DC_ETIMEOUT) {
        kill_reap(sb);
        ctx_fail(ctx, "E-SANDBOX-TIMEOUT",
                 "%s '%s' did not finish within %lld ms; its worker was killed (raise "
                 "limits.timeout_ms if the %s is slow by design)",
                 sb->what, sb->tool, (long long)sb->deadline_ms, sb->what);
        rc = DC_ETIMEOUT;
    } else {
        kill_reap(sb);
        ctx_fail(ctx, "E-SANDBOX-PROTOCOL", "%s '%s': its worker %s and was killed", sb->what,
                 sb->tool, what ? what : "broke the protocol");
    }
    note_failure(sb);
    return rc < 0 ? rc : DC_ERR;
}

/* A value of the caller's context for the worker (a stage reading ctx). */
static int answer_get(struct sandbox *sb, const json_t *q, struct dc_ctx *ctx)
{
    const char *v = ctx_get(ctx, json_string_value(json_object_get(q, "key")));
    json_t *m = ipc_msg_new(IPC_VALUE);
    char ierr[256];
    int rc = DC_ENOMEM;
    if (!m || json_object_set(m, "id", json_object_get(q, "id")) != 0)
        goto cleanup;
    json_t *jv = v ? json_string(v) : json_null();
    if (!jv || json_object_set_new(m, "value", jv) != 0)
        goto cleanup;
    rc = ipc_send(sb->fd, m, ierr, sizeof(ierr));
    if (rc != DC_ELIMIT)
        goto cleanup;
    json_object_del(m, "value");
    if (json_object_set_new(m, "error",
                            json_pack("{s:s, s:s}", "code", "E-SANDBOX-TOO-BIG", "message",
                                      "the value is over the message limit")) != 0) {
        rc = DC_ENOMEM;
        goto cleanup;
    }
    rc = ipc_send(sb->fd, m, ierr, sizeof(ierr));
cleanup:
    json_decref(m);
    return rc;
}

/* dc.emit from the worker: the same blackboard write an in-process script
 * makes. Keys the core owns are refused there already, so one arriving
 * here is a worker that was tampered with. */
static int take_emit(struct sandbox *sb, const json_t *q, struct dc_ctx *ctx)
{
    const char *key = json_string_value(json_object_get(q, "key"));
    const json_t *v = json_object_get(q, "value");
    if (luart_reserved_key(key) || strcmp(key, "result") == 0 || strcmp(key, "refused") == 0 ||
        strcmp(key, "stage") == 0)
        return DC_EDENIED;
    return ctx_set(ctx, key, json_is_string(v) ? json_string_value(v) : NULL);
}

/* Sends m and serves the worker (logs, queries, HTTP, context reads and
 * writes) until it answers with one of the final types: *final holds it.
 * Any other ending is recorded in ctx and returned. */
static int converse(struct sandbox *sb, json_t *m, struct dc_ctx *ctx, json_t **final,
                    int *ftype)
{
    int64_t deadline = util_now_us() + sb->deadline_ms * 1000;
    char err[256];
    *final = NULL;
    sb->logs_left = SANDBOX_MAX_LOGS;
    sb->emits_left = SANDBOX_MAX_EMITS;
    int rc = ipc_send(sb->fd, m, err, sizeof(err));
    if (rc == DC_ELIMIT) {
        ctx_fail(ctx, "E-TOOL-ARGS", "%s '%s': the input is over the %u-byte limit", sb->what,
                 sb->tool, IPC_MAX_MSG);
        return rc;
    }
    if (rc != DC_OK)
        return worker_failed(sb, ctx, DC_EIO, NULL);
    for (;;) {
        int64_t left = (deadline - util_now_us()) / 1000;
        size_t n;
        rc = left > 0 ? ipc_recv(sb->fd, sb->buf, IPC_MAX_MSG + 1, (int)left, &n, err,
                                 sizeof(err))
                      : DC_ETIMEOUT;
        if (rc == DC_ELIMIT) {
            char what[96];
            snprintf(what, sizeof(what), "sent a message of %zu bytes (the limit is %u)", n,
                     IPC_MAX_MSG);
            return worker_failed(sb, ctx, rc, what);
        }
        if (rc != DC_OK)
            return worker_failed(sb, ctx, rc, NULL);
        json_t *msg = NULL;
        int type;
        char derr[200], what[260];
        if (ipc_decode(sb->buf, n, IPC_TO_CORE, &msg, &type, derr, sizeof(derr)) != DC_OK) {
            snprintf(what, sizeof(what), "sent a malformed message (%s)", derr);
            return worker_failed(sb, ctx, DC_EINVAL, what);
        }
        const char *bad = NULL;
        switch (type) {
        case IPC_LOG:
            forward_log(sb, msg);
            break;
        case IPC_HTTP:
            rc = answer_http(sb, msg, ctx);
            break;
        case IPC_QUERY:
            rc = answer_query(sb, msg, ctx);
            break;
        case IPC_GET:
            rc = sb->kind == SANDBOX_STAGE ? answer_get(sb, msg, ctx) : DC_EINVAL;
            bad = rc == DC_EINVAL ? "asked for the context, which only stages read" : NULL;
            break;
        case IPC_EMIT:
        case IPC_TRACE:
            if (--sb->emits_left < 0) {
                bad = "emitted more than 10000 values or trace notes in one call";
                break;
            }
            if (type == IPC_TRACE) {
                ctx_trace_note(ctx, "%s", json_string_value(json_object_get(msg, "message")));
                break;
            }
            rc = take_emit(sb, msg, ctx);
            bad = rc == DC_EDENIED ? "emitted a key the core owns" : NULL;
            if (rc == DC_ENOMEM) {
                json_decref(msg);
                ctx_fail(ctx, "E-SANDBOX-EMIT", "%s '%s': out of memory storing an emitted "
                         "value", sb->what, sb->tool);
                return worker_failed(sb, ctx, DC_EINVAL, "could not be served (out of memory)");
            }
            break;
        case IPC_ERROR:
        case IPC_RESULT:
        case IPC_OUTCOME:
            if ((type == IPC_RESULT && sb->kind != SANDBOX_TOOL) ||
                (type == IPC_OUTCOME && sb->kind != SANDBOX_STAGE)) {
                bad = "answered with the wrong kind of result";
                break;
            }
            *final = msg;
            *ftype = type;
            sb->fails = 0;
            return DC_OK;
        default:
            bad = "sent an unexpected message during a call";
            break;
        }
        if (bad) {
            snprintf(what, sizeof(what), "%s ('%s')", bad, ipc_type_name(type));
            json_decref(msg);
            return worker_failed(sb, ctx, DC_EINVAL, what);
        }
        json_decref(msg);
        if (rc != DC_OK)
            return worker_failed(sb, ctx, DC_EIO, NULL);
    }
}

/* A worker is running, or is started now (unless in backoff). */
static int ensure_worker(struct sandbox *sb, struct dc_ctx *ctx)
{
    char err[256];
    if (sb->pid != 0)
        return DC_OK;
    if (util_now_us() < sb->retry_at_us) {
        ctx_fail(ctx, "E-SANDBOX-BACKOFF",
                 "%s '%s': its worker failed %d times in a row; the next restart is in %lld ms",
                 sb->what, sb->tool, sb->fails,
                 (long long)((sb->retry_at_us - util_now_us()) / 1000));
        return DC_ELIMIT;
    }
    int rc = spawn_worker(sb, err, sizeof(err));
    if (rc != DC_OK) {
        note_failure(sb);
        ctx_fail(ctx, "E-SANDBOX-START", "%s '%s': %s", sb->what, sb->tool, err);
    }
    return rc;
}

/* The worker's own error, with its code kept to the code alphabet. */
static int worker_error(struct sandbox *sb, const json_t *msg, struct dc_ctx *ctx)
{
    ctx_fail(ctx, safe_code(json_string_value(json_object_get(msg, "code"))), "%s '%s': %s",
             sb->what, sb->tool, json_string_value(json_object_get(msg, "message")));
    return DC_ERR;
}

/* One call or stage run, start to answer: the worker's own error is
 * recorded in ctx; on DC_OK *msg is its result or outcome message. */
static int exchange(struct sandbox *sb, int type, const char *args_json, struct dc_ctx *ctx,
                    json_t **msg)
{
    *msg = NULL;
    int rc = ensure_worker(sb, ctx);
    if (rc != DC_OK)
        return rc;
    json_t *m = call_msg(sb, type, args_json, ctx);
    if (!m) {
        if (type == IPC_CALL)
            ctx_fail(ctx, "E-TOOL-ARGS", "tool '%s': arguments must be a JSON object", sb->tool);
        else
            ctx_fail(ctx, "E-SANDBOX-STAGE", "stage '%s': the context could not be encoded",
                     sb->tool);
        return DC_EINVAL;
    }
    int ftype = 0;
    rc = converse(sb, m, ctx, msg, &ftype);
    json_decref(m);
    if (rc == DC_OK && ftype == IPC_ERROR) {
        rc = worker_error(sb, *msg, ctx);
        json_decref(*msg);
        *msg = NULL;
    }
    return rc;
}

static int call_locked(struct sandbox *sb, const char *args_json, struct dc_ctx *ctx)
{
    json_t *msg = NULL;
    int rc = exchange(sb, IPC_CALL, args_json, ctx, &msg);
    if (rc != DC_OK)
        return rc;
    const json_t *res = json_object_get(msg, "result");
    int has_result = json_is_string(res); /* res dies with msg */
    json_t *parsed = has_result ? json_loads(json_string_value(res), 0, NULL) : NULL;
    char *canon = parsed ? json_dumps(parsed, JSON_COMPACT) : NULL;
    json_decref(parsed);
    json_decref(msg);
    if (has_result && !canon)
        return worker_failed(sb, ctx, DC_EINVAL, "returned a result that is not JSON");
    rc = canon ? ctx_set(ctx, "result", canon) : DC_OK;
    free(canon);
    return rc;
}

int sandbox_call(struct sandbox *sb, const char *args_json, struct dc_ctx *ctx)
{
    pthread_mutex_lock(&sb->mu);
    int rc = sb->kind == SANDBOX_TOOL ? call_locked(sb, args_json, ctx) : DC_EINVAL;
    pthread_mutex_unlock(&sb->mu);
    return rc;
}

static int stage_locked(struct sandbox *sb, struct dc_ctx *ctx, const char **outcome)
{
    json_t *msg = NULL;
    int rc = exchange(sb, IPC_STAGE, NULL, ctx, &msg);
    if (rc != DC_OK)
        return rc;
    const char *label = json_string_value(json_object_get(msg, "outcome"));
    for (size_t i = 0; sb->outcomes && sb->outcomes[i]; i++)
        if (strcmp(sb->outcomes[i], label) == 0)
            *outcome = sb->outcomes[i];
    if (!*outcome) {
        ctx_fail(ctx, "E-SANDBOX-OUTCOME",
                 "stage '%s' returned outcome '%.64s', which its script does not declare in "
                 "`outcomes`",
                 sb->tool, label);
        rc = DC_EABI;
    }
    json_decref(msg);
    return rc;
}

int sandbox_run_stage(struct sandbox *sb, struct dc_ctx *ctx, const char **outcome)
{
    *outcome = NULL;
    pthread_mutex_lock(&sb->mu);
    int rc = sb->kind == SANDBOX_STAGE ? stage_locked(sb, ctx, outcome) : DC_EINVAL;
    pthread_mutex_unlock(&sb->mu);
    return rc;
}
