/*
 * sandbox - the core's side of one sandboxed tool, Lua stage or described
 * script: a datachat-worker (core/worker/) started with posix_spawn (exec,
 * never a fork), fds 0-2 on /dev/null, the IPC socket on fd 3, every other
 * fd closed and an empty environment. It owns the worker's lifetime: the
 * handshake, one call at a time, the per-call deadline (SIGKILL and reap),
 * restarts with backoff, and turning a crash into a tool error that names
 * the signal. Queries, HTTP and context reads and writes the worker asks
 * for are served here, through the caller's context (gate, policy, audit).
 * It never runs plugin or script code in the core.
 */
#ifndef DC_SANDBOX_H
#define DC_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct dc_ctx;
struct dc_opts;
struct sandbox;

/* The core's HTTP transport for sandboxed code (libcurl; the tools module
 * owns one): called only for a URL sandbox_http_allowed accepted. On DC_OK
 * *status and *resp (malloc'ed); else err holds "E-CODE: text". */
typedef int (*sandbox_http_fn)(void *arg, const char *method, const char *url,
                               const char *const *headers, const char *body, long *status,
                               char **resp, char *err, size_t errlen);

/* Told of every HTTP request the worker made, after the core decided:
 * rc DC_OK with the status and response bytes, or the refusal or failure
 * (err "E-CODE: text"), and the principal of the call that made it (NULL
 * when the caller's context has none). A non-DC_OK return on a fetched response withholds
 * it from the worker (the request could not be recorded). */
typedef int (*sandbox_http_note_fn)(void *arg, const char *principal, const char *method,
                                    const char *url, int rc, long status, size_t bytes,
                                    const char *err);

/* DC_OK when url is http(s) and its host is on allow (NULL-terminated,
 * case-insensitive exact names); DC_EDENIED / DC_EINVAL with
 * "E-SANDBOX-HTTP-HOST: ..." / "E-SANDBOX-HTTP-URL: ..." in err. */
int sandbox_http_allowed(const char *url, const char *const *allow, char *err, size_t errlen);
/* DC_OK when every header (NULL-terminated, may be NULL) is "Name: value"
 * with a token name, no control characters, not one the core sets (Host,
 * Content-Length, Transfer-Encoding), at most 32 of 4096 bytes; else
 * "E-SANDBOX-HTTP-HEADER: ..." in err. */
int sandbox_http_headers_ok(const char *const *headers, char *err, size_t errlen);

/* Where the worker's log lines go (the tool's log in the core). */
typedef void (*sandbox_log_fn)(void *arg, int level, const char *msg);

struct sandbox_opts {
    const char *worker_path; /* NULL: datachat-worker next to this executable, else installed */
    const char *plugin_path; /* the tool plugin (already checked by the registry) */
    const char *tool;        /* the configured tool name, for messages */
    const struct dc_opts *with;
    int64_t deadline_ms;     /* per call, start-up included; 0: 30000 */
    int64_t mem_mb;          /* address space beyond the loaded image; 0: 256 */
    int64_t cpu_s;           /* CPU seconds over the worker's life; 0: 60 */
    /* A Lua tool: plugin_path is the script, run in the worker by
     * core/luart.c and cited in errors as lua_name; lua_lib may be NULL. */
    const char *lua_name;
    const char *lua_lib;
    sandbox_log_fn log;      /* NULL: the worker's log lines are dropped */
    void *log_arg;
    /* HTTP the worker's code asks for: hosts on http_allow only, fetched by
     * http. Either NULL: every request is refused. Both must outlive sb. */
    const char *const *http_allow;
    sandbox_http_fn http;
    void *http_arg;
    sandbox_http_note_fn http_note; /* NULL: not told; called with http_arg */
    /* SANDBOX_TOOL (0): a tool (sandbox_call). SANDBOX_STAGE: a Lua pipeline
     * stage (sandbox_run_stage; lua_name required), cited as stage `tool`. */
    int kind;
};

enum sandbox_kind { SANDBOX_TOOL = 0, SANDBOX_STAGE = 1 };

/* Starts the worker and waits for it to load and init the plugin, so a
 * broken plugin is reported at start-up. */
int sandbox_new(const struct sandbox_opts *o, struct sandbox **out, char *err, size_t errlen);
void sandbox_free(struct sandbox *sb);

/* Runs one call: args_json is a JSON object. On success ctx "result" holds
 * the tool's result; on failure ctx carries the error (E-SANDBOX-CRASH,
 * -TIMEOUT, -PROTOCOL, -BACKOFF, -START, or the tool's own code). A dead
 * worker is restarted by the next call (immediately after one failure,
 * then after 50 ms doubling to 5 s while failures repeat). Thread-safe:
 * calls on one sandbox run one at a time. */
int sandbox_call(struct sandbox *sb, const char *args_json, struct dc_ctx *ctx);

/* Runs a SANDBOX_STAGE's run(ctx) in its worker: the script reads ctx
 * from this process's ctx (every key, on demand), its dc.emit values and
 * dc.trace lines land in ctx, its log lines in the log. On DC_OK *outcome
 * is one of the labels the script declared (owned by sb, valid until
 * sandbox_free); an undeclared label fails with E-SANDBOX-OUTCOME. Errors
 * and crashes as for sandbox_call. */
int sandbox_run_stage(struct sandbox *sb, struct dc_ctx *ctx, const char **outcome);
/* The labels of a SANDBOX_STAGE's `outcomes` (NULL-terminated; NULL when
 * the script declares none), as its first worker reported them. */
const char *const *sandbox_outcomes(const struct sandbox *sb);

/* What a Lua script declares, read by running its top level in a worker
 * (mode describe) so that `config check` never runs the script in the
 * core. outcomes and options are NULL when none are declared. */
struct dc_option;
struct sandbox_lua_desc {
    char **outcomes;           /* NULL-terminated */
    struct dc_option *options; /* ends with DC_OPTIONS_END */
    int defines_run, defines_invoke;
};
/* o->lua_name and o->plugin_path (the script) required; o->with, ->kind
 * and the HTTP fields are ignored. A script that fails to load comes back
 * as DC_ERR with the worker's message in err. */
int sandbox_lua_describe(const struct sandbox_opts *o, struct sandbox_lua_desc **out, char *err,
                         size_t errlen);
void sandbox_lua_desc_free(struct sandbox_lua_desc *d);

/* The worker's pid, 0 when none runs (tests). */
pid_t sandbox_pid(struct sandbox *sb);

/* "killed by SIGSYS (seccomp): ..." for a waitpid status. */
void sandbox_describe_status(int status, char *out, size_t outlen);

#endif
