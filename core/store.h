/*
 * store - the state store: one SQLite file (WAL) holding conversation
 * sessions and their turns, recorded answers, feedback, the SQL and result
 * caches and LLM usage. It owns the schema and its migrations (table
 * store_migrations) and every statement against that file. It is opened
 * lazily by the runtime, only when a feature needs it. It never runs a
 * question, never sees a user database, and never prints.
 */
#ifndef DC_STORE_H
#define DC_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

#define STORE_SCHEMA_VERSION 1

/* Opens (creating the file and its directory when missing) and migrates.
 * A file that is not a SQLite database, or one written by a newer DataChat,
 * is DC_EINVAL with an E-STORE-* message naming the file. */
int store_open(const char *path, struct store **out, char *err, size_t errlen);
void store_close(struct store *s);
const char *store_path(const struct store *s);
int store_version(struct store *s);

struct store_turn {
    int64_t turn;    /* 1-based within the session */
    char *question;  /* as asked */
    char *resolved;  /* the question that was compiled (a merged follow-up) */
    char *structure; /* JSON (session.c builds it) */
    char *sql;       /* NULL when none ran */
    char *outcome;   /* answered, clarify, refused, error */
    char *answer_id;
    int64_t created; /* unix seconds */
};

/* Appends a turn; sets t->turn. Strings are copied. */
int store_turn_add(struct store *s, const char *session, struct store_turn *t, char *err,
                   size_t errlen);
/* The last max turns of session, oldest first (*n may be 0). */
int store_turns_last(struct store *s, const char *session, size_t max, struct store_turn **out,
                     size_t *n, char *err, size_t errlen);
void store_turns_free(struct store_turn *t, size_t n);
/* Turns of session with this outcome. */
int store_turns_count(struct store *s, const char *session, const char *outcome, int64_t *n,
                      char *err, size_t errlen);

struct store_answer {
    char *id, *question, *sql, *database, *principal, *session;
};
int store_answer_add(struct store *s, const struct store_answer *a, char *err, size_t errlen);
/* DC_ENOTFOUND when no answer has that id. */
int store_answer_get(struct store *s, const char *id, struct store_answer *out, char *err,
                     size_t errlen);
void store_answer_clear(struct store_answer *a);

/* verdict: "right" or "wrong"; comment and corrected_sql may be NULL. */
int store_feedback_add(struct store *s, const struct store_answer *a, const char *verdict,
                       const char *comment, const char *corrected_sql, int64_t *id, char *err,
                       size_t errlen);
struct store_example {
    char *question, *sql;
};
/* Question/SQL pairs users confirmed or corrected for database, newest
 * first: the corrected SQL of a "wrong" verdict, the SQL of a "right" one. */
int store_examples(struct store *s, const char *database, size_t max, struct store_example **out,
                   size_t *n, char *err, size_t errlen);
void store_examples_free(struct store_example *e, size_t n);

enum store_cache { STORE_CACHE_SQL = 0, STORE_CACHE_RESULT = 1 };
/* *value (caller frees) for a live entry; DC_ENOTFOUND on a miss or an
 * expired entry. Counts the hit or miss. */
int store_cache_get(struct store *s, int which, const char *key, char **value, char *err,
                    size_t errlen);
int store_cache_put(struct store *s, int which, const char *key, const char *value,
                    int64_t ttl_s, char *err, size_t errlen);
struct store_cache_stats {
    uint64_t sql_hits, sql_misses, result_hits, result_misses;
};
void store_cache_stats(struct store *s, struct store_cache_stats *out);

struct store_llm_usage {
    const char *provider, *model, *outcome;
    int64_t prompt_tokens, completion_tokens, latency_us; /* -1 when unknown */
};
int store_llm_usage_add(struct store *s, const struct store_llm_usage *u, char *err,
                        size_t errlen);

#endif
