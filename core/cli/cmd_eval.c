/* `datachat eval`: runs gold-question suites (eval_suite.h, docs/EVAL.md)
 * through the configured pipeline exactly as `datachat query` answers them,
 * runs each gold statement through the gate too, and scores the answers:
 * precision over the questions answered, coverage over all of them. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h> /* isfinite only: a macro, no libm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <datachat/host.h>

#include "cli.h"
#include "ctx.h"
#include "eval_suite.h"
#include "result.h"
#include "runtime.h"
#include "schema.h"
#include "util.h"

#define EVAL_MIN_PRECISION 0.97
#define EVAL_DEFAULT_DIR "tests/eval/suites"

/* What the pipeline did with a question. */
enum response { RESP_NONE, RESP_RESULT, RESP_REFUSE, RESP_CLARIFY };

struct verdict {
    int answered;
    int correct;
    int abstained;      /* gave no answer, as an UNSURE question expects */
    struct sbuf got;    /* what the pipeline did, in words */
    struct sbuf why;    /* why the answer is wrong or missing */
    char *gold_sql;     /* the statement the answer is compared with, if any */
};

struct score {
    size_t total, answered, correct, abstained, expect_unsure;
    size_t metric_total, metric_answered, metric_correct;
    double baseline;
    int has_baseline;
    int pass;
    int64_t us;
};

struct eval_run {
    struct cli *c;
    struct runtime *rt;
    json_t *out;        /* --json: the document being built */
};

/* ---- result comparison ----------------------------------------------------- */

/* The executable does not link libm; these few are enough here. */
static double dabs(double x)
{
    return x < 0 ? -x : x;
}

static double dmax(double a, double b)
{
    return a > b ? a : b;
}

/* Nearest whole number, for |x| < 1e15 (the callers check). */
static double dround(double x)
{
    return (double)(long long)(x + (x < 0 ? -0.5 : 0.5));
}

static int value_number(const struct dc_value *v, double *d)
{
    switch (v->type) {
    case DC_INT:
    case DC_BOOL: *d = (double)v->v.i; return 1;
    case DC_REAL: *d = v->v.d; return 1;
    case DC_TEXT:
    case DC_NUMERIC: {
        char buf[64];
        if (v->v.s.n == 0 || v->v.s.n >= sizeof(buf))
            return 0;
        memcpy(buf, v->v.s.p, v->v.s.n);
        buf[v->v.s.n] = '\0';
        char *end = NULL;
        errno = 0;
        *d = strtod(buf, &end);
        return errno == 0 && end && *end == '\0' && isfinite(*d);
    }
    default: return 0;
    }
}

/* A sort key per cell; numbers at 6 significant digits so that values
 * equal within the tolerance sort to the same place. */
static int cell_key(struct sbuf *b, const struct dc_value *v)
{
    double d;
    if (v->type == DC_NULL)
        return sbuf_adds(b, "\x01");
    if (value_number(v, &d)) {
        if (dabs(d) < 1e15 && dabs(d - dround(d)) < 1e-9)
            return sbuf_addf(b, "\x02%lld", (long long)dround(d));
        return sbuf_addf(b, "\x02%.6g", d);
    }
    return sbuf_add(b, v->v.s.p ? v->v.s.p : "", v->v.s.n);
}

static int rounded_to_cents(double x)
{
    double c = x * 100;
    return dabs(c) < 1e15 && dabs(c - dround(c)) < 1e-6 * dmax(1, dabs(c));
}

/* Reals match within a relative 1e-6, or within half a cent when one side
 * was rounded to two decimals (ROUND(x, 2) in one statement only). */
static int cells_equal(const struct dc_value *a, const struct dc_value *b)
{
    double x, y;
    if (a->type == DC_NULL || b->type == DC_NULL)
        return a->type == b->type;
    int nx = value_number(a, &x), ny = value_number(b, &y);
    if (nx && ny) {
        double diff = dabs(x - y);
        if (diff <= dmax(1e-6 * dmax(dabs(x), dabs(y)), 1e-9))
            return 1;
        return (rounded_to_cents(x) || rounded_to_cents(y)) && diff <= 0.005 + 1e-9;
    }
    if (nx != ny)
        return 0;
    return a->v.s.n == b->v.s.n && (a->v.s.n == 0 || memcmp(a->v.s.p, b->v.s.p, a->v.s.n) == 0);
}

struct keyed_row {
    char *key;
    size_t row;
};

static int keyed_cmp(const void *a, const void *b)
{
    const struct keyed_row *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

static struct keyed_row *row_order(const struct dc_result *r, int ordered)
{
    size_t n = result_nrows(r);
    struct keyed_row *k = calloc(n + 1, sizeof(*k));
    if (!k)
        return NULL;
    struct sbuf b;
    sbuf_init(&b);
    for (size_t i = 0; i < n; i++) {
        sbuf_reset(&b);
        for (size_t c = 0; c < result_ncols(r); c++) {
            cell_key(&b, result_get(r, i, c));
            sbuf_add(&b, "\x1f", 1);
        }
        k[i].row = i;
        k[i].key = b.oom ? NULL : util_strdup(b.p ? b.p : "");
        if (!k[i].key) {
            for (size_t j = 0; j < i; j++)
                free(k[j].key);
            free(k);
            sbuf_free(&b);
            return NULL;
        }
    }
    sbuf_free(&b);
    if (!ordered)
        qsort(k, n, sizeof(*k), keyed_cmp);
    return k;
}

static void value_text(struct sbuf *b, const struct dc_value *v)
{
    char *t = v->type == DC_NULL ? NULL : result_value_text(v);
    sbuf_adds(b, v->type == DC_NULL ? "NULL" : t ? t : "?");
    free(t);
}

static void row_text(struct sbuf *b, const struct dc_result *r, size_t row)
{
    sbuf_adds(b, "(");
    for (size_t c = 0; c < result_ncols(r) && c < 8; c++) {
        if (c)
            sbuf_adds(b, ", ");
        value_text(b, result_get(r, row, c));
    }
    sbuf_adds(b, result_ncols(r) > 8 ? ", ...)" : ")");
}

/* 1 when the two results hold the same rows; else 0 with the first
 * difference in why. Column names never matter. */
static int same_results(const struct dc_result *a, const struct dc_result *g, int ordered,
                        struct sbuf *why)
{
    size_t na = result_nrows(a), ng = result_nrows(g);
    if (result_ncols(a) != result_ncols(g)) {
        sbuf_addf(why, "the answer has %zu columns, the gold %zu", result_ncols(a),
                  result_ncols(g));
        return 0;
    }
    if (na != ng) {
        sbuf_addf(why, "the answer has %zu rows, the gold %zu%s", na, ng,
                  result_truncated(a) || result_truncated(g) ? " (truncated at the row cap)"
                                                             : "");
        return 0;
    }
    struct keyed_row *ka = row_order(a, ordered), *kg = row_order(g, ordered);
    int same = ka && kg;
    if (!same)
        sbuf_adds(why, "out of memory comparing the results");
    for (size_t i = 0; same && i < na; i++) {
        for (size_t c = 0; same && c < result_ncols(a); c++)
            same = cells_equal(result_get(a, ka[i].row, c), result_get(g, kg[i].row, c));
        if (!same) {
            sbuf_addf(why, "row %zu%s differs: answer ", i + 1, ordered ? "" : " (after sorting)");
            row_text(why, a, ka[i].row);
            sbuf_adds(why, ", gold ");
            row_text(why, g, kg[i].row);
        }
    }
    for (size_t i = 0; i < na; i++) {
        if (ka)
            free(ka[i].key);
        if (kg)
            free(kg[i].key);
    }
    free(ka);
    free(kg);
    return same;
}

/* ---- one question ---------------------------------------------------------- */

static enum response response_of(struct dc_ctx *ctx, int rc)
{
    const char *intent = ctx_get(ctx, "intent");
    if (ctx_get(ctx, "refused"))
        return RESP_REFUSE;
    if (intent && strcmp(intent, "clarify") == 0)
        return RESP_CLARIFY;
    if (rc == DC_OK && !ctx_error_code(ctx) && ctx_result(ctx))
        return RESP_RESULT;
    return RESP_NONE;
}

static void describe_response(struct sbuf *b, struct dc_ctx *ctx, enum response r)
{
    const char *intent = ctx_get(ctx, "intent");
    switch (r) {
    case RESP_RESULT:
        sbuf_addf(b, "a result of %zu rows", result_nrows(ctx_result(ctx)));
        break;
    case RESP_REFUSE: sbuf_addf(b, "a refusal (%s)", ctx_get(ctx, "refused")); break;
    case RESP_CLARIFY: sbuf_adds(b, "a clarifying question"); break;
    default: {
        const char *why = ctx_get(ctx, "compiler.unsure");
        if (!why)
            why = ctx_error_message(ctx);
        if (!why)
            why = ctx_get(ctx, "answer");
        sbuf_addf(b, "no answer (%s)", why ? why : "no stage produced a result");
    }
    }
    if (intent)
        sbuf_addf(b, " [intent %s]", intent);
}

/* Runs a statement through the gate as the eval's principal. A failure is
 * the suite's fault (file:line), never the pipeline's. */
static int run_gold(struct eval_run *ev, const struct eval_suite *s, const struct eval_item *it,
                    const char *db, const char *sql, struct dc_ctx **out, char *err,
                    size_t errlen)
{
    int rc = runtime_sql(ev->rt, sql, db, ev->c->principal, out);
    if (rc == DC_OK && *out && ctx_result(*out))
        return DC_OK;
    const char *msg = *out ? ctx_error_message(*out) : NULL;
    const char *code = *out ? (ctx_get(*out, "refused") ? ctx_get(*out, "refused")
                                                        : ctx_error_code(*out))
                            : NULL;
    util_err(err, errlen, DC_EINVAL, "%s:%d: E-EVAL-GOLD: the gold SQL fails (%s%s%s): %s; "
             "fix the statement (try it with `datachat sql`)",
             s->path, it->line, code ? code : "error", msg ? ": " : "", msg ? msg : "", sql);
    return DC_EINVAL;
}

static int check_gold(struct eval_run *ev, const struct eval_suite *s,
                      const struct eval_item *it, const char *db, const char *sql,
                      struct dc_ctx *ctx, struct verdict *v, char *err, size_t errlen)
{
    struct dc_ctx *g = NULL;
    v->gold_sql = util_strdup(sql);
    if (!v->gold_sql)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    int rc = run_gold(ev, s, it, db, sql, &g, err, errlen);
    if (rc == DC_OK)
        v->correct = same_results(ctx_result(ctx), ctx_result(g), it->ordered, &v->why);
    ctx_free(g);
    return rc;
}

static int names_equal(const char *a, const char *b)
{
    return a && b && strcasecmp(a, b) == 0;
}

static void result_col0(const struct dc_result *r, size_t row, char *buf, size_t cap)
{
    const struct dc_value *v = result_get(r, row, 0);
    char *t = v && v->type != DC_NULL ? result_value_text(v) : NULL;
    snprintf(buf, cap, "%s", t ? t : "");
    free(t);
}

/* A find answer names the expected thing among its best EVAL_FIND_TOP rows
 * (column "name": a table, table.column or DataPoint id). A column of the
 * expected table also counts: "which table has emails" is answered by
 * customers.email as well as by customers. */
#define EVAL_FIND_TOP 3

static int check_find(const struct eval_item *it, const struct dc_result *r, struct verdict *v)
{
    size_t ncol = result_ncols(r), namecol = ncol;
    for (size_t c = 0; c < ncol; c++) {
        const char *cn = result_col_name(r, c);
        if (cn && strcmp(cn, "name") == 0)
            namecol = c;
    }
    if (namecol == ncol) {
        sbuf_adds(&v->why, "the find answer has no name column");
        return DC_OK;
    }
    size_t tlen = strlen(it->table);
    for (size_t i = 0; i < result_nrows(r) && i < EVAL_FIND_TOP; i++) {
        const struct dc_value *val = result_get(r, i, namecol);
        if (!val || val->type != DC_TEXT)
            continue;
        const char *p = val->v.s.p;
        size_t n = val->v.s.n;
        if ((n == tlen || (n > tlen && p[tlen] == '.')) && strncasecmp(p, it->table, tlen) == 0) {
            v->correct = 1;
            return DC_OK;
        }
    }
    sbuf_addf(&v->why, "%s is not among the best %d matches", it->table, EVAL_FIND_TOP);
    return DC_OK;
}

/* The catalog answer against the live catalog (tables, columns, sample)
 * or against a gold COUNT(*) through the gate (count). */
static int check_catalog(struct eval_run *ev, const struct eval_suite *s,
                         const struct eval_item *it, const char *db, struct dc_ctx *ctx,
                         struct verdict *v, char *err, size_t errlen)
{
    const char *intent = ctx_get(ctx, "intent"), *op = ctx_get(ctx, "catalog.op");
    const char *table = ctx_get(ctx, "catalog.table");
    const struct dc_result *r = ctx_result(ctx);
    if (!intent || strcmp(intent, "catalog") != 0) {
        sbuf_addf(&v->why, "expected a catalog answer, the intent was %s",
                  intent ? intent : "not set");
        return DC_OK;
    }
    if (!op || strcmp(op, it->arg) != 0) {
        sbuf_addf(&v->why, "expected catalog operation %s, got %s", it->arg, op ? op : "none");
        return DC_OK;
    }
    if (strcmp(op, "find") == 0)
        return check_find(it, r, v);
    if (it->table && !names_equal(it->table, table)) {
        sbuf_addf(&v->why, "expected table %s, the answer is about %s", it->table,
                  table ? table : "no table");
        return DC_OK;
    }
    const struct dc_schema *sc = ctx_schema(ctx, ctx_get(ctx, "database"));
    if (!sc) {
        sbuf_adds(&v->why, "the database's catalog could not be read to check the answer");
        return DC_OK;
    }
    const struct dc_table_info *t = table ? schema_find(sc, table) : NULL;
    char name[256];
    if (strcmp(op, "tables") == 0) {
        if (result_nrows(r) != schema_ntables(sc)) {
            sbuf_addf(&v->why, "listed %zu tables, the catalog has %zu", result_nrows(r),
                      schema_ntables(sc));
            return DC_OK;
        }
        for (size_t i = 0; i < result_nrows(r); i++) {
            result_col0(r, i, name, sizeof(name));
            if (!schema_find(sc, name)) {
                sbuf_addf(&v->why, "listed '%s', which is not in the catalog", name);
                return DC_OK;
            }
        }
    } else if (!t) {
        sbuf_addf(&v->why, "the answer names table '%s', which the catalog lacks",
                  table ? table : "");
        return DC_OK;
    } else if (strcmp(op, "columns") == 0) {
        if (result_nrows(r) != t->ncolumns) {
            sbuf_addf(&v->why, "listed %zu columns of %s, the catalog has %zu", result_nrows(r),
                      t->name, t->ncolumns);
            return DC_OK;
        }
        for (size_t i = 0; i < t->ncolumns; i++) {
            result_col0(r, i, name, sizeof(name));
            if (!names_equal(name, t->columns[i].name)) {
                sbuf_addf(&v->why, "column %zu is '%s', the catalog says '%s'", i + 1, name,
                          t->columns[i].name);
                return DC_OK;
            }
        }
    } else if (strcmp(op, "sample") == 0) {
        if (result_ncols(r) != t->ncolumns) {
            sbuf_addf(&v->why, "the sample has %zu columns, %s has %zu", result_ncols(r),
                      t->name, t->ncolumns);
            return DC_OK;
        }
    } else {
        struct sbuf q;
        sbuf_init(&q);
        sbuf_adds(&q, "SELECT COUNT(*) FROM \"");
        for (const char *p = t->name; *p; p++)
            sbuf_add(&q, p, *p == '"' ? 0 : 1);
        sbuf_adds(&q, "\"");
        if (q.oom) {
            sbuf_free(&q);
            return util_err(err, errlen, DC_ENOMEM, "out of memory");
        }
        int rc = check_gold(ev, s, it, db, q.p, ctx, v, err, errlen);
        sbuf_free(&q);
        return rc;
    }
    v->correct = 1;
    return DC_OK;
}

static int judge(struct eval_run *ev, const struct eval_suite *s, const struct eval_item *it,
                 const char *db, struct dc_ctx *ctx, int rc, struct verdict *v, char *err,
                 size_t errlen)
{
    enum response r = response_of(ctx, rc);
    describe_response(&v->got, ctx, r);
    const char *refused = ctx_get(ctx, "refused");
    const char *intent = ctx_get(ctx, "intent");
    switch (it->kind) {
    case EVAL_GOLD:
        /* A refusal of a question with a gold answer is a wrong answer; a
         * clarifying question or "unsure" is an honest abstention. */
        v->answered = r == RESP_RESULT || r == RESP_REFUSE;
        if (r == RESP_RESULT)
            return check_gold(ev, s, it, db, it->arg, ctx, v, err, errlen);
        if (r == RESP_REFUSE)
            sbuf_adds(&v->why, "refused a question that has a gold answer");
        return DC_OK;
    case EVAL_UNSURE:
        v->answered = r == RESP_RESULT;
        v->abstained = !v->answered;
        if (v->answered)
            sbuf_adds(&v->why, "answered a question that has no grounded answer");
        return DC_OK;
    case EVAL_REFUSE:
    case EVAL_CLARIFY:
        v->answered = r != RESP_NONE;
        if (it->kind == EVAL_REFUSE && r == RESP_REFUSE)
            v->correct = !it->arg || strcmp(it->arg, refused) == 0;
        else if (it->kind == EVAL_CLARIFY && r == RESP_CLARIFY)
            v->correct = 1;
        if (v->answered && !v->correct)
            sbuf_addf(&v->why, "expected %s", it->expect);
        return DC_OK;
    case EVAL_INTENT:
        v->answered = intent != NULL;
        v->correct = intent && strcmp(intent, it->arg) == 0;
        if (v->answered && !v->correct)
            sbuf_addf(&v->why, "expected intent %s", it->arg);
        return DC_OK;
    case EVAL_CATALOG:
        v->answered = r == RESP_RESULT || r == RESP_REFUSE;
        if (r == RESP_REFUSE)
            sbuf_adds(&v->why, "refused a catalog question");
        if (r != RESP_RESULT)
            return DC_OK;
        return check_catalog(ev, s, it, db, ctx, v, err, errlen);
    default: return util_err(err, errlen, DC_EINVAL, "internal: unknown expectation");
    }
}

/* The rows=N flag, on top of whatever the expectation checked. */
static void check_rows(const struct eval_item *it, struct dc_ctx *ctx, struct verdict *v)
{
    const struct dc_result *r = ctx_result(ctx);
    if (!v->correct || it->rows < 0 || !r)
        return;
    if (result_nrows(r) != (size_t)it->rows) {
        v->correct = 0;
        sbuf_addf(&v->why, "expected %ld rows, the answer has %zu", it->rows, result_nrows(r));
    }
}

/* ---- reporting ------------------------------------------------------------- */

static void report_item(struct eval_run *ev, json_t *list, const struct eval_suite *s,
                        const struct eval_item *it, struct dc_ctx *ctx, const struct verdict *v,
                        const char *what)
{
    const char *sql = ctx_get(ctx, "sql");
    const char *why = v->why.p && *v->why.p ? v->why.p : NULL;
    if (list) {
        json_array_append_new(
            list, json_pack("{s:s, s:i, s:s, s:s, s:s, s:s?, s:s?, s:s?}", "file", s->path,
                            "line", it->line, "question", it->question, "expect", it->expect,
                            "got", v->got.p ? v->got.p : "", "why", why, "sql", sql,
                            "gold_sql", v->gold_sql));
        return;
    }
    if (!ev->c->verbose)
        return;
    printf("%s %s:%d: %s\n  expect: %s\n  got:    %s\n", what, s->path, it->line, it->question,
           it->expect, v->got.p ? v->got.p : "");
    if (why)
        printf("  why:    %s\n", why);
    if (sql)
        printf("  answer SQL: %s\n", sql);
    if (v->gold_sql)
        printf("  gold SQL:   %s\n", v->gold_sql);
}

/* "coverage NAME FRACTION" lines of baseline.txt beside the suite or one
 * directory up (tests/eval/baseline.txt for tests/eval/suites/qa.tsv). */
static int load_baseline(const struct eval_suite *s, struct score *sc, char *err, size_t errlen)
{
    char *dir = util_dirname(s->path);
    if (!dir)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    char cand[2][4096];
    snprintf(cand[0], sizeof(cand[0]), "%s/baseline.txt", dir);
    snprintf(cand[1], sizeof(cand[1]), "%s/../baseline.txt", dir);
    free(dir);
    int rc = DC_OK;
    for (int k = 0; k < 2 && !sc->has_baseline && rc == DC_OK; k++) {
        FILE *f = fopen(cand[k], "r");
        if (!f)
            continue;
        char line[1024];
        int lineno = 0;
        while (rc == DC_OK && fgets(line, sizeof(line), f)) {
            lineno++;
            char key[256], extra[2];
            double x;
            const char *p = line;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
                continue;
            if (sscanf(p, "coverage %255s %lf %1s", key, &x, extra) != 2 || x < 0 || x > 1)
                rc = util_err(err, errlen, DC_EINVAL,
                              "%s:%d: E-EVAL-BASELINE: expected `coverage FILE FRACTION` "
                              "with a fraction between 0 and 1",
                              cand[k], lineno);
            else if (strcmp(key, s->name) == 0) {
                sc->baseline = x;
                sc->has_baseline = 1;
            }
        }
        fclose(f);
    }
    return rc;
}

/* ---- suites ---------------------------------------------------------------- */

static int run_suite(struct eval_run *ev, const struct eval_suite *s, struct score *sc,
                     json_t *js, char *err, size_t errlen)
{
    struct cli *c = ev->c;
    const char *db = c->db ? ev->rt->db_name : s->database;
    const char *today = c->today ? c->today : s->today;
    json_t *wrong = js ? json_array() : NULL, *unanswered = js ? json_array() : NULL;
    int rc = DC_OK;
    int64_t t0 = util_now_us();
    if (db && !runtime_find_db(ev->rt, db)) {
        rc = util_err(err, errlen, DC_EINVAL,
                      "%s: E-EVAL-DATABASE: the suite names database '%s', which the config "
                      "does not define; configure it or pass --db NAME|PATH",
                      s->path, db);
        goto cleanup;
    }
    ev->rt->today = today;
    for (size_t i = 0; i < s->n && rc == DC_OK; i++) {
        const struct eval_item *it = &s->items[i];
        struct dc_ctx *ctx = NULL;
        struct verdict v = {0};
        sbuf_init(&v.got);
        sbuf_init(&v.why);
        int arc = runtime_ask(ev->rt, it->question, db, c->principal, c->json ? "json" : "text",
                              &ctx);
        if (!ctx) {
            rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
        } else if (ctx_error_code(ctx) && (strncmp(ctx_error_code(ctx), "E-AUDIT", 7) == 0 ||
                                           strcmp(ctx_error_code(ctx), "E-DB-UNKNOWN") == 0)) {
            /* The run itself is broken; scoring on would blame the pipeline. */
            rc = util_err(err, errlen, DC_EIO, "%s:%d: %s: %s", s->path, it->line,
                          ctx_error_code(ctx), ctx_error_message(ctx));
        } else {
            rc = judge(ev, s, it, db, ctx, arc, &v, err, errlen);
        }
        if (rc == DC_OK) {
            check_rows(it, ctx, &v);
            sc->total++;
            sc->answered += (size_t)v.answered;
            sc->correct += (size_t)(v.answered && v.correct);
            sc->abstained += (size_t)v.abstained;
            sc->expect_unsure += it->kind == EVAL_UNSURE;
            if (it->metric) {
                sc->metric_total++;
                sc->metric_answered += (size_t)v.answered;
                sc->metric_correct += (size_t)(v.answered && v.correct);
            }
            if (v.answered && !v.correct)
                report_item(ev, wrong, s, it, ctx, &v, "WRONG");
            else if (!v.answered && !v.abstained)
                report_item(ev, unanswered, s, it, ctx, &v, "UNANSWERED");
        }
        sbuf_free(&v.got);
        sbuf_free(&v.why);
        free(v.gold_sql);
        ctx_free(ctx);
    }
    ev->rt->today = NULL;
    if (rc != DC_OK)
        goto cleanup;
    rc = load_baseline(s, sc, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    sc->us = util_now_us() - t0;
    double precision = sc->answered ? (double)sc->correct / (double)sc->answered : 1.0;
    double coverage = sc->total ? (double)sc->answered / (double)sc->total : 0.0;
    int prec_ok = precision + 1e-12 >= EVAL_MIN_PRECISION;
    int cov_ok = !sc->has_baseline || coverage + 1e-9 >= sc->baseline;
    sc->pass = prec_ok && cov_ok;
    if (js) {
        json_object_set_new(js, "suite", json_string(s->name));
        json_object_set_new(js, "file", json_string(s->path));
        json_object_set_new(js, "database", db ? json_string(db) : json_null());
        json_object_set_new(js, "today", today ? json_string(today) : json_null());
        json_object_set_new(js, "total", json_integer((json_int_t)sc->total));
        json_object_set_new(js, "answered", json_integer((json_int_t)sc->answered));
        json_object_set_new(js, "correct", json_integer((json_int_t)sc->correct));
        json_object_set_new(js, "precision", json_real(precision));
        json_object_set_new(js, "coverage", json_real(coverage));
        json_object_set_new(js, "baseline",
                            sc->has_baseline ? json_real(sc->baseline) : json_null());
        json_object_set_new(js, "expected_unsure", json_integer((json_int_t)sc->expect_unsure));
        json_object_set_new(js, "abstained", json_integer((json_int_t)sc->abstained));
        json_object_set_new(js, "metric",
                            json_pack("{s:I, s:I, s:I}", "total", (json_int_t)sc->metric_total,
                                      "answered", (json_int_t)sc->metric_answered, "correct",
                                      (json_int_t)sc->metric_correct));
        json_object_set_new(js, "pass", json_boolean(sc->pass));
        json_object_set_new(js, "us", json_integer((json_int_t)sc->us));
        json_object_set_new(js, "wrong", wrong);
        json_object_set_new(js, "unanswered", unanswered);
        wrong = unanswered = NULL;
    } else {
        printf("%s: %zu questions, answered %zu, correct %zu, precision %.1f%%, coverage "
               "%.1f%%",
               s->name, sc->total, sc->answered, sc->correct, 100 * precision, 100 * coverage);
        if (sc->has_baseline)
            printf(" (baseline %.1f%%)", 100 * sc->baseline);
        else
            printf(" (no baseline recorded)");
        if (sc->expect_unsure)
            printf(", abstained %zu/%zu as expected", sc->abstained, sc->expect_unsure);
        if (sc->metric_total)
            printf(", metric questions %zu answered of %zu", sc->metric_answered,
                   sc->metric_total);
        printf(", %.1f s\n", (double)sc->us / 1e6);
        if (!prec_ok)
            printf("FAIL %s: precision %.1f%% is below %.0f%% (run with -v for the wrong "
                   "answers)\n",
                   s->name, 100 * precision, 100 * EVAL_MIN_PRECISION);
        if (!cov_ok)
            printf("FAIL %s: coverage %.1f%% is below the recorded baseline %.1f%%\n", s->name,
                   100 * coverage, 100 * sc->baseline);
    }
cleanup:
    json_decref(wrong);
    json_decref(unanswered);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_path(char ***v, size_t *n, const char *path)
{
    char **p = realloc(*v, (*n + 1) * sizeof(char *));
    if (!p)
        return DC_ENOMEM;
    *v = p;
    p[*n] = util_strdup(path);
    if (!p[*n])
        return DC_ENOMEM;
    (*n)++;
    return DC_OK;
}

/* Every *.tsv file of a directory, in name order. */
static int add_dir(char ***v, size_t *n, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        cli_error("eval: cannot read the suite directory %s: %s", dir, strerror(errno));
        return CLI_USAGE;
    }
    size_t first = *n;
    struct dirent *e;
    int rc = DC_OK;
    while (rc == DC_OK && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || e->d_name[0] == '.' || strcmp(e->d_name + len - 4, ".tsv") != 0)
            continue;
        char *p = util_join_path(dir, e->d_name);
        rc = p ? add_path(v, n, p) : DC_ENOMEM;
        free(p);
    }
    closedir(d);
    if (rc != DC_OK) {
        cli_error("out of memory");
        return CLI_ERROR;
    }
    if (*n == first) {
        cli_error("eval: %s holds no suite files (*.tsv)", dir);
        return CLI_USAGE;
    }
    qsort(*v + first, *n - first, sizeof(char *), cmp_str);
    return CLI_OK;
}

/* SUITE arguments: a file, a directory of *.tsv files, or a name looked up
 * in the suite directory ($DATACHAT_EVAL_SUITES, else tests/eval/suites). */
static int resolve_suites(struct cli *c, char ***paths, size_t *n)
{
    const char *env = getenv("DATACHAT_EVAL_SUITES");
    const char *dir = env && *env ? env : EVAL_DEFAULT_DIR;
    if (c->nargs == 0)
        return add_dir(paths, n, dir);
    for (int i = 0; i < c->nargs; i++) {
        const char *a = c->args[i];
        struct stat st;
        int rc = CLI_OK;
        if (stat(a, &st) == 0) {
            rc = S_ISDIR(st.st_mode) ? add_dir(paths, n, a)
                                     : add_path(paths, n, a) == DC_OK ? CLI_OK : CLI_ERROR;
        } else if (!strchr(a, '/')) {
            char cand[4096];
            snprintf(cand, sizeof(cand), "%s/%s%s", dir, a,
                     strlen(a) > 4 && strcmp(a + strlen(a) - 4, ".tsv") == 0 ? "" : ".tsv");
            if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
                rc = add_path(paths, n, cand) == DC_OK ? CLI_OK : CLI_ERROR;
            } else {
                cli_error("eval: no suite '%s': neither a file nor %s (give a path, or set "
                          "DATACHAT_EVAL_SUITES to the suite directory)",
                          a, cand);
                rc = CLI_USAGE;
            }
        } else {
            cli_error("eval: cannot read suite %s: %s", a, strerror(errno));
            rc = CLI_USAGE;
        }
        if (rc != CLI_OK)
            return rc;
    }
    return CLI_OK;
}

int cmd_eval(struct cli *c)
{
    int ret = CLI_OK;
    char **paths = NULL;
    size_t npaths = 0;
    struct eval_suite **suites = NULL;
    struct eval_run ev = {.c = c};
    json_t *doc = NULL, *arr = NULL;
    char err[2048];

    /* --today was checked when the options were read (main.c). */
    ret = resolve_suites(c, &paths, &npaths);
    if (ret != CLI_OK)
        goto cleanup;
    suites = calloc(npaths, sizeof(*suites));
    if (!suites) {
        cli_error("out of memory");
        ret = CLI_ERROR;
        goto cleanup;
    }
    /* Every file is checked before any question runs: a typo on the last
     * line must not cost a whole run. */
    for (size_t i = 0; i < npaths; i++) {
        int rc = eval_suite_load(paths[i], &suites[i], err, sizeof(err));
        if (rc != DC_OK) {
            fprintf(stderr, "%s\n", err);
            ret = rc == DC_ENOMEM ? CLI_ERROR : CLI_USAGE;
        }
    }
    if (ret != CLI_OK)
        goto cleanup;
    /* -v lists questions here; plugin debug lines would drown them. */
    int verbose = c->verbose;
    c->verbose = 0;
    c->without_tools = 1;
    ret = cli_start_runtime(c, &ev.rt);
    c->verbose = verbose;
    if (ret != CLI_OK)
        goto cleanup;
    if (c->json) {
        doc = json_object();
        arr = json_array();
        if (!doc || !arr || json_object_set_new(doc, "suites", arr) != 0) {
            cli_error("out of memory");
            ret = CLI_ERROR;
            goto cleanup;
        }
    }
    int all_pass = 1;
    for (size_t i = 0; i < npaths; i++) {
        struct score sc = {0};
        json_t *js = c->json ? json_object() : NULL;
        if (js)
            json_array_append_new(arr, js);
        int rc = run_suite(&ev, suites[i], &sc, js, err, sizeof(err));
        if (rc != DC_OK) {
            fprintf(stderr, "datachat: error: %s\n", err);
            ret = rc == DC_EINVAL ? CLI_USAGE : CLI_ERROR;
            goto cleanup;
        }
        all_pass &= sc.pass;
    }
    if (doc) {
        json_object_set_new(doc, "min_precision", json_real(EVAL_MIN_PRECISION));
        json_object_set_new(doc, "pass", json_boolean(all_pass));
        char *s = json_dumps(doc, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        if (!s) {
            cli_error("cannot encode the report as JSON");
            ret = CLI_ERROR;
            goto cleanup;
        }
        puts(s);
        free(s);
    }
    ret = all_pass ? CLI_OK : CLI_ERROR;
cleanup:
    json_decref(doc);
    for (size_t i = 0; i < npaths; i++) {
        free(paths[i]);
        if (suites)
            eval_suite_free(suites[i]);
    }
    free(paths);
    free(suites);
    runtime_free(ev.rt);
    return ret;
}
