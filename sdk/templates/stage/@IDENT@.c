/*
 * @NAME@ - a DataChat stage plugin: one node of the pipeline graph.
 *
 * run() reads the request context (the question), asks the database one
 * question through ctx_query (which passes the core's gate, policy and
 * audit), writes the answer and returns one of its declared outcomes; the
 * config's `on:` map sends each outcome to the next stage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

struct @IDENT@ {
    const struct dc_host *h;
    char table[65];
};

static const char *const @IDENT@_outcomes[] = {"ok", "empty", NULL};

static const struct dc_option @IDENT@_options[] = {
    {"table", DC_OPT_STRING, 0, "orders", "table whose rows the stage counts"},
    DC_OPTIONS_END};

/* A table name goes into SQL text, so only plain identifiers are taken. */
static int plain_identifier(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

static int @IDENT@_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                        char *err, size_t errlen)
{
    const char *table = h->opt_str(opts, "table");
    if (!table || !plain_identifier(table)) {
        snprintf(err, errlen, "option table: give a lowercase table name [a-z_][a-z0-9_]*");
        return DC_EINVAL;
    }
    struct @IDENT@ *s = calloc(1, sizeof(*s));
    if (!s)
        return DC_ENOMEM;
    s->h = h;
    snprintf(s->table, sizeof(s->table), "%s", table);
    *state = s;
    return DC_OK;
}

static void @IDENT@_fini(void *state)
{
    free(state);
}

static int @IDENT@_run(void *state, struct dc_ctx *ctx, const char **outcome)
{
    struct @IDENT@ *s = state;
    const struct dc_host *h = s->h;
    char sql[128];
    struct dc_result *r = NULL;
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", s->table);
    int rc = h->ctx_query(ctx, NULL, sql, NULL, 0, &r);
    if (rc != DC_OK)
        return rc; /* the host already recorded why (ctx_fail) */
    const struct dc_value *v = h->result_nrows(r) == 1 ? h->result_get(r, 0, 0) : NULL;
    long long n = v && v->type == DC_INT ? (long long)v->v.i : 0;
    h->result_free(r);
    char answer[256];
    snprintf(answer, sizeof(answer), "%s has %lld rows (you asked: %s)", s->table, n,
             h->ctx_get(ctx, "question") ? h->ctx_get(ctx, "question") : "");
    h->ctx_trace(ctx, "counted %lld rows of %s", n, s->table);
    rc = h->ctx_set(ctx, "answer", answer);
    if (rc != DC_OK)
        return rc;
    *outcome = n > 0 ? "ok" : "empty";
    return DC_OK;
}

static const struct dc_stage_vtable @IDENT@_vtable = {
    .struct_size = sizeof(struct dc_stage_vtable),
    .options = @IDENT@_options,
    .outcomes = @IDENT@_outcomes,
    .init = @IDENT@_init,
    .fini = @IDENT@_fini,
    .run = @IDENT@_run,
};

DC_PLUGIN_DEFINE_CAPS(DC_KIND_STAGE, "@NAME@", "0.1.0", "MIT",
                      "@NAME@: answers with the row count of a table", &@IDENT@_vtable,
                      DC_CAP_DB_QUERY)
