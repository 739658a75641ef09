/*
 * stage-metric - answers metric questions from metric DataPoints with an
 * `execution` template: extract.c picks the metric and the parameter values
 * the question states, the host renders the template for the database's
 * dialect (dp_render, ABI 1.2: every value type-checked and bound) and the
 * statement runs through h->ctx_query. Outcomes: "ok" (sql, answer,
 * result), "clarify" (answer asks back: two metrics match, or a value the
 * parameters do not allow) and "no_match" (the compiler tries next). It
 * never calls a model and never puts question text into SQL.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "extract.h"
#include "stagereq.h"

struct metric_state {
    const struct dc_host *h;
    char dialect[32];
};

static const struct dc_option metric_options[] = {
    {"dialect", DC_OPT_STRING, 0, "sqlite",
     "backend variant used when the request does not say (context key database.dialect)"},
    DC_OPTIONS_END};
static const char *const metric_outcomes[] = {"ok", "clarify", "no_match", NULL};

static int metric_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                       char *err, size_t errlen)
{
    const char *dialect = opts ? h->opt_str(opts, "dialect") : NULL;
    if (!dialect)
        dialect = "sqlite";
    if (!*dialect || strlen(dialect) >= sizeof(((struct metric_state *)0)->dialect)) {
        snprintf(err, errlen, "metric: option dialect must be a connector name such as sqlite");
        return DC_EINVAL;
    }
    struct metric_state *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "metric: out of memory");
        return DC_ENOMEM;
    }
    st->h = h;
    snprintf(st->dialect, sizeof(st->dialect), "%s", dialect);
    *state = st;
    return DC_OK;
}

static void metric_fini(void *state)
{
    free(state);
}

/* Table and column names of the request database: the trace names those a
 * metric phrase takes precedence over (extract.h, mx_schema_words). */
static const char **schema_names(const struct dc_host *h, struct dc_ctx *ctx, size_t *n)
{
    *n = 0;
    const struct dc_schema *s = DC_HOST_HAS(h, ctx_schema) ? h->ctx_schema(ctx, NULL) : NULL;
    if (!s)
        return NULL;
    size_t nt = h->schema_ntables(s), total = 0;
    for (size_t i = 0; i < nt; i++)
        total += 1 + h->schema_table(s, i)->ncolumns;
    const char **names = calloc(total ? total : 1, sizeof(*names));
    if (!names)
        return NULL;
    for (size_t i = 0; i < nt; i++) {
        const struct dc_table_info *t = h->schema_table(s, i);
        names[(*n)++] = t->name;
        for (size_t c = 0; c < t->ncolumns; c++)
            names[(*n)++] = t->columns[c].name;
    }
    return names;
}

static const struct dc_dp_param *param_named(const struct dc_datapoint_info *dp, const char *name,
                                             size_t len)
{
    for (size_t i = 0; i < dp->nparams; i++)
        if (strlen(dp->params[i]->name) == len && strncmp(dp->params[i]->name, name, len) == 0)
            return dp->params[i];
    return NULL;
}

/* A rendering refused a value: ask back, naming the parameter and what it
 * allows, and record the error so the exit status says so. */
static int say_bad_value(const struct dc_host *h, struct dc_ctx *ctx,
                         const struct dc_datapoint_info *dp, const char *err)
{
    char allowed[400] = "";
    const char *pn = strstr(err, "parameter '");
    if (pn) {
        pn += strlen("parameter '");
        const char *end = strchr(pn, '\'');
        const struct dc_dp_param *p = end ? param_named(dp, pn, (size_t)(end - pn)) : NULL;
        if (p && p->nvalues) {
            size_t len = (size_t)snprintf(allowed, sizeof(allowed), " %s allows: ", p->name);
            for (size_t i = 0; i < p->nvalues && len + 2 < sizeof(allowed); i++) {
                int w = snprintf(allowed + len, sizeof(allowed) - len, "%s%s", i ? ", " : "",
                                 p->values[i]);
                if (w < 0)
                    break;
                len += (size_t)w;
            }
            if (len >= sizeof(allowed))
                allowed[sizeof(allowed) - 1] = '\0';
        }
    }
    char text[1200];
    snprintf(text, sizeof(text), "I can't compute %s with that value: %s.%s", dp->name, err,
             allowed);
    int rc = h->ctx_set(ctx, "answer", text);
    h->ctx_fail(ctx, "E-METRIC-PARAM", "%s%s", err, allowed);
    return rc;
}

static const char *value_of(const struct mx_match *m, const struct dc_dp_param *p)
{
    for (size_t i = 0; i < m->nvals; i++)
        if (m->vals[i].param == p)
            return m->vals[i].value;
    return NULL;
}

/* One sentence: what was computed, over which range, and the number when
 * the answer is a single number. */
static void answer_text(const struct dc_host *h, const struct mx_match *m,
                        const struct dc_result *r, char *out, size_t cap)
{
    const struct dc_datapoint_info *dp = m->dp;
    size_t len = (size_t)snprintf(out, cap, "%s", dp->name ? dp->name : dp->id);
    for (size_t i = 0; i < dp->nparams && len + 2 < cap; i++) {
        const struct dc_dp_param *p = dp->params[i];
        const char *v = value_of(m, p);
        if (!v)
            continue;
        int role = mx_date_role(p);
        int w;
        if (role == MX_ROLE_START)
            w = snprintf(out + len, cap - len, " from %.10s", v);
        else if (role == MX_ROLE_END)
            w = snprintf(out + len, cap - len, " before %.10s", v);
        else if (role == MX_ROLE_END_INCL)
            w = snprintf(out + len, cap - len, " through %.10s", v);
        else
            w = snprintf(out + len, cap - len, ", %s %s", p->name, v);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    if (len >= cap)
        return;
    if (h->result_nrows(r) == 1 && h->result_ncols(r) == 1) {
        const struct dc_value *v = h->result_get(r, 0, 0);
        if (v && v->type == DC_INT)
            snprintf(out + len, cap - len, ": %lld.", (long long)v->v.i);
        else if (v && v->type == DC_REAL)
            snprintf(out + len, cap - len, ": %.2f.", v->v.d);
        else if (v && (v->type == DC_NUMERIC || v->type == DC_TEXT))
            snprintf(out + len, cap - len, ": %.*s.", (int)(v->v.s.n < 64 ? v->v.s.n : 64),
                     v->v.s.p);
        else
            snprintf(out + len, cap - len, ": no value.");
    } else {
        snprintf(out + len, cap - len, " (%zu row%s).", h->result_nrows(r),
                 h->result_nrows(r) == 1 ? "" : "s");
    }
}

static void trace_values(const struct dc_host *h, struct dc_ctx *ctx, const struct mx_match *m,
                         const char *variant)
{
    const struct dc_datapoint_info *dp = m->dp;
    h->ctx_trace(ctx, "metric %s (matched '%s', %s:%d), variant %s", dp->id, m->phrase,
                 dp->file ? dp->file : "?", dp->line, variant);
    if (m->shadowed[0])
        h->ctx_trace(ctx,
                     "precedence: %s DataPoint %s defines '%s'; it wins over the catalog names "
                     "%s (DataPoints before bare column names)",
                     dp->source ? dp->source : "user", dp->id, m->phrase, m->shadowed);
    for (size_t i = 0; i < dp->nparams; i++) {
        const struct dc_dp_param *p = dp->params[i];
        const char *phrase = NULL, *v = NULL;
        for (size_t k = 0; k < m->nvals; k++)
            if (m->vals[k].param == p) {
                v = m->vals[k].value;
                phrase = m->vals[k].phrase;
            }
        if (v)
            h->ctx_trace(ctx, "param %s = %s (from question: '%s')", p->name, v, phrase);
        else
            h->ctx_trace(ctx, "param %s = %s (default)", p->name,
                         p->default_value ? p->default_value : "(none)");
    }
}

/* Templates put breakdown columns (period, region, ...) before the metric's
 * value; one the question did not ask for is NULL in every row, and is
 * left out of the answer. Returns r itself when nothing is dropped. */
static struct dc_result *drop_unused(const struct dc_host *h, struct dc_ctx *ctx,
                                     struct dc_result *r)
{
    size_t nc = h->result_ncols(r), nr = h->result_nrows(r), nkeep = 0;
    if (nc < 2 || nr == 0 || nc > 64)
        return r;
    int keep[64];
    for (size_t c = 0; c < nc; c++) {
        keep[c] = c + 1 == nc;
        for (size_t i = 0; i < nr && !keep[c]; i++) {
            const struct dc_value *v = h->result_get(r, i, c);
            keep[c] = v && v->type != DC_NULL;
        }
        nkeep += (size_t)keep[c];
    }
    if (nkeep == nc)
        return r;
    struct dc_result *out = h->result_new();
    struct dc_value row[64];
    int ok = out != NULL;
    for (size_t c = 0; c < nc && ok; c++)
        if (keep[c])
            ok = h->result_add_column(out, h->result_col_name(r, c), h->result_col_type(r, c),
                                      NULL) == DC_OK;
    for (size_t i = 0; i < nr && ok; i++) {
        size_t k = 0;
        for (size_t c = 0; c < nc; c++)
            if (keep[c])
                row[k++] = *h->result_get(r, i, c);
        ok = h->result_append_row(out, row, k) == DC_OK;
    }
    if (!ok) {
        if (out)
            h->result_free(out);
        return r; /* the full result is still a right answer */
    }
    h->result_set_truncated(out, h->result_truncated(r));
    h->ctx_trace(ctx, "left out %zu breakdown column%s the question did not ask for", nc - nkeep,
                 nc - nkeep == 1 ? "" : "s");
    h->result_free(r);
    return out;
}

/* The values bound to the statement by position, so a reader of the trace
 * (or the benchmark) can re-run the exact statement elsewhere. */
static void trace_bound(const struct dc_host *h, struct dc_ctx *ctx, const struct dc_dp_rendered *rd,
                        const char *dialect)
{
    char buf[1024];
    size_t len = (size_t)snprintf(buf, sizeof(buf), "bound");
    int dollar = strcmp(dialect, "sqlite") != 0;
    for (size_t i = 0; i < rd->nparams && len + 2 < sizeof(buf); i++) {
        const struct dc_value *v = &rd->params[i];
        int w;
        if (v->type == DC_INT || v->type == DC_BOOL)
            w = snprintf(buf + len, sizeof(buf) - len, " %c%zu=%lld", dollar ? '$' : '?', i + 1,
                         (long long)v->v.i);
        else if (v->type == DC_REAL)
            w = snprintf(buf + len, sizeof(buf) - len, " %c%zu=%.17g", dollar ? '$' : '?', i + 1,
                         v->v.d);
        else if (v->type == DC_NULL)
            w = snprintf(buf + len, sizeof(buf) - len, " %c%zu=NULL", dollar ? '$' : '?', i + 1);
        else
            w = snprintf(buf + len, sizeof(buf) - len, " %c%zu='%.*s'", dollar ? '$' : '?', i + 1,
                         (int)(v->v.s.n < 200 ? v->v.s.n : 200), v->v.s.p);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    h->ctx_trace(ctx, "%s", buf);
}

static int metric_run(void *state, struct dc_ctx *ctx, const char **outcome)
{
    struct metric_state *st = state;
    const struct dc_host *h = st->h;
    const struct dc_datapoint_info **dps = NULL;
    const char **names = NULL;
    const char **pnames = NULL, **pvalues = NULL;
    struct dc_dp_rendered *rd = NULL;
    struct dc_result *res = NULL;
    struct mx_match *m = NULL;
    int rc = DC_OK;
    *outcome = "no_match";

    if (!DC_HOST_HAS(h, dp_count) || !DC_HOST_HAS(h, dp_at) || !DC_HOST_HAS(h, dp_render) ||
        !DC_HOST_HAS(h, dp_rendered_free)) {
        h->ctx_trace(ctx, "the host cannot render DataPoints (needs ABI 1.2)");
        goto cleanup;
    }
    struct stage_req req;
    rc = stage_req_read(h, ctx, "E-METRIC-TODAY", st->dialect, &req);
    const char *q = req.question;
    if (rc != DC_OK || !q)
        goto cleanup;
    size_t ndp = h->dp_count(ctx);
    dps = calloc(ndp ? ndp : 1, sizeof(*dps));
    m = calloc(1, sizeof(*m));
    if (!dps || !m) {
        rc = DC_ENOMEM;
        h->ctx_fail(ctx, "E-INTERNAL", "metric: out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < ndp; i++)
        dps[i] = h->dp_at(ctx, i);
    size_t nnames = 0;
    names = schema_names(h, ctx, &nnames);
    struct mx_schema_words sw = {names, nnames};
    mx_extract(q, strlen(q), req.today, dps, ndp, h->ctx_get(ctx, "database"), &sw, m);

    if (m->outcome == MX_NO_MATCH) {
        h->ctx_trace(ctx, "no metric: %s", m->why);
        goto cleanup;
    }
    if (m->outcome == MX_CLARIFY) {
        h->ctx_trace(ctx, "clarify: %s", m->why);
        rc = h->ctx_set(ctx, "answer", m->why);
        if (m->bad_param)
            h->ctx_fail(ctx, "E-METRIC-PARAM", "%s", m->why);
        *outcome = "clarify";
        goto cleanup;
    }

    const char *dialect = req.dialect;
    pnames = calloc(m->nvals + 1, sizeof(*pnames));
    pvalues = calloc(m->nvals + 1, sizeof(*pvalues));
    if (!pnames || !pvalues) {
        rc = DC_ENOMEM;
        h->ctx_fail(ctx, "E-INTERNAL", "metric: out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < m->nvals; i++) {
        pnames[i] = m->vals[i].param->name;
        pvalues[i] = m->vals[i].value;
    }
    char err[600] = "";
    rc = h->dp_render(ctx, m->dp->id, dialect, pnames, pvalues, m->nvals, &rd, err, sizeof(err));
    if (rc != DC_OK) {
        h->ctx_trace(ctx, "metric %s: %s", m->dp->id, err);
        if (rc == DC_ENOMEM) {
            h->ctx_fail(ctx, "E-INTERNAL", "metric: out of memory");
            goto cleanup;
        }
        rc = say_bad_value(h, ctx, m->dp, err);
        *outcome = "clarify";
        goto cleanup;
    }
    trace_values(h, ctx, m, rd->variant ? rd->variant : dialect);
    trace_bound(h, ctx, rd, dialect);
    rc = h->ctx_query(ctx, NULL, rd->sql, rd->params, rd->nparams, &res);
    if (rc != DC_OK)
        goto cleanup; /* the gate recorded why */
    res = drop_unused(h, ctx, res);
    char text[1024];
    answer_text(h, m, res, text, sizeof(text));
    rc = h->ctx_set(ctx, "sql", rd->sql);
    if (rc == DC_OK)
        rc = h->ctx_set(ctx, "answer", text);
    if (rc == DC_OK)
        rc = h->ctx_set(ctx, "metric.id", m->dp->id);
    if (rc == DC_OK)
        rc = h->ctx_set(ctx, "metric.variant", rd->variant ? rd->variant : dialect);
    if (rc != DC_OK) {
        h->ctx_fail(ctx, "E-INTERNAL", "metric: cannot record the answer (%d)", rc);
        goto cleanup;
    }
    h->ctx_set_result(ctx, res);
    res = NULL;
    *outcome = "ok";
cleanup:
    if (res)
        h->result_free(res);
    if (rd)
        h->dp_rendered_free(rd);
    free(pnames);
    free(pvalues);
    free(names);
    free(m);
    free(dps);
    return rc;
}

static const struct dc_stage_vtable metric_vtable = {
    sizeof(struct dc_stage_vtable), metric_options, metric_outcomes, metric_init, metric_fini,
    metric_run};

DC_PLUGIN_DEFINE_CAPS(DC_KIND_STAGE, "metric", "0.1.0", "MIT",
                      "Metric questions answered from metric DataPoints' execution templates",
                      &metric_vtable,
                      DC_CAP_DB_QUERY | DC_CAP_DB_SCHEMA | DC_CAP_DATAPOINTS)
