/*
 * sbhttp - a tool plugin that fetches args.url through the host table's
 * http_request (ABI 1.4) and answers {"status": N, "body": "..."}; a
 * refusal becomes the tool's error with the core's code. Sandboxed, the
 * request travels to the core over IPC; in the core it is made there.
 */
#include <stdio.h>
#include <string.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

static int http_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                     char *err, size_t errlen)
{
    (void)opts;
    if (!DC_HOST_HAS(h, http_request)) {
        snprintf(err, errlen, "the host has no http_request (ABI < 1.4)");
        return DC_EUNSUPPORTED;
    }
    *state = (void *)h;
    return DC_OK;
}

static int http_invoke(void *state, struct dc_ctx *ctx)
{
    const struct dc_host *h = state;
    struct dc_value url;
    if (h->ctx_arg(ctx, "url", &url) != DC_OK || url.type != DC_TEXT) {
        h->ctx_fail(ctx, "E-TOOL-ARGS", "url (a string) is required");
        return DC_EINVAL;
    }
    char u[2048];
    snprintf(u, sizeof(u), "%.*s", (int)url.v.s.n, url.v.s.p);
    static const char *const headers[] = {"Accept: application/json", NULL};
    long status = 0;
    const char *body = NULL;
    char err[512] = "";
    int rc = h->http_request(h, ctx, "GET", u, headers, NULL, &status, &body, err, sizeof(err));
    if (rc != DC_OK) {
        char code[49] = "E-TOOL-FAILED";
        size_t n = strcspn(err, ":");
        if (strncmp(err, "E-", 2) == 0 && n < sizeof(code))
            snprintf(code, sizeof(code), "%.*s", (int)n, err);
        h->ctx_fail(ctx, code, "%s", err);
        return rc;
    }
    struct dc_value s = dc_value_int(status);
    struct dc_value b = dc_value_text(body, strlen(body));
    if (h->ctx_result_set(ctx, "status", &s) != DC_OK || h->ctx_result_set(ctx, "body", &b) != DC_OK)
        return DC_ENOMEM;
    return DC_OK;
}

static const struct dc_option http_options[] = {DC_OPTIONS_END};

static const struct dc_tool_vtable http_vt = {
    .struct_size = sizeof(struct dc_tool_vtable),
    .options = http_options,
    .description = "fetches a URL through the host's http_request",
    .params_schema = "{\"type\":\"object\",\"properties\":{\"url\":{\"type\":\"string\"}},"
                     "\"required\":[\"url\"]}",
    .tier = 5,
    .init = http_init,
    .invoke = http_invoke,
};

DC_PLUGIN_DEFINE(DC_KIND_TOOL, "sbhttp", "1.0.0", "MIT", "sandbox http_request test tool",
                 &http_vt)
