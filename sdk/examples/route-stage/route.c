/*
 * route - a stage that routes a request by a rule from its config block.
 *
 *   route: { use: route, with: { field: question, keywords: [revenue, sales] },
 *            on: { match: compiler, other: intent } }
 *
 * run() looks for any of `keywords` (case-insensitive, as whole words) in
 * the context value `field` and returns "match" or "other"; the config's
 * `on:` map decides where each goes, so routing changes by config alone.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#define ROUTE_FIELD_MAX 64

struct route {
    const struct dc_host *h;
    const struct dc_opts *opts;
    char field[ROUTE_FIELD_MAX + 1];
};

static const char *const route_outcomes[] = {"match", "other", NULL};

static const struct dc_option route_options[] = {
    {"field", DC_OPT_STRING, 0, "question", "context key the rule reads"},
    {"keywords", DC_OPT_LIST, 1, NULL, "words that make a request take the \"match\" edge"},
    DC_OPTIONS_END};

static int route_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                      char *err, size_t errlen)
{
    const char *field = h->opt_str(opts, "field");
    if (!field || !*field || strlen(field) > ROUTE_FIELD_MAX) {
        snprintf(err, errlen, "option field: give a context key of 1-%d bytes", ROUTE_FIELD_MAX);
        return DC_EINVAL;
    }
    size_t n = h->opt_list_len(opts, "keywords");
    if (n == 0) {
        snprintf(err, errlen, "option keywords: give at least one word");
        return DC_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *k = h->opt_list_item(opts, "keywords", i);
        if (!k || !*k) {
            snprintf(err, errlen, "option keywords: item %zu is empty", i + 1);
            return DC_EINVAL;
        }
    }
    struct route *s = calloc(1, sizeof(*s));
    if (!s)
        return DC_ENOMEM;
    s->h = h;
    s->opts = opts;
    snprintf(s->field, sizeof(s->field), "%s", field);
    *state = s;
    return DC_OK;
}

static void route_fini(void *state)
{
    free(state);
}

/* word occurs in text with no letter or digit right before or after it. */
static int has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = text; *p; p++) {
        if (strncasecmp(p, word, n) != 0)
            continue;
        int before = p > text && isalnum((unsigned char)p[-1]);
        int after = isalnum((unsigned char)p[n]);
        if (!before && !after)
            return 1;
    }
    return 0;
}

static int route_run(void *state, struct dc_ctx *ctx, const char **outcome)
{
    struct route *s = state;
    const struct dc_host *h = s->h;
    const char *text = h->ctx_get(ctx, s->field);
    size_t n = h->opt_list_len(s->opts, "keywords");
    *outcome = "other";
    for (size_t i = 0; text && i < n; i++) {
        const char *k = h->opt_list_item(s->opts, "keywords", i);
        if (k && has_word(text, k)) {
            h->ctx_trace(ctx, "%s mentions \"%s\"", s->field, k);
            *outcome = "match";
            return DC_OK;
        }
    }
    h->ctx_trace(ctx, "%s mentions no keyword", s->field);
    return DC_OK;
}

static const struct dc_stage_vtable route_vtable = {
    .struct_size = sizeof(struct dc_stage_vtable),
    .options = route_options,
    .outcomes = route_outcomes,
    .init = route_init,
    .fini = route_fini,
    .run = route_run,
};

DC_PLUGIN_DEFINE_CAPS(DC_KIND_STAGE, "route", "1.0.0", "MIT",
                      "Example stage: routes by keywords from its config block", &route_vtable,
                      DC_CAP_NONE)
