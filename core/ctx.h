/*
 * ctx - struct dc_ctx, the context of one request or tool call.
 * It owns the key/value blackboard stages share, the decision trace, the
 * result the answer shows and the first error. It never reaches a database
 * or a catalog itself: those go to the backend the runtime (or a test)
 * installs, which routes queries through the gate.
 */
#ifndef DC_CTX_H
#define DC_CTX_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <datachat/value.h>

struct dc_ctx;
struct dc_result;
struct dc_schema;
struct dc_retrieval_hit;

struct ctx_backend {
    void *arg;
    const struct dc_schema *(*schema)(void *arg, struct dc_ctx *c, const char *db);
    int (*query)(void *arg, struct dc_ctx *c, const char *db, const char *sql,
                 const struct dc_value *params, size_t nparams, struct dc_result **out);
};

/* Installed by the runtime beside the backend (NULL: unsupported): a model
 * completion through the configured llm instance (see core/llm.h), and the
 * gate's checks of one statement without running it. */
struct ctx_model {
    void *arg;
    int (*llm)(void *arg, struct dc_ctx *c, const char *instance, const char *request_json);
    int (*check)(void *arg, struct dc_ctx *c, const char *db, const char *sql, char *err,
                 size_t errlen);
};

struct trace_step {
    char *stage;
    char *plugin;
    char *outcome;   /* NULL while running or when the stage failed */
    char *reason;    /* notes joined with "; ", NULL if none */
    int64_t us;
    char *detail;    /* a JSON object's text (sub-steps), NULL if none */
};

/* be is copied; may be NULL (queries and catalogs then fail cleanly). */
struct dc_ctx *ctx_new(const struct ctx_backend *be);
void ctx_free(struct dc_ctx *c);

const char *ctx_get(struct dc_ctx *c, const char *key);
int ctx_set(struct dc_ctx *c, const char *key, const char *value); /* NULL deletes */

int ctx_trace_begin(struct dc_ctx *c, const char *stage, const char *plugin);
void ctx_trace_end(struct dc_ctx *c, const char *outcome, int64_t us);
void ctx_trace_note(struct dc_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ctx_vtrace_note(struct dc_ctx *c, const char *fmt, va_list ap);
/* A finished sub-step of the running stage (one model attempt, say), kept
 * after that stage's step; the running step stays open. detail: a JSON
 * object's text or NULL; plugin NULL: the running step's. Copies every
 * string. */
int ctx_trace_add(struct dc_ctx *c, const char *stage, const char *plugin, const char *outcome,
                  const char *reason, const char *detail, int64_t us);
size_t ctx_ntrace(const struct dc_ctx *c);
const struct trace_step *ctx_trace_at(const struct dc_ctx *c, size_t i);

/* Keeps the first error only: later failures are usually consequences. */
void ctx_fail(struct dc_ctx *c, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ctx_vfail(struct dc_ctx *c, const char *code, const char *fmt, va_list ap);
const char *ctx_error_code(const struct dc_ctx *c);    /* NULL if none */
const char *ctx_error_message(const struct dc_ctx *c); /* NULL if none */

void ctx_set_result(struct dc_ctx *c, struct dc_result *r); /* takes ownership */
const struct dc_result *ctx_result(const struct dc_ctx *c);

int ctx_query(struct dc_ctx *c, const char *db, const char *sql,
              const struct dc_value *params, size_t nparams, struct dc_result **out);
const struct dc_schema *ctx_schema(struct dc_ctx *c, const char *db);
void ctx_set_model(struct dc_ctx *c, const struct ctx_model *m); /* copied */
/* Through the ctx_model's llm/check; DC_EUNSUPPORTED when none is set. The
 * reply of ctx_llm_complete is in "llm.reply". ctx_sql_check's err is
 * "CODE: reason" on a refusal. */
int ctx_llm_complete(struct dc_ctx *c, const char *instance, const char *request_json);
int ctx_sql_check(struct dc_ctx *c, const char *db, const char *sql, char *err, size_t errlen);
/* Forgets the recorded error when its code is code (a stage that resolved
 * what an earlier stage could not, e.g. E-UNSURE). */
void ctx_clear_error(struct dc_ctx *c, const char *code);
/* Retrieval over database db, installed by the runtime (built lazily
 * there, like the DataPoints). */
typedef int (*ctx_retrieve_fn)(void *arg, struct dc_ctx *c, const char *db, const char *query,
                               size_t k, struct dc_retrieval_hit *hits, size_t *n);
void ctx_set_retriever(struct dc_ctx *c, ctx_retrieve_fn fn, void *arg);
/* The best k documents for query on the request's database (see host.h
 * retrieve); DC_EUNSUPPORTED when the context has no retrieval. */
int ctx_retrieve(struct dc_ctx *c, const char *query, size_t k, struct dc_retrieval_hit *hits,
                 size_t *n);
struct dp_set;
/* The DataPoints this request sees (the runtime's, borrowed); NULL: none. */
void ctx_set_dps(struct dc_ctx *c, const struct dp_set *dps);
/* DataPoints on demand: fn runs at the first ctx_dps() call (questions that
 * never read a DataPoint never parse one); it records its own failure in c. */
typedef const struct dp_set *(*ctx_dps_fn)(void *arg, struct dc_ctx *c);
void ctx_set_dps_loader(struct dc_ctx *c, ctx_dps_fn fn, void *arg);
const struct dp_set *ctx_dps(struct dc_ctx *c);

#endif
