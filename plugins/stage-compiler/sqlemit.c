#include "sqlemit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "question.h"
#include "textbuf.h"

static const struct sql_dialect dialects[] = {
    {"sqlite",
     "?",
     {NULL, "date(%s)", "strftime('%%Y-W%%W', %s)", "strftime('%%Y-%%m', %s)",
      "strftime('%%Y', %s) || '-Q' || ((CAST(strftime('%%m', %s) AS INTEGER) + 2) / 3)",
      "strftime('%%Y', %s)"},
     {0, 1, 1, 1, 2, 1}},
    {"postgres",
     "$",
     {NULL, "to_char(%s, 'YYYY-MM-DD')", "to_char(%s, 'IYYY-\"W\"IW')",
      "to_char(%s, 'YYYY-MM')", "to_char(%s, 'YYYY-\"Q\"Q')", "to_char(%s, 'YYYY')"},
     {0, 1, 1, 1, 1, 1}},
};

const struct sql_dialect *emit_dialect(const char *name)
{
    for (size_t i = 0; name && i < sizeof(dialects) / sizeof(dialects[0]); i++)
        if (strcmp(dialects[i].name, name) == 0)
            return &dialects[i];
    return NULL;
}

/* Identifiers are quoted with "" and embedded quotes doubled: the same in
 * SQLite and PostgreSQL. */
static void quote(struct textbuf *b, const char *id)
{
    textbuf_puts(b, "\"");
    for (const char *p = id; *p; p++) {
        if (*p == '"')
            textbuf_puts(b, "\"\"");
        else
            textbuf_add(b, p, 1);
    }
    textbuf_puts(b, "\"");
}

static void colref(struct textbuf *b, const struct lexicon *lx, int t, int c)
{
    quote(b, lx->tables[t].name);
    textbuf_puts(b, ".");
    quote(b, lx->tables[t].cols[c].name);
}

struct em {
    const struct lexicon *lx;
    const struct plan *p;
    const struct sql_dialect *d;
    struct emitted *e;
    int limit_hit;
};

static void param_text(struct em *m, struct textbuf *b, const char *s)
{
    struct emitted *e = m->e;
    if (e->nparams >= EMIT_MAX_PARAMS) {
        m->limit_hit = 1;
        return;
    }
    snprintf(e->ptext[e->nparams], PLAN_VALUE_MAX, "%s", s);
    e->params[e->nparams] = dc_value_text(e->ptext[e->nparams], strlen(e->ptext[e->nparams]));
    e->nparams++;
    textbuf_printf(b, "%s%zu", m->d->param_prefix, e->nparams);
}

static void param_num(struct em *m, struct textbuf *b, double v, int is_int)
{
    struct emitted *e = m->e;
    if (e->nparams >= EMIT_MAX_PARAMS) {
        m->limit_hit = 1;
        return;
    }
    e->params[e->nparams] = is_int ? dc_value_int((int64_t)v) : dc_value_real(v);
    e->nparams++;
    textbuf_printf(b, "%s%zu", m->d->param_prefix, e->nparams);
}

static void group_expr(struct em *m, struct textbuf *b, const struct plan_group *g)
{
    if (g->bucket) {
        struct textbuf col = {0};
        colref(&col, m->lx, g->col.t, g->col.c);
        const char *fmt = m->d->bucket_fmt[g->bucket];
        if (col.oom || !fmt) {
            b->oom = 1;
            free(col.p);
            return;
        }
        if (m->d->bucket_uses[g->bucket] == 2)
            textbuf_printf(b, fmt, col.p, col.p);
        else
            textbuf_printf(b, fmt, col.p);
        free(col.p);
        return;
    }
    colref(b, m->lx, g->col.t, g->col.c);
}

static const char *unit_name(int u)
{
    switch (u) {
    case U_DAY: return "day";
    case U_WEEK: return "week";
    case U_MONTH: return "month";
    case U_QUARTER: return "quarter";
    default: return "year";
    }
}

static void agg_expr(struct em *m, struct textbuf *b)
{
    const struct plan *p = m->p;
    const struct lex_table *et = &m->lx->tables[p->entity];
    switch (p->agg) {
    case AGG_COUNT:
        if (p->fanout) {
            textbuf_puts(b, "COUNT(DISTINCT ");
            colref(b, m->lx, p->entity, et->pk);
            textbuf_puts(b, ")");
        } else {
            textbuf_puts(b, "COUNT(*)");
        }
        return;
    case AGG_COUNT_DISTINCT: textbuf_puts(b, "COUNT(DISTINCT "); break;
    case AGG_SUM: textbuf_puts(b, "SUM("); break;
    case AGG_AVG: textbuf_puts(b, "AVG("); break;
    case AGG_MIN: textbuf_puts(b, "MIN("); break;
    default: textbuf_puts(b, "MAX("); break;
    }
    colref(b, m->lx, p->measure.t, p->measure.c);
    textbuf_puts(b, ")");
}

static void agg_label(struct em *m, struct textbuf *b)
{
    const struct plan *p = m->p;
    static const char *const pre[] = {"", "count", "count_distinct_", "sum_", "avg_", "min_",
                                      "max_"};
    if (p->agg == AGG_COUNT) {
        textbuf_puts(b, "count");
        return;
    }
    textbuf_puts(b, pre[p->agg]);
    textbuf_puts(b, m->lx->tables[p->measure.t].cols[p->measure.c].name);
}

static const char *op_sql(int op)
{
    switch (op) {
    case CMP_NE: return "<>";
    case CMP_GT: return ">";
    case CMP_GE: return ">=";
    case CMP_LT: return "<";
    case CMP_LE: return "<=";
    default: return "=";
    }
}

static void where(struct em *m, struct textbuf *b)
{
    const struct plan *p = m->p;
    int first = 1;
    for (size_t i = 0; i < p->nfilters; i++) {
        const struct plan_filter *f = &p->filters[i];
        textbuf_puts(b, first ? " WHERE " : " AND ");
        first = 0;
        switch (f->kind) {
        case F_TEXT:
            colref(b, m->lx, f->col.t, f->col.c);
            if (f->nvals == 1) {
                textbuf_printf(b, " %s ", op_sql(f->op));
                param_text(m, b, f->vals[0]);
            } else {
                textbuf_puts(b, f->op == CMP_NE ? " NOT IN (" : " IN (");
                for (size_t k = 0; k < f->nvals; k++) {
                    if (k)
                        textbuf_puts(b, ", ");
                    param_text(m, b, f->vals[k]);
                }
                textbuf_puts(b, ")");
            }
            break;
        case F_NUM:
            colref(b, m->lx, f->col.t, f->col.c);
            textbuf_printf(b, " %s ", op_sql(f->op));
            param_num(m, b, f->num, f->num_int);
            break;
        case F_BOOL:
            colref(b, m->lx, f->col.t, f->col.c);
            textbuf_puts(b, f->op == CMP_NE ? " = 0" : " = 1");
            break;
        default: {
            char day[11];
            int both = f->range.has_from && f->range.has_to;
            if (both)
                textbuf_puts(b, "(");
            if (f->range.has_from) {
                colref(b, m->lx, f->col.t, f->col.c);
                textbuf_puts(b, " >= ");
                q_format_day(f->range.from, day);
                param_text(m, b, day);
            }
            if (both)
                textbuf_puts(b, " AND ");
            if (f->range.has_to) {
                colref(b, m->lx, f->col.t, f->col.c);
                textbuf_puts(b, " < ");
                q_format_day(f->range.to, day);
                param_text(m, b, day);
            }
            if (both)
                textbuf_puts(b, ")");
            break;
        }
        }
    }
}

static void from_joins(struct em *m, struct textbuf *b)
{
    const struct plan *p = m->p;
    textbuf_puts(b, " FROM ");
    quote(b, m->lx->tables[p->entity].name);
    for (size_t j = 0; j < p->njoins; j++) {
        const struct plan_join *jn = &p->joins[j];
        textbuf_puts(b, " JOIN ");
        quote(b, m->lx->tables[jn->to_t].name);
        textbuf_puts(b, " ON ");
        colref(b, m->lx, jn->to_t, jn->to_c);
        textbuf_puts(b, " = ");
        colref(b, m->lx, jn->from_t, jn->from_c);
    }
}

/* Output columns of a table grouping: its label columns, else its key. */
static void table_group_cols(struct em *m, struct textbuf *b, int t, int *first, int keys)
{
    const struct lex_table *tb = &m->lx->tables[t];
    if (keys || tb->nlabel == 0) {
        textbuf_puts(b, *first ? "" : ", ");
        *first = 0;
        colref(b, m->lx, t, tb->pk);
    }
    for (int k = 0; k < tb->nlabel; k++) {
        textbuf_puts(b, *first ? "" : ", ");
        *first = 0;
        colref(b, m->lx, t, tb->label[k]);
    }
}

static void build_sql(struct em *m, struct textbuf *b)
{
    const struct plan *p = m->p;
    const struct lexicon *lx = m->lx;
    int first = 1;
    textbuf_puts(b, "SELECT ");
    if (p->shape == SHAPE_ROWS) {
        if (p->fanout)
            textbuf_puts(b, "DISTINCT ");
        if (p->ncols == 0) {
            quote(b, lx->tables[p->entity].name);
            textbuf_puts(b, ".*");
        }
        for (size_t c = 0; c < p->ncols; c++) {
            if (c)
                textbuf_puts(b, ", ");
            colref(b, lx, p->cols[c].t, p->cols[c].c);
        }
        from_joins(m, b);
        where(m, b);
        if (p->order == 2) {
            textbuf_puts(b, " ORDER BY ");
            colref(b, lx, p->order_col.t, p->order_col.c);
            textbuf_puts(b, p->desc ? " DESC" : " ASC");
            int pk = lx->tables[p->entity].pk;
            if (pk >= 0 && !(p->order_col.t == p->entity && p->order_col.c == pk) &&
                (p->ncols == 0 || !p->fanout)) {
                textbuf_puts(b, ", ");
                colref(b, lx, p->entity, pk);
            }
        }
    } else {
        for (size_t g = 0; g < p->ngroups; g++) {
            const struct plan_group *gr = &p->groups[g];
            if (gr->col.c < 0) {
                table_group_cols(m, b, gr->col.t, &first, 0);
            } else {
                textbuf_puts(b, first ? "" : ", ");
                first = 0;
                group_expr(m, b, gr);
                if (gr->bucket) {
                    textbuf_puts(b, " AS ");
                    quote(b, unit_name(gr->bucket));
                }
            }
        }
        textbuf_puts(b, first ? "" : ", ");
        agg_expr(m, b);
        textbuf_puts(b, " AS ");
        struct textbuf lab = {0};
        agg_label(m, &lab);
        if (lab.oom)
            b->oom = 1;
        else
            quote(b, lab.p);
        free(lab.p);
        from_joins(m, b);
        where(m, b);
        if (p->ngroups) {
            textbuf_puts(b, " GROUP BY ");
            first = 1;
            for (size_t g = 0; g < p->ngroups; g++) {
                const struct plan_group *gr = &p->groups[g];
                if (gr->col.c < 0) {
                    table_group_cols(m, b, gr->col.t, &first, 1);
                } else {
                    textbuf_puts(b, first ? "" : ", ");
                    first = 0;
                    group_expr(m, b, gr);
                }
            }
            if (p->having) {
                textbuf_puts(b, " HAVING ");
                agg_expr(m, b);
                textbuf_printf(b, " %s ", op_sql(p->having_op));
                param_num(m, b, p->having_num, 1);
            }
            textbuf_puts(b, " ORDER BY ");
            first = 1;
            if (p->order == 1) {
                agg_expr(m, b);
                textbuf_puts(b, p->desc ? " DESC" : " ASC");
                first = 0;
            }
            for (size_t g = 0; g < p->ngroups; g++) {
                const struct plan_group *gr = &p->groups[g];
                textbuf_puts(b, first ? "" : ", ");
                first = 0;
                if (gr->col.c < 0)
                    colref(b, lx, gr->col.t, lx->tables[gr->col.t].pk);
                else
                    group_expr(m, b, gr);
            }
        }
    }
    if (p->limit > 0) {
        textbuf_puts(b, " LIMIT ");
        param_num(m, b, (double)p->limit, 1);
    }
}

/* ---- summary -------------------------------------------------------------------------- */

static void measure_words(struct em *m, struct textbuf *b)
{
    const struct plan *p = m->p;
    const struct lexicon *lx = m->lx;
    const char *col = p->measure.c >= 0 ? lx->tables[p->measure.t].cols[p->measure.c].name : "";
    switch (p->agg) {
    case AGG_COUNT: textbuf_printf(b, "number of %s", lx->tables[p->entity].name); break;
    case AGG_COUNT_DISTINCT: textbuf_printf(b, "number of distinct %s", col); break;
    case AGG_SUM:
        textbuf_printf(b, strncasecmp(col, "total", 5) == 0 ? "sum of %s" : "total %s", col);
        break;
    case AGG_AVG: textbuf_printf(b, "average %s", col); break;
    case AGG_MIN: textbuf_printf(b, "lowest %s", col); break;
    default: textbuf_printf(b, "highest %s", col); break;
    }
}

static void describe_filters(struct em *m, struct textbuf *b)
{
    const struct plan *p = m->p;
    const struct lexicon *lx = m->lx;
    for (size_t i = 0; i < p->nfilters; i++) {
        const struct plan_filter *f = &p->filters[i];
        const char *col = lx->tables[f->col.t].cols[f->col.c].name;
        textbuf_puts(b, i == 0 ? ", where " : " and ");
        switch (f->kind) {
        case F_TEXT:
            textbuf_printf(b, "%s %s ", col, f->op == CMP_NE ? "is not" : "is");
            for (size_t k = 0; k < f->nvals; k++)
                textbuf_printf(b, "%s'%s'", k ? " or " : "", f->vals[k]);
            break;
        case F_BOOL:
            textbuf_printf(b, "%s is %s", col, f->op == CMP_NE ? "false" : "true");
            break;
        case F_NUM:
            textbuf_printf(b, "%s %s %.15g", col, op_sql(f->op), f->num);
            break;
        default: {
            char d1[11], d2[11];
            q_format_day(f->range.from, d1);
            q_format_day(f->range.to - 1, d2);
            if (f->range.has_from && f->range.has_to)
                textbuf_printf(b, "%s is from %s to %s", col, d1, d2);
            else if (f->range.has_from)
                textbuf_printf(b, "%s is on or after %s", col, d1);
            else
                textbuf_printf(b, "%s is before %s", col, (q_format_day(f->range.to, d1), d1));
            break;
        }
        }
    }
}

static void build_summary(struct em *m, struct textbuf *b)
{
    const struct plan *p = m->p;
    const struct lexicon *lx = m->lx;
    struct textbuf meas = {0};
    if (p->shape == SHAPE_ROWS) {
        if (p->order == 2 && p->limit > 0)
            textbuf_printf(b, "Top %ld %s by %s%s", p->limit, lx->tables[p->entity].name,
                      lx->tables[p->order_col.t].cols[p->order_col.c].name,
                      p->desc ? "" : " (lowest first)");
        else if (p->ncols > 0) {
            textbuf_puts(b, "The ");
            for (size_t c = 0; c < p->ncols; c++)
                textbuf_printf(b, "%s%s", c ? (c + 1 == p->ncols ? " and " : ", ") : "",
                          lx->tables[p->cols[c].t].cols[p->cols[c].c].name);
            textbuf_printf(b, " of %s", lx->tables[p->entity].name);
        } else {
            textbuf_printf(b, "Rows of %s", lx->tables[p->entity].name);
        }
        if (p->order == 2 && p->limit == 0)
            textbuf_printf(b, " sorted by %s%s",
                      lx->tables[p->order_col.t].cols[p->order_col.c].name,
                      p->desc ? " (highest first)" : "");
    } else {
        measure_words(m, &meas);
        if (meas.oom) {
            b->oom = 1;
            return;
        }
        if (p->shape == SHAPE_GROUPED && p->order == 1 && p->limit > 0) {
            const struct plan_group *g = &p->groups[0];
            textbuf_printf(b, "%s %ld %s by %s", p->desc ? "Top" : "Bottom", p->limit,
                      g->col.c < 0 ? lx->tables[g->col.t].name
                                   : lx->tables[g->col.t].cols[g->col.c].name,
                      meas.p);
        } else {
            meas.p[0] = (char)(meas.p[0] - 32 * (meas.p[0] >= 'a' && meas.p[0] <= 'z'));
            textbuf_puts(b, meas.p);
            for (size_t g = 0; g < p->ngroups; g++) {
                const struct plan_group *gr = &p->groups[g];
                textbuf_puts(b, g == 0 ? " per " : " and ");
                if (gr->bucket)
                    textbuf_printf(b, "%s of %s", unit_name(gr->bucket),
                              lx->tables[gr->col.t].cols[gr->col.c].name);
                else if (gr->col.c < 0)
                    textbuf_puts(b, lx->tables[gr->col.t].name);
                else
                    textbuf_puts(b, lx->tables[gr->col.t].cols[gr->col.c].name);
            }
            if (p->having)
                textbuf_printf(b, " (only those with a count %s %.15g)", op_sql(p->having_op),
                          p->having_num);
        }
    }
    free(meas.p);
    describe_filters(m, b);
    textbuf_printf(b, ", from %s", lx->tables[p->entity].name);
    for (size_t j = 0; j < p->njoins; j++)
        textbuf_printf(b, "%s%s", j == 0 ? " joined to " : ", ", lx->tables[p->joins[j].to_t].name);
    textbuf_puts(b, ".");
}

int emit_sql(const struct lexicon *lx, const struct plan *p, const struct sql_dialect *d,
             struct emitted *e)
{
    memset(e, 0, sizeof(*e));
    struct em m = {lx, p, d, e, 0};
    struct textbuf sql = {0}, sum = {0};
    build_sql(&m, &sql);
    build_summary(&m, &sum);
    if (sql.oom || sum.oom || !sql.p || !sum.p) {
        free(sql.p);
        free(sum.p);
        return DC_ENOMEM;
    }
    if (m.limit_hit) {
        free(sql.p);
        free(sum.p);
        return DC_ELIMIT;
    }
    e->sql = sql.p;
    e->summary = sum.p;
    return DC_OK;
}

void emit_free(struct emitted *e)
{
    free(e->sql);
    free(e->summary);
    e->sql = e->summary = NULL;
}

char *emit_probe_sql(const struct sql_dialect *d, const char *table, const char *column)
{
    struct textbuf b = {0};
    textbuf_puts(&b, "SELECT ");
    quote(&b, column);
    textbuf_puts(&b, " FROM ");
    quote(&b, table);
    textbuf_puts(&b, " WHERE ");
    if (strcmp(d->name, "sqlite") == 0) {
        quote(&b, column);
        textbuf_printf(&b, " = %s1 COLLATE NOCASE", d->param_prefix);
    } else {
        textbuf_puts(&b, "lower(");
        quote(&b, column);
        textbuf_printf(&b, ") = lower(%s1)", d->param_prefix);
    }
    textbuf_puts(&b, " LIMIT 1");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
