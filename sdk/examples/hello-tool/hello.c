/*
 * hello - a tool plugin built against the installed DataChat SDK alone.
 *
 * invoke() reads the call's arguments, a JSON object such as
 * {"name":"Ada"}, and sets the result {"greeting":"hello, Ada"}. The SDK has
 * no JSON API, and this example links nothing but libc, so it reads the one
 * field it needs with a small bounded scanner; a real plugin would link a
 * JSON library of its own. The "greeting" option shows the typed option map:
 * the host validates it against hello_options before init() ever runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#define HELLO_NAME_MAX 64
#define HELLO_GREETING_MAX 31
#define HELLO_NEST_MAX 32

struct hello {
    const struct dc_host *h;
    char greeting[HELLO_GREETING_MAX + 1];
};

static const struct dc_option hello_options[] = {
    {"greeting", DC_OPT_STRING, 0, "hello",
     "word the tool greets with: letters and spaces, at most 31 characters"},
    DC_OPTIONS_END};

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == ' ' || c == '.' || c == '_' || c == '-';
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* Skips a JSON string starting at its opening quote; NULL if unterminated. */
static const char *skip_string(const char *p)
{
    for (p++; *p; p++) {
        if (*p == '\\') {
            if (!p[1])
                return NULL;
            p++;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

/* Skips one JSON value of any shape, bounded in nesting depth. */
static const char *skip_value(const char *p)
{
    int depth = 0;
    do {
        p = skip_ws(p);
        if (*p == '"') {
            p = skip_string(p);
            if (!p)
                return NULL;
        } else if (*p == '{' || *p == '[') {
            if (++depth > HELLO_NEST_MAX)
                return NULL;
            p++;
        } else if (*p == '}' || *p == ']') {
            if (depth == 0)
                return NULL;
            depth--;
            p++;
        } else if (*p == ',' || *p == ':') {
            if (depth == 0)
                return NULL;
            p++;
        } else {
            const char *start = p;
            while (*p && strchr("+-.0123456789eEtruefalsn", *p))
                p++;
            if (p == start)
                return NULL;
        }
    } while (depth > 0);
    return p;
}

/* Finds the top-level "name" member. Returns 0 and fills name (empty when
 * absent), or -1 when args are not an object or name is not a plain string
 * of allowed characters. */
static int read_name(const char *args, char name[HELLO_NAME_MAX + 1])
{
    name[0] = '\0';
    const char *p = skip_ws(args);
    if (*p++ != '{')
        return -1;
    p = skip_ws(p);
    if (*p == '}')
        return *skip_ws(p + 1) ? -1 : 0;
    for (;;) {
        if (*p != '"')
            return -1;
        const char *key = p + 1;
        const char *end = skip_string(p);
        if (!end)
            return -1;
        int is_name = (size_t)(end - key) == 5 && memcmp(key, "name\"", 5) == 0;
        p = skip_ws(end);
        if (*p++ != ':')
            return -1;
        p = skip_ws(p);
        if (is_name) {
            size_t n = 0;
            if (*p++ != '"')
                return -1;
            while (*p && *p != '"') {
                if (!is_name_char(*p) || n == HELLO_NAME_MAX)
                    return -1;
                name[n++] = *p++;
            }
            if (*p++ != '"' || n == 0)
                return -1;
            name[n] = '\0';
        } else {
            p = skip_value(p);
            if (!p)
                return -1;
        }
        p = skip_ws(p);
        if (*p == ',') {
            p = skip_ws(p + 1);
            continue;
        }
        if (*p != '}')
            return -1;
        return *skip_ws(p + 1) ? -1 : 0;
    }
}

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
    char name[HELLO_NAME_MAX + 1];
    const char *args = h->ctx_get(ctx, "args");
    if (read_name(args ? args : "{}", name) != 0) {
        h->ctx_fail(ctx, "E-HELLO-ARGS",
                    "arguments must be a JSON object whose optional \"name\" is 1-%d "
                    "letters, digits, spaces, '.', '_' or '-'",
                    HELLO_NAME_MAX);
        return DC_EINVAL;
    }
    /* Both parts were checked to need no JSON escaping. */
    char result[sizeof("{\"greeting\":\", \"}") + HELLO_GREETING_MAX + HELLO_NAME_MAX];
    snprintf(result, sizeof(result), "{\"greeting\":\"%s, %s\"}", s->greeting,
             name[0] ? name : "world");
    return h->ctx_set(ctx, "result", result);
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

DC_PLUGIN_DEFINE(DC_KIND_TOOL, "hello", "1.0.0", "MIT", "Example tool: greets someone by name",
                 &hello_vtable)
