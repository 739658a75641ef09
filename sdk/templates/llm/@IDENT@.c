/*
 * @NAME@ - a DataChat LLM provider plugin.
 *
 * complete() receives the request as JSON ({"messages": [...], ...}) and
 * answers through the context: "llm.reply" (the model's text) and
 * "llm.usage" (token counts as JSON). This one answers with the text of
 * its `reply` option, which makes the pipeline reproducible in tests;
 * replace the body of complete() with a call to a real model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

struct @IDENT@ {
    const struct dc_host *h;
    char *reply;
};

static const struct dc_option @IDENT@_options[] = {
    {"reply", DC_OPT_STRING, 0, "SELECT 1", "the text every completion returns"},
    DC_OPTIONS_END};

static int @IDENT@_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                        char *err, size_t errlen)
{
    const char *reply = h->opt_str(opts, "reply");
    if (!reply || !*reply) {
        snprintf(err, errlen, "option reply: give the text to answer with");
        return DC_EINVAL;
    }
    struct @IDENT@ *s = calloc(1, sizeof(*s));
    if (!s)
        return DC_ENOMEM;
    s->h = h;
    s->reply = malloc(strlen(reply) + 1);
    if (!s->reply) {
        free(s);
        return DC_ENOMEM;
    }
    memcpy(s->reply, reply, strlen(reply) + 1);
    *state = s;
    return DC_OK;
}

static void @IDENT@_fini(void *state)
{
    struct @IDENT@ *s = state;
    if (s)
        free(s->reply);
    free(s);
}

static int @IDENT@_complete(void *state, struct dc_ctx *ctx, const char *request_json)
{
    struct @IDENT@ *s = state;
    const struct dc_host *h = s->h;
    if (!request_json || !*request_json) {
        h->ctx_fail(ctx, "E-LLM-REQUEST", "@NAME@ was given an empty request");
        return DC_EINVAL;
    }
    h->log(h, DC_LOG_DEBUG, "@NAME@: %zu request bytes", strlen(request_json));
    int rc = h->ctx_set(ctx, "llm.reply", s->reply);
    if (rc != DC_OK)
        return rc;
    return h->ctx_set(ctx, "llm.usage", "{\"prompt_tokens\": 0, \"completion_tokens\": 0}");
}

static const struct dc_llm_vtable @IDENT@_vtable = {
    .struct_size = sizeof(struct dc_llm_vtable),
    .options = @IDENT@_options,
    .init = @IDENT@_init,
    .fini = @IDENT@_fini,
    .complete = @IDENT@_complete,
};

DC_PLUGIN_DEFINE_CAPS(DC_KIND_LLM, "@NAME@", "0.1.0", "MIT",
                      "@NAME@: answers every completion with a configured text", &@IDENT@_vtable,
                      DC_CAP_NONE)
