/*
 * common-llm/llmhttp - what the LLM provider plugins share: their common
 * options, one HTTP POST with time and size limits, retries with exponential
 * backoff and jitter on 429/5xx honouring Retry-After, a per-instance
 * concurrency cap, server error excerpts, and Server-Sent Events parsing.
 * It never logs, never writes header values (the API key) into error text,
 * and redacts the key from anything a server echoes back. Compiled once as a
 * static library and linked into each provider plugin.
 */
#ifndef DC_LLMHTTP_H
#define DC_LLMHTTP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <datachat/host.h>

#include "textbuf.h"

/* Options both providers declare, after each plugin's base_url and
 * api_key_env (whose defaults differ). */
#define LLM_COMMON_OPTIONS                                                                    \
    {"model", DC_OPT_STRING, 1, NULL, "model name the server knows"},                         \
        {"connect_timeout_ms", DC_OPT_INT, 0, "5000", "TCP/TLS connect budget per attempt"},  \
        {"timeout_ms", DC_OPT_INT, 0, "120000", "whole call, retries and waits included"},    \
        {"idle_timeout_ms", DC_OPT_INT, 0, "30000",                                           \
         "longest silence allowed inside a streamed answer (about 1 s resolution)"},          \
        {"max_tokens", DC_OPT_INT, 0, "1024", "default answer length cap"},                   \
        {"temperature", DC_OPT_NUMBER, 0, "0", "default sampling temperature"},               \
        {"retries", DC_OPT_INT, 0, "3", "extra attempts after a 429 or 5xx answer"},          \
        {"backoff_ms", DC_OPT_INT, 0, "500", "first retry wait; doubles each retry"},         \
        {"backoff_max_ms", DC_OPT_INT, 0, "8000", "longest wait between attempts"},           \
        {"max_concurrency", DC_OPT_INT, 0, "4", "calls in flight at once on this provider"},  \
        {"max_response_bytes", DC_OPT_INT, 0, "4194304", "larger answers are an error"},      \
        {"stream", DC_OPT_BOOL, 0, "false", "use the streaming API (SSE) by default"}

struct llm_conf {
    char *name;        /* provider name for messages: "openai", "anthropic" */
    char *base_url;    /* no trailing slash */
    char *model;
    char *api_key_env; /* NULL: the server needs no key */
    int64_t connect_timeout_ms, timeout_ms, idle_timeout_ms;
    int64_t max_tokens;
    double temperature;
    int64_t retries, backoff_ms, backoff_max_ms;
    int64_t max_concurrency, max_response_bytes;
    int stream;
};

/* Checks base_url with libcurl's URL parser plus what it lets through (an
 * empty port, no host, port 0, a query or fragment, user@host): DC_OK, or
 * DC_EINVAL with err "E-CFG-LLM-URL: base_url: reason" (core/llm.c turns
 * the field into the option's file:line:col). */
int llm_url_check(const char *name, const char *base, char *err, size_t errlen);

/* Reads and range-checks the common options. */
int llm_conf_load(const struct dc_host *h, const struct dc_opts *o, const char *name,
                  struct llm_conf *c, char *err, size_t errlen);
void llm_conf_clear(struct llm_conf *c);

/* The key from the environment: DC_OK with *key NULL when none is
 * configured, DC_ENOTFOUND (and the error text) when api_key_env names an
 * unset or empty variable. The pointer is the environment's. */
int llm_conf_key(const struct llm_conf *c, const char **key, char *err, size_t errlen);

/* ---- growable bytes: plugins/common/textbuf with a status ------------------- */
static inline int llm_text_add(struct textbuf *b, const char *s, size_t n)
{
    textbuf_add(b, s, n);
    return b->oom ? DC_ENOMEM : DC_OK;
}

/* ---- concurrency cap -------------------------------------------------------- */
struct llm_limiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int active, max;
};
int llm_limiter_init(struct llm_limiter *l, int max);
void llm_limiter_destroy(struct llm_limiter *l);
/* Waits for a slot until deadline_us (CLOCK_MONOTONIC); DC_ETIMEOUT then. */
int llm_limiter_enter(struct llm_limiter *l, int64_t deadline_us);
void llm_limiter_leave(struct llm_limiter *l);

int64_t llm_now_us(void); /* CLOCK_MONOTONIC */

/* ---- Server-Sent Events ------------------------------------------------------
 * Bytes in, events out: "event:" and "data:" fields (several data lines
 * joined with '\n'), comments and other fields ignored, lines ended by
 * LF, CRLF or CR. An event is dispatched at a blank line; the callback's
 * non-zero return stops the parser and is returned by feed. */
typedef int (*llm_sse_fn)(void *arg, const char *event, const char *data, size_t len);

struct llm_sse {
    llm_sse_fn fn;
    void *arg;
    struct textbuf line;
    struct textbuf data;
    char event[64];
    int has_data;
    int last_cr;     /* the previous byte was CR: a following LF is not a new line */
    size_t max_line; /* longer lines are DC_ELIMIT */
    int stopped;
};
void llm_sse_init(struct llm_sse *s, size_t max_line, llm_sse_fn fn, void *arg);
int llm_sse_feed(struct llm_sse *s, const char *p, size_t n);
/* End of stream: dispatches an event left without its blank line. */
int llm_sse_finish(struct llm_sse *s);
void llm_sse_free(struct llm_sse *s);

/* ---- one call ------------------------------------------------------------- */
struct llm_call {
    const struct llm_conf *conf;
    const char *url;
    const char *const *headers; /* "Name: value", NULL-terminated; may hold the key */
    const char *body;
    int stream;                 /* 2xx bodies go to on_event instead of the reply */
    llm_sse_fn on_event;
    void *arg;
    const char *secret;         /* redacted from error text; NULL if none */
};

struct llm_reply {
    long status;
    struct textbuf body; /* non-streamed 2xx body, or an error body (capped) */
    int attempts;
    int64_t latency_us;
    int64_t retry_wait_us; /* time spent waiting between attempts */
};

/* Posts with retries. DC_OK: a 2xx answer, its body in r (or streamed).
 * Otherwise a negative code, code[] a stable E-LLM-* code and err the
 * user-facing text; when the event callback stopped the stream, returns its
 * code with code[] empty (the callback knows why). */
int llm_http_post(const struct llm_call *call, struct llm_reply *r, char *code, size_t codelen,
                  char *err, size_t errlen);
void llm_reply_clear(struct llm_reply *r);

/* The "message" of a JSON error body ({"error":{"message"}}, {"error":"..."},
 * {"message"}) or the body's first printable bytes, control characters
 * replaced, at most outlen-1 bytes. */
void llm_error_excerpt(const char *body, size_t len, char *out, size_t outlen);

/* Replaces every occurrence of secret in text (in place) with "[redacted]"
 * when it fits, else with '*'. */
void llm_redact(char *text, size_t cap, const char *secret);

/* usage JSON text for ctx "llm.usage"; caller frees. */
char *llm_usage_json(const struct llm_conf *c, int64_t in_tokens, int64_t out_tokens,
                     const struct llm_reply *r, int stream, const char *finish);

/* ---- the request a caller hands to complete() -------------------------------
 * {"messages":[{"role":"system"|"user"|"assistant","content":TEXT}...],
 *  "max_tokens":N, "temperature":X, "stream":BOOL, "json":BOOL,
 *  "json_schema":{...}}; all but messages optional (the options' defaults). */
struct llm_req {
    json_t *root;        /* owned */
    json_t *messages;    /* borrowed from root, validated */
    int64_t max_tokens;
    double temperature;
    int stream;
    int json;            /* a JSON object is asked for */
    json_t *json_schema; /* borrowed, NULL if none */
};
int llm_req_parse(const struct llm_conf *c, const char *text, struct llm_req *q, char *err,
                  size_t errlen);
void llm_req_clear(struct llm_req *q);

/* Records a failure on ctx: a trace note and the error, key redacted. */
int llm_fail(const struct dc_host *h, struct dc_ctx *ctx, const struct llm_conf *c, int rc,
             const char *code, char *err, size_t errlen, const char *secret);
/* Records a success: "llm.reply", "llm.usage" and a trace note. */
int llm_done(const struct dc_host *h, struct dc_ctx *ctx, const struct llm_conf *c,
             const char *text, int64_t in_tokens, int64_t out_tokens, const struct llm_reply *r,
             int stream, const char *finish);

/* ---- one complete() call, shared by the providers ----------------------------- */

/* What an answer accumulates, plain or streamed. A parse callback that
 * fails fills code and err (the user-facing text). */
struct llm_provider;
struct llm_acc {
    const struct llm_conf *conf;
    const struct llm_provider *p;
    struct textbuf text;
    int64_t in_tokens, out_tokens;
    char finish[32];
    int done;
    char code[32];
    char err[512];
};

/* What differs between providers. */
struct llm_provider {
    const char *path;        /* appended to base_url, e.g. "/chat/completions" */
    const char *key_header;  /* the key's header up to the key, e.g. "x-api-key: " */
    /* The request body for q (malloc'ed JSON text, NULL on failure); may
     * note in ctx's trace what the provider cannot honour. */
    char *(*build_body)(const void *st, const struct llm_req *q, const struct dc_host *h,
                        struct dc_ctx *ctx);
    llm_sse_fn on_event;     /* arg: the struct llm_acc */
    int (*parse_plain)(struct llm_acc *a, const char *body, size_t len);
    const char *reply_kind;  /* what a good answer is, e.g. "an Anthropic Messages reply" */
    const char *reply_hint;  /* what to check when it is not */
    const char *stream_end;  /* the event that ends a stream, for the error text */
    int finish_ends_stream;  /* a finish reason also counts as a complete stream */
};

/* E-LLM-BAD-REPLY in a: the answer is not the provider's reply_kind
 * (what says how); returns DC_EINVAL. */
int llm_bad_reply(struct llm_acc *a, const char *what);
/* E-LLM-STREAM-ERROR in a, with an excerpt of the event; returns DC_EIO. */
int llm_stream_error(struct llm_acc *a, const char *data, size_t len);
/* A plain answer's JSON object (caller decrefs); NULL with *rc set (a bad
 * reply recorded in a) when the body is not one. */
json_t *llm_reply_object(struct llm_acc *a, const char *body, size_t len, int *rc);
/* Token counts from a usage object, under the provider's key names. */
void llm_read_usage(struct llm_acc *a, json_t *usage, const char *in_key, const char *out_key);

/* The whole call: key, request, body, headers (extra_header: one more
 * "Name: value" line or NULL), concurrency slot, POST with retries, parse,
 * then llm_done or llm_fail; the key's header is wiped before it is freed. */
int llm_complete_call(const struct dc_host *h, struct dc_ctx *ctx, const struct llm_conf *c,
                      struct llm_limiter *lim, const struct llm_provider *p, const void *st,
                      const char *extra_header, const char *request_json);

#endif
