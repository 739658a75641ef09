/* `datachat query`: answers one question through the pipeline, on the
 * worker pool so the event loop stays free for signals and timers. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <datachat/host.h>

#include "answerjson.h"
#include "cli.h"
#include "ctx.h"
#include "loop.h"
#include "result.h"
#include "runtime.h"
#include "util.h"

#define STDIN_QUESTION_MAX (16u << 20)

static struct runtime_opts cli_runtime_opts(const struct cli *c)
{
    struct runtime_opts o = {.config_path = c->config_path,
                             .audit_path = c->audit_path,
                             .db = c->db,
                             .log_level = c->verbose ? DC_LOG_DEBUG : DC_LOG_WARN,
                             .without_tools = c->without_tools};
    return o;
}

int cli_start_runtime(struct cli *c, struct runtime **rt)
{
    char err[1024] = "";
    int rc = cli_load_runtime(c, rt);
    if (rc != CLI_OK)
        return rc;
    struct runtime_opts o = cli_runtime_opts(c);
    rc = runtime_start(*rt, &o, err, sizeof(err));
    if (rc != DC_OK) {
        cli_error("%s", err);
        runtime_free(*rt);
        *rt = NULL;
        return rc == DC_EINVAL ? CLI_USAGE : CLI_ERROR;
    }
    return CLI_OK;
}

int cli_load_runtime(struct cli *c, struct runtime **rt)
{
    char err[1024] = "";
    struct runtime_opts o = cli_runtime_opts(c);
    int rc = runtime_load(&o, rt, err, sizeof(err));
    if (rc == DC_OK)
        return CLI_OK;
    if (*rt && (*rt)->diags.n) {
        for (size_t i = 0; i < (*rt)->diags.n; i++) {
            char line[1200];
            config_diag_format(&(*rt)->diags.d[i], line, sizeof(line));
            fprintf(stderr, "%s\n", line);
        }
        if ((*rt)->diags.dropped)
            fprintf(stderr, "(%zu more errors not shown)\n", (*rt)->diags.dropped);
    } else {
        cli_error("%s", err);
    }
    runtime_free(*rt);
    *rt = NULL;
    return rc == DC_EINVAL || rc == DC_ENOTFOUND ? CLI_USAGE : CLI_ERROR;
}

struct ask_job {
    struct runtime *rt;
    const char *question;
    const char *db;
    const char *principal;
    const char *format;
    const char *session;
    int yes;
    struct dc_ctx *ctx;
    int rc;
    int done;
};

static void ask_work(void *arg)
{
    struct ask_job *j = arg;
    j->rc = runtime_ask_confirmed(j->rt, j->question, j->db, j->principal, j->format,
                                  j->session, j->yes, &j->ctx);
}

static void ask_done(struct loop *l, void *arg)
{
    struct ask_job *j = arg;
    j->done = 1;
    loop_stop(l);
}

int cli_print_ctx_json(struct dc_ctx *ctx, int64_t total_us)
{
    json_t *o = answerjson_new(ctx, total_us, SIZE_MAX);
    if (!o) {
        cli_error("cannot encode the answer as JSON");
        return CLI_ERROR;
    }
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!s) {
        cli_error("cannot encode the answer as JSON");
        return CLI_ERROR;
    }
    puts(s);
    free(s);
    return CLI_OK;
}

int cli_exit_code(struct dc_ctx *ctx, int rc)
{
    if (ctx_get(ctx, "refused"))
        return CLI_REFUSED;
    if (rc == DC_OK && !ctx_error_code(ctx))
        return CLI_OK;
    const char *code = ctx_error_code(ctx);
    /* Bad input or configuration: the question, the database name, a DataPoint. */
    if (code && (strncmp(code, "E-QUERY-", 8) == 0 || strcmp(code, "E-DB-UNKNOWN") == 0 ||
                 strncmp(code, "E-DP-", 5) == 0))
        return CLI_USAGE;
    return CLI_ERROR;
}

int cli_read_text(struct cli *c, const char *what, char **out)
{
    if (c->nargs == 1 && strcmp(c->args[0], "-") == 0) {
        char err[256];
        size_t len;
        if (util_read_file("/dev/stdin", STDIN_QUESTION_MAX, out, &len, err, sizeof(err)) !=
            DC_OK) {
            cli_error("reading the %s from stdin: %s", what, err);
            return CLI_USAGE;
        }
        return CLI_OK;
    }
    struct sbuf b;
    sbuf_init(&b);
    for (int i = 0; i < c->nargs; i++) {
        if (i)
            sbuf_adds(&b, " ");
        sbuf_adds(&b, c->args[i]);
    }
    *out = sbuf_detach(&b);
    if (!*out) {
        cli_error("out of memory");
        return CLI_ERROR;
    }
    return CLI_OK;
}

/* Control bytes become '?': reasons quote questions and database values,
 * and neither may drive the terminal. */
static void put_clean(const char *s)
{
    for (; s && *s; s++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, stderr);
}

/* The decision trace for -v: one line per step, on stderr. */
static void print_trace(struct dc_ctx *ctx)
{
    for (size_t i = 0; i < ctx_ntrace(ctx); i++) {
        const struct trace_step *t = ctx_trace_at(ctx, i);
        fputs("trace: ", stderr);
        put_clean(t->stage);
        fputs(" (", stderr);
        put_clean(t->plugin);
        fputs(") -> ", stderr);
        put_clean(t->outcome ? t->outcome : "(failed)");
        fprintf(stderr, " in %lld us", (long long)t->us);
        if (t->reason) {
            fputs(": ", stderr);
            put_clean(t->reason);
        }
        fputc('\n', stderr);
    }
}

void cli_print_answer(const struct cli *c, struct dc_ctx *ctx)
{
    const char *text = ctx_get(ctx, "output");
    if (!text)
        text = ctx_get(ctx, "answer");
    if (text) {
        fputs(text, stdout);
        if (*text && text[strlen(text) - 1] != '\n')
            fputc('\n', stdout);
    }
    if (c->verbose)
        print_trace(ctx);
    const char *refused = ctx_get(ctx, "refused");
    const char *msg = ctx_error_message(ctx);
    if (refused)
        cli_error("refused (%s)%s%s", refused, msg ? ": " : "", msg ? msg : "");
    else if (ctx_error_code(ctx))
        cli_error("%s: %s", ctx_error_code(ctx), msg ? msg : "");
}

int cmd_query(struct cli *c)
{
    int64_t t0 = util_now_us();
    int ret = CLI_ERROR;
    char *question = NULL;
    struct runtime *rt = NULL;
    struct loop *l = NULL;
    struct pool *p = NULL;
    struct ask_job job = {0};

    if (c->nargs == 0) {
        cli_error("query needs a question, e.g. datachat query \"list tables\"");
        return CLI_USAGE;
    }
    if (cli_check_session(c) != CLI_OK)
        return CLI_USAGE;
    ret = cli_read_text(c, "question", &question);
    if (ret != CLI_OK)
        goto cleanup;
    c->without_tools = 1;
    ret = cli_start_runtime(c, &rt);
    if (ret != CLI_OK)
        goto cleanup;
    rt->today = c->today; /* --today: relative dates from a fixed day */
    /* Signals first, so the pool's threads inherit the blocked mask. */
    if (loop_new(&l) != DC_OK || loop_handle_signals(l, NULL, NULL) != DC_OK ||
        pool_new(l, 1, &p) != DC_OK) {
        cli_error("cannot start the event loop");
        ret = CLI_ERROR;
        goto cleanup;
    }
    job = (struct ask_job){.rt = rt,
                           .question = question,
                           .db = rt->db_name,
                           .principal = c->principal,
                           .format = c->json ? "json" : "text",
                           .session = c->session,
                           .yes = c->yes};
    if (pool_submit(p, ask_work, ask_done, &job) != DC_OK) {
        cli_error("cannot schedule the question");
        ret = CLI_ERROR;
        goto cleanup;
    }
    loop_run(l);
    pool_free(p); /* waits for the job if a signal stopped the loop early */
    p = NULL;
    if (!job.done) {
        cli_error("interrupted");
        ret = 130;
        goto cleanup;
    }
    if (!job.ctx) {
        cli_error("out of memory");
        ret = CLI_ERROR;
        goto cleanup;
    }
    ret = cli_exit_code(job.ctx, job.rc);
    if (c->json) {
        int jr = cli_print_ctx_json(job.ctx, util_now_us() - t0);
        if (jr != CLI_OK)
            ret = jr;
    } else {
        cli_print_answer(c, job.ctx);
    }
cleanup:
    pool_free(p);
    loop_free(l);
    ctx_free(job.ctx);
    runtime_free(rt);
    free(question);
    return ret;
}
