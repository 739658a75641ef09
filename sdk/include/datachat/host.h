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

/* DataPoints (ABI 1.1), read through dp_count/dp_at/dp_find. Every struct
 * starts with its size and lists of structs are arrays of pointers, so any
 * of them can grow in a later minor version: read a field added later only
 * when struct_size covers it. Absent strings are NULL, absent lists have
 * count 0. */
struct dc_dp_source {
    size_t struct_size;
    const char *table;
    const char *const *columns;
    size_t ncolumns;
    /* Business filters: SQL boolean expressions over the table's columns,
     * all of which apply (AND) whenever this DataPoint is used, e.g.
     * "status IN ('paid', 'shipped', 'delivered')". Checked by dp lint. */
    const char *const *filters;
    size_t nfilters;
};

struct dc_dp_param {
    size_t struct_size;
    const char *name;
    /* "enum", "timestamp", "date", "integer", "number", "string" or
     * "identifier". */
    const char *type;
    /* enum: its values; string: the allowed values (none = any text);
     * identifier: the allow list ("column" or "table.column"). */
    const char *const *values;
    size_t nvalues;
    const char *default_value;
    int required;             /* no default and required: true (the default) */
    const char *description;
};

struct dc_dp_variant {
    size_t struct_size;
    const char *backend;      /* connector name: "sqlite", "postgres", ... */
    const char *sql_template; /* {{name}} placeholders */
};

struct dc_dp_relationship {
    size_t struct_size;
    const char *to;           /* a DataPoint id */
    const char *kind;         /* e.g. "depends_on", "part_of"; free text */
    const char *description;
};

struct dc_dp_value_count {
    size_t struct_size;
    const char *value;
    int64_t count;
};

/* One column of a schema DataPoint, with what profiling measured. */
struct dc_dp_column {
    size_t struct_size;
    const char *name;
    const char *type;         /* declared type */
    int nullable;
    int primary_key;
    double null_rate;         /* 0..1; -1 when not profiled */
    int64_t distinct;         /* -1 when not profiled */
    const char *min;          /* numbers and dates only */
    const char *max;
    /* Most frequent values of a low-cardinality text column, most
     * frequent first: what value matching ("in Brazil") looks up. */
    const struct dc_dp_value_count *const *top_values;
    size_t ntop_values;
};

struct dc_dp_fk {
    size_t struct_size;
    const char *column;
    const char *to_table;
    const char *to_column;
    int inferred;             /* not declared: found by name and containment */
};

struct dc_datapoint_info {
    size_t struct_size;
    const char *id;
    /* "schema", "concept", "metric", "dimension", "entity" or "query". */
    const char *type;
    const char *name;
    const char *definition;
    const char *owner;
    const char *source;       /* "user" or "managed" */
    const char *file;         /* where it was loaded from */
    int line;                 /* of its id */
    const char *database;     /* NULL: not tied to one database */
    const char *const *tags;
    size_t ntags;
    const char *const *synonyms;
    size_t nsynonyms;
    const struct dc_dp_source *const *data_sources;
    size_t ndata_sources;
    const char *const *related_concepts; /* DataPoint ids */
    size_t nrelated_concepts;
    const struct dc_dp_relationship *const *relationships;
    size_t nrelationships;
    /* metric and query: execution. sql_template is the default; a variant
     * for the target connector takes precedence. */
    const char *sql_template;
    const struct dc_dp_variant *const *variants;
    size_t nvariants;
    const struct dc_dp_param *const *params;
    size_t nparams;
    /* schema (written by `datachat profile`) */
    const char *table;
    int64_t row_count;        /* -1 when unknown */
    int64_t sample_rows;      /* 0: statistics cover every row */
    const char *const *primary_key;
    size_t nprimary_key;
    const struct dc_dp_column *const *columns;
    size_t ncolumns;
    const struct dc_dp_fk *const *foreign_keys;
    size_t nforeign_keys;
    /* A user DataPoint that replaces a managed one (same id, or a schema
     * DataPoint for the same table) names it here. */
    const char *shadows_id;
    const char *shadows_file;
};

/* ABI 1.2: a rendered DataPoint template (dp_render). sql has positional
 * placeholders (?N for SQLite, $N otherwise); params[i] binds number i+1.
 * variant is the backend whose template was used, or "default". */
struct dc_dp_rendered {
    size_t struct_size;
    const char *sql;
    const struct dc_value *params;
    size_t nparams;
    const char *variant;
};

/* ABI 1.2: one result of retrieve(). */
struct dc_retrieval_hit {
    size_t struct_size;
    const char *id;   /* "dp:revenue", "table:orders", "column:orders.status",
                       * "value:customers.country=Brazil" */
    const char *kind; /* "dp", "table", "column" or "value" */
    double score;     /* relevance, higher is better; compare within one call */
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
     * "result" (tools), "intent". Stages may add their own, dotted.
     * Setting "trace.step" to a JSON object {"name", "outcome", "reason",
     * "us", "detail": {...}} stores nothing: it adds a finished sub-step
     * of the running stage to the answer's trace (one model attempt). */
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

    /* ABI 1.1: lowercase hex SHA-256 of n bytes into out[65], so plugins
     * need no crypto library (connectors use it for the `hash` mask). */
    void (*sha256_hex)(const void *data, size_t n, char *out);

    /* ABI 1.1: the DataPoints in effect (docs/DATAPOINTS.md): user ones,
     * and managed ones no user DataPoint shadows, sorted by id. Read-only,
     * valid while the runtime runs. dp_find returns NULL for an unknown id
     * (and the user DataPoint for an id both sources define). */
    size_t (*dp_count)(struct dc_ctx *c);
    const struct dc_datapoint_info *(*dp_at)(struct dc_ctx *c, size_t i);
    const struct dc_datapoint_info *(*dp_find)(struct dc_ctx *c, const char *id);

    /* ABI 1.2: renders DataPoint id's execution template for the connector
     * backend ("sqlite", "postgres", ...: its backend variant, else the
     * default sql_template) with the text arguments names[i] = values[i].
     * Each value is checked against its parameter's type before it gets
     * near the SQL; missing ones take their default. On success *out is a
     * new rendering for ctx_query, freed with dp_rendered_free. Otherwise
     * DC_ENOTFOUND (no such DataPoint) or DC_EINVAL, with err holding
     * "E-DP-PARAM-VALUE: ..." (or -MISSING, -UNKNOWN, E-DP-NO-VARIANT). */
    int (*dp_render)(struct dc_ctx *c, const char *id, const char *backend,
                     const char *const *names, const char *const *values, size_t nargs,
                     struct dc_dp_rendered **out, char *err, size_t errlen);
    /* ABI 1.2 */
    void (*dp_rendered_free)(struct dc_dp_rendered *r);

    /* ABI 1.2: the k (at most 100) documents that best match query among
     * the request database's tables, columns, profiled values and the
     * DataPoints (docs/DATAPOINTS.md, "Retrieval"), best first, into
     * hits[0..*n). The index is built on first use and kept up to date by
     * the host. Ids are borrowed, valid while the context lives. DC_OK with
     * *n = 0 when nothing matches or the query has no searchable word. */
    int (*retrieve)(struct dc_ctx *c, const char *query, size_t k,
                    struct dc_retrieval_hit *hits, size_t *n);

    /* ABI 1.3: asks the configured llm instance (NULL: "default", else the
     * first) with request_json as documented for dc_llm_vtable.complete.
     * On success *reply is the model's text (borrowed, "llm.reply"); token
     * usage and latency go to the trace and "llm.usage". On failure the
     * context carries an E-LLM-* error and err a copy of it; a request with
     * "optional": true (a caller with its own fallback) leaves the
     * context's error alone and puts the reason in err and "llm.error". */
    int (*llm_complete)(struct dc_ctx *c, const char *instance, const char *request_json,
                        const char **reply, char *err, size_t errlen);
    /* ABI 1.3: the gate's checks of sql on database db (NULL = the
     * request's) as the request's principal: parse with the engine's
     * parser, statement shape, policy and authorizer, prepare; nothing is
     * executed or audited. DC_OK when the gate would run it; otherwise
     * DC_EDENIED (or another code) with err "E-CODE: reason". */
    int (*sql_check)(struct dc_ctx *c, const char *db, const char *sql, char *err,
                     size_t errlen);
    /* ABI 1.3: checks that text (len bytes) is a valid DataPoint file on its
     * own, as `datachat dp lint` would (name is the file name diagnostics
     * show). DC_OK, or DC_EINVAL with err "file:line:col: E-DP-...: reason".
     * Nothing is written or loaded into the set in effect. */
    int (*dp_validate)(struct dc_ctx *c, const char *text, size_t len, const char *name,
                       char *err, size_t errlen);

    /* ABI 1.4: an HTTP request made for a tool by the core, the only HTTP
     * path a sandboxed tool has (its worker forwards it). The URL's host
     * must be on the tool's `http_allow` list in the config; the request
     * gets the core's hardening (http/https only, no redirects, no proxy,
     * timeouts, a response size cap) and leaves an audit record. headers:
     * NULL or NULL-terminated "Name: value" lines; body may be NULL. On
     * DC_OK *status and *resp (the response body, borrowed: valid until the
     * next http_request on c). Otherwise DC_EDENIED (E-SANDBOX-HTTP-HOST:
     * host not allowed; E-HTTP-UNAVAILABLE: not a tool) or another code,
     * with err "E-CODE: reason". */
    int (*http_request)(const struct dc_host *h, struct dc_ctx *c, const char *method,
                        const char *url, const char *const *headers, const char *body,
                        long *status, const char **resp, char *err, size_t errlen);
};

#define DC_HOST_HAS(h, fn)                                                   \
    ((h) != NULL &&                                                          \
     offsetof(struct dc_host, fn) + sizeof((h)->fn) <= (h)->struct_size &&   \
     (h)->fn != NULL)

#ifdef __cplusplus
}
#endif
#endif
