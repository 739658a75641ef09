/*
 * runtime - one running DataChat: config, plugins, databases, gate, audit
 * and the pipeline, wired together in two phases.
 * runtime_load reads and resolves the config against the loaded plugins
 * (enough for `config check` and `plugins list`); runtime_start opens the
 * audit log, binds databases and initialises the stages. It owns all of
 * these and frees them in reverse order. It never prints.
 */
#ifndef DC_RUNTIME_H
#define DC_RUNTIME_H

#include <pthread.h>
#include <stddef.h>

#include "config.h"

struct registry;
struct audit;
struct gate;
struct db;
struct pipeline;
struct toolset;
struct dc_ctx;
struct dp_set;
struct policy_set;
struct runtime_index;
struct llmset;

struct runtime_opts {
    const char *config_path; /* NULL: $DATACHAT_CONFIG, ./config/datachat.yaml, built-in */
    const char *exe_path;    /* argv[0]-independent path of the executable, for plugins */
    const char *audit_path;  /* overrides the config's audit.path when set */
    const char *db;          /* --db: a configured name, a SQLite file path or a
                              * postgresql:// URL (the last two only from the CLI) */
    int log_level;           /* enum dc_log_level for plugin log lines */
    int without_tools;       /* the command never calls a tool: the tool plugins are not
                              * loaded (each is a dlopen at start) and rt->tools stays NULL */
};

struct runtime {
    struct dc_config *cfg;
    struct cfg_diags diags;   /* filled when runtime_load fails on the config */
    int builtin_config;       /* no file was found; built-in defaults in use */
    struct registry *reg;
    struct audit *audit;
    struct gate *gate;
    struct db *dbs;
    size_t ndbs;
    struct pipeline *pipe;
    struct toolset *tools;
    char *plugin_dir_builtin; /* plugins shipped with this executable */
    char *db_name;            /* the database opts->db selected, NULL for the default */
    struct dp_set *dps;       /* DataPoints (datapoint.h), loaded on first use */
    pthread_mutex_t dps_lock;
    int dps_tried;
    char dps_code[40];        /* why they failed to load, "" if they did not */
    char dps_err[2048];
    struct policy_set *policies; /* access policies (policy.h), NULL when none configured */
    const char *today;        /* borrowed; when set, every request's context carries it as
                               * "today" (YYYY-MM-DD) so relative dates are reproducible (eval) */
    struct llmset *llms;      /* configured LLM providers (llm.h); empty when none */
    struct runtime_index *indexes; /* retrieval indexes (retrieval.h), one per database and
                                    * catalog view, built on first use */
    size_t nindexes;
    pthread_mutex_t index_lock;
    struct store *store;      /* state store (store.h), opened by session_store on first use */
    pthread_mutex_t store_lock;
};

/* Phase 1. On a config error returns DC_EINVAL and rt->diags holds every
 * diagnostic (the runtime is still returned so the caller can print them). */
int runtime_load(const struct runtime_opts *o, struct runtime **out, char *err, size_t errlen);
/* Phase 2. */
int runtime_start(struct runtime *rt, const struct runtime_opts *o, char *err, size_t errlen);
void runtime_free(struct runtime *rt);

struct db *runtime_find_db(struct runtime *rt, const char *name);

/* Answers one question. Returns a context (always, unless out of memory)
 * holding the answer or the error; the return code says which. principal
 * NULL = the config's default. */
int runtime_ask(struct runtime *rt, const char *question, const char *db_name,
                const char *principal, const char *format, struct dc_ctx **out);

/* runtime_ask as one turn of conversation session (NULL: none; see
 * session.h and docs/CONVERSATION.md). */
int runtime_ask_session(struct runtime *rt, const char *question, const char *db_name,
                        const char *principal, const char *format, const char *session,
                        struct dc_ctx **out);
/* runtime_ask_session; yes non-zero sets ctx "yes" = "1": SQL a model wrote
 * runs even below the review threshold (`datachat query --yes`, the API's
 * "yes": true; see docs/LLM.md). */
int runtime_ask_confirmed(struct runtime *rt, const char *question, const char *db_name,
                          const char *principal, const char *format, const char *session,
                          int yes, struct dc_ctx **out);
/* runtime_ask_confirmed, with step(arg, ctx) called after each pipeline
 * stage (pipeline_run_observed): the HTTP API's live SSE stream. */
int runtime_ask_observed(struct runtime *rt, const char *question, const char *db_name,
                         const char *principal, const char *format, const char *session,
                         int yes, void (*step)(void *arg, struct dc_ctx *ctx), void *arg,
                         struct dc_ctx **out);

/* Calls a configured tool with JSON arguments; same context rules.
 * approval_token (NULL = none) approves a tier-4 call (tools_call). */
int runtime_call_tool(struct runtime *rt, const char *tool, const char *args_json,
                      const char *approval_token, const char *db_name, const char *principal,
                      struct dc_ctx **out);

/* Runs exactly one statement through the gate (the `datachat sql` path):
 * the context holds "sql", "sql.run", the result, or the refusal/error. */
int runtime_sql(struct runtime *rt, const char *sql, const char *db_name,
                const char *principal, struct dc_ctx **out);

struct gate_decision;
/* What the gate would decide for sql, without running it or auditing. */
int runtime_explain(struct runtime *rt, const char *sql, const char *db_name,
                    const char *principal, struct gate_decision *dec, char *err, size_t errlen);

#endif
