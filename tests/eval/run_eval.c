/* Gold-question runner for the compiler stage: loads the built plugin
 * through a test host (real host table, a ctx whose backend runs SQL on a
 * read-only SQLite handle), asks every question of a TSV file, runs the
 * compiler's SQL and the gold SQL and compares the result sets.
 *
 *   run_eval DB FILE.tsv [--today YYYY-MM-DD] [--baseline FILE] [-v]
 *
 * FILE.tsv: question <TAB> gold SQL or UNSURE [<TAB> ordered]; '#' starts a
 * comment line. Prints answered, correct, precision and coverage; exits 1
 * when precision < 97% or coverage is below the baseline file's
 * "coverage <name> <fraction>" line for this file, 77 when DB is absent. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include <datachat/host.h>

#include "ctx.h"
#include "hostapi.h"
#include "result.h"
#include "schema.h"

struct host {
    sqlite3 *db;
    struct dc_schema *schema;
    int nqueries;
};

static const struct dc_schema *be_schema(void *arg, struct dc_ctx *c, const char *db)
{
    (void)c;
    (void)db;
    return ((struct host *)arg)->schema;
}

static int bind_all(sqlite3_stmt *st, const struct dc_value *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc;
        switch (p[i].type) {
        case DC_INT:
        case DC_BOOL: rc = sqlite3_bind_int64(st, (int)i + 1, p[i].v.i); break;
        case DC_REAL: rc = sqlite3_bind_double(st, (int)i + 1, p[i].v.d); break;
        case DC_NULL: rc = sqlite3_bind_null(st, (int)i + 1); break;
        default:
            rc = sqlite3_bind_text(st, (int)i + 1, p[i].v.s.p, (int)p[i].v.s.n, SQLITE_TRANSIENT);
            break;
        }
        if (rc != SQLITE_OK)
            return -1;
    }
    return 0;
}

static int run_sql(sqlite3 *db, const char *sql, const struct dc_value *p, size_t n,
                   struct dc_result **out, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    struct dc_result *r = NULL;
    int rc = DC_EIO;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK || !st) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        goto cleanup;
    }
    if (!sqlite3_stmt_readonly(st)) {
        snprintf(err, errlen, "statement is not read-only");
        rc = DC_EDENIED;
        goto cleanup;
    }
    if (bind_all(st, p, n) != 0) {
        snprintf(err, errlen, "bind failed: %s", sqlite3_errmsg(db));
        goto cleanup;
    }
    r = result_new();
    if (!r)
        goto cleanup;
    int nc = sqlite3_column_count(st);
    for (int c = 0; c < nc; c++)
        if (result_add_column(r, sqlite3_column_name(st, c), DC_TEXT, "") != DC_OK)
            goto cleanup;
    struct dc_value vals[64];
    if (nc > 64)
        goto cleanup;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        for (int c = 0; c < nc; c++) {
            switch (sqlite3_column_type(st, c)) {
            case SQLITE_INTEGER: vals[c] = dc_value_int(sqlite3_column_int64(st, c)); break;
            case SQLITE_FLOAT: vals[c] = dc_value_real(sqlite3_column_double(st, c)); break;
            case SQLITE_NULL: vals[c] = DC_VALUE_NULL; break;
            default: {
                const char *t = (const char *)sqlite3_column_text(st, c);
                vals[c] = dc_value_text(t ? t : "", (size_t)sqlite3_column_bytes(st, c));
            }
            }
        }
        if (result_append_row(r, vals, (size_t)nc) != DC_OK)
            goto cleanup;
    }
    if (s != SQLITE_DONE) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        goto cleanup;
    }
    *out = r;
    r = NULL;
    rc = DC_OK;
cleanup:
    if (r)
        result_free(r);
    sqlite3_finalize(st);
    return rc;
}

static int be_query(void *arg, struct dc_ctx *c, const char *db, const char *sql,
                    const struct dc_value *p, size_t np, struct dc_result **out)
{
    struct host *h = arg;
    char err[256];
    (void)db;
    h->nqueries++;
    int rc = run_sql(h->db, sql, p, np, out, err, sizeof(err));
    if (rc != DC_OK)
        ctx_fail(c, "E-TEST-SQL", "%s: %s", err, sql);
    return rc;
}

/* The catalog through PRAGMAs, the way the connector reports it. */
static int load_schema(sqlite3 *db, struct dc_schema *s)
{
    sqlite3_stmt *tl = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db,
                           "SELECT name, type FROM sqlite_schema WHERE type IN ('table','view') "
                           "AND name NOT LIKE 'sqlite_%' ORDER BY rowid",
                           -1, &tl, NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(tl) == SQLITE_ROW) {
        char name[256], kind[16];
        snprintf(name, sizeof(name), "%s", (const char *)sqlite3_column_text(tl, 0));
        snprintf(kind, sizeof(kind), "%s", (const char *)sqlite3_column_text(tl, 1));
        struct dc_column_info cols[128];
        char cname[128][128], ctype[128][64];
        struct dc_fk_info fks[32];
        char fk_from[32][128], fk_to[32][128], fk_tocol[32][128];
        size_t nc = 0, nf = 0;
        sqlite3_stmt *ti = NULL, *fk = NULL;
        if (sqlite3_prepare_v2(db, "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1)",
                               -1, &ti, NULL) != SQLITE_OK)
            goto cleanup;
        sqlite3_bind_text(ti, 1, name, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(ti) == SQLITE_ROW && nc < 128) {
            snprintf(cname[nc], 128, "%s", (const char *)sqlite3_column_text(ti, 0));
            const char *ty = (const char *)sqlite3_column_text(ti, 1);
            snprintf(ctype[nc], 64, "%s", ty ? ty : "");
            int type = DC_TEXT;
            if (strcasestr(ctype[nc], "INT"))
                type = DC_INT;
            else if (strcasestr(ctype[nc], "REAL") || strcasestr(ctype[nc], "FLOA") ||
                     strcasestr(ctype[nc], "DOUB"))
                type = DC_REAL;
            else if (strcasestr(ctype[nc], "NUM") || strcasestr(ctype[nc], "DEC"))
                type = DC_NUMERIC;
            struct dc_column_info ci = {sizeof(ci), cname[nc], ctype[nc], type,
                                        sqlite3_column_int(ti, 2), sqlite3_column_int(ti, 3),
                                        NULL, NULL};
            cols[nc++] = ci;
        }
        sqlite3_finalize(ti);
        if (sqlite3_prepare_v2(db, "SELECT \"from\", \"table\", \"to\" FROM pragma_foreign_key_list(?1)",
                               -1, &fk, NULL) != SQLITE_OK)
            goto cleanup;
        sqlite3_bind_text(fk, 1, name, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(fk) == SQLITE_ROW && nf < 32) {
            const char *to = (const char *)sqlite3_column_text(fk, 2);
            snprintf(fk_from[nf], 128, "%s", (const char *)sqlite3_column_text(fk, 0));
            snprintf(fk_to[nf], 128, "%s", (const char *)sqlite3_column_text(fk, 1));
            snprintf(fk_tocol[nf], 128, "%s", to ? to : "");
            struct dc_fk_info fi = {sizeof(fi), fk_from[nf], fk_to[nf], to ? fk_tocol[nf] : NULL};
            fks[nf++] = fi;
        }
        sqlite3_finalize(fk);
        struct dc_table_info t = {sizeof(t), NULL, name, kind, -1, NULL, nc, cols, nf, fks};
        if (schema_add_table(s, &t) != DC_OK)
            goto cleanup;
    }
    rc = 0;
cleanup:
    sqlite3_finalize(tl);
    return rc;
}

/* ---- result comparison ------------------------------------------------------- */

static char *row_text(const struct dc_result *r, size_t row)
{
    size_t cap = 256, len = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[0] = '\0';
    for (size_t c = 0; c < result_ncols(r); c++) {
        const struct dc_value *v = result_get(r, row, c);
        char cell[512];
        switch (v->type) {
        case DC_NULL: snprintf(cell, sizeof(cell), "NULL"); break;
        case DC_INT: snprintf(cell, sizeof(cell), "%lld", (long long)v->v.i); break;
        case DC_REAL:
            if (fabs(v->v.d - llround(v->v.d)) < 1e-9 && fabs(v->v.d) < 1e15)
                snprintf(cell, sizeof(cell), "%lld", (long long)llround(v->v.d));
            else
                snprintf(cell, sizeof(cell), "%.6g", v->v.d);
            break;
        default: snprintf(cell, sizeof(cell), "%.*s", (int)v->v.s.n, v->v.s.p); break;
        }
        size_t cl = strlen(cell);
        if (len + cl + 2 >= cap) {
            while (len + cl + 2 >= cap)
                cap *= 2;
            char *p = realloc(s, cap);
            if (!p) {
                free(s);
                return NULL;
            }
            s = p;
        }
        memcpy(s + len, cell, cl);
        len += cl;
        s[len++] = '\x1f';
        s[len] = '\0';
    }
    return s;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int same_results(const struct dc_result *a, const struct dc_result *b, int ordered)
{
    size_t n = result_nrows(a);
    if (n != result_nrows(b) || result_ncols(a) != result_ncols(b))
        return 0;
    char **ra = calloc(n + 1, sizeof(char *)), **rb = calloc(n + 1, sizeof(char *));
    int same = ra && rb;
    for (size_t i = 0; same && i < n; i++) {
        ra[i] = row_text(a, i);
        rb[i] = row_text(b, i);
        same = ra[i] && rb[i];
    }
    if (same && !ordered) {
        qsort(ra, n, sizeof(char *), cmpstr);
        qsort(rb, n, sizeof(char *), cmpstr);
    }
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(ra[i], rb[i]) == 0;
    for (size_t i = 0; ra && rb && i < n; i++) {
        free(ra[i]);
        free(rb[i]);
    }
    free(ra);
    free(rb);
    return same;
}

/* ---- main --------------------------------------------------------------------- */

static double baseline_for(const char *path, const char *name)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    double v = 0;
    char line[512], key[256];
    double x;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "coverage %255s %lf", key, &x) == 2 && strcmp(key, name) == 0)
            v = x;
    if (f)
        fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    const char *dbpath = NULL, *file = NULL, *today = "2026-06-30", *baseline = NULL;
    const char *ask = NULL;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--today") == 0 && i + 1 < argc)
            today = argv[++i];
        else if (strcmp(argv[i], "--baseline") == 0 && i + 1 < argc)
            baseline = argv[++i];
        else if (strcmp(argv[i], "--ask") == 0 && i + 1 < argc)
            ask = argv[++i];
        else if (strcmp(argv[i], "-v") == 0)
            verbose = 1;
        else if (!dbpath)
            dbpath = argv[i];
        else
            file = argv[i];
    }
    if (!dbpath || (!file && !ask)) {
        fprintf(stderr, "usage: run_eval DB FILE.tsv [--today D] [--baseline F] [-v]\n");
        return 2;
    }
    if (access(dbpath, R_OK) != 0) {
        printf("skip: %s is absent\n", dbpath);
        return 77;
    }
    struct host hs = {0};
    if (sqlite3_open_v2(dbpath, &hs.db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "cannot open %s\n", dbpath);
        return 1;
    }
    hs.schema = schema_new();
    if (!hs.schema || load_schema(hs.db, hs.schema) != 0) {
        fprintf(stderr, "cannot read the catalog of %s\n", dbpath);
        schema_free(hs.schema);
        sqlite3_close(hs.db);
        return 1;
    }
    char so[4096];
    const char *bin = getenv("DC_BINARY_DIR");
    snprintf(so, sizeof(so), "%s/plugins/stage-compiler.so", bin ? bin : DC_BINARY_DIR);
    void *dl = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        fprintf(stderr, "dlopen %s: %s\n", so, dlerror());
        return 1;
    }
    dc_plugin_describe_fn fn = (dc_plugin_describe_fn)dlsym(dl, DC_PLUGIN_SYMBOL);
    const struct dc_plugin_descriptor *d = fn ? fn() : NULL;
    if (!d || d->kind != DC_KIND_STAGE || strcmp(d->name, "compiler") != 0) {
        fprintf(stderr, "%s is not the compiler stage\n", so);
        return 1;
    }
    const struct dc_stage_vtable *vt = d->vtable;
    struct dc_host h;
    hostapi_init(&h, NULL);
    void *state = NULL;
    char err[256];
    if (vt->init(&h, NULL, &state, err, sizeof(err)) != DC_OK) {
        fprintf(stderr, "init: %s\n", err);
        return 1;
    }
    if (ask) {
        struct ctx_backend be = {&hs, be_schema, be_query};
        struct dc_ctx *c = ctx_new(&be);
        if (!c || ctx_set(c, "question", ask) != DC_OK || ctx_set(c, "today", today) != DC_OK)
            return 1;
        ctx_trace_begin(c, "compiler", "compiler");
        const char *outcome = NULL;
        int rc = vt->run(state, c, &outcome);
        ctx_trace_end(c, outcome, 0);
        printf("rc %d outcome %s\nsql: %s\nanswer: %s\n", rc, outcome ? outcome : "-",
               ctx_get(c, "sql") ? ctx_get(c, "sql") : "-",
               ctx_get(c, "answer") ? ctx_get(c, "answer") : "-");
        const struct trace_step *ts = ctx_ntrace(c) ? ctx_trace_at(c, 0) : NULL;
        if (ts && ts->reason)
            printf("trace: %s\n", ts->reason);
        if (ctx_result(c))
            printf("%s", result_render(ctx_result(c), 10, 30));
        ctx_free(c);
        vt->fini(state);
        dlclose(dl);
        schema_free(hs.schema);
        sqlite3_close(hs.db);
        return 0;
    }
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", file);
        return 1;
    }
    char line[8192];
    int total = 0, answered = 0, correct = 0, unsure_ok = 0, lineno = 0, wrong = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        char *q = line, *gold = strchr(line, '\t');
        if (!gold) {
            fprintf(stderr, "%s:%d: expected question<TAB>gold\n", file, lineno);
            return 2;
        }
        *gold++ = '\0';
        char *flags = strchr(gold, '\t');
        if (flags)
            *flags++ = '\0';
        int ordered = flags && strstr(flags, "ordered");
        int expect_unsure = strcmp(gold, "UNSURE") == 0;
        total++;
        struct ctx_backend be = {&hs, be_schema, be_query};
        struct dc_ctx *c = ctx_new(&be);
        if (!c || ctx_set(c, "question", q) != DC_OK || ctx_set(c, "today", today) != DC_OK)
            return 1;
        ctx_trace_begin(c, "compiler", "compiler");
        const char *outcome = NULL;
        int rc = vt->run(state, c, &outcome);
        ctx_trace_end(c, outcome, 0);
        const char *sql = ctx_get(c, "sql");
        int ans = rc == DC_OK && outcome && strcmp(outcome, "ok") == 0 && sql;
        if (ans) {
            answered++;
            int ok = 0;
            if (!expect_unsure) {
                struct dc_result *g = NULL;
                char gerr[256];
                if (run_sql(hs.db, gold, NULL, 0, &g, gerr, sizeof(gerr)) != DC_OK) {
                    fprintf(stderr, "%s:%d: gold SQL fails: %s\n", file, lineno, gerr);
                    return 2;
                }
                ok = same_results(ctx_result(c), g, ordered);
                result_free(g);
            }
            if (ok) {
                correct++;
            } else {
                wrong++;
                printf("WRONG %s:%d: %s\n  compiler: %s\n  gold:     %s\n", file, lineno, q, sql,
                       gold);
            }
        } else if (expect_unsure) {
            unsure_ok++;
            if (verbose)
                printf("unsure (expected) %s:%d: %s\n  %s\n", file, lineno, q,
                       ctx_get(c, "compiler.unsure") ? ctx_get(c, "compiler.unsure") : "");
        } else if (verbose) {
            printf("unsure %s:%d: %s\n  %s%s\n", file, lineno, q,
                   ctx_get(c, "compiler.unsure") ? ctx_get(c, "compiler.unsure") : "",
                   ctx_error_message(c) ? ctx_error_message(c) : "");
        }
        ctx_free(c);
    }
    fclose(f);
    const char *name = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    double precision = answered ? (double)correct / answered : 1.0;
    double coverage = total ? (double)answered / total : 0.0;
    double base = baseline_for(baseline, name);
    printf("%s: %d questions, answered %d, correct %d, precision %.1f%%, coverage %.1f%% "
           "(baseline %.1f%%), expected unsure %d\n",
           name, total, answered, correct, 100 * precision, 100 * coverage, 100 * base,
           unsure_ok);
    vt->fini(state);
    dlclose(dl);
    schema_free(hs.schema);
    sqlite3_close(hs.db);
    if (precision < 0.97) {
        printf("FAIL: precision below 97%%\n");
        return 1;
    }
    if (coverage + 1e-9 < base) {
        printf("FAIL: coverage below the recorded baseline\n");
        return 1;
    }
    (void)wrong;
    return 0;
}
