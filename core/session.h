/*
 * session - conversation and caching logic for the runtime: session ids,
 * the parts of a question (subject, filters, time range, grouping), how a
 * follow-up with no subject of its own merges into the last turn's
 * structure, the structure's JSON, cache keys, the result cache's encoding
 * of a result, and the runtime's hooks around one request (session_begin,
 * session_end, the result cache around the gate). It reaches the state
 * store only through store.h and user databases only through the gate;
 * the parsing helpers above the hooks are pure.
 */
#ifndef DC_SESSION_H
#define DC_SESSION_H

#include <stddef.h>
#include <stdint.h>

#define SESSION_ID_MAX 64
#define SESSION_TEXT_MAX 512
#define SESSION_MAX_FILTERS 4

/* 1 when id is 1..64 characters of [A-Za-z0-9_.:-]. */
int session_id_valid(const char *id);

struct session_parts {
    char base[SESSION_TEXT_MAX];  /* the subject: measure and table/metric */
    char filters[SESSION_MAX_FILTERS][SESSION_TEXT_MAX];
    size_t nfilters;
    char time[SESSION_TEXT_MAX];  /* "last year", "in 2024" */
    char group[SESSION_TEXT_MAX]; /* "by month", "monthly" */
    int replace_filter;           /* "what about X": X replaces the last filter */
};

/* Splits q into parts by the phrases that start them ("by", "per",
 * "only", "in", "last", a year, ...), after leading connectives ("and",
 * "what about"). A question whose base is empty has no subject of its own. */
void session_parts_parse(const char *q, struct session_parts *out);
/* Whether the parts say anything at all. */
int session_parts_empty(const struct session_parts *p);
/* A follow-up's parts applied to the last turn's: time and grouping
 * replace, filters add (or replace the last with "what about"). */
void session_parts_merge(const struct session_parts *last, const struct session_parts *fu,
                         struct session_parts *out);
/* The parts as one question for the stages (malloc'd, NULL on OOM). */
char *session_parts_text(const struct session_parts *p);

/* The turn's structure as JSON text (malloc'd): the parts plus what the
 * stages resolved (kv: NULL-terminated key/value pairs, NULL values left
 * out). */
char *session_structure_json(const struct session_parts *p, const char *const *kv);
/* The parts back from a structure; DC_EINVAL when it is not one. */
int session_structure_parts(const char *json, struct session_parts *out);

/* A question in the form cache keys use: lowercase, runs of spaces and
 * punctuation folded, trailing ?/./! dropped (malloc'd). */
char *session_normalise(const char *q);
/* hex SHA-256 over the NUL-separated parts (a NULL part counts as ""). */
int session_key(const char *const *parts, size_t n, char out[65]);

struct dc_result;
/* A result as cache text; DC_EUNSUPPORTED for values JSON cannot hold
 * (blobs, text that is not UTF-8). */
int session_result_encode(const struct dc_result *r, char **out);
int session_result_decode(const char *text, struct dc_result **out);

/* Splits "E-CODE: message" (how store and feedback errors read) into the
 * code (dflt when err has none) and the message, which is returned. */
const char *session_err_split(const char *err, const char *dflt, char *code, size_t cap);

/* ---- Hooks for the runtime (runtime.c) ---------------------------------- */
struct runtime;
struct dc_ctx;
struct store;
struct dc_value;

/* The runtime's state store, opened on first use (NULL with err on
 * failure; the next call tries again). */
struct store *session_store(struct runtime *rt, char *err, size_t errlen);

struct store_cache_stats;
/* Hit/miss counts of this runtime's caches; zeros while the store is closed. */
void session_cache_stats(struct runtime *rt, struct store_cache_stats *out);

struct session_req {
    const char *session; /* NULL: no conversation */
    struct session_parts parts; /* this turn's parts, merged for a follow-up */
    char sql_key[65];   /* SQL cache key, "" when not computed */
    int built_on;       /* turn a follow-up built on, 0 if none */
};

/* Before the pipeline: the answer id, the session's last turns into
 * "session.*", a follow-up merged into the last structure (the context's
 * "question" becomes the merged one, "question.asked" keeps the original),
 * the SQL cache and feedback examples for SQL-writing stages. DC_OK, or an
 * error recorded in c. */
int session_begin(struct runtime *rt, struct dc_ctx *c, const char *session,
                  struct session_req *sr);
/* After the pipeline: the clarification budget, the turn, the answer and
 * the SQL cache entry. Returns rc, or a refusal/error code it adds. */
int session_end(struct runtime *rt, struct dc_ctx *c, struct session_req *sr, int rc);

/* The result cache around the gate: DC_OK with *out (and the SQL that ran
 * in *sql_run, caller frees) on a hit, DC_ENOTFOUND otherwise. */
int session_result_get(struct runtime *rt, struct dc_ctx *c, const char *db, const char *sql,
                       const struct dc_value *params, size_t nparams, struct dc_result **out,
                       char **sql_run);
void session_result_put(struct runtime *rt, struct dc_ctx *c, const char *db, const char *sql,
                        const struct dc_value *params, size_t nparams,
                        const struct dc_result *r, const char *sql_run);

/* Records one model call's usage (ctx "llm.usage", as the providers leave
 * it) in the store; instance names the call when the provider left none.
 * Failures are trace notes: usage accounting never fails a question. */
void session_llm_usage(struct runtime *rt, struct dc_ctx *c, const char *instance, int rc);

/* Records a verdict on a recorded answer: verdict "right" or "wrong"
 * (wrong needs a comment or corrected SQL); corrected SQL must pass the
 * gate (explained, not run) for the answer's database and principal.
 * DC_ENOTFOUND unknown answer, DC_EINVAL bad input, DC_EDENIED the gate
 * refuses the correction; err starts with the E-* code. */
int session_feedback(struct runtime *rt, const char *answer_id, const char *verdict,
                     const char *comment, const char *corrected_sql, int64_t *id, char *err,
                     size_t errlen);

#endif
