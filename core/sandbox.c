#include "sandbox.h"

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
#include <datachat/value.h>

#include "config.h"
#include "ctx.h"
#include "ipc.h"
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
        (sb->lua_lib && json_object_set_new(hello, "lua_lib", json_string(sb->lua_lib)) != 0)) {
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
    free(sb->buf);
    free(sb->worker_path);
    free(sb->plugin_path);
    free(sb->tool);
    free(sb->lua_name);
    free(sb->lua_lib);
    free(sb);
}

int sandbox_new(const struct sandbox_opts *o, struct sandbox **out, char *err, size_t errlen)
{
    *out = NULL;
    struct sandbox *sb = calloc(1, sizeof(*sb));
    if (!sb)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    sb->fd = -1;
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
    *out = sb;
    sb = NULL;
cleanup:
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
    char *scheme = NULL, *host = NULL, why[256];
    int rc = netlib_url_parts(url, &scheme, &host, why, sizeof(why));
    if (rc == DC_EINVAL)
        return util_err(err, errlen, DC_EINVAL, "E-SANDBOX-HTTP-URL: '%.200s' is not an http(s) "
                        "URL with a host", url);
    if (rc != DC_OK)
        return util_err(err, errlen, rc, "%s", why);
    rc = DC_EDENIED;
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        rc = util_err(err, errlen, DC_EINVAL, "E-SANDBOX-HTTP-URL: scheme '%s' is not http or "
                      "https", scheme);
        goto cleanup;
    }
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

/* Answers the worker's HTTP request: the allow list, then the transport. */
static int answer_http(struct sandbox *sb, const json_t *q)
{
    char err[512] = "", ierr[256];
    char *resp = NULL;
    long status = 0;
    const json_t *body = json_object_get(q, "body");
    int rc = sandbox_http_allowed(json_string_value(json_object_get(q, "url")), sb->http_allow,
                                  err, sizeof(err));
    if (rc == DC_OK && !sb->http)
        rc = util_err(err, sizeof(err), DC_EDENIED,
                      "E-SANDBOX-HTTP-UNAVAILABLE: this core has no HTTP transport for tools");
    if (rc == DC_OK)
        rc = sb->http(sb->http_arg, json_string_value(json_object_get(q, "method")),
                      json_string_value(json_object_get(q, "url")),
                      json_is_string(body) ? json_string_value(body) : NULL, &status, &resp, err,
                      sizeof(err));
    json_t *text = rc == DC_OK ? json_string(resp ? resp : "") : NULL;
    if (rc == DC_OK && !text)
        rc = util_err(err, sizeof(err), DC_EINVAL,
                      "E-SANDBOX-HTTP-BODY: the response is not UTF-8 text");
    if (sb->http_note) {
        const char *method = json_string_value(json_object_get(q, "method"));
        const char *url = json_string_value(json_object_get(q, "url"));
        int nrc = sb->http_note(sb->http_arg, method ? method : "", url ? url : "", rc, status,
                                resp ? strlen(resp) : 0, rc == DC_OK ? NULL : err);
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

static json_t *call_msg(struct sandbox *sb, const char *args_json, struct dc_ctx *ctx)
{
    static const char *const keys[] = {"principal", "database", "database.dialect", "today",
                                       NULL};
    json_t *m = ipc_msg_new(IPC_CALL), *c = json_object();
    json_t *args = json_loads(args_json ? args_json : "{}", JSON_REJECT_DUPLICATES, NULL);
    if (!m || !c || !json_is_object(args))
        goto fail;
    for (size_t i = 0; keys[i]; i++) {
        const char *v = ctx_get(ctx, keys[i]);
        if (v && json_object_set_new(c, keys[i], json_string(v)) != 0)
            goto fail;
    }
    if (json_object_set_new(m, "tool", json_string(sb->tool)) != 0 ||
        json_object_set(m, "args", args) != 0 || json_object_set(m, "ctx", c) != 0)
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
        ctx_fail(ctx, "E-SANDBOX-CRASH", "tool '%s': worker %s", sb->tool, why);
    } else if (rc == DC_ETIMEOUT) {
        kill_reap(sb);
        ctx_fail(ctx, "E-SANDBOX-TIMEOUT",
                 "tool '%s' did not finish within %lld ms; its worker was killed (raise "
                 "limits.timeout_ms if the tool is slow by design)",
                 sb->tool, (long long)sb->deadline_ms);
        rc = DC_ETIMEOUT;
    } else {
        kill_reap(sb);
        ctx_fail(ctx, "E-SANDBOX-PROTOCOL", "tool '%s': its worker %s and was killed", sb->tool,
                 what ? what : "broke the protocol");
    }
    note_failure(sb);
    return rc < 0 ? rc : DC_ERR;
}

static int call_locked(struct sandbox *sb, const char *args_json, struct dc_ctx *ctx)
{
    int64_t deadline = util_now_us() + sb->deadline_ms * 1000;
    char err[256];
    if (sb->pid == 0) {
        if (util_now_us() < sb->retry_at_us) {
            ctx_fail(ctx, "E-SANDBOX-BACKOFF",
                     "tool '%s': its worker failed %d times in a row; the next restart is in "
                     "%lld ms",
                     sb->tool, sb->fails, (long long)((sb->retry_at_us - util_now_us()) / 1000));
            return DC_ELIMIT;
        }
        int rc = spawn_worker(sb, err, sizeof(err));
        if (rc != DC_OK) {
            note_failure(sb);
            ctx_fail(ctx, "E-SANDBOX-START", "tool '%s': %s", sb->tool, err);
            return rc;
        }
    }
    sb->logs_left = SANDBOX_MAX_LOGS;
    json_t *m = call_msg(sb, args_json, ctx);
    if (!m) {
        ctx_fail(ctx, "E-TOOL-ARGS", "tool '%s': arguments must be a JSON object", sb->tool);
        return DC_EINVAL;
    }
    int rc = ipc_send(sb->fd, m, err, sizeof(err));
    json_decref(m);
    if (rc == DC_ELIMIT) {
        ctx_fail(ctx, "E-TOOL-ARGS", "tool '%s': the arguments are over the %u-byte limit",
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
        if (type == IPC_LOG) {
            forward_log(sb, msg);
            json_decref(msg);
            continue;
        }
        if (type == IPC_HTTP) {
            rc = answer_http(sb, msg);
            json_decref(msg);
            if (rc != DC_OK)
                return worker_failed(sb, ctx, DC_EIO, NULL);
            continue;
        }
        if (type == IPC_QUERY) {
            rc = answer_query(sb, msg, ctx);
            json_decref(msg);
            if (rc != DC_OK)
                return worker_failed(sb, ctx, DC_EIO, NULL);
            continue;
        }
        if (type == IPC_ERROR) {
            ctx_fail(ctx, safe_code(json_string_value(json_object_get(msg, "code"))),
                     "tool '%s': %s", sb->tool,
                     json_string_value(json_object_get(msg, "message")));
            json_decref(msg);
            sb->fails = 0;
            return DC_ERR;
        }
        if (type != IPC_RESULT) {
            snprintf(what, sizeof(what), "sent '%s' during a call", ipc_type_name(type));
            json_decref(msg);
            return worker_failed(sb, ctx, DC_EINVAL, what);
        }
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
        sb->fails = 0;
        return rc;
    }
}

int sandbox_call(struct sandbox *sb, const char *args_json, struct dc_ctx *ctx)
{
    pthread_mutex_lock(&sb->mu);
    int rc = call_locked(sb, args_json, ctx);
    pthread_mutex_unlock(&sb->mu);
    return rc;
}
