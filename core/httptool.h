/*
 * httptool - tier-5 tools described in YAML (`use: http` in `tools:`): one
 * HTTP endpoint called with the tool's arguments as a JSON body (POST) or
 * query string (GET), through libcurl.
 * It owns the endpoint's checks: the host must be on the tool's allow list,
 * only http/https, no redirects, connect and total timeouts, a response
 * size cap, and the response checked against its schema. The bearer token
 * comes from an environment variable and is never logged or echoed.
 */
#ifndef DC_HTTPTOOL_H
#define DC_HTTPTOOL_H

#include <stddef.h>

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

/* Calls the endpoint with args_json (validated); the reply's JSON becomes
 * ctx "result" ({"status": N, "body": ...}); failures E-HTTP-TOOL-*. */
int httptool_call(struct httptool *t, const char *args_json, struct dc_ctx *ctx);

#endif
