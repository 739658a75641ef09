/*
 * llm-openai - an LLM provider speaking the OpenAI-compatible chat
 * completions API (POST {base_url}/chat/completions): OpenAI, Ollama, vLLM,
 * llama.cpp server, LM Studio. Plain and streamed (SSE) answers, JSON mode
 * (response_format) when the request asks for it.
 * It sends the key only in the Authorization header, never logs it, and
 * never trusts the answer: the reply is text for the caller to validate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "llmhttp.h"

struct openai {
    const struct dc_host *h;
    struct llm_conf conf;
    struct llm_limiter lim;
    int stream_usage;
};

static const struct dc_option openai_options[] = {
    {"base_url", DC_OPT_STRING, 0, "http://127.0.0.1:11434/v1",
     "server root ending in /v1 (Ollama's default here)"},
    {"api_key_env", DC_OPT_ENV, 0, NULL, "environment variable holding the key (none: no key)"},
    LLM_COMMON_OPTIONS,
    {"stream_usage", DC_OPT_BOOL, 0, "true",
     "ask for token usage in streamed answers (stream_options.include_usage)"},
    DC_OPTIONS_END};

static int openai_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                       char *err, size_t errlen)
{
    struct openai *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "llm provider openai: out of memory");
        return DC_ENOMEM;
    }
    st->h = h;
    int rc = llm_conf_load(h, opts, "openai", &st->conf, err, errlen);
    if (rc != DC_OK)
        goto fail;
    st->stream_usage = 1;
    rc = opts ? h->opt_bool(opts, "stream_usage", &st->stream_usage) : DC_ENOTFOUND;
    if (rc != DC_OK && rc != DC_ENOTFOUND) {
        snprintf(err, errlen, "llm provider openai: option stream_usage must be true or false");
        rc = DC_EINVAL;
        goto fail_conf;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "llm provider openai: libcurl failed to initialise");
        rc = DC_ERR;
        goto fail_conf;
    }
    if (llm_limiter_init(&st->lim, (int)st->conf.max_concurrency) != DC_OK) {
        curl_global_cleanup();
        snprintf(err, errlen, "llm provider openai: out of memory");
        rc = DC_ENOMEM;
        goto fail_conf;
    }
    *state = st;
    return DC_OK;
fail_conf:
    llm_conf_clear(&st->conf);
fail:
    free(st);
    return rc;
}

static void openai_fini(void *state)
{
    struct openai *st = state;
    if (!st)
        return;
    llm_limiter_destroy(&st->lim);
    llm_conf_clear(&st->conf);
    curl_global_cleanup();
    free(st);
}

static char *build_body(const void *state, const struct llm_req *q, const struct dc_host *h,
                        struct dc_ctx *ctx)
{
    const struct openai *st = state;
    (void)h;
    (void)ctx;
    json_t *b = json_pack("{s:s, s:O, s:I, s:f, s:b}", "model", st->conf.model, "messages",
                          q->messages, "max_tokens", (json_int_t)q->max_tokens, "temperature",
                          q->temperature, "stream", q->stream);
    char *s = NULL;
    if (!b)
        return NULL;
    if (q->stream && st->stream_usage &&
        json_object_set_new(b, "stream_options", json_pack("{s:b}", "include_usage", 1)) != 0)
        goto cleanup;
    if (q->json_schema) {
        if (json_object_set_new(b, "response_format",
                                json_pack("{s:s, s:{s:s, s:O}}", "type", "json_schema",
                                          "json_schema", "name", "reply", "schema",
                                          q->json_schema)) != 0)
            goto cleanup;
    } else if (q->json &&
               json_object_set_new(b, "response_format", json_pack("{s:s}", "type",
                                                                   "json_object")) != 0) {
        goto cleanup;
    }
    s = json_dumps(b, JSON_COMPACT);
cleanup:
    json_decref(b);
    return s;
}

static void read_usage(struct llm_acc *a, json_t *usage)
{
    llm_read_usage(a, usage, "prompt_tokens", "completion_tokens");
}

static int on_event(void *arg, const char *event, const char *data, size_t len)
{
    struct llm_acc *a = arg;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        a->done = 1;
        return DC_OK;
    }
    json_t *o = json_loadb(data, len, 0, NULL);
    int rc = DC_OK;
    if (!o || !json_is_object(o)) {
        rc = llm_bad_reply(a, "a stream event is not a JSON object");
        goto cleanup;
    }
    if (json_object_get(o, "error")) {
        rc = llm_stream_error(a, data, len);
        goto cleanup;
    }
    read_usage(a, json_object_get(o, "usage"));
    json_t *choices = json_object_get(o, "choices");
    if (!json_is_array(choices)) {
        rc = llm_bad_reply(a, "a stream event has no choices");
        goto cleanup;
    }
    json_t *c0 = json_array_get(choices, 0);
    if (c0) {
        json_t *content = json_object_get(json_object_get(c0, "delta"), "content");
        if (json_is_string(content) &&
            llm_text_add(&a->text, json_string_value(content), json_string_length(content)) !=
                DC_OK) {
            rc = DC_ENOMEM;
            goto cleanup;
        }
        const char *fr = json_string_value(json_object_get(c0, "finish_reason"));
        if (fr)
            snprintf(a->finish, sizeof(a->finish), "%s", fr);
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
    json_t *c0 = json_array_get(json_object_get(o, "choices"), 0);
    json_t *content = json_object_get(json_object_get(c0, "message"), "content");
    if (!json_is_string(content)) {
        rc = llm_bad_reply(a, "no choices[0].message.content text");
        goto cleanup;
    }
    if (llm_text_add(&a->text, json_string_value(content), json_string_length(content)) != DC_OK) {
        rc = DC_ENOMEM;
        goto cleanup;
    }
    const char *fr = json_string_value(json_object_get(c0, "finish_reason"));
    if (fr)
        snprintf(a->finish, sizeof(a->finish), "%s", fr);
    read_usage(a, json_object_get(o, "usage"));
    a->done = 1;
cleanup:
    json_decref(o);
    return rc;
}

static const struct llm_provider openai_provider = {
    .path = "/chat/completions",
    .key_header = "Authorization: Bearer ",
    .build_body = build_body,
    .on_event = on_event,
    .parse_plain = parse_plain,
    .reply_kind = "an OpenAI-compatible chat completion",
    .reply_hint = "check that base_url points at a /v1 endpoint",
    .stream_end = "[DONE]",
    .finish_ends_stream = 1};

static int openai_complete(void *state, struct dc_ctx *ctx, const char *request_json)
{
    struct openai *st = state;
    return llm_complete_call(st->h, ctx, &st->conf, &st->lim, &openai_provider, st, NULL,
                             request_json);
}

static const struct dc_llm_vtable openai_vtable = {
    sizeof(struct dc_llm_vtable), openai_options, openai_init, openai_fini, openai_complete};

DC_PLUGIN_DEFINE_CAPS(DC_KIND_LLM, "openai", "0.1.0", "MIT",
                      "OpenAI-compatible chat completions (OpenAI, Ollama, vLLM, llama.cpp, LM "
                      "Studio)",
                      &openai_vtable,
                      DC_CAP_NONE)
