/*
 * echo - an LLM provider that returns scripted SQL, for tests.
 *
 *   llm:
 *     default: { provider: echo, sql: "SELECT count(*) FROM orders",
 *                rules: ["customers => SELECT count(*) FROM customers"] }
 *
 * complete() answers with the SQL of the first rule whose word occurs in
 * the request (case-insensitive), else with `sql`. Nothing leaves the
 * machine, so a pipeline that asks a model runs the same way every time.
 * The reply is only text: whoever uses it still sends it through the gate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#define ECHO_RULE_SEP " => "

struct echo {
    const struct dc_host *h;
    const struct dc_opts *opts;
};

static const struct dc_option echo_options[] = {
    {"sql", DC_OPT_STRING, 1, NULL, "the SQL every completion returns when no rule matches"},
    {"rules", DC_OPT_LIST, 0, NULL, "\"WORD => SQL\": answer SQL when the request mentions WORD"},
    DC_OPTIONS_END};

static int echo_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                     char *err, size_t errlen)
{
    const char *sql = h->opt_str(opts, "sql");
    if (!sql || !*sql) {
        snprintf(err, errlen, "option sql: give the SQL to answer with");
        return DC_EINVAL;
    }
    for (size_t i = 0; i < h->opt_list_len(opts, "rules"); i++) {
        const char *r = h->opt_list_item(opts, "rules", i);
        const char *sep = r ? strstr(r, ECHO_RULE_SEP) : NULL;
        if (!sep || sep == r || !sep[strlen(ECHO_RULE_SEP)]) {
            snprintf(err, errlen, "option rules: item %zu must look like \"WORD => SQL\"", i + 1);
            return DC_EINVAL;
        }
    }
    struct echo *s = calloc(1, sizeof(*s));
    if (!s)
        return DC_ENOMEM;
    s->h = h;
    s->opts = opts;
    *state = s;
    return DC_OK;
}

static void echo_fini(void *state)
{
    free(state);
}

static int mentions(const char *text, const char *word, size_t n)
{
    for (const char *p = text; *p; p++)
        if (strncasecmp(p, word, n) == 0)
            return 1;
    return 0;
}

static int echo_complete(void *state, struct dc_ctx *ctx, const char *request_json)
{
    struct echo *s = state;
    const struct dc_host *h = s->h;
    const char *reply = h->opt_str(s->opts, "sql");
    if (!request_json) {
        h->ctx_fail(ctx, "E-LLM-REQUEST", "echo was given no request");
        return DC_EINVAL;
    }
    for (size_t i = 0; i < h->opt_list_len(s->opts, "rules"); i++) {
        const char *r = h->opt_list_item(s->opts, "rules", i);
        const char *sep = strstr(r, ECHO_RULE_SEP);
        if (mentions(request_json, r, (size_t)(sep - r))) {
            reply = sep + strlen(ECHO_RULE_SEP);
            h->ctx_trace(ctx, "echo: rule %zu matched", i + 1);
            break;
        }
    }
    int rc = h->ctx_set(ctx, "llm.reply", reply);
    if (rc != DC_OK)
        return rc;
    return h->ctx_set(ctx, "llm.usage", "{\"prompt_tokens\": 0, \"completion_tokens\": 0}");
}

static const struct dc_llm_vtable echo_vtable = {
    .struct_size = sizeof(struct dc_llm_vtable),
    .options = echo_options,
    .init = echo_init,
    .fini = echo_fini,
    .complete = echo_complete,
};

DC_PLUGIN_DEFINE_CAPS(DC_KIND_LLM, "echo", "1.0.0", "MIT",
                      "Example LLM provider: returns scripted SQL from its options", &echo_vtable,
                      DC_CAP_NONE)
