/*
 * hello-answer - a stage plugin built against the installed DataChat SDK
 * alone. Put it where the answer stage was (`reply: { use: hello-answer }`)
 * and every question is answered with a greeting that quotes it: the
 * smallest demonstration that a pipeline stage is swapped by config, with
 * no change to DataChat itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#define HELLO_PREFIX "Hello from the hello-answer stage: you asked: "

struct hello_answer {
    const struct dc_host *h;
};

static const char *const hello_outcomes[] = {"done", NULL};

static int hello_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                      char *err, size_t errlen)
{
    (void)opts;
    (void)err;
    (void)errlen;
    struct hello_answer *s = calloc(1, sizeof(*s));
    if (!s)
        return DC_ENOMEM;
    s->h = h;
    *state = s;
    return DC_OK;
}

static void hello_fini(void *state)
{
    free(state);
}

static int hello_run(void *state, struct dc_ctx *ctx, const char **outcome)
{
    struct hello_answer *s = state;
    const struct dc_host *h = s->h;
    const char *q = h->ctx_get(ctx, "question");
    if (!q) {
        h->ctx_fail(ctx, "E-HELLO-NO-QUESTION",
                    "the request carries no question; ask one, e.g. datachat query \"...\"");
        return DC_EINVAL;
    }
    size_t n = sizeof(HELLO_PREFIX) + strlen(q);
    char *answer = malloc(n);
    if (!answer) {
        h->ctx_fail(ctx, "E-HELLO-NOMEM", "out of memory building the answer");
        return DC_ENOMEM;
    }
    snprintf(answer, n, "%s%s", HELLO_PREFIX, q);
    /* The host copies what it is given, so the buffer is ours to free. */
    int rc = h->ctx_set(ctx, "answer", answer);
    if (rc == DC_OK)
        rc = h->ctx_set(ctx, "output", answer);
    free(answer);
    if (rc != DC_OK) {
        h->ctx_fail(ctx, "E-HELLO-SET", "could not store the answer (code %d)", rc);
        return rc;
    }
    h->ctx_trace(ctx, "answered with a greeting instead of running the question");
    *outcome = "done";
    return DC_OK;
}

static const struct dc_stage_vtable hello_vtable = {
    .struct_size = sizeof(struct dc_stage_vtable),
    .options = NULL,
    .outcomes = hello_outcomes,
    .init = hello_init,
    .fini = hello_fini,
    .run = hello_run,
};

/* SDK 1.3 and later: declare the host capabilities the plugin uses (it
 * needs none); the frozen ABI 1.0 headers in tests/abi only know the
 * older macro, and so does any older SDK. */
#ifdef DC_PLUGIN_DEFINE_CAPS
DC_PLUGIN_DEFINE_CAPS(DC_KIND_STAGE, "hello-answer", "1.0.0", "MIT",
                      "Example stage: answers every question with a greeting", &hello_vtable,
                      DC_CAP_NONE)
#else
DC_PLUGIN_DEFINE(DC_KIND_STAGE, "hello-answer", "1.0.0", "MIT",
                 "Example stage: answers every question with a greeting", &hello_vtable)
#endif
