/*
 * luart - runs trusted Lua scripts named in the config (`use: "lua:..."`)
 * inside an in-process sandbox: text chunks only, base/table/string/math/
 * utf8 without the loaders, a memory cap, and a wall-clock deadline checked
 * from an instruction-count hook. Scripts reach the host only through the
 * SDK host table given per call (`dc.query` goes through h->ctx_query, so
 * the gate, policy and audit apply).
 * It never depends on the registry, the config model or the event loop, so
 * the sandbox worker process can link it too; it never prints.
 */
#ifndef DC_LUART_H
#define DC_LUART_H

#include <stddef.h>
#include <stdint.h>

struct dc_host;
struct dc_ctx;
struct luart;

#define LUART_DEFAULT_MEM_BYTES ((size_t)32 << 20)
#define LUART_DEFAULT_TIME_US ((int64_t)1000000)

/* How each call gets its lua_State. FRESH: a new state per call, closed
 * after. POOLED (the default, see docs/SDK.md): idle states are kept and
 * reset to the snapshot taken after set-up before the script runs again. */
enum luart_mode { LUART_POOLED = 0, LUART_FRESH = 1 };

struct luart_limits {
    size_t mem_bytes; /* per state; 0 = LUART_DEFAULT_MEM_BYTES */
    int64_t time_us;  /* per call (and for the load-time run); 0 = default */
    int mode;         /* enum luart_mode */
};

/* Loads a script: reads the file (lib_path, the helper library, may be
 * NULL), compiles it as text and runs its top level once under the limits to
 * read its declared `outcomes` table. name is how errors cite the script
 * (usually the path as configured). Syntax errors come back as
 * "E-LUA-SYNTAX: file:line: ..." in err. */
int luart_open(const char *path, const char *name, const char *lib_path,
               const struct luart_limits *lim, struct luart **out, char *err, size_t errlen);
/* Same from memory (tests, fuzzing). */
int luart_open_buffer(const char *text, size_t len, const char *name, const char *lib_path,
                      const struct luart_limits *lim, struct luart **out, char *err,
                      size_t errlen);
/* Same with both texts in memory (lib_text may be NULL): the sandbox worker
 * reads the files with luart_read_source before it confines itself. */
int luart_open_sources(const char *text, size_t len, const char *name, const char *lib_text,
                       size_t lib_len, const char *lib_name, const struct luart_limits *lim,
                       struct luart **out, char *err, size_t errlen);
/* A script file's text (at most 1 MiB), NUL-terminated; caller frees. */
int luart_read_source(const char *path, char **text, size_t *len, char *err, size_t errlen);
void luart_close(struct luart *s);

/* The labels of the script's top-level `outcomes = {...}` table,
 * NULL-terminated; NULL when it declares none. Valid until luart_close. */
const char *const *luart_outcomes(const struct luart *s);
/* The script's declared options, from its top-level table
 *   options = { NAME = { type = "string"|"int"|"bool"|"number"|"list",
 *                        required = true, default = "...", help = "..." } }
 * as an SDK declaration ending in DC_OPTIONS_END, so the config loader
 * checks `with:` as it does a .so plugin's; NULL when the script declares
 * none (then it takes no options). Defaults are visible in `config`. */
struct dc_option;
const struct dc_option *luart_options(const struct luart *s);
/* 1 when the script's top level defines global function `fn`. */
int luart_defines(const struct luart *s, const char *fn);

/* Options (config `with:`) the script reads from its global `config`
 * table: a scalar, or a list when items is non-NULL. Set before any call. */
int luart_set_option(struct luart *s, const char *key, const char *value,
                     const char *const *items, size_t nitems);

/* dc.http's transport: *resp (malloc'ed) and *status on DC_OK, else text
 * in err. Without one (the default), dc.http fails: only the sandbox
 * worker sets it, to ask the core (core/sandbox.c), which checks the host. */
typedef int (*luart_http_fn)(void *arg, const char *method, const char *url, const char *body,
                             long *status, char **resp, char *err, size_t errlen);
void luart_set_http(struct luart *s, luart_http_fn fn, void *arg);

/* Where the script's context lives when it is not the call's (the sandbox
 * worker: the request's context is in the core). Each hook may be NULL
 * (then the host table on the call's context serves). get: *value stays
 * valid until the next get; emit: after the local dc.emit succeeded, with
 * the value as stored (NULL: deleted); a non-DC_OK return raises a Lua
 * error with err. trace: a dc.trace line. */
struct luart_ctx_hooks {
    void *arg;
    int (*get)(void *arg, const char *key, const char **value, char *err, size_t errlen);
    int (*emit)(void *arg, const char *key, const char *value, char *err, size_t errlen);
    void (*trace)(void *arg, const char *msg);
};
void luart_set_ctx_hooks(struct luart *s, const struct luart_ctx_hooks *h);
/* 1 for the context keys the core sets and scripts may never emit
 * (principal, database, question, ...). */
int luart_reserved_key(const char *key);

/* Stage contract: calls run(ctx); *outcome is the label returned (owned by
 * s, valid until the next call). On failure returns a negative DC_E* code,
 * records E-LUA-* in ctx through h->ctx_fail and leaves text in err. */
int luart_run_stage(struct luart *s, const struct dc_host *h, struct dc_ctx *ctx,
                    const char **outcome, char *err, size_t errlen);
/* Tool contract: calls invoke(args) with ctx "args" decoded from JSON and
 * stores the returned table as JSON in ctx "result". */
int luart_run_tool(struct luart *s, const struct dc_host *h, struct dc_ctx *ctx, char *err,
                   size_t errlen);

/* "lua:relative/or/absolute.lua" to an absolute path against dir; NULL
 * when use does not start with "lua:" or on OOM. Caller frees. */
char *luart_script_path(const char *dir, const char *use);
/* 1 when a `use:` value names a Lua script. */
int luart_is_lua_use(const char *use);
/* The helper library next to a script's lua/ tree: <dir>/lua/lib/dc_util.lua
 * when it exists beside or above the script, else NULL. Caller frees. */
char *luart_find_lib(const char *script_path);

#endif
