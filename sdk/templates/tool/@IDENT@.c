/*
 * @NAME@ - a DataChat tool plugin.
 *
 * invoke() reads the call's JSON arguments through the host (ctx_arg) and
 * sets members of the JSON result (ctx_result_set), so the plugin needs no
 * JSON library. Options are declared in @IDENT@_options; the host checks
 * a configured `with:` block against them before init() runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#define @IDENT@_PREFIX_MAX 32
#define @IDENT@_TEXT_MAX 256

struct @IDENT@ {
    const struct dc_host *h;
    char prefix[@IDENT@_PREFIX_MAX + 1];
};

static const struct dc_option @IDENT@_options[] = {
    {"prefix", DC_OPT_STRING, 0, "you said", "text put before the echoed argument"},
    DC_OPTIONS_END};

static int @IDENT@_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                        char *err, size_t errlen)
{
    const char *prefix = h->opt_str(opts, "prefix");
    if (!prefix || strlen(prefix) > @IDENT@_PREFIX_MAX) {
        snprintf(err, errlen, "option prefix: give at most %d bytes", @IDENT@_PREFIX_MAX);
        return DC_EINVAL;
    }
    struct @IDENT@ *s = calloc(1, sizeof(*s));
    if (!s)
        return DC_ENOMEM;
    s->h = h;
    snprintf(s->prefix, sizeof(s->prefix), "%s", prefix);
    *state = s;
    return DC_OK;
}

static void @IDENT@_fini(void *state)
{
    free(state);
}

static int @IDENT@_invoke(void *state, struct dc_ctx *ctx)
{
    struct @IDENT@ *s = state;
    const struct dc_host *h = s->h;
    struct dc_value text;
    int rc = h->ctx_arg(ctx, "text", &text);
    if (rc != DC_OK || text.type != DC_TEXT || text.v.s.n > @IDENT@_TEXT_MAX) {
        h->ctx_fail(ctx, "E-TOOL-ARGS",
                    "@NAME@ needs {\"text\": \"...\"} with at most %d bytes of text",
                    @IDENT@_TEXT_MAX);
        return DC_EINVAL;
    }
    char out[@IDENT@_PREFIX_MAX + @IDENT@_TEXT_MAX + 3];
    int n = snprintf(out, sizeof(out), "%s: %.*s", s->prefix, (int)text.v.s.n, text.v.s.p);
    struct dc_value v = dc_value_text(out, (size_t)n);
    return h->ctx_result_set(ctx, "echo", &v);
}

static const struct dc_tool_vtable @IDENT@_vtable = {
    .struct_size = sizeof(struct dc_tool_vtable),
    .options = @IDENT@_options,
    .description = "Echoes its text argument after a configured prefix.",
    .params_schema = "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\","
                     "\"maxLength\":256}},\"required\":[\"text\"],"
                     "\"additionalProperties\":false}",
    .tier = 1,
    .init = @IDENT@_init,
    .fini = @IDENT@_fini,
    .invoke = @IDENT@_invoke,
};

DC_PLUGIN_DEFINE_CAPS(DC_KIND_TOOL, "@NAME@", "0.1.0", "MIT", "@NAME@: echoes its argument",
                      &@IDENT@_vtable,
                      DC_CAP_NONE)
