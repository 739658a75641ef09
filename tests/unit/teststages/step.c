/* A stage for pipeline tests: appends its `mark` option to the context key
 * "path" and returns its `outcome` option, declared or not. */
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>

struct step {
    const struct dc_host *h;
    const char *mark;
    const char *outcome;
    int fail;
};

static const struct dc_option step_options[] = {
    {"mark", DC_OPT_STRING, 1, NULL, "text appended to ctx path"},
    {"outcome", DC_OPT_STRING, 0, "done", "label returned"},
    {"fail", DC_OPT_BOOL, 0, "false", "return an error instead"},
    DC_OPTIONS_END};

static const char *const step_outcomes[] = {"next", "loop", "done", NULL};

static int step_init(const struct dc_host *h, const struct dc_opts *o, void **state, char *err,
                     size_t errlen)
{
    struct step *s = calloc(1, sizeof(*s));
    if (!s)
        return DC_ENOMEM;
    s->h = h;
    s->mark = h->opt_str(o, "mark");
    s->outcome = h->opt_str(o, "outcome");
    if (h->opt_bool(o, "fail", &s->fail) != DC_OK)
        s->fail = 0;
    *state = s;
    return DC_OK;
}

static void step_fini(void *state)
{
    free(state);
}

static int step_run(void *state, struct dc_ctx *ctx, const char **outcome)
{
    struct step *s = state;
    const char *path = s->h->ctx_get(ctx, "path");
    size_t n = (path ? strlen(path) : 0) + strlen(s->mark) + 1;
    char *np = malloc(n);
    if (!np)
        return DC_ENOMEM;
    strcpy(np, path ? path : "");
    strcat(np, s->mark);
    s->h->ctx_set(ctx, "path", np);
    free(np);
    s->h->ctx_trace(ctx, "marked %s", s->mark);
    if (s->fail) {
        s->h->ctx_fail(ctx, "E-TEST-STEP", "step %s failed on purpose", s->mark);
        return DC_ERR;
    }
    *outcome = s->outcome;
    return DC_OK;
}

static const struct dc_stage_vtable step_vtable = {
    sizeof(struct dc_stage_vtable), step_options, step_outcomes, step_init, step_fini, step_run};

DC_PLUGIN_DEFINE(DC_KIND_STAGE, "teststep", "1.0", "MIT", "pipeline test stage", &step_vtable)
