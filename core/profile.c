#include "profile.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include <datachat/host.h>
#include <datachat/value.h>

#include "db.h"
#include "gate.h"
#include "result.h"
#include "schema.h"
#include "util.h"

#define PROFILE_COLS_PER_QUERY 40
#define PROFILE_MAX_FILE (4u << 20)

struct col_stats {
    const struct dc_column_info *ci;
    int numeric_or_date;
    int text;
    int64_t nonnull;
    int64_t distinct;
    char *min, *max;
    int minmax_num; /* min/max are numbers, written unquoted */
    char **top;
    int64_t *top_count;
    size_t ntop;
};

struct fk_out {
    const char *column, *to_table, *to_column;
    int inferred;
};

struct prof {
    struct gate *g;
    struct db *d;
    const struct dc_schema *sc;
    const char *principal;
    struct profile_opts o;
    char *err;
    size_t errlen;
};

static void quote_name(struct sbuf *b, const char *name)
{
    sbuf_adds(b, "\"");
    for (const char *p = name; *p; p++)
        sbuf_add(b, *p == '"' ? "\"\"" : p, 1 + (*p == '"'));
    sbuf_adds(b, "\"");
}

static int run(struct prof *p, const char *table, const char *sql, struct dc_result **out)
{
    struct gate_decision dec;
    memset(&dec, 0, sizeof(dec));
    int rc = gate_run(p->g, p->principal, p->d, sql, NULL, 0, NULL, out, &dec);
    if (rc != DC_OK)
        util_err(p->err, p->errlen, rc, "table %s: %s%s%s (statement: %.300s)", table, dec.code,
                 dec.code[0] ? ": " : "", dec.reason, sql);
    gate_decision_clear(&dec);
    return rc;
}

static int64_t value_int(const struct dc_value *v)
{
    if (!v)
        return 0;
    if (v->type == DC_INT || v->type == DC_BOOL)
        return v->v.i;
    if (v->type == DC_REAL)
        return (int64_t)v->v.d;
    return 0;
}

static int decl_has(const char *decl, const char *word)
{
    if (!decl)
        return 0;
    size_t n = strlen(word);
    for (const char *p = decl; *p; p++)
        if (strncasecmp(p, word, n) == 0)
            return 1;
    return 0;
}

static void classify(struct col_stats *cs)
{
    const struct dc_column_info *c = cs->ci;
    const char *decl = c->decl_type;
    cs->numeric_or_date = c->type == DC_INT || c->type == DC_REAL || c->type == DC_NUMERIC ||
                          c->type == DC_DATE || c->type == DC_TIMESTAMP || decl_has(decl, "INT") ||
                          decl_has(decl, "REAL") || decl_has(decl, "FLOA") ||
                          decl_has(decl, "DOUB") || decl_has(decl, "NUM") ||
                          decl_has(decl, "DEC") || decl_has(decl, "DATE") ||
                          decl_has(decl, "TIME");
    cs->text = !cs->numeric_or_date && !decl_has(decl, "BLOB") && !decl_has(decl, "BYTEA") &&
               (c->type == DC_TEXT || decl_has(decl, "CHAR") || decl_has(decl, "TEXT") ||
                decl_has(decl, "CLOB") || !decl || !*decl);
}

/* SELECT count(*), then per column count, count distinct [, min, max]. */
static int column_stats(struct prof *p, const struct dc_table_info *t, const char *src,
                        struct col_stats *cs, size_t ncols, int64_t *nsrc)
{
    struct sbuf q;
    sbuf_init(&q);
    int rc = DC_OK;
    for (size_t start = 0; start < ncols; start += PROFILE_COLS_PER_QUERY) {
        size_t end = start + PROFILE_COLS_PER_QUERY < ncols ? start + PROFILE_COLS_PER_QUERY : ncols;
        sbuf_reset(&q);
        sbuf_adds(&q, "SELECT count(*)");
        for (size_t i = start; i < end; i++) {
            const char *c = cs[i].ci->name;
            sbuf_adds(&q, ", count(");
            quote_name(&q, c);
            sbuf_adds(&q, "), count(DISTINCT ");
            quote_name(&q, c);
            sbuf_adds(&q, ")");
            if (cs[i].numeric_or_date) {
                sbuf_adds(&q, ", min(");
                quote_name(&q, c);
                sbuf_adds(&q, "), max(");
                quote_name(&q, c);
                sbuf_adds(&q, ")");
            }
        }
        sbuf_addf(&q, " FROM %s", src);
        if (q.oom) {
            rc = util_err(p->err, p->errlen, DC_ENOMEM, "out of memory");
            break;
        }
        struct dc_result *r = NULL;
        rc = run(p, t->name, q.p, &r);
        if (rc != DC_OK)
            break;
        if (result_nrows(r) != 1) {
            result_free(r);
            rc = util_err(p->err, p->errlen, DC_EIO, "table %s: statistics returned no row",
                          t->name);
            break;
        }
        size_t k = 0;
        *nsrc = value_int(result_get(r, 0, k++));
        for (size_t i = start; i < end; i++) {
            cs[i].nonnull = value_int(result_get(r, 0, k++));
            cs[i].distinct = value_int(result_get(r, 0, k++));
            if (cs[i].numeric_or_date) {
                const struct dc_value *mn = result_get(r, 0, k++);
                const struct dc_value *mx = result_get(r, 0, k++);
                if (mn && mn->type != DC_NULL)
                    cs[i].min = result_value_text(mn);
                cs[i].minmax_num = mn && mx && (mn->type == DC_INT || mn->type == DC_REAL) &&
                                   (mx->type == DC_INT || mx->type == DC_REAL);
                if (mx && mx->type != DC_NULL)
                    cs[i].max = result_value_text(mx);
            }
        }
        result_free(r);
    }
    sbuf_free(&q);
    return rc;
}

static int top_values(struct prof *p, const struct dc_table_info *t, const char *src,
                      struct col_stats *cs)
{
    struct sbuf q;
    sbuf_init(&q);
    sbuf_adds(&q, "SELECT ");
    quote_name(&q, cs->ci->name);
    sbuf_addf(&q, ", count(*) FROM %s WHERE ", src);
    quote_name(&q, cs->ci->name);
    sbuf_addf(&q, " IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %d", p->o.top_n);
    if (q.oom) {
        sbuf_free(&q);
        return util_err(p->err, p->errlen, DC_ENOMEM, "out of memory");
    }
    struct dc_result *r = NULL;
    int rc = run(p, t->name, q.p, &r);
    sbuf_free(&q);
    if (rc != DC_OK)
        return rc;
    size_t n = result_nrows(r);
    cs->top = calloc(n + 1, sizeof(char *));
    cs->top_count = calloc(n + 1, sizeof(int64_t));
    if (!cs->top || !cs->top_count) {
        result_free(r);
        return util_err(p->err, p->errlen, DC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        cs->top[i] = result_value_text(result_get(r, i, 0));
        cs->top_count[i] = value_int(result_get(r, i, 1));
        if (!cs->top[i]) {
            result_free(r);
            return util_err(p->err, p->errlen, DC_ENOMEM, "out of memory");
        }
        cs->ntop++;
    }
    result_free(r);
    return DC_OK;
}

static const char *single_pk(const struct dc_table_info *t)
{
    const char *pk = NULL;
    for (size_t i = 0; i < t->ncolumns; i++) {
        if (t->columns[i].pk) {
            if (pk)
                return NULL;
            pk = t->columns[i].name;
        }
    }
    return pk;
}

static void lower_into(char *out, size_t n, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
}

/* customers -> customer, categories -> category, addresses -> address */
static void singular(char *w)
{
    size_t n = strlen(w);
    if (n > 3 && strcmp(w + n - 3, "ies") == 0)
        strcpy(w + n - 3, "y");
    else if (n > 4 && strcmp(w + n - 4, "sses") == 0)
        w[n - 2] = '\0';
    else if (n > 1 && w[n - 1] == 's' && w[n - 2] != 's')
        w[n - 1] = '\0';
}

/* Does column `col` of t name table u by the usual conventions? */
static int names_table(const char *col, const struct dc_table_info *u, const char *upk)
{
    char c[160], tn[128], one[128], pk[128], cand[160];
    lower_into(c, sizeof(c), col);
    lower_into(tn, sizeof(tn), u->name);
    lower_into(pk, sizeof(pk), upk);
    snprintf(one, sizeof(one), "%s", tn);
    singular(one);
    if (strcmp(pk, "id") != 0 && strcmp(c, pk) == 0)
        return 1;
    const char *stems[2] = {tn, one};
    for (int i = 0; i < 2; i++) {
        snprintf(cand, sizeof(cand), "%s_id", stems[i]);
        if (strcmp(c, cand) == 0)
            return 1;
        snprintf(cand, sizeof(cand), "%sid", stems[i]);
        if (strcmp(c, cand) == 0)
            return 1;
    }
    return 0;
}

/* Every non-null value of t.col (in the first fk_check_rows) is a key of u. */
static int contained(struct prof *p, const struct dc_table_info *t, const char *col,
                     const struct dc_table_info *u, const char *upk, int *yes)
{
    struct sbuf q;
    sbuf_init(&q);
    sbuf_adds(&q, "SELECT count(*), count(x.");
    quote_name(&q, upk);
    sbuf_adds(&q, ") FROM (SELECT ");
    quote_name(&q, col);
    sbuf_adds(&q, " AS v FROM ");
    quote_name(&q, t->name);
    sbuf_adds(&q, " WHERE ");
    quote_name(&q, col);
    sbuf_addf(&q, " IS NOT NULL LIMIT %lld) AS s LEFT JOIN ", (long long)p->o.fk_check_rows);
    quote_name(&q, u->name);
    sbuf_adds(&q, " AS x ON x.");
    quote_name(&q, upk);
    sbuf_adds(&q, " = s.v");
    if (q.oom) {
        sbuf_free(&q);
        return util_err(p->err, p->errlen, DC_ENOMEM, "out of memory");
    }
    struct dc_result *r = NULL;
    int rc = run(p, t->name, q.p, &r);
    sbuf_free(&q);
    if (rc != DC_OK)
        return rc;
    int64_t n = value_int(result_get(r, 0, 0)), ok = value_int(result_get(r, 0, 1));
    *yes = n > 0 && ok == n;
    result_free(r);
    return DC_OK;
}

static int infer_fks(struct prof *p, const struct dc_table_info *t, struct col_stats *cs,
                     struct fk_out *fks, size_t *nfks)
{
    const char *own_pk = single_pk(t);
    for (size_t i = 0; i < t->ncolumns; i++) {
        const struct dc_column_info *c = &t->columns[i];
        int declared = 0;
        for (size_t k = 0; k < t->nfks; k++)
            declared |= strcasecmp(t->fks[k].from_column, c->name) == 0;
        if (declared || (own_pk && strcasecmp(own_pk, c->name) == 0) || cs[i].nonnull == 0)
            continue;
        for (size_t j = 0; j < schema_ntables(p->sc); j++) {
            const struct dc_table_info *u = schema_table(p->sc, j);
            const char *upk = single_pk(u);
            if (u == t || !upk || strcmp(u->kind ? u->kind : "table", "table") != 0 ||
                !names_table(c->name, u, upk))
                continue;
            struct col_stats target = {.ci = NULL};
            for (size_t k = 0; k < u->ncolumns; k++)
                if (strcasecmp(u->columns[k].name, upk) == 0)
                    target.ci = &u->columns[k];
            if (!target.ci)
                continue;
            classify(&target);
            if (target.text != cs[i].text)
                continue;
            int yes = 0;
            int rc = contained(p, t, c->name, u, upk, &yes);
            if (rc != DC_OK)
                return rc;
            if (yes) {
                fks[(*nfks)++] = (struct fk_out){c->name, u->name, upk, 1};
                break;
            }
        }
    }
    return DC_OK;
}

/* ------------------------------------------------------------------------
 * YAML out, through libyaml's emitter so quoting is always right.
 */
struct emit {
    yaml_emitter_t e;
    struct sbuf out;
    int failed;
};

static int emit_write(void *arg, unsigned char *buf, size_t n)
{
    struct sbuf *b = arg;
    return sbuf_add(b, (const char *)buf, n) == DC_OK;
}

static void ev(struct emit *em, yaml_event_t *e, int ok)
{
    if (em->failed)
        return;
    if (!ok || !yaml_emitter_emit(&em->e, e))
        em->failed = 1;
}

/* Plain only when a YAML reader cannot take it for a number, a boolean,
 * null or syntax. */
static int plain_safe(const char *s)
{
    static const char *const words[] = {"true", "false", "yes", "no", "on", "off", "null",
                                        "y", "n", "~", NULL};
    if (!*s || !isalpha((unsigned char)s[0]) || s[strlen(s) - 1] == ' ')
        return 0;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(" _-./()&", *p))
            return 0;
    for (size_t i = 0; words[i]; i++)
        if (strcasecmp(s, words[i]) == 0)
            return 0;
    return 1;
}

static void e_str(struct emit *em, const char *s)
{
    yaml_event_t e;
    ev(em, &e,
       yaml_scalar_event_initialize(&e, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                    plain_safe(s) ? YAML_PLAIN_SCALAR_STYLE
                                                  : YAML_DOUBLE_QUOTED_SCALAR_STYLE));
}

static void e_raw(struct emit *em, const char *s)
{
    yaml_event_t e;
    ev(em, &e,
       yaml_scalar_event_initialize(&e, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 0,
                                    YAML_PLAIN_SCALAR_STYLE));
}

static void e_int(struct emit *em, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    e_raw(em, buf);
}

static void e_map(struct emit *em, int flow)
{
    yaml_event_t e;
    ev(em, &e,
       yaml_mapping_start_event_initialize(&e, NULL, NULL, 1,
                                           flow ? YAML_FLOW_MAPPING_STYLE
                                                : YAML_BLOCK_MAPPING_STYLE));
}

static void e_seq(struct emit *em, int flow)
{
    yaml_event_t e;
    ev(em, &e,
       yaml_sequence_start_event_initialize(&e, NULL, NULL, 1,
                                            flow ? YAML_FLOW_SEQUENCE_STYLE
                                                 : YAML_BLOCK_SEQUENCE_STYLE));
}

static void e_end_map(struct emit *em)
{
    yaml_event_t e;
    ev(em, &e, yaml_mapping_end_event_initialize(&e));
}

static void e_end_seq(struct emit *em)
{
    yaml_event_t e;
    ev(em, &e, yaml_sequence_end_event_initialize(&e));
}

static void e_kv(struct emit *em, const char *k, const char *v)
{
    e_raw(em, k);
    e_str(em, v);
}

/* 0.1234 style, trailing zeros cut, so reruns produce identical text. */
static void fmt_rate(char *out, size_t n, double x)
{
    snprintf(out, n, "%.4f", x);
    char *dot = strchr(out, '.');
    if (!dot)
        return;
    char *end = out + strlen(out) - 1;
    while (end > dot && *end == '0')
        *end-- = '\0';
    if (end == dot)
        *end = '\0';
}

static char *table_yaml(const char *db, const struct dc_table_info *t, struct col_stats *cs,
                        int64_t rows, int64_t nsrc, int sampled, const struct fk_out *fks,
                        size_t nfks)
{
    struct emit em;
    yaml_event_t e;
    memset(&em, 0, sizeof(em));
    sbuf_init(&em.out);
    if (!yaml_emitter_initialize(&em.e))
        return NULL;
    yaml_emitter_set_output(&em.e, emit_write, &em.out);
    yaml_emitter_set_unicode(&em.e, 1);
    yaml_emitter_set_width(&em.e, 100);
    ev(&em, &e, yaml_stream_start_event_initialize(&e, YAML_UTF8_ENCODING));
    ev(&em, &e, yaml_document_start_event_initialize(&e, NULL, NULL, NULL, 1));
    e_map(&em, 0);
    struct sbuf id;
    sbuf_init(&id);
    sbuf_addf(&id, "schema.%s.%s", db, t->name);
    for (char *q = id.p; q && *q; q++)
        if (!isalnum((unsigned char)*q) && !strchr("_.-", *q))
            *q = '_';
    e_kv(&em, "id", id.p ? id.p : "schema");
    sbuf_free(&id);
    e_kv(&em, "type", "schema");
    e_kv(&em, "name", t->name);
    e_raw(&em, "managed");
    e_raw(&em, "true");
    e_kv(&em, "database", db);
    e_kv(&em, "table", t->name);
    char def[512];
    snprintf(def, sizeof(def),
             "Table %.200s of database %.100s, profiled by datachat profile (generated; write a "
             "user DataPoint to override it).",
             t->name, db);
    e_kv(&em, "definition", t->comment && *t->comment ? t->comment : def);
    e_raw(&em, "row_count");
    e_int(&em, rows);
    if (sampled) {
        e_raw(&em, "sample");
        e_map(&em, 1);
        e_raw(&em, "rows");
        e_int(&em, nsrc);
        e_kv(&em, "method", "first rows (LIMIT)");
        e_end_map(&em);
    }
    size_t npk = 0;
    for (size_t i = 0; i < t->ncolumns; i++)
        npk += t->columns[i].pk > 0;
    if (npk) {
        e_raw(&em, "primary_key");
        e_seq(&em, 1);
        for (int pos = 1; pos <= (int)t->ncolumns; pos++)
            for (size_t i = 0; i < t->ncolumns; i++)
                if (t->columns[i].pk == pos)
                    e_str(&em, t->columns[i].name);
        e_end_seq(&em);
    }
    if (nfks) {
        e_raw(&em, "foreign_keys");
        e_seq(&em, 0);
        for (size_t i = 0; i < nfks; i++) {
            char ref[400];
            snprintf(ref, sizeof(ref), "%s.%s", fks[i].to_table, fks[i].to_column);
            e_map(&em, 1);
            e_kv(&em, "column", fks[i].column);
            e_kv(&em, "references", ref);
            if (fks[i].inferred) {
                e_raw(&em, "inferred");
                e_raw(&em, "true");
            }
            e_end_map(&em);
        }
        e_end_seq(&em);
    }
    e_raw(&em, "columns");
    e_seq(&em, 0);
    for (size_t i = 0; i < t->ncolumns; i++) {
        const struct col_stats *c = &cs[i];
        char buf[64];
        e_map(&em, 0);
        e_kv(&em, "name", c->ci->name);
        e_kv(&em, "type", c->ci->decl_type && *c->ci->decl_type ? c->ci->decl_type : "ANY");
        e_raw(&em, "nullable");
        e_raw(&em, c->ci->notnull ? "false" : "true");
        if (c->ci->pk) {
            e_raw(&em, "primary_key");
            e_raw(&em, "true");
        }
        fmt_rate(buf, sizeof(buf), nsrc > 0 ? (double)(nsrc - c->nonnull) / (double)nsrc : 0.0);
        e_raw(&em, "null_rate");
        e_raw(&em, buf);
        e_raw(&em, "distinct");
        e_int(&em, c->distinct);
        if (c->min && c->max) {
            e_raw(&em, "min");
            (c->minmax_num ? e_raw : e_str)(&em, c->min);
            e_raw(&em, "max");
            (c->minmax_num ? e_raw : e_str)(&em, c->max);
        }
        if (c->ntop) {
            e_raw(&em, "top_values");
            e_seq(&em, 0);
            for (size_t j = 0; j < c->ntop; j++) {
                e_map(&em, 1);
                e_kv(&em, "value", c->top[j]);
                e_raw(&em, "count");
                e_int(&em, c->top_count[j]);
                e_end_map(&em);
            }
            e_end_seq(&em);
        }
        e_end_map(&em);
    }
    e_end_seq(&em);
    e_end_map(&em);
    ev(&em, &e, yaml_document_end_event_initialize(&e, 1));
    ev(&em, &e, yaml_stream_end_event_initialize(&e));
    if (!em.failed && !yaml_emitter_flush(&em.e))
        em.failed = 1;
    yaml_emitter_delete(&em.e);
    if (em.failed || em.out.oom) {
        sbuf_free(&em.out);
        return NULL;
    }
    return sbuf_detach(&em.out);
}

/* ------------------------------------------------------------------------
 * Files.
 */
static int mkdirs(const char *path)
{
    char buf[4096];
    if (strlen(path) >= sizeof(buf))
        return DC_EINVAL;
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return DC_EIO;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return DC_EIO;
    return DC_OK;
}

static char *file_name(const char *table)
{
    struct sbuf b;
    sbuf_init(&b);
    for (const char *p = table; *p; p++)
        sbuf_addf(&b, "%c", isalnum((unsigned char)*p) || *p == '_' || *p == '-' ? *p : '_');
    sbuf_adds(&b, ".yaml");
    return sbuf_detach(&b);
}

/* Writes only when the content differs; *change says what happened. */
static int write_if_changed(const char *path, const char *text, int *change, char *err,
                            size_t errlen)
{
    char *old = NULL, e2[256];
    size_t oldlen = 0;
    int rc = util_read_file(path, PROFILE_MAX_FILE, &old, &oldlen, e2, sizeof(e2));
    size_t len = strlen(text);
    if (rc == DC_OK && oldlen == len && memcmp(old, text, len) == 0) {
        free(old);
        *change = PROFILE_UNCHANGED;
        return DC_OK;
    }
    *change = rc == DC_OK ? PROFILE_CHANGED : PROFILE_ADDED;
    free(old);
    return util_write_file_atomic(path, text, len, 0644, 1, err, errlen);
}

static int add_entry(struct profile_report *rep, const char *table, const char *file, int change,
                     int64_t rows, int64_t sample_rows, size_t ninferred)
{
    struct profile_table *nt = realloc(rep->tables, (rep->ntables + 1) * sizeof(*nt));
    if (!nt)
        return DC_ENOMEM;
    rep->tables = nt;
    struct profile_table *e = &nt[rep->ntables];
    e->table = strdup(table);
    e->file = strdup(file);
    if (!e->table || !e->file) {
        free(e->table);
        free(e->file);
        return DC_ENOMEM;
    }
    e->change = change;
    e->rows = rows;
    e->sample_rows = sample_rows;
    e->ninferred = ninferred;
    rep->ntables++;
    switch (change) {
    case PROFILE_ADDED: rep->added++; break;
    case PROFILE_CHANGED: rep->changed++; break;
    case PROFILE_UNCHANGED: rep->unchanged++; break;
    default: rep->removed++; break;
    }
    return DC_OK;
}

/* Generated files of tables that are gone. Only files this module wrote
 * (they say `managed: true`) are removed. */
static int remove_stale(struct profile_report *rep, char *err, size_t errlen)
{
    DIR *dh = opendir(rep->dir);
    if (!dh)
        return util_err(err, errlen, DC_EIO, "cannot read %s: %s", rep->dir, strerror(errno));
    struct dirent *de;
    int rc = DC_OK;
    size_t nwritten = rep->ntables;
    struct sbuf path;
    sbuf_init(&path);
    while (rc == DC_OK && (de = readdir(dh)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".yaml") != 0 || de->d_name[0] == '.')
            continue;
        int ours = 0;
        for (size_t i = 0; i < nwritten; i++) {
            const char *b = strrchr(rep->tables[i].file, '/');
            ours |= strcmp(b ? b + 1 : rep->tables[i].file, de->d_name) == 0;
        }
        if (ours)
            continue;
        sbuf_reset(&path);
        sbuf_addf(&path, "%s/%s", rep->dir, de->d_name);
        char *text = NULL, e2[256];
        size_t len = 0;
        if (path.oom || util_read_file(path.p, PROFILE_MAX_FILE, &text, &len, e2, sizeof(e2)) !=
                            DC_OK)
            continue;
        int managed = strstr(text, "\nmanaged: true\n") != NULL;
        free(text);
        if (!managed)
            continue;
        if (unlink(path.p) != 0) {
            rc = util_err(err, errlen, DC_EIO, "cannot remove %s: %s", path.p, strerror(errno));
            break;
        }
        char stem[256];
        snprintf(stem, sizeof(stem), "%.*s", (int)(n - 5), de->d_name);
        rc = add_entry(rep, stem, path.p, PROFILE_REMOVED, -1, 0, 0);
    }
    closedir(dh);
    sbuf_free(&path);
    return rc;
}

static void stats_free(struct col_stats *cs, size_t n)
{
    for (size_t i = 0; cs && i < n; i++) {
        free(cs[i].min);
        free(cs[i].max);
        for (size_t j = 0; j < cs[i].ntop; j++)
            free(cs[i].top[j]);
        free(cs[i].top);
        free(cs[i].top_count);
    }
    free(cs);
}

static int profile_table(struct prof *p, const struct dc_table_info *t,
                         struct profile_report *rep)
{
    struct col_stats *cs = calloc(t->ncolumns + 1, sizeof(*cs));
    struct fk_out *fks = calloc(t->ncolumns + t->nfks + 1, sizeof(*fks));
    struct sbuf q, src;
    char *yaml = NULL, *fname = NULL, *path = NULL;
    int rc = DC_OK;
    sbuf_init(&q);
    sbuf_init(&src);
    if (!cs || !fks) {
        rc = util_err(p->err, p->errlen, DC_ENOMEM, "out of memory");
        goto cleanup;
    }
    sbuf_adds(&q, "SELECT count(*) FROM ");
    quote_name(&q, t->name);
    struct dc_result *r = NULL;
    rc = q.oom ? DC_ENOMEM : run(p, t->name, q.p, &r);
    if (rc != DC_OK)
        goto cleanup;
    int64_t rows = value_int(result_get(r, 0, 0));
    result_free(r);
    int sampled = rows > p->o.sample_above;
    if (sampled) {
        sbuf_adds(&src, "(SELECT * FROM ");
        quote_name(&src, t->name);
        sbuf_addf(&src, " LIMIT %lld) AS s", (long long)p->o.sample_rows);
    } else {
        quote_name(&src, t->name);
    }
    if (src.oom) {
        rc = util_err(p->err, p->errlen, DC_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < t->ncolumns; i++) {
        cs[i].ci = &t->columns[i];
        classify(&cs[i]);
    }
    int64_t nsrc = 0;
    rc = column_stats(p, t, src.p, cs, t->ncolumns, &nsrc);
    if (rc != DC_OK)
        goto cleanup;
    for (size_t i = 0; i < t->ncolumns; i++) {
        if (!cs[i].text || cs[i].distinct < 1 || cs[i].distinct > p->o.top_max_distinct)
            continue;
        /* A unique column longer than the list says nothing by its top. */
        if (cs[i].distinct == cs[i].nonnull && cs[i].nonnull > p->o.top_n)
            continue;
        rc = top_values(p, t, src.p, &cs[i]);
        if (rc != DC_OK)
            goto cleanup;
    }
    size_t nfks = 0;
    for (size_t k = 0; k < t->nfks; k++)
        fks[nfks++] = (struct fk_out){t->fks[k].from_column, t->fks[k].to_table,
                                      t->fks[k].to_column ? t->fks[k].to_column : "", 0};
    size_t declared = nfks;
    rc = infer_fks(p, t, cs, fks, &nfks);
    if (rc != DC_OK)
        goto cleanup;
    yaml = table_yaml(p->d->name, t, cs, rows, nsrc, sampled, fks, nfks);
    fname = file_name(t->name);
    path = fname ? util_join_path(rep->dir, fname) : NULL;
    if (!yaml || !path) {
        rc = util_err(p->err, p->errlen, DC_ENOMEM, "out of memory writing the profile of %s",
                      t->name);
        goto cleanup;
    }
    int change = 0;
    rc = write_if_changed(path, yaml, &change, p->err, p->errlen);
    if (rc == DC_OK)
        rc = add_entry(rep, t->name, path, change, rows, sampled ? nsrc : 0, nfks - declared);
cleanup:
    stats_free(cs, t->ncolumns);
    free(fks);
    sbuf_free(&q);
    sbuf_free(&src);
    free(yaml);
    free(fname);
    free(path);
    return rc;
}

static int tbl_cmp(const void *a, const void *b)
{
    const struct dc_table_info *x = *(const struct dc_table_info *const *)a;
    const struct dc_table_info *y = *(const struct dc_table_info *const *)b;
    return strcmp(x->name, y->name);
}

/* Keeps the tables o->only names, in place; each name must be a table. */
static int select_only(const struct profile_opts *o, const struct dc_table_info **tabs,
                       size_t *nt, const char *dbname, char *err, size_t errlen)
{
    if (o->nonly == 0)
        return DC_OK;
    size_t keep = 0;
    for (size_t i = 0; i < *nt; i++) {
        int wanted = 0;
        for (size_t j = 0; j < o->nonly && !wanted; j++)
            wanted = strcmp(tabs[i]->name, o->only[j]) == 0;
        if (wanted)
            tabs[keep++] = tabs[i];
    }
    for (size_t j = 0; j < o->nonly; j++) {
        int found = 0;
        for (size_t i = 0; i < keep && !found; i++)
            found = strcmp(tabs[i]->name, o->only[j]) == 0;
        if (!found)
            return util_err(err, errlen, DC_ENOTFOUND,
                            "E-PROFILE-TABLE: database %s has no table '%s' to profile", dbname,
                            o->only[j]);
    }
    *nt = keep;
    return DC_OK;
}

int profile_run(struct gate *g, struct db *d, const char *managed_root,
                const struct profile_opts *o, struct profile_report *rep, char *err,
                size_t errlen)
{
    const struct dc_table_info **tabs = NULL;
    memset(rep, 0, sizeof(*rep));
    if (!g || !d || !managed_root)
        return util_err(err, errlen, DC_EINVAL, "profile_run: missing argument");
    int64_t t0 = util_now_us();
    struct prof p = {.g = g, .d = d, .err = err, .errlen = errlen};
    if (o)
        p.o = *o;
    p.principal = p.o.principal ? p.o.principal : "profiler";
    if (p.o.sample_above <= 0)
        p.o.sample_above = 200000;
    if (p.o.sample_rows <= 0)
        p.o.sample_rows = 200000;
    if (p.o.top_max_distinct <= 0)
        p.o.top_max_distinct = 200;
    if (p.o.top_n <= 0)
        p.o.top_n = 20;
    if (p.o.fk_check_rows <= 0)
        p.o.fk_check_rows = 10000;
    char e2[512] = "";
    p.sc = db_schema(d, e2, sizeof(e2));
    if (!p.sc)
        return util_err(err, errlen, DC_EIO, "database %s: cannot read its catalog: %s",
                        d->name, e2);
    struct sbuf dir;
    sbuf_init(&dir);
    sbuf_addf(&dir, "%s/", managed_root);
    for (const char *c = d->name; *c; c++)
        sbuf_addf(&dir, "%c", isalnum((unsigned char)*c) || *c == '_' || *c == '-' ? *c : '_');
    rep->dir = sbuf_detach(&dir);
    if (!rep->dir)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    if (mkdirs(rep->dir) != DC_OK)
        return util_err(err, errlen, DC_EIO, "cannot create %s: %s", rep->dir, strerror(errno));
    size_t n = schema_ntables(p.sc), nt = 0;
    tabs = calloc(n + 1, sizeof(*tabs));
    if (!tabs)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const struct dc_table_info *t = schema_table(p.sc, i);
        if ((t->kind && strcmp(t->kind, "table") != 0) || strncasecmp(t->name, "sqlite_", 7) == 0)
            continue; /* views are queries, not data; sqlite_* is the engine's own */
        tabs[nt++] = t;
    }
    int rc = select_only(&p.o, tabs, &nt, d->name, err, errlen);
    if (rc == DC_OK)
        qsort(tabs, nt, sizeof(*tabs), tbl_cmp);
    for (size_t i = 0; i < nt && rc == DC_OK; i++) {
        if (p.o.stop && p.o.stop(p.o.progress_arg)) {
            rc = util_err(err, errlen, DC_ERR, "E-PROFILE-STOPPED: stopped before table %s "
                          "(%zu of %zu done)", tabs[i]->name, i, nt);
            break;
        }
        if (p.o.progress)
            p.o.progress(p.o.progress_arg, tabs[i]->name, i, nt);
        rc = profile_table(&p, tabs[i], rep);
    }
    if (rc == DC_OK && p.o.nonly == 0)
        rc = remove_stale(rep, err, errlen);
    free(tabs);
    rep->us = util_now_us() - t0;
    return rc;
}

const char *profile_change_name(int change)
{
    switch (change) {
    case PROFILE_ADDED: return "added";
    case PROFILE_CHANGED: return "changed";
    case PROFILE_UNCHANGED: return "unchanged";
    default: return "removed";
    }
}

void profile_report_free(struct profile_report *rep)
{
    if (!rep)
        return;
    for (size_t i = 0; i < rep->ntables; i++) {
        free(rep->tables[i].table);
        free(rep->tables[i].file);
    }
    free(rep->tables);
    free(rep->dir);
    memset(rep, 0, sizeof(*rep));
}
