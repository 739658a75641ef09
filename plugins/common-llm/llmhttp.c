#include "llmhttp.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Error bodies are kept only to quote the server; a short prefix is enough. */
#define ERROR_BODY_MAX 65536
/* A Retry-After we would honour even past backoff_max_ms, if the budget allows. */
#define RETRY_AFTER_MAX_MS 600000

int64_t llm_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- base_url ------------------------------------------------------------- */

/* What curl_url accepts but a provider must not: an authority with an
 * empty port ("host:"), none at all ("http:///v1"), port 0, a query or a
 * fragment (the API path is appended to base_url). curl_url judges the
 * rest: scheme, host syntax, port range. */
int llm_url_check(const char *name, const char *base, char *err, size_t errlen)
{
    static const char hint[] = "write e.g. http://127.0.0.1:11434/v1";
    const char *sep = base ? strstr(base, "://") : NULL;
    if (!base || !*base || !sep) {
        snprintf(err, errlen,
                 "E-CFG-LLM-URL: base_url: llm provider %s: base_url '%s' is not an http:// or "
                 "https:// URL; %s",
                 name, base ? base : "", hint);
        return DC_EINVAL;
    }
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', alen);
    if (at) {
        /* user:password@ would travel into every log line that names the
         * URL, so the text does not repeat it. */
        snprintf(err, errlen,
                 "E-CFG-LLM-URL: base_url: llm provider %s: base_url holds credentials "
                 "(user@host); remove them and put the key in the environment variable named "
                 "by api_key_env",
                 name);
        return DC_EINVAL;
    }
    CURLU *u = curl_url();
    char *scheme = NULL, *port = NULL;
    const char *why = NULL;
    char cbuf[160];
    int rc = DC_EINVAL;
    if (!u) {
        snprintf(err, errlen, "llm provider %s: out of memory", name);
        return DC_ENOMEM;
    }
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, base, 0);
    if (uc != CURLUE_OK) {
        snprintf(cbuf, sizeof(cbuf), "libcurl cannot parse it: %s", curl_url_strerror(uc));
        why = cbuf;
    } else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
               (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        snprintf(cbuf, sizeof(cbuf), "the scheme '%s' is not http or https",
                 scheme ? scheme : "");
        why = cbuf;
    } else if (alen == 0) {
        why = "it names no host";
    } else if (auth[alen - 1] == ':') {
        why = "the port after ':' is empty (libcurl would silently use the scheme's default)";
    } else if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && port &&
               strcmp(port, "0") == 0) {
        why = "port 0 is not a port a server listens on";
    } else if (strpbrk(auth + alen, "?#")) {
        why = "it has a query or fragment, but the API path is appended to it";
    }
    if (why) {
        snprintf(err, errlen, "E-CFG-LLM-URL: base_url: llm provider %s: base_url '%s' is not "
                              "usable: %s; %s",
                 name, base, why, hint);
        goto cleanup;
    }
    rc = DC_OK;
cleanup:
    curl_free(scheme);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

/* ---- options ------------------------------------------------------------- */

static int get_int(const struct dc_host *h, const struct dc_opts *o, const char *key,
                   int64_t def, int64_t lo, int64_t hi, int64_t *out, const char *name,
                   char *err, size_t errlen)
{
    int64_t v = def;
    int rc = o ? h->opt_int(o, key, &v) : DC_ENOTFOUND;
    if (rc != DC_OK && rc != DC_ENOTFOUND) {
        snprintf(err, errlen, "llm provider %s: option %s must be a whole number", name, key);
        return DC_EINVAL;
    }
    if (v < lo || v > hi) {
        snprintf(err, errlen, "llm provider %s: option %s is %lld; use %lld to %lld", name, key,
                 (long long)v, (long long)lo, (long long)hi);
        return DC_EINVAL;
    }
    *out = v;
    return DC_OK;
}

int llm_conf_load(const struct dc_host *h, const struct dc_opts *o, const char *name,
                  struct llm_conf *c, char *err, size_t errlen)
{
    int rc;
    memset(c, 0, sizeof(*c));
    const char *base = o ? h->opt_str(o, "base_url") : NULL;
    const char *model = o ? h->opt_str(o, "model") : NULL;
    const char *env = o ? h->opt_str(o, "api_key_env") : NULL;
    if ((rc = llm_url_check(name, base, err, errlen)) != DC_OK)
        return rc;
    if (!model || !*model) {
        snprintf(err, errlen, "llm provider %s: option model is missing; name the model the "
                              "server serves, e.g. model: qwen2.5-coder:7b", name);
        return DC_EINVAL;
    }
    c->name = strdup(name);
    c->base_url = strdup(base);
    c->model = strdup(model);
    c->api_key_env = env && *env ? strdup(env) : NULL;
    if (!c->name || !c->base_url || !c->model || (env && *env && !c->api_key_env)) {
        snprintf(err, errlen, "llm provider %s: out of memory", name);
        rc = DC_ENOMEM;
        goto fail;
    }
    size_t bl = strlen(c->base_url);
    while (bl > 0 && c->base_url[bl - 1] == '/')
        c->base_url[--bl] = '\0';
    if ((rc = get_int(h, o, "connect_timeout_ms", 5000, 1, 600000, &c->connect_timeout_ms, name,
                      err, errlen)) != DC_OK ||
        (rc = get_int(h, o, "timeout_ms", 120000, 1, 3600000, &c->timeout_ms, name, err,
                      errlen)) != DC_OK ||
        (rc = get_int(h, o, "idle_timeout_ms", 30000, 0, 3600000, &c->idle_timeout_ms, name,
                      err, errlen)) != DC_OK ||
        (rc = get_int(h, o, "max_tokens", 1024, 1, 1000000, &c->max_tokens, name, err,
                      errlen)) != DC_OK ||
        (rc = get_int(h, o, "retries", 3, 0, 20, &c->retries, name, err, errlen)) != DC_OK ||
        (rc = get_int(h, o, "backoff_ms", 500, 0, 600000, &c->backoff_ms, name, err, errlen)) !=
            DC_OK ||
        (rc = get_int(h, o, "backoff_max_ms", 8000, 0, 600000, &c->backoff_max_ms, name, err,
                      errlen)) != DC_OK ||
        (rc = get_int(h, o, "max_concurrency", 4, 1, 1024, &c->max_concurrency, name, err,
                      errlen)) != DC_OK ||
        (rc = get_int(h, o, "max_response_bytes", 4194304, 1024, (int64_t)1 << 32,
                      &c->max_response_bytes, name, err, errlen)) != DC_OK)
        goto fail;
    c->temperature = 0;
    rc = o ? h->opt_number(o, "temperature", &c->temperature) : DC_ENOTFOUND;
    if ((rc != DC_OK && rc != DC_ENOTFOUND) || c->temperature < 0 || c->temperature > 2) {
        snprintf(err, errlen, "llm provider %s: option temperature must be a number from 0 to 2",
                 name);
        rc = DC_EINVAL;
        goto fail;
    }
    c->stream = 0;
    rc = o ? h->opt_bool(o, "stream", &c->stream) : DC_ENOTFOUND;
    if (rc != DC_OK && rc != DC_ENOTFOUND) {
        snprintf(err, errlen, "llm provider %s: option stream must be true or false", name);
        rc = DC_EINVAL;
        goto fail;
    }
    return DC_OK;
fail:
    llm_conf_clear(c);
    return rc;
}

void llm_conf_clear(struct llm_conf *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->base_url);
    free(c->model);
    free(c->api_key_env);
    memset(c, 0, sizeof(*c));
}

int llm_conf_key(const struct llm_conf *c, const char **key, char *err, size_t errlen)
{
    *key = NULL;
    if (!c->api_key_env)
        return DC_OK;
    const char *v = getenv(c->api_key_env);
    if (!v || !*v) {
        snprintf(err, errlen,
                 "llm provider %s: the environment variable %s (named by api_key_env) is %s; "
                 "export it with the API key, or remove api_key_env for a server that needs none",
                 c->name, c->api_key_env, v ? "empty" : "not set");
        return DC_ENOTFOUND;
    }
    *key = v;
    return DC_OK;
}

/* ---- limiter --------------------------------------------------------------- */

int llm_limiter_init(struct llm_limiter *l, int max)
{
    pthread_condattr_t ca;
    l->active = 0;
    l->max = max > 0 ? max : 1;
    if (pthread_condattr_init(&ca) != 0)
        return DC_ENOMEM;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        return DC_ENOMEM;
    if (pthread_mutex_init(&l->mu, NULL) != 0) {
        pthread_cond_destroy(&l->cv);
        return DC_ENOMEM;
    }
    return DC_OK;
}

void llm_limiter_destroy(struct llm_limiter *l)
{
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
}

int llm_limiter_enter(struct llm_limiter *l, int64_t deadline_us)
{
    struct timespec ts = {.tv_sec = deadline_us / 1000000,
                          .tv_nsec = (long)(deadline_us % 1000000) * 1000};
    int rc = DC_OK;
    pthread_mutex_lock(&l->mu);
    while (l->active >= l->max) {
        if (pthread_cond_timedwait(&l->cv, &l->mu, &ts) == ETIMEDOUT) {
            rc = DC_ETIMEOUT;
            break;
        }
    }
    if (rc == DC_OK)
        l->active++;
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void llm_limiter_leave(struct llm_limiter *l)
{
    pthread_mutex_lock(&l->mu);
    l->active--;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* ---- SSE ------------------------------------------------------------------- */

void llm_sse_init(struct llm_sse *s, size_t max_line, llm_sse_fn fn, void *arg)
{
    memset(s, 0, sizeof(*s));
    s->fn = fn;
    s->arg = arg;
    s->max_line = max_line ? max_line : (1u << 20);
}

void llm_sse_free(struct llm_sse *s)
{
    textbuf_free(&s->line);
    textbuf_free(&s->data);
}

static int sse_dispatch(struct llm_sse *s)
{
    int rc = DC_OK;
    if (s->has_data && s->fn)
        rc = s->fn(s->arg, s->event[0] ? s->event : "message", s->data.p ? s->data.p : "",
                   s->data.len);
    s->has_data = 0;
    s->data.len = 0;
    if (s->data.p)
        s->data.p[0] = '\0';
    s->event[0] = '\0';
    if (rc != DC_OK)
        s->stopped = 1;
    return rc;
}

static int sse_line(struct llm_sse *s, const char *line, size_t n)
{
    if (n == 0)
        return sse_dispatch(s);
    if (line[0] == ':')
        return DC_OK; /* comment, often a keep-alive */
    const char *colon = memchr(line, ':', n);
    size_t flen = colon ? (size_t)(colon - line) : n;
    const char *val = colon ? colon + 1 : line + n;
    size_t vlen = colon ? n - flen - 1 : 0;
    if (vlen && *val == ' ') {
        val++;
        vlen--;
    }
    if (flen == 4 && memcmp(line, "data", 4) == 0) {
        if (s->has_data && llm_text_add(&s->data, "\n", 1) != DC_OK)
            return DC_ENOMEM;
        if (llm_text_add(&s->data, val, vlen) != DC_OK)
            return DC_ENOMEM;
        s->has_data = 1;
    } else if (flen == 5 && memcmp(line, "event", 5) == 0) {
        size_t k = vlen < sizeof(s->event) - 1 ? vlen : sizeof(s->event) - 1;
        memcpy(s->event, val, k);
        s->event[k] = '\0';
    }
    return DC_OK;
}

int llm_sse_feed(struct llm_sse *s, const char *p, size_t n)
{
    int rc;
    if (s->stopped)
        return DC_EINVAL;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == '\n' && s->last_cr) {
            s->last_cr = 0;
            continue;
        }
        s->last_cr = ch == '\r';
        if (ch == '\n' || ch == '\r') {
            rc = sse_line(s, s->line.p ? s->line.p : "", s->line.len);
            s->line.len = 0;
            if (rc != DC_OK) {
                s->stopped = 1;
                return rc;
            }
            continue;
        }
        if (s->line.len >= s->max_line) {
            s->stopped = 1;
            return DC_ELIMIT;
        }
        if (llm_text_add(&s->line, &ch, 1) != DC_OK) {
            s->stopped = 1;
            return DC_ENOMEM;
        }
    }
    return DC_OK;
}

int llm_sse_finish(struct llm_sse *s)
{
    if (s->stopped)
        return DC_OK;
    int rc = DC_OK;
    if (s->line.len) {
        rc = sse_line(s, s->line.p, s->line.len);
        s->line.len = 0;
    }
    if (rc == DC_OK)
        rc = sse_dispatch(s);
    return rc;
}

/* ---- text helpers ------------------------------------------------------------ */

static void clean_copy(char *out, size_t outlen, const char *s, size_t n)
{
    size_t k = 0;
    if (!outlen)
        return;
    for (size_t i = 0; i < n && k + 1 < outlen; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[k++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
    out[k] = '\0';
}

void llm_error_excerpt(const char *body, size_t len, char *out, size_t outlen)
{
    if (!outlen)
        return;
    out[0] = '\0';
    if (!body || !len)
        return;
    json_t *root = json_loadb(body, len, 0, NULL);
    const char *msg = NULL;
    if (root && json_is_object(root)) {
        json_t *e = json_object_get(root, "error");
        if (json_is_string(e))
            msg = json_string_value(e);
        else if (json_is_object(e) && json_is_string(json_object_get(e, "message")))
            msg = json_string_value(json_object_get(e, "message"));
        else if (json_is_string(json_object_get(root, "message")))
            msg = json_string_value(json_object_get(root, "message"));
    }
    if (msg)
        clean_copy(out, outlen < 301 ? outlen : 301, msg, strlen(msg));
    else
        clean_copy(out, outlen < 201 ? outlen : 201, body, len);
    json_decref(root);
}

void llm_redact(char *text, size_t cap, const char *secret)
{
    static const char mark[] = "[redacted]";
    size_t sl = secret ? strlen(secret) : 0;
    if (!text || sl == 0)
        return;
    char *p = text;
    while ((p = strstr(p, secret)) != NULL) {
        size_t tail = strlen(p + sl);
        size_t ml = sizeof(mark) - 1;
        if ((size_t)(p - text) + ml + tail + 1 <= cap) {
            memmove(p + ml, p + sl, tail + 1);
            memcpy(p, mark, ml);
            p += ml;
        } else {
            memset(p, '*', sl);
            p += sl;
        }
    }
}

char *llm_usage_json(const struct llm_conf *c, int64_t in_tokens, int64_t out_tokens,
                     const struct llm_reply *r, int stream, const char *finish)
{
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:i, s:b}", "provider", c->name,
                          "model", c->model, "input_tokens", (json_int_t)in_tokens,
                          "output_tokens", (json_int_t)out_tokens, "latency_ms",
                          (json_int_t)(r->latency_us / 1000), "retry_wait_ms",
                          (json_int_t)(r->retry_wait_us / 1000), "attempts", r->attempts,
                          "stream", stream);
    if (!o)
        return NULL;
    if (finish && json_object_set_new(o, "finish_reason", json_string(finish)) != 0) {
        json_decref(o);
        return NULL;
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* ---- HTTP -------------------------------------------------------------------- */

struct xfer {
    const struct llm_call *call;
    struct llm_reply *r;
    long status;
    int64_t retry_after_ms; /* -1: none given */
    size_t bytes;
    int too_large;
    int idle;
    int cb_rc;
    struct llm_sse sse;
    int64_t last_us;
};

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb;
    x->last_us = llm_now_us();
    if (n > 5 && memcmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', n);
        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        x->retry_after_ms = -1;
    } else if (n > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
        char v[128];
        size_t k = n - 12 < sizeof(v) - 1 ? n - 12 : sizeof(v) - 1;
        memcpy(v, p + 12, k);
        v[k] = '\0';
        char *s = v;
        while (*s == ' ' || *s == '\t')
            s++;
        char *end = NULL;
        errno = 0;
        long long secs = strtoll(s, &end, 10);
        if (end != s && errno == 0 && (*end == '\r' || *end == '\n' || *end == '\0')) {
            if (secs >= 0)
                x->retry_after_ms = secs > RETRY_AFTER_MAX_MS / 1000 ? RETRY_AFTER_MAX_MS
                                                                     : secs * 1000;
        } else {
            s[strcspn(s, "\r\n")] = '\0';
            time_t t = curl_getdate(s, NULL);
            if (t != (time_t)-1) {
                long long d = (long long)(t - time(NULL));
                x->retry_after_ms = d <= 0 ? 0 : d > RETRY_AFTER_MAX_MS / 1000 ? RETRY_AFTER_MAX_MS
                                                                              : d * 1000;
            }
        }
    }
    return n;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb;
    x->last_us = llm_now_us();
    x->bytes += n;
    if (x->bytes > (size_t)x->call->conf->max_response_bytes) {
        x->too_large = 1;
        return 0;
    }
    int ok2xx = x->status >= 200 && x->status < 300;
    if (x->call->stream && ok2xx) {
        int rc = llm_sse_feed(&x->sse, p, n);
        if (rc != DC_OK) {
            x->cb_rc = rc;
            return 0;
        }
        return n;
    }
    if (!ok2xx && x->r->body.len + n > ERROR_BODY_MAX)
        return n; /* quoted only; the rest is not needed */
    if (llm_text_add(&x->r->body, p, n) != DC_OK) {
        x->cb_rc = DC_ENOMEM;
        return 0;
    }
    return n;
}

static int on_progress(void *arg, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
    struct xfer *x = arg;
    int64_t idle = x->call->conf->idle_timeout_ms;
    if (x->call->stream && idle > 0 && llm_now_us() - x->last_us > idle * 1000) {
        x->idle = 1;
        return 1;
    }
    return 0;
}

static int retryable(long status)
{
    return status == 429 || (status >= 500 && status <= 599);
}

/* Full jitter on the upper half: waits spread out, never collapse to 0. */
static int64_t backoff_ms(const struct llm_conf *c, int attempt, unsigned *seed)
{
    int64_t d = c->backoff_ms;
    for (int i = 1; i < attempt && d < c->backoff_max_ms; i++)
        d *= 2;
    if (d > c->backoff_max_ms)
        d = c->backoff_max_ms;
    if (d <= 1)
        return d;
    return d / 2 + (int64_t)((unsigned)rand_r(seed) % (unsigned)(d / 2 + 1));
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int http_error(const struct llm_call *call, const struct llm_reply *r, char *code,
                      size_t codelen, char *err, size_t errlen)
{
    char ex[320];
    const struct llm_conf *c = call->conf;
    llm_error_excerpt(r->body.p, r->body.len, ex, sizeof(ex));
    const char *sep = ex[0] ? ": " : "";
    int rc = DC_ERR;
    if (r->status == 401 || r->status == 403) {
        snprintf(code, codelen, "E-LLM-AUTH");
        snprintf(err, errlen,
                 "llm provider %s: %s refused the credentials (HTTP %ld)%s%s; check the key in "
                 "$%s",
                 c->name, call->url, r->status, sep, ex, c->api_key_env ? c->api_key_env : "(none)");
        rc = DC_EDENIED;
    } else if (r->status == 404) {
        snprintf(code, codelen, "E-LLM-NOT-FOUND");
        snprintf(err, errlen,
                 "llm provider %s: %s answered HTTP 404%s%s; check that the server serves model "
                 "'%s' and that base_url is right",
                 c->name, call->url, sep, ex, c->model);
        rc = DC_ENOTFOUND;
    } else if (retryable(r->status)) {
        snprintf(code, codelen, "E-LLM-RETRIES-EXHAUSTED");
        snprintf(err, errlen,
                 "llm provider %s: %s answered HTTP %ld%s%s, after %d attempt%s (retries: %lld); "
                 "the server is overloaded or failing, try again later or raise retries",
                 c->name, call->url, r->status, sep, ex, r->attempts, r->attempts == 1 ? "" : "s",
                 (long long)c->retries);
        rc = DC_EIO;
    } else {
        snprintf(code, codelen, "E-LLM-REJECTED");
        snprintf(err, errlen, "llm provider %s: %s answered HTTP %ld%s%s", c->name, call->url,
                 r->status, sep, ex);
        rc = DC_EINVAL;
    }
    llm_redact(err, errlen, call->secret);
    return rc;
}

static void reply_reset(struct llm_reply *r)
{
    r->status = 0;
    r->body.len = 0;
    if (r->body.p)
        r->body.p[0] = '\0';
}

int llm_http_post(const struct llm_call *call, struct llm_reply *r, char *code, size_t codelen,
                  char *err, size_t errlen)
{
    const struct llm_conf *c = call->conf;
    int rc = DC_ERR;
    struct curl_slist *hdrs = NULL;
    char cerr[CURL_ERROR_SIZE];
    int64_t t0 = llm_now_us();
    int64_t deadline = t0 + c->timeout_ms * 1000;
    unsigned seed = (unsigned)t0 ^ (unsigned)(uintptr_t)r;
    code[0] = '\0';
    err[0] = '\0';
    memset(r, 0, sizeof(*r));
    CURL *e = curl_easy_init();
    if (!e) {
        snprintf(code, codelen, "E-LLM-INTERNAL");
        snprintf(err, errlen, "llm provider %s: cannot create an HTTP handle", c->name);
        return DC_ENOMEM;
    }
    for (size_t i = 0; call->headers && call->headers[i]; i++) {
        struct curl_slist *n = curl_slist_append(hdrs, call->headers[i]);
        if (!n) {
            rc = DC_ENOMEM;
            snprintf(code, codelen, "E-LLM-INTERNAL");
            snprintf(err, errlen, "llm provider %s: out of memory", c->name);
            goto cleanup;
        }
        hdrs = n;
    }
    for (;;) {
        struct xfer x;
        memset(&x, 0, sizeof(x));
        x.call = call;
        x.r = r;
        x.retry_after_ms = -1;
        x.last_us = llm_now_us();
        llm_sse_init(&x.sse, (size_t)c->max_response_bytes, call->on_event, call->arg);
        reply_reset(r);
        r->attempts++;
        int64_t left_ms = (deadline - llm_now_us()) / 1000;
        if (left_ms < 1)
            left_ms = 1;
        cerr[0] = '\0';
        curl_easy_reset(e);
        curl_easy_setopt(e, CURLOPT_URL, call->url);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(call->body));
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)left_ms);
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response_bytes);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, &x);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &x);
        curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(e, CURLOPT_XFERINFODATA, &x);
        curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
        CURLcode res = curl_easy_perform(e);
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        r->status = status ? status : x.status;
        if (res == CURLE_OK && call->stream && r->status >= 200 && r->status < 300 && !x.cb_rc)
            x.cb_rc = llm_sse_finish(&x.sse);
        llm_sse_free(&x.sse);
        r->latency_us = llm_now_us() - t0;

        if (x.too_large || res == CURLE_FILESIZE_EXCEEDED) {
            snprintf(code, codelen, "E-LLM-TOO-LARGE");
            snprintf(err, errlen,
                     "llm provider %s: the answer from %s is larger than max_response_bytes "
                     "(%lld bytes); the server sent far more than a reply should hold",
                     c->name, call->url, (long long)c->max_response_bytes);
            rc = DC_ELIMIT;
            goto cleanup;
        }
        if (x.cb_rc) {
            rc = x.cb_rc;
            if (rc == DC_ELIMIT || rc == DC_ENOMEM) {
                snprintf(code, codelen, rc == DC_ELIMIT ? "E-LLM-TOO-LARGE" : "E-LLM-INTERNAL");
                snprintf(err, errlen, "llm provider %s: the streamed answer from %s %s", c->name,
                         call->url,
                         rc == DC_ELIMIT ? "has a line longer than max_response_bytes"
                                         : "did not fit in memory");
            }
            goto cleanup;
        }
        if (x.idle) {
            snprintf(code, codelen, "E-LLM-STREAM-IDLE");
            snprintf(err, errlen,
                     "llm provider %s: the stream from %s went silent for more than "
                     "idle_timeout_ms (%lld ms); the server stalled, try again or raise "
                     "idle_timeout_ms",
                     c->name, call->url, (long long)c->idle_timeout_ms);
            rc = DC_ETIMEOUT;
            goto cleanup;
        }
        if (res == CURLE_OPERATION_TIMEDOUT) {
            double ct = 0;
            curl_easy_getinfo(e, CURLINFO_CONNECT_TIME, &ct);
            if (ct <= 0) {
                snprintf(code, codelen, "E-LLM-UNREACHABLE");
                snprintf(err, errlen,
                         "llm provider %s: cannot connect to %s within connect_timeout_ms (%lld "
                         "ms); is the server running? check base_url",
                         c->name, call->url, (long long)c->connect_timeout_ms);
            } else {
                snprintf(code, codelen, "E-LLM-TIMEOUT");
                snprintf(err, errlen,
                         "llm provider %s: no complete answer from %s within timeout_ms (%lld "
                         "ms); raise timeout_ms or use a smaller model",
                         c->name, call->url, (long long)c->timeout_ms);
            }
            rc = DC_ETIMEOUT;
            goto cleanup;
        }
        if (res != CURLE_OK) {
            int unreachable = res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST ||
                              res == CURLE_COULDNT_RESOLVE_PROXY;
            snprintf(code, codelen, unreachable ? "E-LLM-UNREACHABLE" : "E-LLM-TRANSPORT");
            snprintf(err, errlen, "llm provider %s: %s %s: %s%s", c->name,
                     unreachable ? "cannot reach" : "the exchange failed with", call->url,
                     cerr[0] ? cerr : curl_easy_strerror(res),
                     unreachable ? "; is the server running? check base_url" : "");
            rc = DC_EIO;
            goto cleanup;
        }
        if (r->status >= 200 && r->status < 300) {
            rc = DC_OK;
            goto cleanup;
        }
        if (!retryable(r->status) || r->attempts > c->retries) {
            rc = http_error(call, r, code, codelen, err, errlen);
            goto cleanup;
        }
        int64_t wait = x.retry_after_ms >= 0 ? x.retry_after_ms : backoff_ms(c, r->attempts, &seed);
        if (llm_now_us() + wait * 1000 >= deadline) {
            rc = http_error(call, r, code, codelen, err, errlen);
            if (x.retry_after_ms >= 0) {
                size_t k = strlen(err);
                snprintf(err + k, errlen - k,
                         " (the server asked to retry after %lld ms, past the timeout_ms budget)",
                         (long long)x.retry_after_ms);
            }
            goto cleanup;
        }
        sleep_ms(wait);
        r->retry_wait_us += wait * 1000;
    }
cleanup:
    r->latency_us = llm_now_us() - t0;
    llm_redact(err, errlen, call->secret);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(e);
    return rc;
}

void llm_reply_clear(struct llm_reply *r)
{
    textbuf_free(&r->body);
}

/* ---- requests and outcomes ------------------------------------------------------ */

int llm_req_parse(const struct llm_conf *c, const char *text, struct llm_req *q, char *err,
                  size_t errlen)
{
    json_error_t je;
    memset(q, 0, sizeof(*q));
    q->max_tokens = c->max_tokens;
    q->temperature = c->temperature;
    q->stream = c->stream;
    q->root = json_loads(text ? text : "", JSON_REJECT_DUPLICATES, &je);
    if (!q->root || !json_is_object(q->root)) {
        snprintf(err, errlen, "llm provider %s: the request is not a JSON object%s%s", c->name,
                 q->root ? "" : ": ", q->root ? "" : je.text);
        goto fail;
    }
    q->messages = json_object_get(q->root, "messages");
    if (!json_is_array(q->messages) || json_array_size(q->messages) == 0) {
        snprintf(err, errlen, "llm provider %s: the request needs a non-empty \"messages\" array",
                 c->name);
        goto fail;
    }
    size_t i;
    json_t *m;
    json_array_foreach(q->messages, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!json_is_object(m) || !role || !json_is_string(json_object_get(m, "content")) ||
            (strcmp(role, "system") != 0 && strcmp(role, "user") != 0 &&
             strcmp(role, "assistant") != 0)) {
            snprintf(err, errlen,
                     "llm provider %s: messages[%zu] must be {\"role\": system|user|assistant, "
                     "\"content\": TEXT}",
                     c->name, i);
            goto fail;
        }
    }
    json_t *v = json_object_get(q->root, "max_tokens");
    if (v) {
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            snprintf(err, errlen, "llm provider %s: max_tokens must be a positive integer",
                     c->name);
            goto fail;
        }
        q->max_tokens = json_integer_value(v);
    }
    v = json_object_get(q->root, "temperature");
    if (v) {
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 2) {
            snprintf(err, errlen, "llm provider %s: temperature must be a number from 0 to 2",
                     c->name);
            goto fail;
        }
        q->temperature = json_number_value(v);
    }
    v = json_object_get(q->root, "stream");
    if (v) {
        if (!json_is_boolean(v)) {
            snprintf(err, errlen, "llm provider %s: stream must be true or false", c->name);
            goto fail;
        }
        q->stream = json_is_true(v);
    }
    v = json_object_get(q->root, "json");
    if (v) {
        if (!json_is_boolean(v)) {
            snprintf(err, errlen, "llm provider %s: json must be true or false", c->name);
            goto fail;
        }
        q->json = json_is_true(v);
    }
    v = json_object_get(q->root, "json_schema");
    if (v) {
        if (!json_is_object(v)) {
            snprintf(err, errlen, "llm provider %s: json_schema must be a JSON Schema object",
                     c->name);
            goto fail;
        }
        q->json_schema = v;
        q->json = 1;
    }
    return DC_OK;
fail:
    llm_req_clear(q);
    return DC_EINVAL;
}

void llm_req_clear(struct llm_req *q)
{
    json_decref(q->root);
    memset(q, 0, sizeof(*q));
}

int llm_fail(const struct dc_host *h, struct dc_ctx *ctx, const struct llm_conf *c, int rc,
             const char *code, char *err, size_t errlen, const char *secret)
{
    llm_redact(err, errlen, secret);
    h->ctx_trace(ctx, "llm %s (%s): %s", c->name, c->model, code);
    h->ctx_fail(ctx, code, "%s", err);
    return rc < 0 ? rc : DC_ERR;
}

int llm_done(const struct dc_host *h, struct dc_ctx *ctx, const struct llm_conf *c,
             const char *text, int64_t in_tokens, int64_t out_tokens, const struct llm_reply *r,
             int stream, const char *finish)
{
    char *usage = llm_usage_json(c, in_tokens, out_tokens, r, stream, finish);
    int rc = usage ? DC_OK : DC_ENOMEM;
    if (rc == DC_OK)
        rc = h->ctx_set(ctx, "llm.reply", text);
    if (rc == DC_OK)
        rc = h->ctx_set(ctx, "llm.usage", usage);
    free(usage);
    if (rc != DC_OK) {
        h->ctx_fail(ctx, "E-LLM-INTERNAL", "llm provider %s: out of memory", c->name);
        return rc;
    }
    h->ctx_trace(ctx, "llm %s (%s): %lld+%lld tokens in %lld ms, %d attempt%s%s", c->name,
                 c->model, (long long)in_tokens, (long long)out_tokens,
                 (long long)(r->latency_us / 1000), r->attempts, r->attempts == 1 ? "" : "s",
                 stream ? ", streamed" : "");
    return DC_OK;
}

int llm_complete_call(const struct dc_host *h, struct dc_ctx *ctx, const struct llm_conf *c,
                      struct llm_limiter *lim, const struct llm_provider *p, const void *st,
                      const char *extra_header, const char *request_json)
{
    char err[1024] = "", code[32] = "";
    const char *key = NULL;
    char *body = NULL, *url = NULL, *auth = NULL;
    struct llm_req q;
    struct llm_reply r;
    struct llm_acc a;
    int rc, entered = 0;
    memset(&q, 0, sizeof(q));
    memset(&r, 0, sizeof(r));
    memset(&a, 0, sizeof(a));
    a.conf = c;
    a.p = p;

    if ((rc = llm_conf_key(c, &key, err, sizeof(err))) != DC_OK) {
        snprintf(code, sizeof(code), "E-LLM-NO-KEY");
        goto cleanup;
    }
    if ((rc = llm_req_parse(c, request_json, &q, err, sizeof(err))) != DC_OK) {
        snprintf(code, sizeof(code), "E-LLM-REQUEST");
        goto cleanup;
    }
    body = p->build_body(st, &q, h, ctx);
    size_t ul = strlen(c->base_url) + strlen(p->path) + 1;
    url = malloc(ul);
    if (key) {
        size_t al = strlen(p->key_header) + strlen(key) + 1;
        auth = malloc(al);
        if (auth)
            snprintf(auth, al, "%s%s", p->key_header, key);
    }
    if (!body || !url || (key && !auth)) {
        rc = DC_ENOMEM;
        snprintf(code, sizeof(code), "E-LLM-INTERNAL");
        snprintf(err, sizeof(err), "llm provider %s: out of memory", c->name);
        goto cleanup;
    }
    snprintf(url, ul, "%s%s", c->base_url, p->path);
    /* A missing extra header leaves the key in its slot, never a gap. */
    const char *headers[] = {"Content-Type: application/json",
                             q.stream ? "Accept: text/event-stream" : "Accept: application/json",
                             extra_header ? extra_header : auth, extra_header ? auth : NULL,
                             NULL};
    if ((rc = llm_limiter_enter(lim, llm_now_us() + c->timeout_ms * 1000)) != DC_OK) {
        snprintf(code, sizeof(code), "E-LLM-BUSY");
        snprintf(err, sizeof(err),
                 "llm provider %s: all %lld slots (max_concurrency) stayed busy for "
                 "timeout_ms (%lld ms); raise max_concurrency or try again",
                 c->name, (long long)c->max_concurrency, (long long)c->timeout_ms);
        goto cleanup;
    }
    entered = 1;
    struct llm_call call = {.conf = c,
                            .url = url,
                            .headers = headers,
                            .body = body,
                            .stream = q.stream,
                            .on_event = p->on_event,
                            .arg = &a,
                            .secret = key};
    rc = llm_http_post(&call, &r, code, sizeof(code), err, sizeof(err));
    if (rc == DC_OK && !q.stream)
        rc = p->parse_plain(&a, r.body.p ? r.body.p : "", r.body.len);
    if (rc == DC_OK && q.stream && !a.done && !(p->finish_ends_stream && a.finish[0])) {
        char what[96];
        snprintf(what, sizeof(what), "the stream ended before %s", p->stream_end);
        rc = llm_bad_reply(&a, what);
    }
    if (rc != DC_OK && !code[0]) {
        snprintf(code, sizeof(code), "%s", a.code[0] ? a.code : "E-LLM-INTERNAL");
        if (a.err[0])
            snprintf(err, sizeof(err), "%s", a.err);
        else
            snprintf(err, sizeof(err), "llm provider %s: out of memory", c->name);
    }
    if (rc == DC_OK)
        rc = llm_done(h, ctx, c, a.text.p ? a.text.p : "", a.in_tokens, a.out_tokens, &r,
                      q.stream, a.finish[0] ? a.finish : NULL);
cleanup:
    if (entered)
        llm_limiter_leave(lim);
    if (rc != DC_OK && code[0]) {
        /* A failed call is accounted for too: which model, how long. */
        char *usage = llm_usage_json(c, a.in_tokens, a.out_tokens, &r, q.stream, NULL);
        if (usage)
            h->ctx_set(ctx, "llm.usage", usage);
        free(usage);
        rc = llm_fail(h, ctx, c, rc, code, err, sizeof(err), key);
    }
    if (auth) {
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    free(url);
    free(body);
    textbuf_free(&a.text);
    llm_reply_clear(&r);
    llm_req_clear(&q);
    return rc;
}

int llm_bad_reply(struct llm_acc *a, const char *what)
{
    snprintf(a->code, sizeof(a->code), "E-LLM-BAD-REPLY");
    snprintf(a->err, sizeof(a->err), "llm provider %s: the answer is not %s (%s); %s",
             a->conf->name, a->p->reply_kind, what, a->p->reply_hint);
    return DC_EINVAL;
}

int llm_stream_error(struct llm_acc *a, const char *data, size_t len)
{
    char ex[320];
    llm_error_excerpt(data, len, ex, sizeof(ex));
    snprintf(a->code, sizeof(a->code), "E-LLM-STREAM-ERROR");
    snprintf(a->err, sizeof(a->err),
             "llm provider %s: the server reported an error in the stream: %s", a->conf->name, ex);
    return DC_EIO;
}

json_t *llm_reply_object(struct llm_acc *a, const char *body, size_t len, int *rc)
{
    json_error_t je;
    json_t *o = json_loadb(body, len, 0, &je);
    *rc = DC_OK;
    if (!o || !json_is_object(o)) {
        char what[200];
        snprintf(what, sizeof(what), "not a JSON object: %s at byte %d", o ? "other JSON" : je.text,
                 je.position);
        json_decref(o);
        *rc = llm_bad_reply(a, what);
        return NULL;
    }
    return o;
}

void llm_read_usage(struct llm_acc *a, json_t *usage, const char *in_key, const char *out_key)
{
    json_t *i = json_object_get(usage, in_key);
    json_t *o = json_object_get(usage, out_key);
    if (json_is_integer(i))
        a->in_tokens = json_integer_value(i);
    if (json_is_integer(o))
        a->out_tokens = json_integer_value(o);
}
