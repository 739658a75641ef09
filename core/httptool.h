/*
 * httptool - tier-5 tools described in YAML (`use: http` in `tools:`): one
 * HTTP endpoint called with the tool's arguments as a JSON body (POST) or
 * query string (GET), through libcurl.
 * It owns the endpoint's checks: the host must be on the tool's allow list,
 * only http/https, no redirects, connect and total timeouts, a response
 * size cap, and the response checked against its schema. The bearer token
 * comes from an environment variable and is never logged or echoed.
 * It also owns the core's one libcurl request path (httptool_fetch), used
 * by these tools and by the transport sandboxed tools' HTTP goes through;
 * it never decides which hosts are allowed for that path (its caller does).
 */
#ifndef DC_HTTPTOOL_H
#define DC_HTTPTOOL_H

#include <stddef.h>
#include <stdint.h>

#include <datachat/plugin.h>

struct httptool;
struct dc_ctx;

/* Non-zero when a tool's `use:` is "http". */
int httptool_is_use(const char *use);
/* The options `with:` takes; config.c checks them like a plugin's. */
const struct dc_option *httptool_options(void);

/* Checks the options (endpoint host allowed, schemas are JSON, method).
 * name is the tool's name for messages. */
int httptool_open(const char *name, const struct dc_opts *with, struct httptool **out,
                  char *err, size_t errlen);
void httptool_free(struct httptool *t);
const char *httptool_description(const struct httptool *t);
const char *httptool_params_schema(const struct httptool *t);

/* One request. headers are extra "Name: value" lines (NULL-terminated, may
 * be NULL); body NULL sends none. */
struct httptool_request {
    const char *method;  /* GET, POST, PUT, PATCH or DELETE */
    const char *url;     /* http or https, no user:password@ */
    const char *body;
    const char *const *headers;
    int64_t connect_ms, total_ms, max_bytes;
};

/* Performs rq with the hardening every core request gets: http/https only,
 * no redirects followed, no proxy, no .netrc or URL credentials, connect
 * and total timeouts, a response size cap. On DC_OK *status, *resp (malloc'ed,
 * NUL-terminated) and *nresp; otherwise DC_EINVAL (bad method or URL),
 * DC_ELIMIT (too large), DC_ETIMEOUT, DC_EIO or DC_ENOMEM with
 * "E-HTTP-...: text" in err. Any HTTP status is DC_OK: the caller judges. */
int httptool_fetch(const struct httptool_request *rq, long *status, char **resp, size_t *nresp,
                   char *err, size_t errlen);

/* The host of an http(s) URL into out ("" when it has none or is not a
 * URL); for records that must not carry the URL's path or query. */
void httptool_url_host(const char *url, char *out, size_t outlen);

/* Calls the endpoint with args_json (validated); the reply's JSON becomes
 * ctx "result" ({"status": N, "body": ...}); failures E-HTTP-TOOL-*. */
int httptool_call(struct httptool *t, const char *args_json, struct dc_ctx *ctx);

#endif
