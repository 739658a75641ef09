/*
 * config - the YAML config graph (config/datachat.yaml) loaded with libyaml
 * into a typed, validated model.
 * It owns parsing, key/type checking, the pipeline graph checks and the
 * plugin option maps; it never loads plugins or opens databases itself:
 * plugin-dependent checks go through the resolver callbacks the caller gives.
 * Every diagnostic carries file:line:col, a stable E-CFG-* code and a hint.
 */
#ifndef DC_CONFIG_H
#define DC_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <datachat/plugin.h>

#define CFG_MAX_DIAGS 64

struct cfg_diag {
    char file[256];
    int line;          /* 1-based; 0 when the error is about the file as a whole */
    int col;           /* 1-based */
    char code[32];     /* stable code, e.g. E-CFG-UNKNOWN-KEY */
    char msg[512];     /* what is wrong */
    char hint[256];    /* what to do */
};

struct cfg_diags {
    size_t n;
    size_t dropped;    /* diagnostics past CFG_MAX_DIAGS */
    struct cfg_diag d[CFG_MAX_DIAGS];
};

/* One option value of a plugin instance, as written in YAML. */
struct cfg_opt {
    char *key;
    int is_list;
    char *value;       /* scalar text (is_list == 0) */
    char **items;      /* list items (is_list == 1) */
    size_t nitems;
    int line, col;
};

/* struct dc_opts from the SDK: a plugin instance's options. After
 * config_resolve() they have been checked against decl, paths made
 * absolute and defaults are served by the accessors. */
struct dc_opts {
    struct cfg_opt *opts;
    size_t nopts;
    const struct dc_option *decl; /* set by config_resolve; may be NULL before */
};

struct cfg_database {
    char *name;
    char *connector;   /* plugin name of kind connector */
    struct dc_opts opts; /* every key except "connector" */
    int line, col;
};

struct cfg_llm {
    char *name;
    char *provider;    /* plugin name of kind llm */
    struct dc_opts opts;
    int line, col;
};

struct cfg_edge {
    char *label;       /* outcome label */
    char *target;      /* stage name */
    int line, col;
};

struct cfg_stage {
    char *name;
    char *use;         /* plugin name of kind stage */
    struct dc_opts with;
    struct cfg_edge *edges;
    size_t nedges;
    int line, col;
    int sandbox;       /* `sandbox: true`: a Lua stage that runs in datachat-worker */
};

struct cfg_tool {
    char *name;
    char *use;         /* plugin name of kind tool */
    int sandbox;
    int sandbox_set;   /* `sandbox:` was written: an explicit false opts tier 5 out */
    /* `http_allow:` hosts the sandboxed tool's worker may reach through the
     * core (NULL-terminated; NULL when absent: every request is refused) */
    char **http_allow;
    size_t nhttp_allow;
    int http_allow_line, http_allow_col;
    struct dc_opts with;
    int line, col;
};

enum cfg_fsync { CFG_FSYNC_ALWAYS = 0, CFG_FSYNC_NEVER = 1 };

/* One bearer token of the HTTP server: only its SHA-256 is configured. */
struct cfg_token {
    unsigned char sha256[32];
    char *principal;
    int line, col;
};

struct cfg_server {
    char *listen;              /* "HOST:PORT"; NULL = 127.0.0.1:8000 */
    struct cfg_token *tokens;
    size_t ntokens;
    size_t body_bytes;         /* limits.body_bytes */
    size_t header_bytes;       /* limits.header_bytes */
    int64_t requests_per_minute; /* per principal; limits.requests_per_minute */
    int64_t concurrent_requests; /* limits.concurrent_requests */
    int64_t timeout_s;         /* idle connection timeout; limits.timeout_s */
    int64_t request_timeout_s; /* whole request (headers + body) must arrive within;
                                * limits.request_timeout_s */
};

struct dc_config {
    char *path;            /* the file as given */
    char *dir;             /* its directory; relative paths resolve here */
    int version;

    char **plugin_dirs;    /* absolute, "~" expanded */
    size_t nplugin_dirs;

    struct cfg_database *dbs;
    size_t ndbs;
    char *default_database; /* "default_database:" or the first database */

    struct cfg_llm *llms;
    size_t nllms;

    char *entry;
    int max_steps;          /* 0 = not given */
    struct cfg_stage *stages;
    size_t nstages;

    struct cfg_tool *tools;
    size_t ntools;

    char *policies;         /* glob, may be NULL */
    char *default_principal; /* NULL = "local" */

    char *audit_path;       /* absolute */
    int audit_fsync;        /* enum cfg_fsync */

    char *store_url;
    /* store: conversation and caching (docs/CONVERSATION.md) */
    int64_t session_max_clarify; /* store.session_max_clarify: clarifications per session */
    int64_t sql_cache_ttl_s;     /* store.sql_cache_ttl_s; 0 turns the SQL cache off */
    int64_t result_cache_ttl_s;  /* store.result_cache_ttl_s; 0 turns the result cache off */

    /* datapoints: hand-written DataPoint directories (user, loaded first)
     * and the one `datachat profile` writes (managed); absolute. */
    char **dp_user_dirs;
    size_t ndp_user_dirs;
    char *dp_managed_dir;

    int64_t max_rows;       /* gate default row cap (limits.max_rows) */
    int64_t timeout_ms;     /* gate default statement timeout (limits.timeout_ms) */
    size_t max_question_bytes; /* limits.max_question_bytes */

    struct cfg_server server; /* server: (datachat serve) */
};

/* Parses and checks everything that needs no plugin: syntax, unknown and
 * duplicate keys, types, secrets inline, the graph's shape (entry exists,
 * edges point at stages, every stage reachable, cycles need max_steps).
 * Returns DC_OK, or DC_EINVAL with diags filled (cfg is still NULL then). */
int config_load(const char *path, struct dc_config **cfg, struct cfg_diags *diags);
/* Same, from memory; name is used in diagnostics as the file name. */
int config_load_string(const char *text, size_t len, const char *name,
                       struct dc_config **cfg, struct cfg_diags *diags);

/* The built-in configuration used when no file exists: one sqlite database
 * "demo" at var/demo.db relative to base_dir, the default pipeline. */
int config_default(const char *base_dir, struct dc_config **cfg, struct cfg_diags *diags);

/* Plugin-dependent checks. The resolver answers by kind and name with the
 * plugin's descriptor, or NULL when no such plugin is loaded. */
typedef const struct dc_plugin_descriptor *(*cfg_lookup_fn)(void *arg, int kind,
                                                            const char *name);
/* Checks every `use:`/`connector:`/`provider:` names a loaded plugin of the
 * right kind (E-CFG-UNKNOWN-PLUGIN), option maps against the plugin's
 * dc_option table (E-CFG-UNKNOWN-KEY, E-CFG-TYPE, E-CFG-MISSING), and edge
 * labels against a stage's declared outcomes (E-CFG-UNKNOWN-OUTCOME). */
int config_resolve(struct dc_config *cfg, cfg_lookup_fn lookup, void *arg,
                   struct cfg_diags *diags);

/* Adds a database not named in the file (the CLI's `--db PATH`), before
 * config_resolve() checks its options. kv holds nkv/2 key, value pairs. */
int config_add_database(struct dc_config *cfg, const char *name, const char *connector,
                        const char *const *kv, size_t nkv, char *err, size_t errlen);

void config_free(struct dc_config *cfg);

const struct cfg_database *config_find_db(const struct dc_config *cfg, const char *name);
const struct cfg_stage *config_find_stage(const struct dc_config *cfg, const char *name);

/* Formats one diagnostic as "file:line:col: CODE: msg (hint: ...)". */
void config_diag_format(const struct cfg_diag *d, char *out, size_t outlen);

/* Prints the pipeline graph: text (one "stage -label-> stage" per line) or
 * Graphviz DOT. Caller frees the returned string. */
char *config_graph_text(const struct dc_config *cfg);
char *config_graph_dot(const struct dc_config *cfg);

/* Option accessors behind the host table (declared defaults apply). */
const char *opts_str(const struct dc_opts *o, const char *key);
int opts_int(const struct dc_opts *o, const char *key, int64_t *out);
int opts_bool(const struct dc_opts *o, const char *key, int *out);
int opts_number(const struct dc_opts *o, const char *key, double *out);
size_t opts_list_len(const struct dc_opts *o, const char *key);
const char *opts_list_item(const struct dc_opts *o, const char *key, size_t i);

#endif
