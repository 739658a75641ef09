/*
 * stage-catalog - answers questions about the shape of a database: its
 * tables, a table's columns, sample rows and row counts, and which tables,
 * columns and DataPoints are about some words (find, through the host's
 * retrieval index). It reads "catalog.op", "catalog.table", "catalog.limit"
 * and "catalog.search" (set by the intent stage), the catalog through
 * ctx_schema, and runs the only two SQL shapes it knows (a LIMITed SELECT *
 * and a COUNT(*)) through ctx_query, i.e. through the gate. It never builds SQL from anything but a table name
 * that exists in the catalog, always quoted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "classify.h"

#define DEFAULT_SAMPLE 5
#define MAX_SAMPLE 100
#define MAX_SUGGESTIONS 3
#define LIST_NAMES_MAX 30

struct catalog_state {
    const struct dc_host *h;
    int64_t default_sample;
    int64_t max_sample;
};

static const struct dc_option catalog_options[] = {
    {"sample_rows", DC_OPT_INT, 0, "5", "rows shown when a sample question gives no number"},
    {"max_sample_rows", DC_OPT_INT, 0, "100", "largest sample a question may ask for"},
    DC_OPTIONS_END};
static const char *const catalog_outcomes[] = {"ok", "not_found", NULL};

static int catalog_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                        char *err, size_t errlen)
{
    int64_t def = DEFAULT_SAMPLE, max = MAX_SAMPLE;
    if (opts) {
        int rc = h->opt_int(opts, "sample_rows", &def);
        if (rc != DC_OK && rc != DC_ENOTFOUND) {
            snprintf(err, errlen, "catalog: option sample_rows must be a whole number");
            return DC_EINVAL;
        }
        rc = h->opt_int(opts, "max_sample_rows", &max);
        if (rc != DC_OK && rc != DC_ENOTFOUND) {
            snprintf(err, errlen, "catalog: option max_sample_rows must be a whole number");
            return DC_EINVAL;
        }
    }
    if (max < 1 || max > 100000) {
        snprintf(err, errlen, "catalog: max_sample_rows is %lld; use 1 to 100000",
                 (long long)max);
        return DC_EINVAL;
    }
    if (def < 1 || def > max) {
        snprintf(err, errlen, "catalog: sample_rows is %lld; use 1 to max_sample_rows (%lld)",
                 (long long)def, (long long)max);
        return DC_EINVAL;
    }
    struct catalog_state *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "catalog: out of memory");
        return DC_ENOMEM;
    }
    st->h = h;
    st->default_sample = def;
    st->max_sample = max;
    *state = st;
    return DC_OK;
}

static void catalog_fini(void *state)
{
    free(state);
}

/* ---- small text helpers -------------------------------------------------- */

/* 60000 -> "60,000". */
static void fmt_count(int64_t v, char *out, size_t cap)
{
    char digits[32];
    int neg = v < 0;
    unsigned long long u = neg ? 0ull - (unsigned long long)v : (unsigned long long)v;
    int n = snprintf(digits, sizeof(digits), "%llu", u);
    size_t o = 0;
    if (neg && o + 1 < cap)
        out[o++] = '-';
    for (int i = 0; i < n && o + 1 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0 && o + 1 < cap)
            out[o++] = ',';
        if (o + 1 < cap)
            out[o++] = digits[i];
    }
    out[o] = '\0';
}

/* Appends to a fixed buffer, keeping it NUL-terminated; returns 0 when all
 * of s fitted. */
static int add(char *buf, size_t cap, const char *s)
{
    size_t l = strlen(buf), sl = strlen(s);
    if (l + sl + 1 > cap) {
        if (cap > l + 1) {
            memcpy(buf + l, s, cap - l - 1);
            buf[cap - 1] = '\0';
        }
        return -1;
    }
    memcpy(buf + l, s, sl + 1);
    return 0;
}

/* "name" with embedded quotes doubled, optionally schema-qualified. */
static char *quote_table(const struct dc_table_info *t)
{
    size_t need = 8;
    for (const char *p = t->name; *p; p++)
        need += *p == '"' ? 2 : 1;
    if (t->schema_name)
        for (const char *p = t->schema_name; *p; p++)
            need += *p == '"' ? 2 : 1;
    char *out = malloc(need);
    if (!out)
        return NULL;
    size_t o = 0;
    for (int part = t->schema_name ? 0 : 1; part < 2; part++) {
        const char *s = part == 0 ? t->schema_name : t->name;
        out[o++] = '"';
        for (; *s; s++) {
            out[o++] = *s;
            if (*s == '"')
                out[o++] = '"';
        }
        out[o++] = '"';
        if (part == 0)
            out[o++] = '.';
    }
    out[o] = '\0';
    return out;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t an = strlen(a), bn = strlen(b);
    if (an > CLS_NAME_MAX)
        an = CLS_NAME_MAX;
    if (bn > CLS_NAME_MAX)
        bn = CLS_NAME_MAX;
    size_t row[CLS_NAME_MAX + 1];
    for (size_t j = 0; j <= bn; j++)
        row[j] = j;
    for (size_t i = 1; i <= an; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= bn; j++) {
            size_t up = row[j];
            char ca = a[i - 1], cb = b[j - 1];
            if (ca >= 'A' && ca <= 'Z')
                ca = (char)(ca + 32);
            if (cb >= 'A' && cb <= 'Z')
                cb = (char)(cb + 32);
            /* A space typed for an underscore costs nothing. */
            int same = ca == cb || (ca == ' ' && cb == '_') || (ca == '_' && cb == ' ');
            size_t best = diag + (same ? 0 : 1);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[bn];
}

/* ---- lookup ------------------------------------------------------------------ */

struct lookup {
    const struct dc_host *h;
    const struct dc_schema *s;
    const char *db;
};

static const struct dc_table_info *find_table(const struct lookup *lk, const char *name,
                                              const char **how)
{
    const struct dc_host *h = lk->h;
    const struct dc_table_info *t = h->schema_find(lk->s, name);
    if (t) {
        *how = "catalog lookup";
        return t;
    }
    size_t n = h->schema_ntables(lk->s);
    struct cls_table *ct = calloc(n ? n : 1, sizeof(*ct));
    if (!ct)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const struct dc_table_info *ti = h->schema_table(lk->s, i);
        ct[i].name = ti ? ti->name : NULL;
    }
    int idx = classify_resolve_table(name, ct, n, how);
    free(ct);
    return idx >= 0 ? h->schema_table(lk->s, (size_t)idx) : NULL;
}

static void not_found_text(const struct lookup *lk, const char *name, char *out, size_t cap)
{
    const struct dc_host *h = lk->h;
    size_t n = h->schema_ntables(lk->s);
    size_t best[MAX_SUGGESTIONS], bestd[MAX_SUGGESTIONS], nb = 0;
    size_t limit = strlen(name) / 2;
    if (limit < 2)
        limit = 2;
    for (size_t i = 0; i < n; i++) {
        const struct dc_table_info *t = h->schema_table(lk->s, i);
        if (!t)
            continue;
        size_t d = edit_distance(name, t->name);
        if (d > limit)
            continue;
        size_t pos = nb;
        while (pos > 0 && bestd[pos - 1] > d)
            pos--;
        if (pos >= MAX_SUGGESTIONS)
            continue;
        size_t last = nb < MAX_SUGGESTIONS ? nb : MAX_SUGGESTIONS - 1;
        for (size_t k = last; k > pos; k--) {
            best[k] = best[k - 1];
            bestd[k] = bestd[k - 1];
        }
        best[pos] = i;
        bestd[pos] = d;
        if (nb < MAX_SUGGESTIONS)
            nb++;
    }
    snprintf(out, cap, "I couldn't find a table named '%s' in %s.", name, lk->db);
    if (nb > 0) {
        add(out, cap, " Did you mean: ");
        for (size_t k = 0; k < nb; k++) {
            if (k)
                add(out, cap, ", ");
            add(out, cap, h->schema_table(lk->s, best[k])->name);
        }
        add(out, cap, "?");
    } else if (n > 0) {
        add(out, cap, " The tables are: ");
        for (size_t i = 0; i < n && i < LIST_NAMES_MAX; i++) {
            if (i)
                add(out, cap, ", ");
            add(out, cap, h->schema_table(lk->s, i)->name);
        }
        if (n > LIST_NAMES_MAX)
            add(out, cap, ", ...");
        add(out, cap, ".");
    } else {
        add(out, cap, " It has no tables.");
    }
}

/* ---- operations ---------------------------------------------------------------- */

static int op_tables(const struct lookup *lk, struct dc_ctx *ctx)
{
    const struct dc_host *h = lk->h;
    size_t n = h->schema_ntables(lk->s), ntab = 0, nview = 0;
    char answer[4096] = "";
    struct dc_result *r = h->result_new();
    if (!r)
        return DC_ENOMEM;
    int rc = h->result_add_column(r, "table", DC_TEXT, "TEXT");
    if (rc == DC_OK)
        rc = h->result_add_column(r, "kind", DC_TEXT, "TEXT");
    if (rc == DC_OK)
        rc = h->result_add_column(r, "rows", DC_INT, "INTEGER");
    if (rc == DC_OK)
        rc = h->result_add_column(r, "columns", DC_INT, "INTEGER");
    for (size_t i = 0; i < n && rc == DC_OK; i++) {
        const struct dc_table_info *t = h->schema_table(lk->s, i);
        if (!t)
            continue;
        const char *kind = t->kind ? t->kind : "table";
        if (strcmp(kind, "view") == 0)
            nview++;
        else
            ntab++;
        struct dc_value v[4] = {dc_value_text(t->name, strlen(t->name)),
                                dc_value_text(kind, strlen(kind)),
                                t->row_count >= 0 ? dc_value_int(t->row_count) : DC_VALUE_NULL,
                                dc_value_int((int64_t)t->ncolumns)};
        rc = h->result_append_row(r, v, 4);
    }
    if (rc != DC_OK) {
        h->result_free(r);
        return rc;
    }
    if (n == 0) {
        snprintf(answer, sizeof(answer), "There are no tables in %s.", lk->db);
    } else {
        char what[128];
        if (nview == 0)
            snprintf(what, sizeof(what), "%zu table%s", ntab, ntab == 1 ? "" : "s");
        else if (ntab == 0)
            snprintf(what, sizeof(what), "%zu view%s", nview, nview == 1 ? "" : "s");
        else
            snprintf(what, sizeof(what), "%zu table%s and %zu view%s", ntab,
                     ntab == 1 ? "" : "s", nview, nview == 1 ? "" : "s");
        snprintf(answer, sizeof(answer), "There %s %s in %s: ", n == 1 ? "is" : "are", what,
                 lk->db);
        for (size_t i = 0; i < n && i < LIST_NAMES_MAX; i++) {
            const struct dc_table_info *t = h->schema_table(lk->s, i);
            if (i)
                add(answer, sizeof(answer), ", ");
            add(answer, sizeof(answer), t ? t->name : "?");
        }
        if (n > LIST_NAMES_MAX) {
            char more[64];
            snprintf(more, sizeof(more), " and %zu more", n - LIST_NAMES_MAX);
            add(answer, sizeof(answer), more);
        }
        add(answer, sizeof(answer), ".");
    }
    h->ctx_set_result(ctx, r);
    h->ctx_trace(ctx, "listed %zu tables and %zu views from the catalog", ntab, nview);
    return h->ctx_set(ctx, "answer", answer);
}

static const char *fk_target(const struct dc_table_info *t, const char *col, char *buf,
                             size_t cap)
{
    for (size_t i = 0; i < t->nfks; i++) {
        const struct dc_fk_info *fk = &t->fks[i];
        if (fk->from_column && strcmp(fk->from_column, col) == 0 && fk->to_table) {
            if (fk->to_column)
                snprintf(buf, cap, "%s.%s", fk->to_table, fk->to_column);
            else
                snprintf(buf, cap, "%s", fk->to_table);
            return buf;
        }
    }
    return NULL;
}

static int op_columns(const struct lookup *lk, struct dc_ctx *ctx,
                      const struct dc_table_info *t)
{
    const struct dc_host *h = lk->h;
    struct dc_result *r = h->result_new();
    if (!r)
        return DC_ENOMEM;
    static const char *const names[] = {"column", "type", "nullable", "primary_key",
                                        "references"};
    int rc = DC_OK;
    for (size_t i = 0; i < 5 && rc == DC_OK; i++)
        rc = h->result_add_column(r, names[i], DC_TEXT, "TEXT");
    for (size_t i = 0; i < t->ncolumns && rc == DC_OK; i++) {
        const struct dc_column_info *c = &t->columns[i];
        const char *type = c->decl_type && *c->decl_type ? c->decl_type : dc_type_name(c->type);
        const char *nullable = c->notnull ? "no" : "yes";
        const char *pk = c->pk > 0 ? "yes" : "no";
        char ref[2 * CLS_NAME_MAX + 2];
        const char *to = c->name ? fk_target(t, c->name, ref, sizeof(ref)) : NULL;
        const char *cn = c->name ? c->name : "";
        struct dc_value v[5] = {dc_value_text(cn, strlen(cn)), dc_value_text(type, strlen(type)),
                                dc_value_text(nullable, strlen(nullable)),
                                dc_value_text(pk, strlen(pk)),
                                to ? dc_value_text(to, strlen(to)) : DC_VALUE_NULL};
        rc = h->result_append_row(r, v, 5);
    }
    if (rc != DC_OK) {
        h->result_free(r);
        return rc;
    }
    h->ctx_set_result(ctx, r);
    char answer[CLS_NAME_MAX + 64];
    snprintf(answer, sizeof(answer), "%s has %zu column%s.", t->name, t->ncolumns,
             t->ncolumns == 1 ? "" : "s");
    h->ctx_trace(ctx, "described %s: %zu columns, %zu foreign keys", t->name, t->ncolumns,
                 t->nfks);
    return h->ctx_set(ctx, "answer", answer);
}

/* Runs sql through the gate; on failure makes sure the context says why. */
static int run_sql(const struct lookup *lk, struct dc_ctx *ctx, const char *sql,
                   struct dc_result **out)
{
    const struct dc_host *h = lk->h;
    int rc = h->ctx_set(ctx, "sql", sql);
    if (rc != DC_OK)
        return rc;
    rc = h->ctx_query(ctx, NULL, sql, NULL, 0, out);
    if (rc != DC_OK) {
        h->ctx_fail(ctx, "E-CATALOG-QUERY", "the catalog query on %s failed (code %d): %s",
                    lk->db, rc, sql);
        *out = NULL;
    }
    return rc;
}

static int parse_limit(const char *s, int64_t *out)
{
    if (!s || !*s)
        return DC_EINVAL;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > 1000000000)
            return DC_EINVAL;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return DC_OK;
}

static int op_sample(const struct catalog_state *st, const struct lookup *lk,
                     struct dc_ctx *ctx, const struct dc_table_info *t)
{
    const struct dc_host *h = lk->h;
    int64_t asked = st->default_sample, n;
    const char *ls = h->ctx_get(ctx, "catalog.limit");
    if (ls && parse_limit(ls, &asked) != DC_OK) {
        h->ctx_fail(ctx, "E-CATALOG-LIMIT",
                    "catalog.limit must be a whole number of rows, got '%s'", ls);
        return DC_EINVAL;
    }
    n = asked < 1 ? 1 : asked > st->max_sample ? st->max_sample : asked;
    if (n != asked)
        h->ctx_trace(ctx, "sample size %lld clamped to %lld", (long long)asked, (long long)n);
    char *qt = quote_table(t);
    if (!qt)
        return DC_ENOMEM;
    size_t cap = strlen(qt) + 64;
    char *sql = malloc(cap);
    if (!sql) {
        free(qt);
        return DC_ENOMEM;
    }
    snprintf(sql, cap, "SELECT * FROM %s LIMIT %lld", qt, (long long)n);
    free(qt);
    struct dc_result *r = NULL;
    int rc = run_sql(lk, ctx, sql, &r);
    free(sql);
    if (rc != DC_OK)
        return rc;
    size_t got = h->result_nrows(r);
    h->ctx_set_result(ctx, r);
    char answer[CLS_NAME_MAX + 256];
    if (got == 0)
        snprintf(answer, sizeof(answer), "%s has no rows.", t->name);
    else if ((int64_t)got < n)
        snprintf(answer, sizeof(answer), "%s has only %zu row%s; here %s.", t->name, got,
                 got == 1 ? "" : "s", got == 1 ? "it is" : "they are");
    else
        snprintf(answer, sizeof(answer), "Here %s %zu row%s from %s.", got == 1 ? "is" : "are",
                 got, got == 1 ? "" : "s", t->name);
    if (asked > n) {
        char note[128];
        snprintf(note, sizeof(note), " (You asked for %lld; samples are capped at %lld rows.)",
                 (long long)asked, (long long)n);
        add(answer, sizeof(answer), note);
    }
    return h->ctx_set(ctx, "answer", answer);
}

static int value_as_int(const struct dc_value *v, int64_t *out)
{
    if (!v)
        return DC_EINVAL;
    if (v->type == DC_INT) {
        *out = v->v.i;
        return DC_OK;
    }
    if (v->type == DC_REAL && v->v.d >= 0 && v->v.d < 9.0e18) {
        *out = (int64_t)v->v.d;
        return DC_OK;
    }
    if ((v->type == DC_TEXT || v->type == DC_NUMERIC) && v->v.s.n > 0 && v->v.s.n < 20) {
        int64_t x = 0;
        for (size_t i = 0; i < v->v.s.n; i++) {
            char c = v->v.s.p[i];
            if (c < '0' || c > '9')
                return DC_EINVAL;
            x = x * 10 + (c - '0');
        }
        *out = x;
        return DC_OK;
    }
    return DC_EINVAL;
}

static int op_count(const struct lookup *lk, struct dc_ctx *ctx, const struct dc_table_info *t)
{
    const struct dc_host *h = lk->h;
    char *qt = quote_table(t);
    if (!qt)
        return DC_ENOMEM;
    size_t cap = strlen(qt) + 64;
    char *sql = malloc(cap);
    if (!sql) {
        free(qt);
        return DC_ENOMEM;
    }
    snprintf(sql, cap, "SELECT COUNT(*) AS row_count FROM %s", qt);
    free(qt);
    struct dc_result *r = NULL;
    int rc = run_sql(lk, ctx, sql, &r);
    free(sql);
    if (rc != DC_OK)
        return rc;
    int64_t count = 0;
    if (h->result_nrows(r) != 1 || h->result_ncols(r) < 1 ||
        value_as_int(h->result_get(r, 0, 0), &count) != DC_OK) {
        h->result_free(r);
        h->ctx_fail(ctx, "E-CATALOG-QUERY",
                    "counting the rows of %s returned no number; check the connector", t->name);
        return DC_EIO;
    }
    h->ctx_set_result(ctx, r);
    char num[40], answer[CLS_NAME_MAX + 96];
    fmt_count(count, num, sizeof(num));
    const char *kind = t->kind && strcmp(t->kind, "view") == 0 ? "view" : "table";
    snprintf(answer, sizeof(answer), "The %s %s has %s row%s.", t->name, kind, num,
             count == 1 ? "" : "s");
    return h->ctx_set(ctx, "answer", answer);
}

/* ---- find: which tables, columns and DataPoints are about some words ----- */

#define FIND_ASK 30
#define FIND_SHOW 10

struct found {
    char name[2 * CLS_NAME_MAX + 2]; /* table, table.column or DataPoint id */
    const char *kind;                /* "table", "column", "dp" */
    double score;
    char detail[256];
};

/* "value:customers.country=Brazil" -> column customers.country with the
 * value as detail; other ids keep their kind. */
static int found_from_hit(const struct dc_retrieval_hit *hit, struct found *f)
{
    const char *id = hit->id, *colon = id ? strchr(id, ':') : NULL;
    if (!colon || !hit->kind)
        return -1;
    const char *body = colon + 1;
    memset(f, 0, sizeof(*f));
    f->score = hit->score;
    if (strcmp(hit->kind, "value") == 0) {
        const char *eq = strchr(body, '=');
        if (!eq)
            return -1;
        snprintf(f->name, sizeof(f->name), "%.*s", (int)(eq - body), body);
        snprintf(f->detail, sizeof(f->detail), "has the value '%s'", eq + 1);
        f->kind = "column";
        return 0;
    }
    if (strcmp(hit->kind, "table") == 0)
        f->kind = "table";
    else if (strcmp(hit->kind, "column") == 0)
        f->kind = "column";
    else if (strcmp(hit->kind, "dp") == 0)
        f->kind = "datapoint";
    else
        return -1;
    snprintf(f->name, sizeof(f->name), "%s", body);
    return 0;
}

static void found_detail(const struct lookup *lk, struct dc_ctx *ctx, struct found *f)
{
    const struct dc_host *h = lk->h;
    if (f->detail[0])
        return;
    if (strcmp(f->kind, "datapoint") == 0 && DC_HOST_HAS(h, dp_find)) {
        const struct dc_datapoint_info *dp = h->dp_find(ctx, f->name);
        if (dp)
            snprintf(f->detail, sizeof(f->detail), "%s %s%s%s", dp->type ? dp->type : "",
                     dp->name ? dp->name : "", dp->definition ? ": " : "",
                     dp->definition ? dp->definition : "");
        return;
    }
    if (strcmp(f->kind, "table") == 0) {
        const struct dc_table_info *t = h->schema_find(lk->s, f->name);
        if (t)
            snprintf(f->detail, sizeof(f->detail), "%zu columns", t->ncolumns);
        return;
    }
    const char *dot = strchr(f->name, '.');
    if (!dot)
        return;
    char table[CLS_NAME_MAX + 1];
    snprintf(table, sizeof(table), "%.*s", (int)(dot - f->name), f->name);
    const struct dc_table_info *t = h->schema_find(lk->s, table);
    for (size_t i = 0; t && i < t->ncolumns; i++) {
        const struct dc_column_info *c = &t->columns[i];
        if (c->name && strcmp(c->name, dot + 1) == 0) {
            snprintf(f->detail, sizeof(f->detail), "%s",
                     c->decl_type && *c->decl_type ? c->decl_type : dc_type_name(c->type));
            return;
        }
    }
}

static int find_result(const struct lookup *lk, struct dc_ctx *ctx, const struct found *fs,
                       size_t n)
{
    const struct dc_host *h = lk->h;
    struct dc_result *r = h->result_new();
    if (!r)
        return DC_ENOMEM;
    int rc = h->result_add_column(r, "kind", DC_TEXT, "TEXT");
    if (rc == DC_OK)
        rc = h->result_add_column(r, "name", DC_TEXT, "TEXT");
    if (rc == DC_OK)
        rc = h->result_add_column(r, "score", DC_REAL, "REAL");
    if (rc == DC_OK)
        rc = h->result_add_column(r, "detail", DC_TEXT, "TEXT");
    for (size_t i = 0; i < n && rc == DC_OK; i++) {
        /* Two decimals: bm25 scores mean nothing finer to a reader. */
        double sc = (double)(int64_t)(fs[i].score * 100.0 + 0.5) / 100.0;
        struct dc_value v[4] = {dc_value_text(fs[i].kind, strlen(fs[i].kind)),
                                dc_value_text(fs[i].name, strlen(fs[i].name)),
                                dc_value_real(sc),
                                fs[i].detail[0]
                                    ? dc_value_text(fs[i].detail, strlen(fs[i].detail))
                                    : DC_VALUE_NULL};
        rc = h->result_append_row(r, v, 4);
    }
    if (rc != DC_OK) {
        h->result_free(r);
        return rc;
    }
    h->ctx_set_result(ctx, r);
    return DC_OK;
}

static int op_find(const struct lookup *lk, struct dc_ctx *ctx, const char **outcome)
{
    const struct dc_host *h = lk->h;
    const char *words = h->ctx_get(ctx, "catalog.search");
    if (!words || !*words)
        words = h->ctx_get(ctx, "question");
    if (!words || !*words) {
        h->ctx_fail(ctx, "E-CATALOG-SEARCH",
                    "catalog.search is empty; a find needs the words to look up (is the "
                    "intent stage before the catalog stage?)");
        return DC_EINVAL;
    }
    if (!DC_HOST_HAS(h, retrieve)) {
        h->ctx_fail(ctx, "E-CATALOG-NO-RETRIEVAL",
                    "this host has no retrieval index (host ABI %u.%u, retrieve needs 1.2); "
                    "ask \"what tables are there?\" or \"describe TABLE\" instead",
                    (unsigned)h->abi_major, (unsigned)h->abi_minor);
        return DC_EUNSUPPORTED;
    }
    struct dc_retrieval_hit hits[FIND_ASK];
    for (size_t i = 0; i < FIND_ASK; i++)
        hits[i] = (struct dc_retrieval_hit){sizeof(struct dc_retrieval_hit), NULL, NULL, 0};
    size_t nh = 0;
    int rc = h->retrieve(ctx, words, FIND_ASK, hits, &nh);
    if (rc == DC_EUNSUPPORTED) {
        h->ctx_fail(ctx, "E-CATALOG-NO-RETRIEVAL",
                    "no retrieval index is available for %s; ask \"what tables are "
                    "there?\" or \"describe TABLE\" instead",
                    lk->db);
        return rc;
    }
    if (rc != DC_OK) {
        h->ctx_fail(ctx, "E-CATALOG-SEARCH",
                    "searching the retrieval index of %s for '%s' failed (code %d); check "
                    "`datachat doctor`",
                    lk->db, words, rc);
        return rc;
    }
    if (nh > FIND_ASK)
        nh = FIND_ASK;
    struct found fs[FIND_SHOW];
    size_t nf = 0;
    for (size_t i = 0; i < nh && nf < FIND_SHOW; i++) {
        struct found f;
        if (found_from_hit(&hits[i], &f) != 0)
            continue;
        /* Several values of one column: the column once, at its best. */
        size_t k = 0;
        while (k < nf && !(strcmp(fs[k].name, f.name) == 0 && strcmp(fs[k].kind, f.kind) == 0))
            k++;
        if (k < nf)
            continue;
        fs[nf++] = f;
    }
    h->ctx_trace(ctx, "find '%s': %zu index hits, %zu distinct matches", words, nh, nf);
    char answer[2048];
    if (nf == 0) {
        snprintf(answer, sizeof(answer),
                 "Nothing in the tables, columns or DataPoints of %s matches '%s'. Try other "
                 "words, or ask \"what tables are there?\".",
                 lk->db, words);
        h->ctx_fail(ctx, "E-CATALOG-NO-MATCH", "%s", answer);
        rc = h->ctx_set(ctx, "answer", answer);
        if (rc == DC_OK)
            *outcome = "not_found";
        return rc;
    }
    for (size_t i = 0; i < nf; i++)
        found_detail(lk, ctx, &fs[i]);
    rc = find_result(lk, ctx, fs, nf);
    if (rc != DC_OK)
        return rc;
    snprintf(answer, sizeof(answer), "%zu match%s for '%s' in %s, best first: ", nf,
             nf == 1 ? "" : "es", words, lk->db);
    for (size_t i = 0; i < nf && i < 5; i++) {
        if (i)
            add(answer, sizeof(answer), ", ");
        add(answer, sizeof(answer), fs[i].kind);
        add(answer, sizeof(answer), " ");
        add(answer, sizeof(answer), fs[i].name);
    }
    add(answer, sizeof(answer), nf > 5 ? ", ..." : ".");
    rc = h->ctx_set(ctx, "answer", answer);
    if (rc == DC_OK)
        *outcome = "ok";
    return rc;
}

/* ---- run ------------------------------------------------------------------------ */

static int catalog_run(void *state, struct dc_ctx *ctx, const char **outcome)
{
    struct catalog_state *st = state;
    const struct dc_host *h = st->h;
    const char *op = h->ctx_get(ctx, "catalog.op");
    if (!op || (strcmp(op, "tables") != 0 && strcmp(op, "columns") != 0 &&
                strcmp(op, "sample") != 0 && strcmp(op, "count") != 0 &&
                strcmp(op, "find") != 0)) {
        h->ctx_fail(ctx, "E-CATALOG-OP",
                    "catalog.op is '%s'; the catalog stage needs tables, columns, sample, "
                    "count or find (is the intent stage before it in the pipeline?)",
                    op ? op : "(missing)");
        return DC_EINVAL;
    }
    const char *db = h->ctx_get(ctx, "database");
    struct lookup lk = {h, h->ctx_schema(ctx, NULL), db ? db : "the database"};
    if (!lk.s) {
        h->ctx_fail(ctx, "E-CATALOG-NO-SCHEMA",
                    "the catalog of %s could not be read; check that the database is "
                    "configured and reachable (datachat doctor)",
                    lk.db);
        return DC_EIO;
    }
    int rc;
    if (strcmp(op, "tables") == 0) {
        rc = op_tables(&lk, ctx);
        goto done;
    }
    if (strcmp(op, "find") == 0) {
        rc = op_find(&lk, ctx, outcome);
        if (rc != DC_OK)
            h->ctx_fail(ctx, "E-CATALOG", "the catalog find request on %s failed (code %d)",
                        lk.db, rc);
        return rc;
    }
    const char *name = h->ctx_get(ctx, "catalog.table");
    const char *how = NULL;
    const struct dc_table_info *t = name && *name ? find_table(&lk, name, &how) : NULL;
    if (!t) {
        char msg[2048];
        if (name && *name) {
            not_found_text(&lk, name, msg, sizeof(msg));
            h->ctx_trace(ctx, "no table '%s' among %zu", name, h->schema_ntables(lk.s));
        } else {
            snprintf(msg, sizeof(msg),
                     "Which table do you mean? Name one of the tables in %s, e.g. "
                     "\"describe %s\".",
                     lk.db, h->schema_ntables(lk.s) ? h->schema_table(lk.s, 0)->name : "orders");
        }
        h->ctx_fail(ctx, "E-CATALOG-NO-TABLE", "%s", msg);
        rc = h->ctx_set(ctx, "answer", msg);
        if (rc == DC_OK)
            *outcome = "not_found";
        return rc;
    }
    h->ctx_trace(ctx, "%s of table %s (found by %s)", op, t->name, how);
    if (strcmp(op, "columns") == 0)
        rc = op_columns(&lk, ctx, t);
    else if (strcmp(op, "sample") == 0)
        rc = op_sample(st, &lk, ctx, t);
    else
        rc = op_count(&lk, ctx, t);
done:
    /* The gate has usually said why already; the first error is the one kept. */
    if (rc != DC_OK)
        h->ctx_fail(ctx, "E-CATALOG", "the catalog %s request on %s failed (code %d)", op,
                    lk.db, rc);
    else
        *outcome = "ok";
    return rc;
}

static const struct dc_stage_vtable catalog_vtable = {
    sizeof(struct dc_stage_vtable), catalog_options, catalog_outcomes, catalog_init,
    catalog_fini, catalog_run};

DC_PLUGIN_DEFINE_CAPS(DC_KIND_STAGE, "catalog", "0.1.0", "MIT",
                      "Deterministic catalog answers: tables, columns, sample rows, row counts, "
                      "find",
                      &catalog_vtable,
                      DC_CAP_DB_QUERY | DC_CAP_DB_SCHEMA | DC_CAP_DATAPOINTS | DC_CAP_RETRIEVE)
