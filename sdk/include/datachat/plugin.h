/*
 * datachat/plugin.h - the plugin ABI: descriptor, kinds, vtables, options.
 *
 * A plugin is a shared object exporting exactly one symbol,
 * dc_plugin_describe, written with DC_PLUGIN_DEFINE. The host checks the
 * descriptor's magic and struct_size before reading anything else, then the
 * ABI: the major must equal the host's, the plugin's minor must not be newer.
 * Every struct here starts with its own size so later minor versions can
 * append fields; the host never reads past the size a plugin declares.
 * Plugins never link against the core: everything they may do goes through
 * the struct dc_host table handed to their init/open callback.
 */
#ifndef DATACHAT_PLUGIN_H
#define DATACHAT_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DC_ABI_MAJOR 1
#define DC_ABI_MINOR 4
#define DC_SDK_VERSION "0.1.0"

#define DC_PLUGIN_MAGIC 0x44435047u /* "DCPG" */

#if defined(__GNUC__)
#define DC_EXPORT __attribute__((visibility("default")))
#else
#define DC_EXPORT
#endif

#if defined(__x86_64__)
#define DC__ARCH "x86_64"
#elif defined(__aarch64__)
#define DC__ARCH "aarch64"
#else
#define DC__ARCH "other"
#endif
#if defined(__VERSION__)
#define DC__CC __VERSION__
#else
#define DC__CC "unknown-cc"
#endif
/* Recorded in every descriptor; shown by `datachat plugins check`. */
#define DC_BUILD_SIG "sdk " DC_SDK_VERSION "; " DC__ARCH "; cc " DC__CC

struct dc_host;    /* datachat/host.h */
struct dc_opts;    /* a plugin instance's validated options (opaque) */
struct dc_ctx;     /* one request or tool call (opaque) */
struct dc_result;  /* a result set (opaque) */
struct dc_schema;  /* a database's catalog (opaque) */

enum dc_kind {
    DC_KIND_CONNECTOR = 1,
    DC_KIND_LLM = 2,
    DC_KIND_STAGE = 3,
    DC_KIND_TOOL = 4
};

/* ---- Options: a typed config map, declared once, checked by the host ----
 * The config loader rejects keys a plugin does not declare, wrong types and
 * missing required options, with file:line:col, before the plugin runs. */
enum dc_opt_type {
    DC_OPT_STRING = 1,
    DC_OPT_INT = 2,
    DC_OPT_BOOL = 3,
    DC_OPT_NUMBER = 4,
    DC_OPT_PATH = 5,   /* resolved relative to the config file's directory */
    DC_OPT_ENV = 6,    /* the NAME of an environment variable (key ends in _env) */
    DC_OPT_LIST = 7    /* a list of strings */
};

struct dc_option {
    const char *name;
    int type;                  /* enum dc_opt_type */
    int required;
    const char *default_value; /* text form, NULL for none */
    const char *help;
};
#define DC_OPTIONS_END {NULL, 0, 0, NULL, NULL}

/* ---- Connector ----------------------------------------------------------
 * The gate (core) decides; the connector reports. prepare() parses with the
 * engine's own parser and reports every object the statement would touch
 * through the authorizer callback; a denial there must make prepare fail.
 * Connectors open databases read-only whatever the gate says. */
enum dc_action {
    DC_ACT_READ = 1,        /* object = table, detail = column */
    DC_ACT_SELECT = 2,      /* a SELECT statement or subselect */
    DC_ACT_FUNCTION = 3,    /* object = function name */
    DC_ACT_WRITE = 4,       /* object = table (insert/update/delete) */
    DC_ACT_SCHEMA = 5,      /* DDL: create/drop/alter, object = name */
    DC_ACT_ATTACH = 6,      /* attach/detach another database */
    DC_ACT_PRAGMA = 7,      /* object = pragma name, detail = argument */
    DC_ACT_TRANSACTION = 8, /* begin/commit/rollback/savepoint */
    DC_ACT_RECURSIVE = 9,   /* a recursive CTE */
    DC_ACT_OTHER = 10       /* anything else; detail names it */
};

struct dc_authorizer {
    size_t struct_size;
    void *ctx;
    /* Return DC_OK to allow, DC_EDENIED to refuse the whole statement. */
    int (*check)(void *ctx, int action, const char *object, const char *detail);
    /* ABI 1.1: the same question with the engine's context. schema is the
     * database the object lives in ("main", "temp"; NULL if none) and via
     * the view (or CTE) whose expansion caused the access, NULL when the
     * statement itself names the object. Connectors call check2 instead of
     * check when the struct is large enough and check2 is not NULL. */
    int (*check2)(void *ctx, int action, const char *object, const char *detail,
                  const char *schema, const char *via);
};

struct dc_stmt_info {
    size_t struct_size;
    int single;   /* exactly one statement, nothing after it but blanks/comments */
    int readonly; /* the engine says the statement cannot write */
    int explain;  /* EXPLAIN / EXPLAIN QUERY PLAN */
    int ncols;    /* result columns, -1 if unknown before execution */
};

struct dc_limits {
    size_t struct_size;
    int64_t max_rows;   /* rows returned; the result is marked truncated past it */
    int64_t timeout_ms; /* wall-clock budget for execution, 0 = none */
    int64_t max_bytes;  /* bytes of row data kept, 0 = none */
};

struct dc_connector_vtable {
    size_t struct_size;
    const char *dialect; /* "sqlite", "postgres", ... */
    const struct dc_option *options;
    int (*open)(const struct dc_host *h, const struct dc_opts *opts, void **conn,
                char *err, size_t errlen);
    void (*close)(void *conn);
    int (*prepare)(void *conn, const char *sql, const struct dc_authorizer *az,
                   void **stmt, struct dc_stmt_info *info, char *err, size_t errlen);
    int (*execute)(void *conn, void *stmt, const struct dc_value *params, size_t nparams,
                   const struct dc_limits *lim, struct dc_result *out, char *err,
                   size_t errlen);
    void (*finalize)(void *conn, void *stmt);
    int (*introspect)(void *conn, struct dc_schema *out, char *err, size_t errlen);
    /* ABI 1.1, optional (NULL when the connector cannot): runs trusted
     * session set-up statements on conn, in order, with no authorizer,
     * e.g. the TEMP views through which a policy shows filtered and masked
     * tables. The gate passes only SQL it generated itself, never user
     * text. All or nothing: on failure the connection must not be used. */
    int (*session)(void *conn, const char *const *stmts, size_t n, char *err, size_t errlen);
    /* ABI 1.1, optional: a short text that changes whenever the catalog may
     * have changed, computed WITHOUT opening a connection (SQLite: the
     * file's device, inode, size and modification time). The host keeps
     * the introspected catalog keyed by it and skips open + introspect on
     * a match. DC_EUNSUPPORTED when no cheap fingerprint exists. */
    int (*fingerprint)(const struct dc_host *h, const struct dc_opts *opts, char *out,
                       size_t outlen);
    /* ABI 1.2, read only when struct_size covers it:
     * non-zero when one handle from open() may serve several threads at
     * once (the connector pools its connections), so the host need not
     * hold a lock from prepare to finalize. 0: one statement at a time. */
    int concurrent;
};

/* ---- Stage: one node of the pipeline graph -------------------------------
 * run() reads and writes the request context through the host and returns
 * one of its declared outcome labels; the config graph maps labels to the
 * next stage. A stage with no edges ends the pipeline. On failure run()
 * returns a negative code after calling h->ctx_fail(). */
struct dc_stage_vtable {
    size_t struct_size;
    const struct dc_option *options;
    const char *const *outcomes; /* NULL-terminated */
    int (*init)(const struct dc_host *h, const struct dc_opts *opts, void **state,
                char *err, size_t errlen);
    void (*fini)(void *state);
    int (*run)(void *state, struct dc_ctx *ctx, const char **outcome);
};

/* ---- Tool: a callable capability with typed arguments -------------------- */
struct dc_tool_vtable {
    size_t struct_size;
    const struct dc_option *options;
    const char *description;
    const char *params_schema; /* JSON Schema of the arguments object */
    int tier;                  /* 1 read-only db ... 5 custom */
    int (*init)(const struct dc_host *h, const struct dc_opts *opts, void **state,
                char *err, size_t errlen);
    void (*fini)(void *state);
    /* Arguments: h->ctx_get(ctx, "args") (JSON). Result: h->ctx_set(ctx,
     * "result", json). Failure: h->ctx_fail() and a negative return. */
    int (*invoke)(void *state, struct dc_ctx *ctx);
};

/* ---- LLM provider ---------------------------------------------------------- */
struct dc_llm_vtable {
    size_t struct_size;
    const struct dc_option *options;
    int (*init)(const struct dc_host *h, const struct dc_opts *opts, void **state,
                char *err, size_t errlen);
    void (*fini)(void *state);
    /* request_json: {"messages":[...], "max_tokens":N, ...}; the reply text
     * and usage are set with h->ctx_set(ctx, "llm.reply"/"llm.usage", ...). */
    int (*complete)(void *state, struct dc_ctx *ctx, const char *request_json);
};

/* ---- Descriptor ------------------------------------------------------------ */
struct dc_plugin_descriptor {
    uint32_t magic;       /* DC_PLUGIN_MAGIC */
    uint32_t struct_size; /* sizeof(struct dc_plugin_descriptor) at build time */
    uint16_t abi_major;
    uint16_t abi_minor;
    const char *build_sig;
    const char *name;     /* [a-z0-9_-]+, unique per kind */
    const char *version;
    const char *license;
    int kind;             /* enum dc_kind */
    const void *vtable;   /* struct dc_<kind>_vtable, starting with struct_size */
    const char *description;
    /* ABI 1.3: the host capability groups (DC_CAP_*) the plugin uses. The
     * host table it receives has every other group's entries replaced by
     * stubs that fail with E-PLUGIN-CAPABILITY. DC_CAP_UNDECLARED (what
     * DC_PLUGIN_DEFINE writes, and what a plugin built before 1.3 gets)
     * keeps the whole table. */
    uint64_t capabilities;
};

/* ABI 1.3: host capability groups. Logging, options, result sets, schema
 * objects a plugin was handed, the context blackboard (ctx_get, ctx_set,
 * ctx_trace, ctx_fail, ctx_set_result, ctx_result, ctx_arg,
 * ctx_result_set), result_render and sha256_hex are always available. */
#define DC_CAP_NONE ((uint64_t)0)
#define DC_CAP_DB_QUERY ((uint64_t)1 << 0)   /* "db.query": ctx_query, sql_check */
#define DC_CAP_DB_SCHEMA ((uint64_t)1 << 1)  /* "db.schema": ctx_schema */
/* "datapoints": dp_count, dp_at, dp_find, dp_render, dp_validate */
#define DC_CAP_DATAPOINTS ((uint64_t)1 << 2)
#define DC_CAP_RETRIEVE ((uint64_t)1 << 3)   /* "retrieve": retrieve */
#define DC_CAP_LLM ((uint64_t)1 << 4)        /* "llm": llm_complete */
#define DC_CAP_UNDECLARED (~(uint64_t)0)     /* the whole table, as before 1.3 */
#define DC_CAP_ALL                                                             \
    (DC_CAP_DB_QUERY | DC_CAP_DB_SCHEMA | DC_CAP_DATAPOINTS | DC_CAP_RETRIEVE | DC_CAP_LLM)

/* The name of one DC_CAP_* bit, as `datachat plugins info` shows it. */
static inline const char *dc_cap_name(uint64_t cap)
{
    if (cap == DC_CAP_DB_QUERY) return "db.query";
    if (cap == DC_CAP_DB_SCHEMA) return "db.schema";
    if (cap == DC_CAP_DATAPOINTS) return "datapoints";
    if (cap == DC_CAP_RETRIEVE) return "retrieve";
    if (cap == DC_CAP_LLM) return "llm";
    return NULL;
}

typedef const struct dc_plugin_descriptor *(*dc_plugin_describe_fn)(void);
#define DC_PLUGIN_SYMBOL "dc_plugin_describe"

/* DC_PLUGIN_DEFINE_CAPS: the same, declaring the capability groups the
 * plugin uses, e.g. DC_CAP_DB_QUERY | DC_CAP_DB_SCHEMA, or DC_CAP_NONE. */
#define DC_PLUGIN_DEFINE(kind_, name_, version_, license_, description_, vtable_) \
    DC_PLUGIN_DEFINE_CAPS(kind_, name_, version_, license_, description_, vtable_, \
                          DC_CAP_UNDECLARED)

#define DC_PLUGIN_DEFINE_CAPS(kind_, name_, version_, license_, description_, vtable_, \
                              caps_)                                           \
    DC_EXPORT const struct dc_plugin_descriptor *dc_plugin_describe(void);     \
    DC_EXPORT const struct dc_plugin_descriptor *dc_plugin_describe(void)      \
    {                                                                          \
        static const struct dc_plugin_descriptor d = {                         \
            DC_PLUGIN_MAGIC,                                                   \
            (uint32_t)sizeof(struct dc_plugin_descriptor),                     \
            DC_ABI_MAJOR,                                                      \
            DC_ABI_MINOR,                                                      \
            DC_BUILD_SIG,                                                      \
            (name_),                                                           \
            (version_),                                                        \
            (license_),                                                        \
            (kind_),                                                           \
            (vtable_),                                                         \
            (description_),                                                    \
            (uint64_t)(caps_)};                                                \
        return &d;                                                             \
    }

static inline const char *dc_kind_name(int kind)
{
    switch (kind) {
    case DC_KIND_CONNECTOR: return "connector";
    case DC_KIND_LLM: return "llm";
    case DC_KIND_STAGE: return "stage";
    case DC_KIND_TOOL: return "tool";
    default: return "unknown";
    }
}

#ifdef __cplusplus
}
#endif
#endif
