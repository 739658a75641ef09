/*
 * llm-anthropic - an LLM provider speaking Anthropic's Messages API
 * (POST {base_url}/v1/messages), plain and streamed (SSE). System messages
 * of the request become the top-level "system" text.
 * It sends the key only in the x-api-key header, never logs it, and never
 * trusts the answer: the reply is text for the caller to validate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "llmhttp.h"

struct anthropic {
    const struct dc_host *h;
    struct llm_conf conf;
    struct llm_limiter lim;
    char *version; /* the anthropic-version header value */
};

static const struct dc_option anthropic_options[] = {
    {"base_url", DC_OPT_STRING, 0, "https://api.anthropic.com", "server root (without /v1)"},
    {"api_key_env", DC_OPT_ENV, 0, "ANTHROPIC_API_KEY",
     "environment variable holding the key"},
    LLM_COMMON_OPTIONS,
    {"api_version", DC_OPT_STRING, 0, "2023-06-01", "anthropic-version header"},
    DC_OPTIONS_END};

static int anthropic_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                          char *err, size_t errlen)
{
    struct anthropic *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "llm provider anthropic: out of memory");
        return DC_ENOMEM;
    }
    st->h = h;
    int rc = llm_conf_load(h, opts, "anthropic", &st->conf, err, errlen);
    if (rc != DC_OK)
        goto fail;
    const char *v = opts ? h->opt_str(opts, "api_version") : NULL;
    v = v && *v ? v : "2023-06-01";
    for (const char *p = v; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '-' || (*p >= 'a' && *p <= 'z'))) {
            snprintf(err, errlen, "llm provider anthropic: api_version '%s' is not a version "
                                  "like 2023-06-01", v);
            rc = DC_EINVAL;
            goto fail_conf;
        }
    st->version = strdup(v);
    if (!st->version) {
        snprintf(err, errlen, "llm provider anthropic: out of memory");
        rc = DC_ENOMEM;
        goto fail_conf;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "llm provider anthropic: libcurl failed to initialise");
        rc = DC_ERR;
        goto fail_conf;
    }
    if (llm_limiter_init(&st->lim, (int)st->conf.max_concurrency) != DC_OK) {
        curl_global_cleanup();
        snprintf(err, errlen, "llm provider anthropic: out of memory");
        rc = DC_ENOMEM;
        goto fail_conf;
    }
    *state = st;
    return DC_OK;
fail_conf:
    free(st->version);
    llm_conf_clear(&st->conf);
fail:
    free(st);
    return rc;
}

static void anthropic_fini(void *state)
{
    struct anthropic *st = state;
    if (!st)
        return;
    llm_limiter_destroy(&st->lim);
    llm_conf_clear(&st->conf);
    free(st->version);
    curl_global_cleanup();
    free(st);
}

/* System messages move to "system"; the rest keep their order. */
static char *build_body(const void *state, const struct llm_req *q, const struct dc_host *h,
                        struct dc_ctx *ctx)
{
    const struct anthropic *st = state;
    if (q->json)
        h->ctx_trace(ctx, "llm anthropic: JSON output is asked in the prompt only (the "
                          "Messages API has no JSON mode)");
    json_t *msgs = json_array();
    struct textbuf sys = {0};
    char *s = NULL;
    json_t *b = NULL;
    size_t i;
    json_t *m;
    if (!msgs)
        return NULL;
    json_array_foreach(q->messages, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        json_t *content = json_object_get(m, "content");
        if (strcmp(role, "system") == 0) {
            if ((sys.len && llm_text_add(&sys, "\n\n", 2) != DC_OK) ||
                llm_text_add(&sys, json_string_value(content), json_string_length(content)) !=
                    DC_OK)
                goto cleanup;
        } else if (json_array_append_new(msgs, json_pack("{s:s, s:O}", "role", role, "content",
                                                         content)) != 0) {
            goto cleanup;
        }
    }
    b = json_pack("{s:s, s:O, s:I, s:f, s:b}", "model", st->conf.model, "messages", msgs,
                  "max_tokens", (json_int_t)q->max_tokens, "temperature", q->temperature,
                  "stream", q->stream);
    if (!b)
        goto cleanup;
    if (sys.len && json_object_set_new(b, "system", json_stringn(sys.p, sys.len)) != 0)
        goto cleanup;
    s = json_dumps(b, JSON_COMPACT);
cleanup:
    textbuf_free(&sys);
    json_decref(b);
    json_decref(msgs);
    return s;
}

static void read_usage(struct llm_acc *a, json_t *usage)
{
    llm_read_usage(a, usage, "input_tokens", "output_tokens");
}

static int on_event(void *arg, const char *event, const char *data, size_t len)
{
    struct llm_acc *a = arg;
    json_t *o = json_loadb(data, len, 0, NULL);
    int rc = DC_OK;
    if (!o || !json_is_object(o)) {
        rc = llm_bad_reply(a, "a stream event is not a JSON object");
        goto cleanup;
    }
    const char *type = json_string_value(json_object_get(o, "type"));
    if (!type)
        type = event;
    if (strcmp(type, "error") == 0) {
        rc = llm_stream_error(a, data, len);
    } else if (strcmp(type, "message_start") == 0) {
        read_usage(a, json_object_get(json_object_get(o, "message"), "usage"));
    } else if (strcmp(type, "content_block_delta") == 0) {
        json_t *d = json_object_get(o, "delta");
        json_t *t = json_object_get(d, "text");
        if (json_is_string(t) &&
            llm_text_add(&a->text, json_string_value(t), json_string_length(t)) != DC_OK)
            rc = DC_ENOMEM;
    } else if (strcmp(type, "message_delta") == 0) {
        const char *sr = json_string_value(json_object_get(json_object_get(o, "delta"),
                                                           "stop_reason"));
        if (sr)
            snprintf(a->finish, sizeof(a->finish), "%s", sr);
        json_t *o2 = json_object_get(json_object_get(o, "usage"), "output_tokens");
        if (json_is_integer(o2))
            a->out_tokens = json_integer_value(o2);
    } else if (strcmp(type, "message_stop") == 0) {
        a->done = 1;
    }
cleanup:
    json_decref(o);
    return rc;
}

static int parse_plain(struct llm_acc *a, const char *body, size_t len)
{
    int rc;
    json_t *o = llm_reply_object(a, body, len, &rc);
    if (!o)
        return rc;
    json_t *content = json_object_get(o, "content");
    if (!json_is_array(content)) {
        rc = llm_bad_reply(a, "no content array");
        goto cleanup;
    }
    size_t i;
    json_t *blk;
    int texts = 0;
    json_array_foreach(content, i, blk)
    {
        json_t *t = json_object_get(blk, "text");
        const char *bt = json_string_value(json_object_get(blk, "type"));
        if (bt && strcmp(bt, "text") == 0 && json_is_string(t)) {
            texts++;
            if (llm_text_add(&a->text, json_string_value(t), json_string_length(t)) != DC_OK) {
                rc = DC_ENOMEM;
                goto cleanup;
            }
        }
    }
    if (!texts) {
        rc = llm_bad_reply(a, "no text block in content");
        goto cleanup;
    }
    const char *sr = json_string_value(json_object_get(o, "stop_reason"));
    if (sr)
        snprintf(a->finish, sizeof(a->finish), "%s", sr);
    read_usage(a, json_object_get(o, "usage"));
    a->done = 1;
cleanup:
    json_decref(o);
    return rc;
}

static const struct llm_provider anthropic_provider = {
    .path = "/v1/messages",
    .key_header = "x-api-key: ",
    .build_body = build_body,
    .on_event = on_event,
    .parse_plain = parse_plain,
    .reply_kind = "an Anthropic Messages reply",
    .reply_hint = "check base_url",
    .stream_end = "message_stop",
    .finish_ends_stream = 0};

static int anthropic_complete(void *state, struct dc_ctx *ctx, const char *request_json)
{
    struct anthropic *st = state;
    size_t vl = strlen(st->version) + sizeof("anthropic-version: ");
    char *ver = malloc(vl);
    if (!ver) {
        st->h->ctx_fail(ctx, "E-LLM-INTERNAL", "llm provider anthropic: out of memory");
        return DC_ENOMEM;
    }
    snprintf(ver, vl, "anthropic-version: %s", st->version);
    int rc = llm_complete_call(st->h, ctx, &st->conf, &st->lim, &anthropic_provider, st, ver,
                               request_json);
    free(ver);
    return rc;
}

static const struct dc_llm_vtable anthropic_vtable = {
    sizeof(struct dc_llm_vtable), anthropic_options, anthropic_init, anthropic_fini,
    anthropic_complete};

DC_PLUGIN_DEFINE_CAPS(DC_KIND_LLM, "anthropic", "0.1.0", "MIT",
                      "Anthropic Messages API, plain and streamed", &anthropic_vtable,
                      DC_CAP_NONE)
