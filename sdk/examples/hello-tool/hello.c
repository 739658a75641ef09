/*
 * hello - a tool plugin built against the installed DataChat SDK alone.
 *
 * invoke() reads the call's arguments, a JSON object such as
 * {"name":"Ada"}, and sets the result {"greeting":"hello, Ada"}, both through
 * the host (ctx_arg, ctx_result_set), so the plugin needs no JSON library
 * and cannot produce malformed JSON. The "greeting" option shows the typed option map:
 * the host validates it against hello_options before init() ever runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#define HELLO_NAME_MAX 64
#define HELLO_GREETING_MAX 31

struct hello {
    const struct dc_host *h;
    char greeting[HELLO_GREETING_MAX + 1];
};

static const struct dc_option hello_options[] = {
    {"greeting", DC_OPT_STRING, 0, "hello",
     "word the tool greets with: letters and spaces, at most 31 characters"},
    DC_OPTIONS_END};

static int hello_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                      char *err, size_t errlen)
{
    const char *greeting = h->opt_str(opts, "greeting");
    if (!greeting)
        greeting = "hello";
    size_t n = strlen(greeting);
    int ok = n > 0 && n <= HELLO_GREETING_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = (greeting[i] >= 'a' && greeting[i] <= 'z') ||
             (greeting[i] >= 'A' && greeting[i] <= 'Z') || greeting[i] == ' ';
    if (!ok) {
        if (err && errlen)
            snprintf(err, errlen, "option greeting: use 1-%d letters or spaces",
                     HELLO_GREETING_MAX);
        return DC_EINVAL;
    }
    struct hello *s = calloc(1, sizeof(*s));
    if (!s)
        return DC_ENOMEM;
    s->h = h;
    memcpy(s->greeting, greeting, n + 1);
    *state = s;
    return DC_OK;
}

static void hello_fini(void *state)
{
    free(state);
}

static int hello_invoke(void *state, struct dc_ctx *ctx)
{
    struct hello *s = state;
    const struct dc_host *h = s->h;
    struct dc_value name;
    int rc = h->ctx_arg(ctx, "name", &name);
    if (rc == DC_ENOTFOUND) {
        name = dc_value_text("world", 5);
    } else if (rc != DC_OK || name.type != DC_TEXT || name.v.s.n == 0 ||
               name.v.s.n > HELLO_NAME_MAX) {
        h->ctx_fail(ctx, "E-HELLO-ARGS",
                    "arguments must be a JSON object whose optional \"name\" is a string of "
                    "1-%d bytes",
                    HELLO_NAME_MAX);
        return DC_EINVAL;
    }
    char greeting[HELLO_GREETING_MAX + HELLO_NAME_MAX + 3];
    int n = snprintf(greeting, sizeof(greeting), "%s, %.*s", s->greeting, (int)name.v.s.n,
                     name.v.s.p);
    struct dc_value out = dc_value_text(greeting, (size_t)n);
    return h->ctx_result_set(ctx, "greeting", &out);
}

static const struct dc_tool_vtable hello_vtable = {
    .struct_size = sizeof(struct dc_tool_vtable),
    .options = hello_options,
    .description = "Greets someone by name.",
    .params_schema = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\","
                     "\"maxLength\":64,\"default\":\"world\"}},\"additionalProperties\":false}",
    .tier = 1,
    .init = hello_init,
    .fini = hello_fini,
    .invoke = hello_invoke,
};

/* SDK 1.3 and later: declare the host capabilities the plugin uses (it
 * needs none); the frozen ABI 1.0 headers in tests/abi only know the
 * older macro, and so does any older SDK. */
#ifdef DC_PLUGIN_DEFINE_CAPS
DC_PLUGIN_DEFINE_CAPS(DC_KIND_TOOL, "hello", "1.0.0", "MIT", "Example tool: greets someone by name",
                      &hello_vtable,
                      DC_CAP_NONE)
#else
DC_PLUGIN_DEFINE(DC_KIND_TOOL, "hello", "1.0.0", "MIT", "Example tool: greets someone by name",
                 &hello_vtable)
#endif
