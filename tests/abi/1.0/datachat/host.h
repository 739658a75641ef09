/*
 * datachat/host.h - the host API table a plugin receives at init/open.
 *
 * The table is append-only: new entries go at the end in a new minor ABI
 * version, and struct_size tells how far this host's table reaches. Test an
 * entry with DC_HOST_HAS(h, name) before calling anything added after 1.0.
 * Databases are reached only through ctx_query (which passes the core's
 * gate, policy and audit); result sets and schemas are built and read only
 * through these functions. Strings the host returns are borrowed: valid
 * until the context (or the result/schema) they came from is freed.
 * Strings a plugin passes in are copied before the call returns.
 */
#ifndef DATACHAT_HOST_H
#define DATACHAT_HOST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "plugin.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

enum dc_log_level { DC_LOG_ERROR = 0, DC_LOG_WARN = 1, DC_LOG_INFO = 2, DC_LOG_DEBUG = 3 };

/* Catalog views. The host owns them; plugins read them and, when they are
 * connectors, fill local copies and hand them to schema_add_table(). */
struct dc_column_info {
    size_t struct_size;
    const char *name;
    const char *decl_type;     /* as declared, e.g. "VARCHAR(40)" */
    int type;                  /* enum dc_type the values map to */
    int notnull;
    int pk;                    /* 1-based position in the primary key, 0 if not */
    const char *default_value; /* NULL if none */
    const char *comment;       /* NULL if none */
};

struct dc_fk_info {
    size_t struct_size;
    const char *from_column;
    const char *to_table;
    const char *to_column;
};

struct dc_table_info {
    size_t struct_size;
    const char *schema_name; /* NULL where the engine has one namespace */
    const char *name;
    const char *kind;        /* "table" or "view" */
    int64_t row_count;       /* -1 when unknown */
    const char *comment;
    size_t ncolumns;
    const struct dc_column_info *columns;
    size_t nfks;
    const struct dc_fk_info *fks;
};

struct dc_host {
    size_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;
    const char *host_version;
    void *self; /* the host's handle on this plugin instance; do not touch */

    /* Logging, attributed to the calling plugin. */
    void (*log)(const struct dc_host *h, int level, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;

    /* Options declared in the plugin's dc_option table. Missing optional
     * keys fall back to the declared default; *found tells whether a value
     * (given or default) existed. */
    const char *(*opt_str)(const struct dc_opts *o, const char *key);
    int (*opt_int)(const struct dc_opts *o, const char *key, int64_t *out);
    int (*opt_bool)(const struct dc_opts *o, const char *key, int *out);
    int (*opt_number)(const struct dc_opts *o, const char *key, double *out);
    size_t (*opt_list_len)(const struct dc_opts *o, const char *key);
    const char *(*opt_list_item)(const struct dc_opts *o, const char *key, size_t i);

    /* Result sets. Connectors fill the one they are given; stages may make
     * their own and hand them to the context (which then owns them). */
    struct dc_result *(*result_new)(void);
    void (*result_free)(struct dc_result *r);
    int (*result_add_column)(struct dc_result *r, const char *name, int type,
                             const char *decl_type);
    int (*result_append_row)(struct dc_result *r, const struct dc_value *vals, size_t n);
    void (*result_set_truncated)(struct dc_result *r, int truncated);
    size_t (*result_ncols)(const struct dc_result *r);
    size_t (*result_nrows)(const struct dc_result *r);
    const char *(*result_col_name)(const struct dc_result *r, size_t col);
    int (*result_col_type)(const struct dc_result *r, size_t col);
    const struct dc_value *(*result_get)(const struct dc_result *r, size_t row, size_t col);
    int (*result_truncated)(const struct dc_result *r);

    /* Schemas. Connectors add tables (deep-copied); stages read them. */
    int (*schema_add_table)(struct dc_schema *s, const struct dc_table_info *t);
    size_t (*schema_ntables)(const struct dc_schema *s);
    const struct dc_table_info *(*schema_table)(const struct dc_schema *s, size_t i);
    /* Case-insensitive lookup by name; NULL if absent. */
    const struct dc_table_info *(*schema_find)(const struct dc_schema *s, const char *name);

    /* The request (or tool call) context: a string blackboard shared by the
     * stages of one pipeline run. Well-known keys: "question", "database",
     * "principal", "format" ("text"|"json"), "answer", "sql", "args",
     * "result" (tools), "intent". Stages may add their own, dotted. */
    const char *(*ctx_get)(struct dc_ctx *c, const char *key);
    int (*ctx_set)(struct dc_ctx *c, const char *key, const char *value);
    /* Adds a reason to the decision trace entry of the running stage. */
    void (*ctx_trace)(struct dc_ctx *c, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;
    /* Records a user-facing error: a stable code ("E-CATALOG-NO-TABLE") and a
     * message saying what was wrong and what to do. */
    void (*ctx_fail)(struct dc_ctx *c, const char *code, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;
    /* Runs one statement through the gate (validation, policy, limits,
     * audit) on database db (NULL = the request's database). On success
     * *out is a new result owned by the caller. On refusal returns
     * DC_EDENIED and the context carries the reason. */
    int (*ctx_query)(struct dc_ctx *c, const char *db, const char *sql,
                     const struct dc_value *params, size_t nparams, struct dc_result **out);
    /* The catalog of database db (NULL = the request's), cached by the core. */
    const struct dc_schema *(*ctx_schema)(struct dc_ctx *c, const char *db);
    /* The result the answer shows; the context takes ownership. */
    void (*ctx_set_result)(struct dc_ctx *c, struct dc_result *r);
    const struct dc_result *(*ctx_result)(struct dc_ctx *c);

    /* Tool arguments and results, so a plugin needs no JSON library.
     * ctx_arg reads member `name` of the JSON object in "args": strings as
     * DC_TEXT, integers DC_INT, other numbers DC_REAL, booleans DC_BOOL,
     * null DC_NULL, objects and arrays DC_JSON (their JSON text). Returns
     * DC_ENOTFOUND when absent, DC_EINVAL when "args" is not an object. */
    int (*ctx_arg)(struct dc_ctx *c, const char *name, struct dc_value *out);
    /* Sets member `name` of the JSON object in "result" (created if absent). */
    int (*ctx_result_set)(struct dc_ctx *c, const char *name, const struct dc_value *v);

    /* The result as an aligned text table for terminals: at most max_rows
     * rows, cells cut at max_cell_width columns, control characters and
     * invalid UTF-8 neutralised. Owned by r until the next call. */
    const char *(*result_render)(const struct dc_result *r, size_t max_rows,
                                 size_t max_cell_width);
};

#define DC_HOST_HAS(h, fn)                                                   \
    ((h) != NULL &&                                                          \
     offsetof(struct dc_host, fn) + sizeof((h)->fn) <= (h)->struct_size &&   \
     (h)->fn != NULL)

#ifdef __cplusplus
}
#endif
#endif
