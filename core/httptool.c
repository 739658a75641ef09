#include "httptool.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <datachat/value.h>

#include "config.h"
#include "ctx.h"
#include "jschema.h"
#include "netlib.h"
#include "util.h"

static const struct dc_option http_options[] = {
    {"endpoint", DC_OPT_STRING, 1, NULL, "the URL called (http or https)"},
    {"method", DC_OPT_STRING, 0, "POST", "POST (arguments as a JSON body) or GET (query string)"},
    {"allowed_hosts", DC_OPT_LIST, 1, NULL, "host names the endpoint may name"},
    {"auth_token_env", DC_OPT_ENV, 0, NULL,
     "environment variable holding a bearer token (sent, never logged)"},
    {"description", DC_OPT_STRING, 0, "HTTP tool", "what the tool does, for tools list"},
    {"parameters", DC_OPT_STRING, 0, "{\"type\":\"object\"}",
     "JSON Schema of the arguments (JSON text)"},
    {"response_schema", DC_OPT_STRING, 0, NULL, "JSON Schema the response body must match"},
    {"max_response_bytes", DC_OPT_INT, 0, "1048576", "largest response accepted"},
    {"connect_timeout_ms", DC_OPT_INT, 0, "2000", "connection budget"},
    {"timeout_ms", DC_OPT_INT, 0, "10000", "whole-request budget"},
    DC_OPTIONS_END};

struct httptool {
    char *name;
    char *endpoint;
    int get;
    char *token_env;
    char *description;
    char *params;
    json_t *response_schema;
    int64_t max_bytes, connect_ms, total_ms;
};

struct body {
    char *p;
    size_t n, cap;
    int too_big;
};

int httptool_is_use(const char *use)
{
    return use && strcmp(use, "http") == 0;
}

const struct dc_option *httptool_options(void)
{
    return http_options;
}

void httptool_free(struct httptool *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->endpoint);
    free(t->token_env);
    free(t->description);
    free(t->params);
    json_decref(t->response_schema);
    free(t);
}

const char *httptool_description(const struct httptool *t)
{
    return t->description;
}

const char *httptool_params_schema(const struct httptool *t)
{
    return t->params;
}

static int host_allowed(const struct dc_opts *with, const char *host)
{
    for (size_t i = 0; i < opts_list_len(with, "allowed_hosts"); i++)
        if (strcasecmp(opts_list_item(with, "allowed_hosts", i), host) == 0)
            return 1;
    return 0;
}

/* The endpoint's scheme and host, checked once here: redirects are off
 * and proxies are not used, so the request goes to this host only. */
static int check_endpoint(const char *name, const struct dc_opts *with, const char *url,
                          char *err, size_t errlen)
{
    char *scheme = NULL, *host = NULL, why[256];
    int rc = netlib_url_parts(url, &scheme, &host, why, sizeof(why));
    if (rc == DC_EINVAL)
        rc = util_err(err, errlen, DC_EINVAL, "E-HTTP-TOOL-ENDPOINT: tool '%s': endpoint '%s' "
                      "is not a URL", name, url);
    else if (rc != DC_OK)
        rc = util_err(err, errlen, rc, "tool '%s': %s", name, why);
    else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
        rc = util_err(err, errlen, DC_EINVAL, "E-HTTP-TOOL-ENDPOINT: tool '%s': endpoint "
                      "scheme '%s' is not http or https", name, scheme);
    else if (!host_allowed(with, host))
        rc = util_err(err, errlen, DC_EDENIED, "E-HTTP-TOOL-HOST: tool '%s': endpoint host '%s' "
                      "is not in allowed_hosts; add it there if it is trusted", name, host);
    free(scheme);
    free(host);
    return rc;
}

static int int_opt(const struct dc_opts *with, const char *key, int64_t lo, int64_t hi,
                   int64_t *out, const char *name, char *err, size_t errlen)
{
    if (opts_int(with, key, out) != DC_OK || *out < lo || *out > hi)
        return util_err(err, errlen, DC_EINVAL, "E-HTTP-TOOL-OPTION: tool '%s': %s must be "
                        "an integer from %lld to %lld", name, key, (long long)lo,
                        (long long)hi);
    return DC_OK;
}

int httptool_open(const char *name, const struct dc_opts *with, struct httptool **out,
                  char *err, size_t errlen)
{
    struct httptool *t = calloc(1, sizeof(*t));
    int rc = DC_OK;
    json_error_t je;
    if (!t)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    const char *endpoint = opts_str(with, "endpoint");
    const char *method = opts_str(with, "method");
    const char *params = opts_str(with, "parameters");
    const char *resp = opts_str(with, "response_schema");
    t->name = util_strdup(name);
    t->endpoint = util_strdup(endpoint ? endpoint : "");
    t->description = util_strdup(opts_str(with, "description"));
    t->params = util_strdup(params ? params : "{\"type\":\"object\"}");
    t->token_env = util_strdup(opts_str(with, "auth_token_env"));
    if (!t->name || !t->endpoint || !t->params) {
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = check_endpoint(name, with, t->endpoint, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    if (method && strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
        rc = util_err(err, errlen, DC_EINVAL, "E-HTTP-TOOL-OPTION: tool '%s': method '%s' is "
                      "not GET or POST", name, method);
        goto cleanup;
    }
    t->get = method && strcmp(method, "GET") == 0;
    json_t *ps = json_loads(t->params, 0, &je);
    if (!json_is_object(ps)) {
        json_decref(ps);
        rc = util_err(err, errlen, DC_EINVAL, "E-HTTP-TOOL-OPTION: tool '%s': parameters is "
                      "not a JSON Schema object (%s)", name, je.text);
        goto cleanup;
    }
    json_decref(ps);
    if (resp) {
        t->response_schema = json_loads(resp, 0, &je);
        if (!json_is_object(t->response_schema)) {
            rc = util_err(err, errlen, DC_EINVAL, "E-HTTP-TOOL-OPTION: tool '%s': "
                          "response_schema is not a JSON Schema object (%s)", name, je.text);
            goto cleanup;
        }
    }
    rc = int_opt(with, "max_response_bytes", 1, 64 << 20, &t->max_bytes, name, err, errlen);
    if (rc == DC_OK)
        rc = int_opt(with, "connect_timeout_ms", 1, 600000, &t->connect_ms, name, err, errlen);
    if (rc == DC_OK)
        rc = int_opt(with, "timeout_ms", 1, 600000, &t->total_ms, name, err, errlen);
cleanup:
    if (rc != DC_OK) {
        httptool_free(t);
        return rc;
    }
    *out = t;
    return DC_OK;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    size_t n = size * nmemb;
    if (b->n + n > b->cap) {
        b->too_big = 1;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    return n;
}

/* GET: the arguments as name=value pairs; objects and arrays as JSON. */
static char *query_url(const struct netlib_curl *cu, CURL *c, const char *endpoint,
                       const char *args_json)
{
    json_t *a = json_loads(args_json, 0, NULL);
    struct sbuf sb;
    sbuf_init(&sb);
    sbuf_adds(&sb, endpoint);
    char sep = strchr(endpoint, '?') ? '&' : '?';
    const char *k;
    json_t *v;
    json_object_foreach(a, k, v)
    {
        char *txt = json_is_string(v) ? util_strdup(json_string_value(v))
                                      : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        char *ek = cu->easy_escape(c, k, 0), *ev = txt ? cu->easy_escape(c, txt, 0) : NULL;
        if (ek && ev)
            sbuf_addf(&sb, "%c%s=%s", sep, ek, ev);
        sep = '&';
        cu->free(ek);
        cu->free(ev);
        free(txt);
    }
    json_decref(a);
    return sbuf_detach(&sb);
}

static int method_ok(const char *m)
{
    static const char *const ok[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    for (size_t i = 0; m && i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcmp(m, ok[i]) == 0)
            return 1;
    return 0;
}

/* Credentials in the URL would be sent as Basic auth to whatever host the
 * allow list let through; they are refused rather than stripped. */
static int url_has_userinfo(const struct netlib_curl *cu, const char *url)
{
    CURLU *u = cu->url();
    char *user = NULL;
    int has = !u || cu->url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
              cu->url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK;
    cu->free(user);
    cu->url_cleanup(u);
    return has;
}

void httptool_url_host(const char *url, char *out, size_t outlen)
{
    char nerr[8];
    const struct netlib_curl *cu = netlib_curl(nerr, sizeof(nerr));
    if (outlen)
        out[0] = '\0';
    if (!cu)
        return;
    CURLU *u = cu->url();
    char *host = NULL;
    if (u && url && cu->url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        cu->url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && outlen)
        snprintf(out, outlen, "%s", host);
    cu->free(host);
    cu->url_cleanup(u);
}

int httptool_fetch(const struct httptool_request *rq, long *status, char **resp, size_t *nresp,
                   char *err, size_t errlen)
{
    int rc = DC_OK;
    struct body b = {.cap = rq->max_bytes > 0 ? (size_t)rq->max_bytes : 0};
    struct curl_slist *hdrs = NULL;
    CURL *c = NULL;
    *status = 0;
    *resp = NULL;
    *nresp = 0;
    if (!method_ok(rq->method))
        return util_err(err, errlen, DC_EINVAL, "E-HTTP-METHOD: method '%.40s' is not GET, "
                        "POST, PUT, PATCH or DELETE", rq->method ? rq->method : "(none)");
    const struct netlib_curl *cu = netlib_curl(err, errlen);
    if (!cu)
        return DC_EIO;
    if (!rq->url || url_has_userinfo(cu, rq->url))
        return util_err(err, errlen, DC_EINVAL, "E-HTTP-URL: the URL is not valid or carries "
                        "user:password@; credentials are never sent from a URL");
    c = cu->easy_init();
    b.p = malloc(b.cap + 1);
    if (!c || !b.p) {
        rc = util_err(err, errlen, DC_ENOMEM, "E-HTTP: out of memory");
        goto cleanup;
    }
    for (size_t i = 0; rq->headers && rq->headers[i]; i++) {
        struct curl_slist *n = cu->slist_append(hdrs, rq->headers[i]);
        if (!n) {
            rc = util_err(err, errlen, DC_ENOMEM, "E-HTTP: out of memory");
            goto cleanup;
        }
        hdrs = n;
    }
    cu->easy_setopt(c, CURLOPT_URL, rq->url);
    cu->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    cu->easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    cu->easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    cu->easy_setopt(c, CURLOPT_PROXY, ""); /* the allow list names the real peer */
    cu->easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
    cu->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)rq->connect_ms);
    cu->easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)rq->total_ms);
    cu->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    cu->easy_setopt(c, CURLOPT_WRITEDATA, &b);
    cu->easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)rq->max_bytes);
    if (hdrs)
        cu->easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "POST") != 0)
        cu->easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    if (rq->body || strcmp(rq->method, "POST") == 0)
        cu->easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
    CURLcode cc = cu->easy_perform(c);
    cu->easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (b.too_big || cc == CURLE_FILESIZE_EXCEEDED)
        rc = util_err(err, errlen, DC_ELIMIT, "E-HTTP-TOO-LARGE: the response is larger than "
                      "%lld bytes", (long long)rq->max_bytes);
    else if (cc == CURLE_OPERATION_TIMEDOUT)
        rc = util_err(err, errlen, DC_ETIMEOUT, "E-HTTP-TIMEOUT: no complete response within "
                      "the timeouts (connect %lld ms, total %lld ms)",
                      (long long)rq->connect_ms, (long long)rq->total_ms);
    else if (cc != CURLE_OK) /* curl's message names the host at most; never the headers */
        rc = util_err(err, errlen, DC_EIO, "E-HTTP-CONNECT: %s", cu->easy_strerror(cc));
    if (rc != DC_OK)
        goto cleanup;
    b.p[b.n] = '\0';
    *resp = b.p;
    *nresp = b.n;
    b.p = NULL;
cleanup:
    cu->slist_free_all(hdrs);
    if (c)
        cu->easy_cleanup(c);
    free(b.p);
    return rc;
}

int httptool_call(struct httptool *t, const char *args_json, struct dc_ctx *ctx)
{
    int rc = DC_OK;
    char *url = NULL, *auth = NULL, *resp = NULL;
    size_t nresp = 0;
    long status = 0;
    json_t *body = NULL;
    char ferr[512] = "";
    const struct netlib_curl *cu = netlib_curl(ferr, sizeof(ferr));
    if (!cu) {
        ctx_fail(ctx, "E-HTTP-TOOL", "%s", ferr);
        return DC_EIO;
    }
    CURL *c = cu->easy_init(); /* only for escaping the query string */
    if (!c) {
        ctx_fail(ctx, "E-HTTP-TOOL", "out of memory");
        return DC_ENOMEM;
    }
    url = t->get ? query_url(cu, c, t->endpoint, args_json) : util_strdup(t->endpoint);
    const char *tok = t->token_env ? getenv(t->token_env) : NULL;
    if (t->token_env && (!tok || !*tok)) {
        ctx_fail(ctx, "E-HTTP-TOOL-TOKEN", "tool '%s': environment variable %s (auth_token_env) "
                 "is not set", t->name, t->token_env);
        rc = DC_EINVAL;
        goto cleanup;
    }
    if (tok) {
        size_t n = strlen(tok) + 32;
        auth = malloc(n);
        if (auth)
            snprintf(auth, n, "Authorization: Bearer %s", tok);
    }
    if (!url || (tok && !auth)) {
        ctx_fail(ctx, "E-HTTP-TOOL", "out of memory");
        rc = DC_ENOMEM;
        goto cleanup;
    }
    const char *hdrs[] = {"Accept: application/json",
                          t->get ? auth : "Content-Type: application/json", t->get ? NULL : auth,
                          NULL};
    const struct httptool_request rq = {.method = t->get ? "GET" : "POST",
                                        .url = url,
                                        .body = t->get ? NULL : args_json,
                                        .headers = hdrs,
                                        .connect_ms = t->connect_ms,
                                        .total_ms = t->total_ms,
                                        .max_bytes = t->max_bytes};
    rc = httptool_fetch(&rq, &status, &resp, &nresp, ferr, sizeof(ferr));
    if (rc == DC_ELIMIT) {
        ctx_fail(ctx, "E-HTTP-TOOL-TOO-LARGE", "tool '%s': the response is larger than "
                 "max_response_bytes (%lld)", t->name, (long long)t->max_bytes);
    } else if (rc == DC_ETIMEOUT) {
        ctx_fail(ctx, "E-HTTP-TOOL-TIMEOUT", "tool '%s': no complete response within the "
                 "timeouts (connect %lld ms, total %lld ms)", t->name,
                 (long long)t->connect_ms, (long long)t->total_ms);
    } else if (rc != DC_OK) {
        const char *why = strncmp(ferr, "E-HTTP-CONNECT: ", 16) == 0 ? ferr + 16 : ferr;
        ctx_fail(ctx, rc == DC_EINVAL ? "E-HTTP-TOOL-ENDPOINT" : "E-HTTP-TOOL-CONNECT",
                 "tool '%s': %s", t->name, why);
    }
    if (rc != DC_OK)
        goto cleanup;
    json_error_t je;
    body = json_loadb(resp, nresp, JSON_DECODE_ANY, &je);
    if (status < 200 || status > 299) {
        ctx_fail(ctx, "E-HTTP-TOOL-STATUS", "tool '%s': the endpoint answered HTTP %ld%s",
                 t->name, status, status >= 300 && status < 400 ? " (redirects are not followed)"
                                                               : "");
        rc = DC_EIO;
        goto cleanup;
    }
    if (!body) {
        ctx_fail(ctx, "E-HTTP-TOOL-RESPONSE", "tool '%s': the response is not JSON (%s)", t->name,
                 je.text);
        rc = DC_EIO;
        goto cleanup;
    }
    char verr[512];
    if (t->response_schema &&
        jschema_validate(t->response_schema, &body, "response", verr, sizeof(verr)) != DC_OK) {
        ctx_fail(ctx, "E-HTTP-TOOL-RESPONSE", "tool '%s': %s", t->name, verr);
        rc = DC_EIO;
        goto cleanup;
    }
    json_t *res = json_pack("{s:i, s:O}", "status", (int)status, "body", body);
    char *txt = res ? json_dumps(res, JSON_COMPACT) : NULL;
    json_decref(res);
    rc = txt ? ctx_set(ctx, "result", txt) : DC_ENOMEM;
    free(txt);
cleanup:
    json_decref(body);
    cu->easy_cleanup(c);
    if (auth) {
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    free(url);
    free(resp);
    return rc;
}
