#include "datapoint.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <datachat/value.h>

#include "config.h"
#include "schema.h"
#include "sha256.h"
#include "util.h"
#include "ytree.h"

#define DP_MAX_DIAGS 10000
#define DP_MAX_DEPTH 32
#define DP_MAX_NODES 100000
#define DP_MAX_DIR_DEPTH 16
#define DP_MAX_ID 128
#define DP_MAX_STRING_PARAM 1000

/* ------------------------------------------------------------------------
 * Diagnostics.
 */
void dp_diags_free(struct dp_diags *dg)
{
    if (!dg)
        return;
    free(dg->d);
    memset(dg, 0, sizeof(*dg));
}

static void diag_vadd(struct dp_diags *dg, const char *file, int line, int col, const char *code,
                      const char *hint, const char *fmt, va_list ap)
{
    if (!dg)
        return;
    if (dg->n >= DP_MAX_DIAGS) {
        dg->dropped++;
        return;
    }
    if (dg->n == dg->cap) {
        size_t cap = dg->cap ? dg->cap * 2 : 16;
        struct dp_diag *d = realloc(dg->d, cap * sizeof(*d));
        if (!d) {
            dg->dropped++;
            return;
        }
        dg->d = d;
        dg->cap = cap;
    }
    struct dp_diag *d = &dg->d[dg->n++];
    memset(d, 0, sizeof(*d));
    snprintf(d->file, sizeof(d->file), "%s", file ? file : "(datapoint)");
    d->line = line;
    d->col = col;
    snprintf(d->code, sizeof(d->code), "%s", code);
    vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
    snprintf(d->hint, sizeof(d->hint), "%s", hint ? hint : "");
}

static void diag_add(struct dp_diags *dg, const char *file, int line, int col, const char *code,
                     const char *hint, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static void diag_add(struct dp_diags *dg, const char *file, int line, int col, const char *code,
                     const char *hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(dg, file, line, col, code, hint, fmt, ap);
    va_end(ap);
}

void dp_diags_add(struct dp_diags *dg, const char *file, int line, int col, const char *code,
                  const char *hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(dg, file, line, col, code, hint, fmt, ap);
    va_end(ap);
}

void dp_diag_format(const struct dp_diag *d, char *out, size_t outlen)
{
    if (d->line > 0)
        snprintf(out, outlen, "%s:%d:%d: %s: %s%s%s%s", d->file, d->line, d->col, d->code,
                 d->msg, d->hint[0] ? " (hint: " : "", d->hint, d->hint[0] ? ")" : "");
    else
        snprintf(out, outlen, "%s: %s: %s%s%s%s", d->file, d->code, d->msg,
                 d->hint[0] ? " (hint: " : "", d->hint, d->hint[0] ? ")" : "");
}

/* ------------------------------------------------------------------------
 * The model. Each DataPoint owns one arena holding every string and array
 * its public view points at, so a set of 10k frees in 10k calls.
 */
struct arena_blk {
    struct arena_blk *next;
    size_t used, cap;
    max_align_t data[];
};

struct dp_source_x {
    struct dc_dp_source pub;
    struct dp_pos at_table;
    struct dp_pos *at_columns;
    struct dp_pos *at_filters;
};

struct dp_param_x {
    struct dc_dp_param pub;
    struct dp_pos at;
};

struct dp_variant_x {
    struct dc_dp_variant pub;
    struct dp_pos at;
    int block; /* written as a block scalar: text starts on the next line */
};

struct dp_rel_x {
    struct dc_dp_relationship pub;
    struct dp_pos at_to;
};

struct dp_column_x {
    struct dc_dp_column pub;
    struct dp_pos at;
};

struct dp_fk_x {
    struct dc_dp_fk pub;
    struct dp_pos at;
};

struct dp {
    struct dc_datapoint_info info;
    int type, source;
    struct dp_pos at_id, at_table, at_database;
    struct dp_pos *at_related;
    struct dp_variant_x *tmpl; /* the default template, as a variant named "default" */
    const char **mat_keys, **mat_vals;
    size_t nmat;
    struct dp *shadows, *shadowed_by;
    int dup; /* a duplicate id: reported, excluded from the set */
    size_t arena_hint; /* size of the first arena block */
    struct arena_blk *arena;
};

struct dp_set {
    struct ytree *tree; /* reused for every file */
    struct dp **all;
    size_t nall, capall;
    struct dp **active; /* sorted by id */
    size_t nactive;
    int finished;
};

static void *ar_alloc(struct dp *d, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (n == 0)
        n = sizeof(max_align_t);
    struct arena_blk *b = d->arena;
    if (!b || b->cap - b->used < n) {
        /* Small blocks: 10k DataPoints keep their arenas for the life of
         * the runtime, and memory touched for the first time is what a
         * large load pays for most. */
        size_t want = d->arena ? 1024 : d->arena_hint;
        size_t cap = n > want ? n : want;
        b = malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->next = d->arena;
        b->used = 0;
        b->cap = cap;
        d->arena = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

static char *ar_strdup(struct dp *d, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *p = ar_alloc(d, n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

static void dp_free(struct dp *d)
{
    if (!d)
        return;
    struct arena_blk *b = d->arena;
    while (b) {
        struct arena_blk *next = b->next;
        free(b);
        b = next;
    }
    free(d);
}

static const char *const type_names[] = {NULL,        "schema", "concept", "metric",
                                         "dimension", "entity", "query"};

const char *dp_type_name(int type)
{
    return type >= DP_SCHEMA && type <= DP_QUERY ? type_names[type] : "unknown";
}

struct ld {
    struct dp_diags *dg;
    const char *file;
    size_t nerr;
    int oom;
    struct dp *d;
};

static void ld_err(struct ld *ld, int line, int col, const char *code, const char *hint,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void ld_err(struct ld *ld, int line, int col, const char *code, const char *hint,
                   const char *fmt, ...)
{
    va_list ap;
    ld->nerr++;
    va_start(ap, fmt);
    diag_vadd(ld->dg, ld->file, line, col, code, hint, fmt, ap);
    va_end(ap);
}

#define ERR_AT(ld, n, code, hint, ...)                                                        \
    ld_err((ld), (n) ? (n)->line : 0, (n) ? (n)->col : 0, (code), (hint), __VA_ARGS__)

static void yaml_diag(void *arg, int line, int col, const char *code, const char *hint,
                      const char *msg)
{
    ld_err(arg, line, col, code, hint, "%s", msg);
}

static void ld_oom(struct ld *ld)
{
    if (!ld->oom)
        ld_err(ld, 0, 0, "E-DP-NOMEM", "free memory and retry", "out of memory");
    ld->oom = 1;
}

/* ------------------------------------------------------------------------
 * Typed field access.
 */
/* Absent or written as nothing. */
static int absent(const struct ynode *v)
{
    return !v || v->bad || ynode_is_null(v);
}

static int in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

static void hint_names(char *out, size_t outlen, const char *given, const char *const *names,
                       size_t n, const char *what)
{
    const char *best = NULL;
    size_t bestd = 3;
    for (size_t i = 0; i < n; i++) {
        size_t d = util_edit_distance(given, names[i]);
        if (d < bestd) {
            bestd = d;
            best = names[i];
        }
    }
    if (best) {
        snprintf(out, outlen, "did you mean '%s'?", best);
        return;
    }
    struct sbuf b;
    sbuf_init(&b);
    sbuf_addf(&b, "%s: ", what);
    for (size_t i = 0; i < n && i < 24; i++)
        sbuf_addf(&b, "%s%s", i ? ", " : "", names[i]);
    if (n > 24)
        sbuf_adds(&b, ", ...");
    snprintf(out, outlen, "%s", b.p ? b.p : what);
    sbuf_free(&b);
}

static void check_keys(struct ld *ld, const struct ynode *map, const char *where,
                       const char *const *valid, const char *const *elsewhere,
                       const char *elsewhere_what)
{
    if (!map || map->kind != YN_MAP)
        return;
    size_t nv = 0;
    while (valid[nv])
        nv++;
    for (size_t i = 0; i + 1 < map->nkids; i += 2) {
        const struct ynode *k = map->kids[i];
        if (k->skip || in_list(k->s, valid))
            continue;
        char hint[256];
        if (elsewhere && in_list(k->s, elsewhere)) {
            snprintf(hint, sizeof(hint), "'%s' belongs to %s; change type: or remove it", k->s,
                     elsewhere_what);
        } else {
            hint_names(hint, sizeof(hint), k->s, valid, nv, "valid fields");
        }
        ERR_AT(ld, k, "E-DP-UNKNOWN-FIELD", hint, "unknown field '%s' in %s", k->s, where);
    }
}

static const struct ynode *want_map(struct ld *ld, const struct ynode *v, const char *field)
{
    if (absent(v))
        return NULL;
    if (v->kind != YN_MAP) {
        ERR_AT(ld, v, "E-DP-TYPE", "write `key: value` lines under it",
               "%s must be a mapping, got %s", field, ynode_kind_name(v));
        return NULL;
    }
    return v;
}

static const struct ynode *want_seq(struct ld *ld, const struct ynode *v, const char *field)
{
    if (absent(v))
        return NULL;
    if (v->kind != YN_SEQ) {
        ERR_AT(ld, v, "E-DP-TYPE", "write a list, e.g. [a, b] or one `- item` per line",
               "%s must be a list, got %s", field, ynode_kind_name(v));
        return NULL;
    }
    return v;
}

/* A string field; 1 when *out was set. */
static int want_str(struct ld *ld, const struct ynode *v, const char *field, const char **out)
{
    if (absent(v))
        return 0;
    if (v->kind != YN_SCALAR) {
        ERR_AT(ld, v, "E-DP-TYPE", "write a single value after the colon",
               "%s must be a string, got %s", field, ynode_kind_name(v));
        return 0;
    }
    *out = ar_strdup(ld->d, v->s);
    if (!*out) {
        ld_oom(ld);
        return 0;
    }
    return 1;
}

static int want_bool(struct ld *ld, const struct ynode *v, const char *field, int *out)
{
    if (absent(v))
        return 0;
    if (v->kind == YN_SCALAR && v->plain && strcmp(v->s, "true") == 0) {
        *out = 1;
        return 1;
    }
    if (v->kind == YN_SCALAR && v->plain && strcmp(v->s, "false") == 0) {
        *out = 0;
        return 1;
    }
    if (v->kind == YN_SCALAR)
        ERR_AT(ld, v, "E-DP-TYPE", "write true or false", "%s must be true or false, got '%s'",
               field, v->s);
    else
        ERR_AT(ld, v, "E-DP-TYPE", "write true or false", "%s must be true or false, got %s",
               field, ynode_kind_name(v));
    return 0;
}

static int parse_int(const char *s, int64_t *out)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (!isdigit((unsigned char)*p))
        return 0;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return 0;
    *out = v;
    return 1;
}

static int parse_number(const char *s, double *out)
{
    if (!*s || isspace((unsigned char)*s))
        return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return 0;
    /* hex floats, inf and nan are not numbers a DataPoint means */
    for (const char *p = s; *p; p++)
        if (!(isdigit((unsigned char)*p) || strchr("+-.eE", *p)))
            return 0;
    *out = v;
    return 1;
}

static int want_int(struct ld *ld, const struct ynode *v, const char *field, int64_t lo,
                    int64_t *out)
{
    if (absent(v))
        return 0;
    int64_t x;
    if (v->kind != YN_SCALAR || !v->plain || !parse_int(v->s, &x)) {
        ERR_AT(ld, v, "E-DP-TYPE", "write a whole number without quotes",
               "%s must be an integer, got %s", field, ynode_kind_name(v));
        return 0;
    }
    if (x < lo) {
        ERR_AT(ld, v, "E-DP-BAD-VALUE", "use a value in range", "%s must be at least %lld",
               field, (long long)lo);
        return 0;
    }
    *out = x;
    return 1;
}

/* A list of strings into an arena array; positions too when at != NULL. */
static int want_str_list(struct ld *ld, const struct ynode *v, const char *field,
                         const char *const **out, size_t *n, struct dp_pos **at)
{
    const struct ynode *seq = want_seq(ld, v, field);
    if (!seq)
        return 0;
    const char **arr = ar_alloc(ld->d, (seq->nkids + 1) * sizeof(*arr));
    struct dp_pos *pos = at ? ar_alloc(ld->d, (seq->nkids + 1) * sizeof(*pos)) : NULL;
    if (!arr || (at && !pos)) {
        ld_oom(ld);
        return 0;
    }
    size_t k = 0;
    for (size_t i = 0; i < seq->nkids; i++) {
        const struct ynode *it = seq->kids[i];
        char f[96];
        snprintf(f, sizeof(f), "%s[%zu]", field, i);
        if (it->bad)
            continue;
        if (it->kind != YN_SCALAR || ynode_is_null(it)) {
            ERR_AT(ld, it, "E-DP-TYPE", "each item is one value", "%s must be a string, got %s",
                   f, ynode_kind_name(it));
            continue;
        }
        if (!want_str(ld, it, f, &arr[k]))
            continue;
        if (pos)
            pos[k] = (struct dp_pos){it->line, it->col};
        k++;
    }
    *out = arr;
    *n = k;
    if (at)
        *at = pos;
    return 1;
}

static int valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > DP_MAX_ID || !isalpha((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
            return 0;
    return 1;
}

static int valid_word(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return 0;
    return 1;
}

/* "column" or "table.column", each part a plain SQL word. */
static int valid_ident_path(const char *s)
{
    char buf[160];
    if (strlen(s) >= sizeof(buf))
        return 0;
    snprintf(buf, sizeof(buf), "%s", s);
    char *dot = strchr(buf, '.');
    if (dot) {
        *dot = '\0';
        return valid_word(buf, 64) && valid_word(dot + 1, 64);
    }
    return valid_word(buf, 64);
}

/* ------------------------------------------------------------------------
 * Templates: {{name}} placeholders outside quotes and comments.
 */
struct ph {
    size_t start, end; /* [start, end) of "{{ name }}" */
    char name[65];
};

struct ph_list {
    struct ph *v;
    size_t n, cap;
};

static void ph_free(struct ph_list *l)
{
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* DC_OK with the placeholders, or DC_EINVAL with *bad_off and why. */
static int tmpl_scan(const char *t, struct ph_list *out, size_t *bad_off, const char **why)
{
    enum { S_CODE, S_SQUOTE, S_DQUOTE, S_LINE, S_BLOCK } st = S_CODE;
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; t[i]; i++) {
        char c = t[i];
        switch (st) {
        case S_SQUOTE:
        case S_DQUOTE:
            if (c == '{' && t[i + 1] == '{') {
                ph_free(out); /* placeholders found before the error */
            *bad_off = i;
                *why = "a placeholder inside quotes is never replaced; bound values need no "
                       "quotes: write {{name}} on its own";
                return DC_EINVAL;
            }
            if ((st == S_SQUOTE && c == '\'') || (st == S_DQUOTE && c == '"'))
                st = S_CODE;
            continue;
        case S_LINE:
            if (c == '\n')
                st = S_CODE;
            continue;
        case S_BLOCK:
            if (c == '*' && t[i + 1] == '/') {
                st = S_CODE;
                i++;
            }
            continue;
        case S_CODE:
            break;
        }
        if (c == '\'') {
            st = S_SQUOTE;
        } else if (c == '"') {
            st = S_DQUOTE;
        } else if (c == '-' && t[i + 1] == '-') {
            st = S_LINE;
        } else if (c == '/' && t[i + 1] == '*') {
            st = S_BLOCK;
            i++;
        } else if (c == '?' || (c == '$' && isdigit((unsigned char)t[i + 1])) ||
                   (c == ':' && (i == 0 || t[i - 1] != ':') &&
                    (isalpha((unsigned char)t[i + 1]) || t[i + 1] == '_')) ||
                   (c == '@' && isalpha((unsigned char)t[i + 1]))) {
            ph_free(out); /* placeholders found before the error */
            *bad_off = i;
            *why = "engine placeholders (?, $1, :name, @name) are not used in templates; write "
                   "{{name}} and declare the parameter";
            return DC_EINVAL;
        } else if (c == '{' && t[i + 1] == '{') {
            size_t j = i + 2;
            while (t[j] == ' ')
                j++;
            size_t ns = j;
            while (isalnum((unsigned char)t[j]) || t[j] == '_')
                j++;
            size_t ne = j;
            while (t[j] == ' ')
                j++;
            if (ne == ns || ne - ns > 64 || isdigit((unsigned char)t[ns]) || t[j] != '}' ||
                t[j + 1] != '}') {
                ph_free(out); /* placeholders found before the error */
            *bad_off = i;
                *why = "a placeholder is {{name}}: a parameter name (letters, digits, _) in "
                       "double braces";
                return DC_EINVAL;
            }
            if (out->n == out->cap) {
                size_t cap = out->cap ? out->cap * 2 : 8;
                struct ph *v = realloc(out->v, cap * sizeof(*v));
                if (!v) {
                    ph_free(out);
                    return DC_ENOMEM;
                }
                out->v = v;
                out->cap = cap;
            }
            struct ph *p = &out->v[out->n++];
            p->start = i;
            p->end = j + 2;
            memcpy(p->name, t + ns, ne - ns);
            p->name[ne - ns] = '\0';
            i = j + 1;
        }
    }
    return DC_OK;
}

/* Line:col of byte off inside template node v. */
static struct dp_pos tmpl_pos(const struct dp_variant_x *v, size_t off)
{
    struct dp_pos p = v->at;
    const char *t = v->pub.sql_template;
    int lines = 0;
    for (size_t i = 0; i < off && t[i]; i++)
        if (t[i] == '\n')
            lines++;
    if (v->block)
        p.line += 1 + lines;
    else
        p.line += lines;
    return p;
}

static void check_template(struct ld *ld, struct dp *d, struct dp_variant_x *v)
{
    struct ph_list pl;
    size_t bad = 0;
    const char *why = NULL;
    const char *tname = v->pub.backend;
    int rc = tmpl_scan(v->pub.sql_template, &pl, &bad, &why);
    if (rc == DC_ENOMEM) {
        ld_oom(ld);
        return;
    }
    if (rc != DC_OK) {
        struct dp_pos p = tmpl_pos(v, bad);
        ld_err(ld, p.line, p.col, "E-DP-TEMPLATE-SYNTAX", why, "template (%s) at byte %zu: %s",
               tname, bad, "placeholder syntax");
        return;
    }
    for (size_t i = 0; i < pl.n; i++) {
        int known = 0;
        for (size_t k = 0; k < d->info.nparams; k++)
            if (strcmp(d->info.params[k]->name, pl.v[i].name) == 0)
                known = 1;
        if (!known) {
            struct dp_pos p = tmpl_pos(v, pl.v[i].start);
            char hint[200];
            snprintf(hint, sizeof(hint),
                     "declare it under execution.parameters (%s: {type: ...}) or fix the name",
                     pl.v[i].name);
            ld_err(ld, p.line, p.col, "E-DP-PARAM-UNDECLARED", hint,
                   "template (%s) uses {{%s}}, which is not a declared parameter", tname,
                   pl.v[i].name);
        }
    }
    for (size_t k = 0; k < d->info.nparams; k++) {
        int used = 0;
        for (size_t i = 0; i < pl.n; i++)
            if (strcmp(d->info.params[k]->name, pl.v[i].name) == 0)
                used = 1;
        if (!used) {
            const struct dp_param_x *px = (const struct dp_param_x *)d->info.params[k];
            ld_err(ld, px->at.line, px->at.col, "E-DP-PARAM-UNUSED",
                   "use it in the template as {{name}} or remove the declaration",
                   "parameter '%s' is declared but template (%s) never uses it", px->pub.name,
                   tname);
        }
    }
    ph_free(&pl);
}

/* ------------------------------------------------------------------------
 * Typed values (defaults at load time, arguments at render time).
 */
static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

static int check_date(const char *s)
{
    int y, m, d;
    if (strlen(s) < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &m) ||
        s[7] != '-' || !digits(s + 8, 2, &d))
        return 0;
    return y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

/* YYYY-MM-DD[( |T)HH:MM[:SS[.fraction]]][Z|(+|-)HH:MM] */
static int check_timestamp(const char *s)
{
    if (!check_date(s))
        return 0;
    const char *p = s + 10;
    if (!*p)
        return 1;
    int h, mi, se;
    if ((*p != ' ' && *p != 'T') || !digits(p + 1, 2, &h) || p[3] != ':' ||
        !digits(p + 4, 2, &mi) || h > 23 || mi > 59)
        return 0;
    p += 6;
    if (*p == ':') {
        if (!digits(p + 1, 2, &se) || se > 60)
            return 0;
        p += 3;
        if (*p == '.') {
            p++;
            if (!isdigit((unsigned char)*p))
                return 0;
            while (isdigit((unsigned char)*p))
                p++;
        }
    }
    if (*p == 'Z')
        return p[1] == '\0';
    if (*p == '+' || *p == '-') {
        int oh, om;
        return digits(p + 1, 2, &oh) && p[3] == ':' && digits(p + 4, 2, &om) && p[6] == '\0' &&
               oh <= 14 && om <= 59;
    }
    return *p == '\0';
}

/* Checks value against p. For identifiers *canon is the allow-list entry. */
static int value_check(const struct dc_dp_param *p, const char *value, const char **canon,
                       char *why, size_t whylen)
{
    const char *t = p->type;
    *canon = value;
    if (strcmp(t, "integer") == 0) {
        int64_t x;
        if (!parse_int(value, &x))
            return util_err(why, whylen, DC_EINVAL, "'%.80s' is not an integer", value);
        return DC_OK;
    }
    if (strcmp(t, "number") == 0) {
        double x;
        if (!parse_number(value, &x))
            return util_err(why, whylen, DC_EINVAL, "'%.80s' is not a number", value);
        return DC_OK;
    }
    if (strcmp(t, "date") == 0) {
        if (strlen(value) != 10 || !check_date(value))
            return util_err(why, whylen, DC_EINVAL, "'%.80s' is not a date (YYYY-MM-DD)", value);
        return DC_OK;
    }
    if (strcmp(t, "timestamp") == 0) {
        if (!check_timestamp(value))
            return util_err(why, whylen, DC_EINVAL,
                            "'%.80s' is not a timestamp (YYYY-MM-DD HH:MM:SS)", value);
        return DC_OK;
    }
    int ci = strcmp(t, "identifier") == 0;
    if (strcmp(t, "string") == 0 && p->nvalues == 0) {
        if (strlen(value) > DP_MAX_STRING_PARAM)
            return util_err(why, whylen, DC_EINVAL, "the value is longer than %d bytes",
                            DP_MAX_STRING_PARAM);
        return DC_OK;
    }
    for (size_t i = 0; i < p->nvalues; i++) {
        if (ci ? strcasecmp(p->values[i], value) == 0 : strcmp(p->values[i], value) == 0) {
            *canon = p->values[i];
            return DC_OK;
        }
    }
    struct sbuf b;
    sbuf_init(&b);
    for (size_t i = 0; i < p->nvalues && i < 16; i++)
        sbuf_addf(&b, "%s%s", i ? ", " : "", p->values[i]);
    util_err(why, whylen, DC_EINVAL, "'%.80s' is not one of: %s", value, b.p ? b.p : "");
    sbuf_free(&b);
    return DC_EINVAL;
}

const char *dp_param_sample(const struct dc_dp_param *p)
{
    if (p->default_value)
        return p->default_value;
    if (p->nvalues > 0)
        return p->values[0];
    const char *t = p->type;
    if (strcmp(t, "integer") == 0)
        return "1";
    if (strcmp(t, "number") == 0)
        return "1.5";
    if (strcmp(t, "date") == 0)
        return "2024-01-01";
    if (strcmp(t, "timestamp") == 0)
        return "2024-01-01 00:00:00";
    return "sample";
}

/* ------------------------------------------------------------------------
 * One DataPoint file.
 */
static const char *const common_keys[] = {"id",           "type",          "name",
                                          "definition",   "owner",         "tags",
                                          "synonyms",     "data_sources",  "related_concepts",
                                          "relationships", "database",     "managed",
                                          NULL};
static const char *const exec_keys[] = {"execution", "materialization", NULL};
static const char *const schema_keys[] = {"table",   "row_count",    "sample",
                                          "primary_key", "foreign_keys", "columns",
                                          NULL};
static const char *const param_types[] = {"enum",   "timestamp", "date",       "integer",
                                          "number", "string",    "identifier", NULL};

static void load_sources(struct ld *ld, const struct ynode *v)
{
    static const char *const keys[] = {"table", "columns", "filters", NULL};
    struct dp *d = ld->d;
    const struct ynode *seq = want_seq(ld, v, "data_sources");
    if (!seq)
        return;
    const struct dc_dp_source **arr = ar_alloc(d, (seq->nkids + 1) * sizeof(*arr));
    if (!arr) {
        ld_oom(ld);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < seq->nkids; i++) {
        char f[64];
        snprintf(f, sizeof(f), "data_sources[%zu]", i);
        const struct ynode *m = want_map(ld, seq->kids[i], f);
        if (!m)
            continue;
        check_keys(ld, m, f, keys, NULL, NULL);
        struct dp_source_x *s = ar_alloc(d, sizeof(*s));
        if (!s) {
            ld_oom(ld);
            return;
        }
        s->pub.struct_size = sizeof(s->pub);
        const struct ynode *t = ynode_get(m, "table", NULL);
        char ff[96];
        snprintf(ff, sizeof(ff), "%s.table", f);
        if (absent(t)) {
            ERR_AT(ld, m, "E-DP-MISSING", "name the table, e.g. table: orders",
                   "%s has no table", f);
            continue;
        }
        if (!want_str(ld, t, ff, &s->pub.table))
            continue;
        s->at_table = (struct dp_pos){t->line, t->col};
        snprintf(ff, sizeof(ff), "%s.columns", f);
        want_str_list(ld, ynode_get(m, "columns", NULL), ff, &s->pub.columns, &s->pub.ncolumns,
                      &s->at_columns);
        snprintf(ff, sizeof(ff), "%s.filters", f);
        want_str_list(ld, ynode_get(m, "filters", NULL), ff, &s->pub.filters, &s->pub.nfilters,
                      &s->at_filters);
        arr[k++] = &s->pub;
    }
    d->info.data_sources = arr;
    d->info.ndata_sources = k;
}

static void load_relationships(struct ld *ld, const struct ynode *v)
{
    static const char *const keys[] = {"to", "type", "description", NULL};
    struct dp *d = ld->d;
    const struct ynode *seq = want_seq(ld, v, "relationships");
    if (!seq)
        return;
    const struct dc_dp_relationship **arr = ar_alloc(d, (seq->nkids + 1) * sizeof(*arr));
    if (!arr) {
        ld_oom(ld);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < seq->nkids; i++) {
        char f[64], ff[96];
        snprintf(f, sizeof(f), "relationships[%zu]", i);
        const struct ynode *m = want_map(ld, seq->kids[i], f);
        if (!m)
            continue;
        check_keys(ld, m, f, keys, NULL, NULL);
        struct dp_rel_x *r = ar_alloc(d, sizeof(*r));
        if (!r) {
            ld_oom(ld);
            return;
        }
        r->pub.struct_size = sizeof(r->pub);
        const struct ynode *to = ynode_get(m, "to", NULL);
        snprintf(ff, sizeof(ff), "%s.to", f);
        if (absent(to)) {
            ERR_AT(ld, m, "E-DP-MISSING", "name the related DataPoint's id, e.g. to: orders",
                   "%s has no `to`", f);
            continue;
        }
        if (!want_str(ld, to, ff, &r->pub.to))
            continue;
        r->at_to = (struct dp_pos){to->line, to->col};
        snprintf(ff, sizeof(ff), "%s.type", f);
        if (!want_str(ld, ynode_get(m, "type", NULL), ff, &r->pub.kind))
            r->pub.kind = "related";
        snprintf(ff, sizeof(ff), "%s.description", f);
        want_str(ld, ynode_get(m, "description", NULL), ff, &r->pub.description);
        arr[k++] = &r->pub;
    }
    d->info.relationships = arr;
    d->info.nrelationships = k;
}

static void load_params(struct ld *ld, const struct ynode *v)
{
    static const char *const keys[] = {"type", "values", "default", "required", "description",
                                       NULL};
    struct dp *d = ld->d;
    const struct ynode *m = want_map(ld, v, "execution.parameters");
    if (!m)
        return;
    size_t np = m->nkids / 2;
    const struct dc_dp_param **arr = ar_alloc(d, (np + 1) * sizeof(*arr));
    if (!arr) {
        ld_oom(ld);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i + 1 < m->nkids; i += 2) {
        const struct ynode *kn = m->kids[i], *pv = m->kids[i + 1];
        if (kn->skip)
            continue;
        char f[128];
        snprintf(f, sizeof(f), "execution.parameters.%.64s", kn->s);
        if (!valid_word(kn->s, 64)) {
            ERR_AT(ld, kn, "E-DP-BAD-VALUE", "use letters, digits and _ (not first), at most 64",
                   "parameter name '%s' is not valid", kn->s);
            continue;
        }
        const struct ynode *pm = want_map(ld, pv, f);
        if (!pm) {
            if (absent(pv))
                ERR_AT(ld, kn, "E-DP-MISSING", "give at least its type, e.g. {type: date}",
                       "%s has no type", f);
            continue;
        }
        check_keys(ld, pm, f, keys, NULL, NULL);
        struct dp_param_x *p = ar_alloc(d, sizeof(*p));
        if (!p) {
            ld_oom(ld);
            return;
        }
        p->pub.struct_size = sizeof(p->pub);
        p->pub.name = ar_strdup(d, kn->s);
        p->at = (struct dp_pos){kn->line, kn->col};
        char ff[160];
        snprintf(ff, sizeof(ff), "%s.type", f);
        const struct ynode *tn = ynode_get(pm, "type", NULL);
        if (absent(tn)) {
            ERR_AT(ld, pm, "E-DP-MISSING", "add type: enum|timestamp|date|integer|number|string|identifier",
                   "%s has no type", f);
            goto next;
        }
        if (!want_str(ld, tn, ff, &p->pub.type))
            goto next;
        if (!in_list(p->pub.type, param_types)) {
            char hint[256];
            hint_names(hint, sizeof(hint), p->pub.type, param_types, 7, "parameter types");
            ERR_AT(ld, tn, "E-DP-BAD-VALUE", hint, "unknown parameter type '%s'", p->pub.type);
            goto next;
        }
        const struct ynode *vn = ynode_get(pm, "values", NULL);
        snprintf(ff, sizeof(ff), "%s.values", f);
        struct dp_pos *vpos = NULL;
        want_str_list(ld, vn, ff, &p->pub.values, &p->pub.nvalues, &vpos);
        int listed = strcmp(p->pub.type, "enum") == 0 || strcmp(p->pub.type, "identifier") == 0;
        if (listed && p->pub.nvalues == 0) {
            ERR_AT(ld, absent(vn) ? pm : vn, "E-DP-MISSING",
                   "list the allowed values, e.g. values: [day, week, month]",
                   "%s: a%s parameter needs a non-empty `values` list", f,
                   p->pub.type[0] == 'e' ? "n enum" : "n identifier");
            goto next;
        }
        if (!listed && strcmp(p->pub.type, "string") != 0 && !absent(vn)) {
            ERR_AT(ld, vn, "E-DP-BAD-VALUE", "remove values:, or make the parameter an enum",
                   "%s: a %s parameter takes no `values` list", f, p->pub.type);
            goto next;
        }
        if (strcmp(p->pub.type, "identifier") == 0) {
            int ok = 1;
            for (size_t j = 0; j < p->pub.nvalues; j++)
                if (!valid_ident_path(p->pub.values[j])) {
                    ld_err(ld, vpos[j].line, vpos[j].col, "E-DP-BAD-VALUE",
                           "write column or table.column, letters, digits and _ only",
                           "%s: '%s' is not a plain identifier", ff, p->pub.values[j]);
                    ok = 0;
                }
            if (!ok)
                goto next;
        }
        const struct ynode *dn = ynode_get(pm, "default", NULL);
        snprintf(ff, sizeof(ff), "%s.default", f);
        if (want_str(ld, dn, ff, &p->pub.default_value)) {
            char why[256];
            const char *canon;
            if (value_check(&p->pub, p->pub.default_value, &canon, why, sizeof(why)) != DC_OK) {
                ERR_AT(ld, dn, "E-DP-BAD-VALUE", "give a default of the parameter's type",
                       "%s: %s", ff, why);
                goto next;
            }
            p->pub.default_value = canon;
        }
        int req = p->pub.default_value == NULL;
        const struct ynode *rn = ynode_get(pm, "required", NULL);
        snprintf(ff, sizeof(ff), "%s.required", f);
        if (want_bool(ld, rn, ff, &req) && req && p->pub.default_value) {
            ERR_AT(ld, rn, "E-DP-BAD-VALUE", "drop required: or the default",
                   "%s: a parameter with a default is not required", f);
            goto next;
        }
        p->pub.required = req;
        snprintf(ff, sizeof(ff), "%s.description", f);
        want_str(ld, ynode_get(pm, "description", NULL), ff, &p->pub.description);
    next:
        /* Kept even when invalid (the file is refused anyway), so the
         * template check does not report it a second time as undeclared. */
        arr[k++] = &p->pub;
    }
    d->info.params = arr;
    d->info.nparams = k;
}

static struct dp_variant_x *new_variant(struct ld *ld, const char *backend,
                                        const struct ynode *v, const char *field)
{
    struct dp_variant_x *x = ar_alloc(ld->d, sizeof(*x));
    if (!x) {
        ld_oom(ld);
        return NULL;
    }
    x->pub.struct_size = sizeof(x->pub);
    x->pub.backend = ar_strdup(ld->d, backend);
    if (!want_str(ld, v, field, &x->pub.sql_template))
        return NULL;
    if (strspn(x->pub.sql_template, " \t\r\n") == strlen(x->pub.sql_template)) {
        ERR_AT(ld, v, "E-DP-BAD-VALUE", "write the SELECT statement", "%s is empty", field);
        return NULL;
    }
    x->at = (struct dp_pos){v->line, v->col};
    x->block = v->block;
    return x;
}

static void load_execution(struct ld *ld, const struct ynode *v)
{
    static const char *const keys[] = {"sql_template", "parameters", "backend_variants", NULL};
    struct dp *d = ld->d;
    const struct ynode *m = want_map(ld, v, "execution");
    if (!m) {
        if (d->type == DP_QUERY && absent(v))
            ld_err(ld, d->at_id.line, d->at_id.col, "E-DP-MISSING",
                   "add execution: {sql_template: ...}",
                   "a query DataPoint needs an execution block");
        return;
    }
    check_keys(ld, m, "execution", keys, NULL, NULL);
    load_params(ld, ynode_get(m, "parameters", NULL));
    const struct ynode *t = ynode_get(m, "sql_template", NULL);
    if (!absent(t))
        d->tmpl = new_variant(ld, "default", t, "execution.sql_template");
    if (d->tmpl)
        d->info.sql_template = d->tmpl->pub.sql_template;
    const struct ynode *bv = want_map(ld, ynode_get(m, "backend_variants", NULL),
                                      "execution.backend_variants");
    size_t nb = bv ? bv->nkids / 2 : 0;
    const struct dc_dp_variant **arr = ar_alloc(d, (nb + 1) * sizeof(*arr));
    if (!arr) {
        ld_oom(ld);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; bv && i + 1 < bv->nkids; i += 2) {
        const struct ynode *kn = bv->kids[i];
        if (kn->skip)
            continue;
        char f[128];
        snprintf(f, sizeof(f), "execution.backend_variants.%.64s", kn->s);
        if (!valid_word(kn->s, 32)) {
            ERR_AT(ld, kn, "E-DP-BAD-VALUE", "name a connector, e.g. sqlite or postgres",
                   "backend name '%s' is not valid", kn->s);
            continue;
        }
        struct dp_variant_x *x = new_variant(ld, kn->s, bv->kids[i + 1], f);
        if (x)
            arr[k++] = &x->pub;
    }
    d->info.variants = arr;
    d->info.nvariants = k;
    if (absent(t) && k == 0 && (!bv || bv->nkids == 0))
        ERR_AT(ld, m, "E-DP-MISSING", "add sql_template: or backend_variants: {sqlite: ...}",
               "execution has no sql_template and no backend_variants");
    if (d->tmpl)
        check_template(ld, d, d->tmpl);
    for (size_t i = 0; i < k; i++)
        check_template(ld, d, (struct dp_variant_x *)arr[i]);
}

static void load_materialization(struct ld *ld, const struct ynode *v)
{
    struct dp *d = ld->d;
    const struct ynode *m = want_map(ld, v, "materialization");
    if (!m)
        return;
    size_t n = m->nkids / 2;
    d->mat_keys = ar_alloc(d, (n + 1) * sizeof(char *));
    d->mat_vals = ar_alloc(d, (n + 1) * sizeof(char *));
    if (!d->mat_keys || !d->mat_vals) {
        ld_oom(ld);
        return;
    }
    for (size_t i = 0; i + 1 < m->nkids; i += 2) {
        const struct ynode *kn = m->kids[i];
        char f[128];
        if (kn->skip)
            continue;
        snprintf(f, sizeof(f), "materialization.%.64s", kn->s);
        if (!want_str(ld, m->kids[i + 1], f, &d->mat_vals[d->nmat]))
            continue;
        d->mat_keys[d->nmat++] = ar_strdup(d, kn->s);
    }
}

static int parse_ref(struct dp *d, const char *s, const char **table, const char **col)
{
    const char *dot = strrchr(s, '.');
    if (!dot || dot == s || !dot[1])
        return 0;
    char *t = ar_alloc(d, (size_t)(dot - s) + 1);
    if (!t)
        return 0;
    memcpy(t, s, (size_t)(dot - s));
    *table = t;
    *col = dot + 1;
    return 1;
}

static void load_schema_part(struct ld *ld, const struct ynode *root)
{
    static const char *const col_keys[] = {"name",     "type",     "nullable", "primary_key",
                                           "null_rate", "distinct", "min",      "max",
                                           "top_values", NULL};
    static const char *const fk_keys[] = {"column", "references", "inferred", NULL};
    static const char *const sample_keys[] = {"rows", "method", NULL};
    static const char *const tv_keys[] = {"value", "count", NULL};
    struct dp *d = ld->d;
    const struct ynode *tn = ynode_get(root, "table", NULL);
    if (absent(tn))
        ld_err(ld, d->at_id.line, d->at_id.col, "E-DP-MISSING", "add table: NAME",
               "a schema DataPoint needs a table");
    else if (want_str(ld, tn, "table", &d->info.table))
        d->at_table = (struct dp_pos){tn->line, tn->col};
    d->info.row_count = -1;
    want_int(ld, ynode_get(root, "row_count", NULL), "row_count", 0, &d->info.row_count);
    const struct ynode *sm = want_map(ld, ynode_get(root, "sample", NULL), "sample");
    if (sm) {
        const char *method = NULL;
        check_keys(ld, sm, "sample", sample_keys, NULL, NULL);
        want_int(ld, ynode_get(sm, "rows", NULL), "sample.rows", 1, &d->info.sample_rows);
        want_str(ld, ynode_get(sm, "method", NULL), "sample.method", &method);
    }
    want_str_list(ld, ynode_get(root, "primary_key", NULL), "primary_key", &d->info.primary_key,
                  &d->info.nprimary_key, NULL);

    const struct ynode *fs = want_seq(ld, ynode_get(root, "foreign_keys", NULL), "foreign_keys");
    if (fs) {
        const struct dc_dp_fk **arr = ar_alloc(d, (fs->nkids + 1) * sizeof(*arr));
        if (!arr) {
            ld_oom(ld);
            return;
        }
        for (size_t i = 0; i < fs->nkids; i++) {
            char f[64], ff[96];
            snprintf(f, sizeof(f), "foreign_keys[%zu]", i);
            const struct ynode *m = want_map(ld, fs->kids[i], f);
            if (!m)
                continue;
            check_keys(ld, m, f, fk_keys, NULL, NULL);
            struct dp_fk_x *x = ar_alloc(d, sizeof(*x));
            if (!x) {
                ld_oom(ld);
                return;
            }
            x->pub.struct_size = sizeof(x->pub);
            x->at = (struct dp_pos){m->line, m->col};
            const char *ref = NULL;
            snprintf(ff, sizeof(ff), "%s.column", f);
            int ok = want_str(ld, ynode_get(m, "column", NULL), ff, &x->pub.column);
            snprintf(ff, sizeof(ff), "%s.references", f);
            const struct ynode *rn = ynode_get(m, "references", NULL);
            ok = want_str(ld, rn, ff, &ref) && ok;
            if (!ok) {
                ERR_AT(ld, m, "E-DP-MISSING", "write {column: C, references: TABLE.COLUMN}",
                       "%s needs column and references", f);
                continue;
            }
            if (!parse_ref(d, ref, &x->pub.to_table, &x->pub.to_column)) {
                ERR_AT(ld, rn, "E-DP-BAD-VALUE", "write TABLE.COLUMN",
                       "%s: '%s' is not TABLE.COLUMN", ff, ref);
                continue;
            }
            snprintf(ff, sizeof(ff), "%s.inferred", f);
            want_bool(ld, ynode_get(m, "inferred", NULL), ff, &x->pub.inferred);
            arr[d->info.nforeign_keys++] = &x->pub;
        }
        d->info.foreign_keys = arr;
    }

    const struct ynode *cs = want_seq(ld, ynode_get(root, "columns", NULL), "columns");
    if (!cs)
        return;
    const struct dc_dp_column **arr = ar_alloc(d, (cs->nkids + 1) * sizeof(*arr));
    if (!arr) {
        ld_oom(ld);
        return;
    }
    for (size_t i = 0; i < cs->nkids; i++) {
        char f[64], ff[128];
        snprintf(f, sizeof(f), "columns[%zu]", i);
        const struct ynode *m = want_map(ld, cs->kids[i], f);
        if (!m)
            continue;
        check_keys(ld, m, f, col_keys, NULL, NULL);
        struct dp_column_x *c = ar_alloc(d, sizeof(*c));
        if (!c) {
            ld_oom(ld);
            return;
        }
        c->pub.struct_size = sizeof(c->pub);
        c->pub.null_rate = -1;
        c->pub.distinct = -1;
        c->pub.nullable = 1;
        const struct ynode *nn = ynode_get(m, "name", NULL);
        snprintf(ff, sizeof(ff), "%s.name", f);
        if (absent(nn)) {
            ERR_AT(ld, m, "E-DP-MISSING", "add name: COLUMN", "%s has no name", f);
            continue;
        }
        if (!want_str(ld, nn, ff, &c->pub.name))
            continue;
        c->at = (struct dp_pos){nn->line, nn->col};
        snprintf(ff, sizeof(ff), "%s.type", f);
        want_str(ld, ynode_get(m, "type", NULL), ff, &c->pub.type);
        snprintf(ff, sizeof(ff), "%s.nullable", f);
        want_bool(ld, ynode_get(m, "nullable", NULL), ff, &c->pub.nullable);
        snprintf(ff, sizeof(ff), "%s.primary_key", f);
        want_bool(ld, ynode_get(m, "primary_key", NULL), ff, &c->pub.primary_key);
        const struct ynode *nr = ynode_get(m, "null_rate", NULL);
        if (!absent(nr)) {
            double x;
            if (nr->kind != YN_SCALAR || !nr->plain || !parse_number(nr->s, &x) || x < 0 || x > 1)
                ERR_AT(ld, nr, "E-DP-TYPE", "write a number from 0 to 1",
                       "%s.null_rate must be a number from 0 to 1", f);
            else
                c->pub.null_rate = x;
        }
        snprintf(ff, sizeof(ff), "%s.distinct", f);
        want_int(ld, ynode_get(m, "distinct", NULL), ff, 0, &c->pub.distinct);
        snprintf(ff, sizeof(ff), "%s.min", f);
        want_str(ld, ynode_get(m, "min", NULL), ff, &c->pub.min);
        snprintf(ff, sizeof(ff), "%s.max", f);
        want_str(ld, ynode_get(m, "max", NULL), ff, &c->pub.max);
        snprintf(ff, sizeof(ff), "%s.top_values", f);
        const struct ynode *tv = want_seq(ld, ynode_get(m, "top_values", NULL), ff);
        if (tv) {
            const struct dc_dp_value_count **va = ar_alloc(d, (tv->nkids + 1) * sizeof(*va));
            if (!va) {
                ld_oom(ld);
                return;
            }
            for (size_t j = 0; j < tv->nkids; j++) {
                char g[160];
                snprintf(g, sizeof(g), "%s[%zu]", ff, j);
                const struct ynode *vm = want_map(ld, tv->kids[j], g);
                if (!vm)
                    continue;
                check_keys(ld, vm, g, tv_keys, NULL, NULL);
                struct dc_dp_value_count *vc = ar_alloc(d, sizeof(*vc));
                if (!vc) {
                    ld_oom(ld);
                    return;
                }
                vc->struct_size = sizeof(*vc);
                const struct ynode *vv = ynode_get(vm, "value", NULL);
                if (!vv || vv->bad || vv->kind != YN_SCALAR) {
                    ERR_AT(ld, vm, "E-DP-MISSING", "write {value: V, count: N}",
                           "%s needs a scalar value", g);
                    continue;
                }
                vc->value = ar_strdup(d, vv->s);
                vc->count = 0;
                const struct ynode *cn = ynode_get(vm, "count", NULL);
                if (absent(cn)) {
                    ERR_AT(ld, vm, "E-DP-MISSING", "write {value: V, count: N}",
                           "%s needs a count", g);
                    continue;
                }
                if (!want_int(ld, cn, "count", 0, &vc->count))
                    continue;
                va[c->pub.ntop_values++] = vc;
            }
            c->pub.top_values = va;
        }
        arr[d->info.ncolumns++] = &c->pub;
    }
    d->info.columns = arr;
}

static void load_root(struct ld *ld, const struct ynode *root)
{
    struct dp *d = ld->d;
    if (!root || ynode_is_null(root)) {
        ld_err(ld, 0, 0, "E-DP-MISSING", "start with id:, type: and name:", "the file is empty");
        return;
    }
    if (root->bad)
        return;
    if (root->kind != YN_MAP) {
        ERR_AT(ld, root, "E-DP-TYPE", "a DataPoint is a mapping of fields (id:, type:, ...)",
               "the top level must be a mapping, got %s", ynode_kind_name(root));
        return;
    }
    const struct ynode *idn = ynode_get(root, "id", NULL);
    if (absent(idn)) {
        ERR_AT(ld, root, "E-DP-MISSING", "add id: a_unique_name", "the DataPoint has no id");
    } else if (want_str(ld, idn, "id", &d->info.id)) {
        d->at_id = (struct dp_pos){idn->line, idn->col};
        d->info.line = idn->line;
        if (!valid_id(d->info.id)) {
            ERR_AT(ld, idn, "E-DP-BAD-VALUE",
                   "start with a letter; use letters, digits, _, . and -; at most 128",
                   "id '%s' is not valid", d->info.id);
            d->info.id = NULL;
        }
    }
    const struct ynode *tn = ynode_get(root, "type", NULL);
    const char *tname = NULL;
    if (absent(tn)) {
        ERR_AT(ld, root, "E-DP-MISSING",
               "add type: schema|concept|metric|dimension|entity|query",
               "the DataPoint has no type");
    } else if (want_str(ld, tn, "type", &tname)) {
        for (int t = DP_SCHEMA; t <= DP_QUERY; t++)
            if (strcmp(tname, type_names[t]) == 0)
                d->type = t;
        if (!d->type) {
            char hint[256];
            hint_names(hint, sizeof(hint), tname, type_names + 1, 6, "types");
            ERR_AT(ld, tn, "E-DP-BAD-VALUE", hint, "unknown DataPoint type '%s'", tname);
        }
    }
    d->info.type = d->type ? type_names[d->type] : "unknown";

    /* The valid fields depend on the type. */
    const char *valid[32];
    size_t nv = 0;
    for (size_t i = 0; common_keys[i]; i++)
        valid[nv++] = common_keys[i];
    if (d->type == DP_METRIC) {
        valid[nv++] = "execution";
        valid[nv++] = "materialization";
    } else if (d->type == DP_QUERY) {
        valid[nv++] = "execution";
    } else if (d->type == DP_SCHEMA) {
        for (size_t i = 0; schema_keys[i]; i++)
            valid[nv++] = schema_keys[i];
    } else if (!d->type) {
        for (size_t i = 0; exec_keys[i]; i++)
            valid[nv++] = exec_keys[i];
        for (size_t i = 0; schema_keys[i]; i++)
            valid[nv++] = schema_keys[i];
    }
    valid[nv] = NULL;
    const char *other[16];
    size_t no = 0;
    for (size_t i = 0; exec_keys[i]; i++)
        other[no++] = exec_keys[i];
    for (size_t i = 0; schema_keys[i]; i++)
        other[no++] = schema_keys[i];
    other[no] = NULL;
    char where[64];
    snprintf(where, sizeof(where), "a %s DataPoint", d->info.type);
    check_keys(ld, root, where, valid, other,
               "another type (execution/materialization: metric, query; table, columns, ...: "
               "schema)");

    const struct ynode *nn = ynode_get(root, "name", NULL);
    if (absent(nn))
        ERR_AT(ld, root, "E-DP-MISSING", "add name: a human-readable name",
               "the DataPoint has no name");
    else
        want_str(ld, nn, "name", &d->info.name);
    want_str(ld, ynode_get(root, "definition", NULL), "definition", &d->info.definition);
    want_str(ld, ynode_get(root, "owner", NULL), "owner", &d->info.owner);
    const struct ynode *dbn = ynode_get(root, "database", NULL);
    if (want_str(ld, dbn, "database", &d->info.database))
        d->at_database = (struct dp_pos){dbn->line, dbn->col};
    int managed = 0;
    want_bool(ld, ynode_get(root, "managed", NULL), "managed", &managed);
    want_str_list(ld, ynode_get(root, "tags", NULL), "tags", &d->info.tags, &d->info.ntags, NULL);
    want_str_list(ld, ynode_get(root, "synonyms", NULL), "synonyms", &d->info.synonyms,
                  &d->info.nsynonyms, NULL);
    want_str_list(ld, ynode_get(root, "related_concepts", NULL), "related_concepts",
                  &d->info.related_concepts, &d->info.nrelated_concepts, &d->at_related);
    load_sources(ld, ynode_get(root, "data_sources", NULL));
    load_relationships(ld, ynode_get(root, "relationships", NULL));
    if (d->type == DP_METRIC || d->type == DP_QUERY)
        load_execution(ld, ynode_get(root, "execution", NULL));
    if (d->type == DP_METRIC)
        load_materialization(ld, ynode_get(root, "materialization", NULL));
    if (d->type == DP_SCHEMA)
        load_schema_part(ld, root);
}

/* ------------------------------------------------------------------------
 * The set.
 */
int dp_set_new(struct dp_set **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? DC_OK : DC_ENOMEM;
}

void dp_set_free(struct dp_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nall; i++)
        dp_free(s->all[i]);
    free(s->all);
    free(s->active);
    ytree_free(s->tree);
    free(s);
}

int dp_set_load_string(struct dp_set *s, const char *text, size_t len, const char *name,
                       int source, struct dp_diags *dg)
{
    struct ld ld;
    struct ynode *root = NULL;
    memset(&ld, 0, sizeof(ld));
    ld.dg = dg;
    ld.file = name ? name : "(datapoint)";
    if (!s || !text)
        return DC_EINVAL;
    if (!s->tree && !(s->tree = ytree_new()))
        return DC_ENOMEM;
    if (len > DP_MAX_FILE_BYTES) {
        ld_err(&ld, 0, 0, "E-DP-TOO-LARGE", "a DataPoint is a page of YAML; split it",
               "the file is %zu bytes, over the limit of %u", len, DP_MAX_FILE_BYTES);
        return DC_EINVAL;
    }
    ld.d = calloc(1, sizeof(*ld.d));
    if (!ld.d)
        return DC_ENOMEM;
    struct dp *d = ld.d;
    d->source = source;
    d->info.struct_size = sizeof(d->info);
    d->info.row_count = -1;
    d->arena_hint = len + 1024 < 16384 ? len + 1024 : 16384;
    d->info.source = source == DP_MANAGED ? "managed" : "user";
    d->info.file = ar_strdup(d, ld.file);
    const struct ytree_opts yo = {"E-DP", "DataPoint", DP_MAX_DEPTH, DP_MAX_NODES, yaml_diag,
                                  &ld};
    int rc = d->info.file ? ytree_parse(s->tree, &yo, text, len, &root) : DC_ENOMEM;
    if (rc == DC_OK && !ld.oom)
        load_root(&ld, root);
    if (ld.oom)
        rc = DC_ENOMEM;
    else if (ld.nerr > 0 || rc != DC_OK)
        rc = DC_EINVAL;
    if (rc == DC_OK && s->nall == s->capall) {
        size_t cap = s->capall ? s->capall * 2 : 64;
        struct dp **a = realloc(s->all, cap * sizeof(*a));
        if (!a) {
            rc = DC_ENOMEM;
        } else {
            s->all = a;
            s->capall = cap;
        }
    }
    if (rc != DC_OK) {
        dp_free(d);
        return rc;
    }
    s->all[s->nall++] = d;
    s->finished = 0;
    return DC_OK;
}

int dp_set_load_file(struct dp_set *s, const char *path, int source, struct dp_diags *dg)
{
    char *text = NULL, err[512];
    size_t len = 0;
    int rc = util_read_file(path, DP_MAX_FILE_BYTES, &text, &len, err, sizeof(err));
    if (rc != DC_OK) {
        if (rc == DC_ELIMIT)
            diag_add(dg, path, 0, 0, "E-DP-TOO-LARGE", "a DataPoint is a page of YAML; split it",
                     "the file is over the limit of %u bytes", DP_MAX_FILE_BYTES);
        else
            diag_add(dg, path, 0, 0, "E-DP-IO", "check the path and its permissions", "%s", err);
        return rc == DC_ENOMEM ? DC_ENOMEM : DC_EINVAL;
    }
    rc = dp_set_load_string(s, text, len, path, source, dg);
    free(text);
    return rc;
}

static int has_yaml_ext(const char *name)
{
    size_t n = strlen(name);
    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

struct dent {
    char *name;
    unsigned char type; /* DT_* from readdir: saves a stat per file */
};

static int dent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dent *)a)->name, ((const struct dent *)b)->name);
}

/* The entries of dh in name order, hidden ones (editors' swap files, . and
 * ..) left out. Both the loader and the fingerprint walk directories with
 * it, so they always agree on which files count. On DC_ENOMEM *out still
 * holds the names read so far (*n of them) for the caller to free. */
static int read_dir_sorted(DIR *dh, struct dent **out, size_t *n)
{
    struct dent *ents = NULL;
    size_t cap = 0;
    int rc = DC_OK;
    struct dirent *e;
    *n = 0;
    while ((e = readdir(dh)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            struct dent *ne = realloc(ents, cap * sizeof(*ne));
            if (!ne) {
                rc = DC_ENOMEM;
                break;
            }
            ents = ne;
        }
        ents[*n].name = strdup(e->d_name);
        ents[*n].type = e->d_type;
        if (!ents[*n].name) {
            rc = DC_ENOMEM;
            break;
        }
        (*n)++;
    }
    if (rc == DC_OK && *n > 1)
        qsort(ents, *n, sizeof(*ents), dent_cmp);
    *out = ents;
    return rc;
}

static int load_dir_rec(struct dp_set *s, const char *dir, int source, struct dp_diags *dg,
                        int depth)
{
    DIR *dh = opendir(dir);
    if (!dh) {
        if (errno == ENOENT && depth == 0)
            return DC_OK;
        diag_add(dg, dir, 0, 0, "E-DP-IO", "check the directory and its permissions",
                 "cannot read the directory: %s", strerror(errno));
        return DC_EINVAL;
    }
    struct dent *ents = NULL;
    size_t n = 0;
    int rc = read_dir_sorted(dh, &ents, &n);
    closedir(dh);
    struct sbuf path;
    sbuf_init(&path);
    for (size_t i = 0; rc != DC_ENOMEM && i < n; i++) {
        sbuf_reset(&path);
        sbuf_addf(&path, "%s/%s", dir, ents[i].name);
        if (path.oom) {
            rc = DC_ENOMEM;
            break;
        }
        int isdir = ents[i].type == DT_DIR, isreg = ents[i].type == DT_REG;
        if (ents[i].type == DT_UNKNOWN || ents[i].type == DT_LNK) {
            struct stat st;
            if (stat(path.p, &st) != 0)
                continue; /* a dangling link is not a DataPoint */
            isdir = S_ISDIR(st.st_mode);
            isreg = S_ISREG(st.st_mode);
        }
        int r = DC_OK;
        if (isdir) {
            if (depth + 1 >= DP_MAX_DIR_DEPTH) {
                diag_add(dg, path.p, 0, 0, "E-DP-IO", "flatten the directory tree",
                         "directories nested deeper than %d levels are not read",
                         DP_MAX_DIR_DEPTH);
                r = DC_EINVAL;
            } else {
                r = load_dir_rec(s, path.p, source, dg, depth + 1);
            }
        } else if (isreg && has_yaml_ext(ents[i].name)) {
            r = dp_set_load_file(s, path.p, source, dg);
        }
        if (r != DC_OK && rc == DC_OK)
            rc = r;
        if (r == DC_ENOMEM)
            rc = r;
    }
    sbuf_free(&path);
    for (size_t i = 0; i < n; i++)
        free(ents[i].name);
    free(ents);
    return rc;
}

int dp_set_load_dir(struct dp_set *s, const char *dir, int source, struct dp_diags *dg)
{
    if (!s || !dir)
        return DC_EINVAL;
    return load_dir_rec(s, dir, source, dg, 0);
}

static int id_cmp(const void *a, const void *b)
{
    const struct dp *x = *(struct dp *const *)a, *y = *(struct dp *const *)b;
    int c = strcmp(x->info.id, y->info.id);
    if (c)
        return c;
    /* Equal ids: user before managed, then by file, so reports name the
     * same "first" definition on every run. */
    if (x->source != y->source)
        return x->source < y->source ? -1 : 1;
    return strcmp(x->info.file, y->info.file);
}

static const struct dp *find_sorted(struct dp **v, size_t n, const char *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(v[mid]->info.id, id);
        if (c == 0) {
            /* the first of equal ids: the user one when both exist */
            while (mid > 0 && strcmp(v[mid - 1]->info.id, id) == 0)
                mid--;
            return v[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int same_db(const char *a, const char *b)
{
    return !a || !b || strcmp(a, b) == 0;
}

int dp_set_finish(struct dp_set *s, struct dp_diags *dg)
{
    size_t nerr = 0;
    if (!s)
        return DC_EINVAL;
    for (size_t i = 0; i < s->nall; i++) {
        s->all[i]->shadows = s->all[i]->shadowed_by = NULL;
        s->all[i]->info.shadows_id = s->all[i]->info.shadows_file = NULL;
        s->all[i]->dup = 0;
    }
    struct dp **sorted = malloc((s->nall + 1) * sizeof(*sorted));
    if (!sorted)
        return DC_ENOMEM;
    if (s->nall) {
        memcpy(sorted, s->all, s->nall * sizeof(*sorted));
        qsort(sorted, s->nall, sizeof(*sorted), id_cmp);
    }

    /* Same id: within one source an error, user over managed a shadow. */
    for (size_t i = 1; i < s->nall; i++) {
        struct dp *a = sorted[i - 1], *b = sorted[i];
        if (strcmp(a->info.id, b->info.id) != 0)
            continue;
        struct dp *first = a;
        size_t j = i - 1;
        while (j > 0 && strcmp(sorted[j - 1]->info.id, b->info.id) == 0)
            first = sorted[--j];
        if (first->source == DP_USER && b->source == DP_MANAGED) {
            if (!b->shadowed_by && !first->dup) {
                b->shadowed_by = first;
                if (!first->shadows) {
                    first->shadows = b;
                    first->info.shadows_id = b->info.id;
                    first->info.shadows_file = b->info.file;
                }
            }
            if (a->source == DP_MANAGED && !a->dup) {
                b->dup = 1;
                nerr++;
                diag_add(dg, b->info.file, b->at_id.line, b->at_id.col, "E-DP-DUPLICATE-ID",
                         "give one of them another id", "duplicate id '%s': also defined at %s:%d",
                         b->info.id, a->info.file, a->at_id.line);
            }
            continue;
        }
        b->dup = 1;
        nerr++;
        diag_add(dg, b->info.file, b->at_id.line, b->at_id.col, "E-DP-DUPLICATE-ID",
                 "give one of them another id (ids are unique within user and within managed "
                 "DataPoints)",
                 "duplicate id '%s': also defined at %s:%d", b->info.id, a->info.file,
                 a->at_id.line);
    }

    /* A hand-written schema DataPoint replaces the profile of its table. */
    for (size_t i = 0; i < s->nall; i++) {
        struct dp *u = s->all[i];
        if (u->source != DP_USER || u->type != DP_SCHEMA || u->dup || !u->info.table)
            continue;
        for (size_t j = 0; j < s->nall; j++) {
            struct dp *m = s->all[j];
            if (m->source != DP_MANAGED || m->type != DP_SCHEMA || m->shadowed_by || !m->info.table ||
                strcasecmp(m->info.table, u->info.table) != 0 ||
                !same_db(m->info.database, u->info.database))
                continue;
            m->shadowed_by = u;
            if (!u->shadows) {
                u->shadows = m;
                u->info.shadows_id = m->info.id;
                u->info.shadows_file = m->info.file;
            }
        }
    }

    /* Related ids must exist (shadowed ones count: the id still resolves). */
    for (size_t i = 0; i < s->nall; i++) {
        struct dp *d = s->all[i];
        if (d->dup)
            continue;
        for (size_t k = 0; k < d->info.nrelated_concepts; k++) {
            const char *id = d->info.related_concepts[k];
            if (find_sorted(sorted, s->nall, id))
                continue;
            nerr++;
            diag_add(dg, d->info.file, d->at_related[k].line, d->at_related[k].col,
                     "E-DP-DANGLING-REF", "fix the id or add that DataPoint (see datachat dp list)",
                     "related_concepts names '%s', which is not a DataPoint", id);
        }
        for (size_t k = 0; k < d->info.nrelationships; k++) {
            const struct dp_rel_x *r = (const struct dp_rel_x *)d->info.relationships[k];
            if (find_sorted(sorted, s->nall, r->pub.to))
                continue;
            nerr++;
            diag_add(dg, d->info.file, r->at_to.line, r->at_to.col, "E-DP-DANGLING-REF",
                     "fix the id or add that DataPoint (see datachat dp list)",
                     "relationship to '%s', which is not a DataPoint", r->pub.to);
        }
    }

    free(s->active);
    s->active = NULL;
    s->nactive = 0;
    s->active = malloc((s->nall + 1) * sizeof(*s->active));
    if (!s->active) {
        free(sorted);
        return DC_ENOMEM;
    }
    for (size_t i = 0; i < s->nall; i++)
        if (!sorted[i]->dup && !sorted[i]->shadowed_by)
            s->active[s->nactive++] = sorted[i];
    free(sorted);
    s->finished = 1;
    return nerr ? DC_EINVAL : DC_OK;
}

int dp_set_load_config(const struct dc_config *cfg, struct dp_set **out, struct dp_diags *dg)
{
    struct dp_set *s = NULL;
    int rc = dp_set_new(&s);
    if (rc != DC_OK)
        return rc;
    int bad = 0;
    for (size_t i = 0; i < cfg->ndp_user_dirs; i++) {
        rc = dp_set_load_dir(s, cfg->dp_user_dirs[i], DP_USER, dg);
        if (rc == DC_ENOMEM)
            goto fail;
        bad |= rc != DC_OK;
    }
    if (cfg->dp_managed_dir) {
        rc = dp_set_load_dir(s, cfg->dp_managed_dir, DP_MANAGED, dg);
        if (rc == DC_ENOMEM)
            goto fail;
        bad |= rc != DC_OK;
    }
    rc = dp_set_finish(s, dg);
    if (rc == DC_ENOMEM)
        goto fail;
    *out = s;
    return bad || rc != DC_OK ? DC_EINVAL : DC_OK;
fail:
    dp_set_free(s);
    *out = NULL;
    return DC_ENOMEM;
}

/* Mirrors load_dir_rec's choice of files (hidden entries skipped, *.yaml
 * and *.yml, subdirectories up to DP_MAX_DIR_DEPTH, name order) but only
 * stats them: this is the cheap test of "nothing changed" that lets a
 * cache skip parsing. An unreadable entry hashes as a marker, so that
 * fixing it changes the fingerprint. */
static int fingerprint_dir(struct sha256 *h, int parent, const char *name, int depth)
{
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dh = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dh) {
        if (fd >= 0)
            close(fd);
        sha256_update(h, "!", 2);
        return DC_OK;
    }
    struct dent *ents = NULL;
    size_t n = 0;
    int rc = read_dir_sorted(dh, &ents, &n);
    for (size_t i = 0; rc == DC_OK && i < n; i++) {
        unsigned char t = ents[i].type;
        if (t != DT_DIR && t != DT_UNKNOWN && t != DT_LNK &&
            (t != DT_REG || !has_yaml_ext(ents[i].name)))
            continue; /* saves a stat per file the loader would not read */
        struct stat st;
        if (fstatat(dirfd(dh), ents[i].name, &st, 0) != 0)
            continue; /* a dangling link is not a DataPoint */
        if (S_ISDIR(st.st_mode)) {
            sha256_update(h, "d", 1);
            sha256_update(h, ents[i].name, strlen(ents[i].name) + 1);
            if (depth + 1 >= DP_MAX_DIR_DEPTH)
                sha256_update(h, "!", 2);
            else
                rc = fingerprint_dir(h, dirfd(dh), ents[i].name, depth + 1);
            sha256_update(h, "u", 1);
        } else if (S_ISREG(st.st_mode) && has_yaml_ext(ents[i].name)) {
            int64_t v[6] = {(int64_t)st.st_size,        (int64_t)st.st_mtim.tv_sec,
                            (int64_t)st.st_mtim.tv_nsec, (int64_t)st.st_ctim.tv_sec,
                            (int64_t)st.st_ctim.tv_nsec, (int64_t)st.st_ino};
            sha256_update(h, "f", 1);
            sha256_update(h, ents[i].name, strlen(ents[i].name) + 1);
            sha256_update(h, v, sizeof(v));
        }
    }
    closedir(dh);
    for (size_t i = 0; i < n; i++)
        free(ents[i].name);
    free(ents);
    return rc;
}

int dp_dirs_fingerprint(const char *const *user_dirs, size_t nuser, const char *managed_dir,
                        char out[65])
{
    struct sha256 h;
    unsigned char dg[32];
    int rc = DC_OK;
    sha256_init(&h);
    sha256_update(&h, "dp-dirs-1", 10);
    for (size_t i = 0; rc == DC_OK && i <= nuser; i++) {
        const char *dir = i < nuser ? user_dirs[i] : managed_dir;
        if (!dir)
            continue;
        sha256_update(&h, i < nuser ? "U" : "M", 1);
        sha256_update(&h, dir, strlen(dir) + 1);
        rc = fingerprint_dir(&h, AT_FDCWD, dir, 0);
    }
    sha256_final(&h, dg);
    sha256_hex(dg, out);
    return rc;
}

int dp_config_fingerprint(const struct dc_config *cfg, char out[65])
{
    return dp_dirs_fingerprint((const char *const *)cfg->dp_user_dirs, cfg->ndp_user_dirs,
                               cfg->dp_managed_dir, out);
}

size_t dp_set_count(const struct dp_set *s)
{
    return s ? s->nactive : 0;
}

const struct dp *dp_set_at(const struct dp_set *s, size_t i)
{
    return s && i < s->nactive ? s->active[i] : NULL;
}

const struct dp *dp_set_find(const struct dp_set *s, const char *id)
{
    if (!s || !id)
        return NULL;
    return find_sorted(s->active, s->nactive, id);
}

size_t dp_set_count_all(const struct dp_set *s)
{
    return s ? s->nall : 0;
}

const struct dp *dp_set_at_all(const struct dp_set *s, size_t i)
{
    return s && i < s->nall ? s->all[i] : NULL;
}

const struct dc_datapoint_info *dp_info(const struct dp *d)
{
    return d ? &d->info : NULL;
}

int dp_type(const struct dp *d)
{
    return d ? d->type : 0;
}

int dp_source(const struct dp *d)
{
    return d ? d->source : DP_USER;
}

const struct dp *dp_shadows(const struct dp *d)
{
    return d ? d->shadows : NULL;
}

const struct dp *dp_shadowed_by(const struct dp *d)
{
    return d ? d->shadowed_by : NULL;
}

size_t dp_materialization_count(const struct dp *d)
{
    return d ? d->nmat : 0;
}

void dp_materialization_at(const struct dp *d, size_t i, const char **key, const char **value)
{
    *key = d && i < d->nmat ? d->mat_keys[i] : NULL;
    *value = d && i < d->nmat ? d->mat_vals[i] : NULL;
}

/* ------------------------------------------------------------------------
 * Rendering.
 */
void dp_rendered_free(struct dp_rendered *r)
{
    if (!r)
        return;
    free(r->sql);
    free(r->params);
    free(r->store);
    memset(r, 0, sizeof(*r));
}

static const struct dp_variant_x *pick_variant(const struct dp *d, const char *backend)
{
    for (size_t i = 0; backend && i < d->info.nvariants; i++)
        if (strcmp(d->info.variants[i]->backend, backend) == 0)
            return (const struct dp_variant_x *)d->info.variants[i];
    return d->tmpl;
}

static void quote_ident(struct sbuf *b, const char *path)
{
    const char *dot = strchr(path, '.');
    if (dot) {
        sbuf_addf(b, "\"%.*s\".", (int)(dot - path), path);
        path = dot + 1;
    }
    sbuf_addf(b, "\"%s\"", path);
}

int dp_render(const struct dp *d, const char *backend, const struct dp_arg *args, size_t nargs,
              struct dp_rendered *out, char *err, size_t errlen)
{
    struct ph_list pl = {0};
    struct sbuf sql, store;
    const char **vals = NULL;
    size_t *offs = NULL;
    int *order = NULL;
    int rc = DC_OK;
    memset(out, 0, sizeof(*out));
    sbuf_init(&sql);
    sbuf_init(&store);
    if (!d || (d->type != DP_METRIC && d->type != DP_QUERY))
        return util_err(err, errlen, DC_EINVAL, "E-DP-NO-TEMPLATE: %s is not a metric or query",
                        d ? d->info.id : "(null)");
    const struct dp_variant_x *v = pick_variant(d, backend);
    if (!v)
        return util_err(err, errlen, DC_ENOTFOUND,
                        "E-DP-NO-VARIANT: %s has no template for backend %s and no sql_template",
                        d->info.id, backend ? backend : "(none)");
    size_t np = d->info.nparams;
    vals = calloc(np + 1, sizeof(*vals));
    offs = calloc(np + 1, sizeof(*offs));
    order = calloc(np + 1, sizeof(*order));
    if (!vals || !offs || !order) {
        rc = DC_ENOMEM;
        goto cleanup;
    }
    for (size_t a = 0; a < nargs; a++) {
        size_t k;
        for (k = 0; k < np; k++)
            if (strcmp(d->info.params[k]->name, args[a].name) == 0)
                break;
        if (k == np) {
            rc = util_err(err, errlen, DC_EINVAL,
                          "E-DP-PARAM-UNKNOWN: %s has no parameter '%.64s'", d->info.id,
                          args[a].name);
            goto cleanup;
        }
        vals[k] = args[a].value;
    }
    for (size_t k = 0; k < np; k++) {
        const struct dc_dp_param *p = d->info.params[k];
        if (!vals[k])
            vals[k] = p->default_value;
        if (!vals[k]) {
            rc = util_err(err, errlen, DC_EINVAL,
                          "E-DP-PARAM-MISSING: %s needs a value for '%s' (%s)", d->info.id,
                          p->name, p->type);
            goto cleanup;
        }
        char why[256];
        const char *canon;
        if (value_check(p, vals[k], &canon, why, sizeof(why)) != DC_OK) {
            rc = util_err(err, errlen, DC_EINVAL, "E-DP-PARAM-VALUE: %s parameter '%s' (%s): %s",
                          d->info.id, p->name, p->type, why);
            goto cleanup;
        }
        vals[k] = canon;
    }
    size_t bad;
    const char *why;
    rc = tmpl_scan(v->pub.sql_template, &pl, &bad, &why);
    if (rc != DC_OK) {
        if (rc != DC_ENOMEM)
            util_err(err, errlen, rc, "E-DP-TEMPLATE-SYNTAX: %s", why);
        goto cleanup;
    }
    int dollar = !backend || strcmp(backend, "sqlite") != 0;
    size_t nbound = 0, pos = 0;
    const char *t = v->pub.sql_template;
    for (size_t i = 0; i < pl.n; i++) {
        size_t k;
        for (k = 0; k < np; k++)
            if (strcmp(d->info.params[k]->name, pl.v[i].name) == 0)
                break;
        if (k == np) {
            rc = util_err(err, errlen, DC_EINVAL, "E-DP-PARAM-UNDECLARED: {{%s}}", pl.v[i].name);
            goto cleanup;
        }
        sbuf_add(&sql, t + pos, pl.v[i].start - pos);
        pos = pl.v[i].end;
        const struct dc_dp_param *p = d->info.params[k];
        if (strcmp(p->type, "identifier") == 0) {
            quote_ident(&sql, vals[k]);
            continue;
        }
        if (!order[k]) {
            order[k] = (int)++nbound;
            offs[k] = store.len;
            sbuf_add(&store, vals[k], strlen(vals[k]) + 1);
        }
        sbuf_addf(&sql, "%c%d", dollar ? '$' : '?', order[k]);
    }
    sbuf_adds(&sql, t + pos);
    if (sql.oom || store.oom) {
        rc = DC_ENOMEM;
        goto cleanup;
    }
    out->params = calloc(nbound + 1, sizeof(*out->params));
    if (!out->params) {
        rc = DC_ENOMEM;
        goto cleanup;
    }
    out->store = sbuf_detach(&store);
    out->sql = sbuf_detach(&sql);
    if (!out->store || !out->sql) {
        rc = DC_ENOMEM;
        goto cleanup;
    }
    for (size_t k = 0; k < np; k++) {
        if (!order[k])
            continue;
        const struct dc_dp_param *p = d->info.params[k];
        const char *text = out->store + offs[k];
        struct dc_value *pv = &out->params[order[k] - 1];
        if (strcmp(p->type, "integer") == 0) {
            int64_t x = 0;
            parse_int(text, &x);
            *pv = dc_value_int(x);
        } else if (strcmp(p->type, "number") == 0) {
            double x = 0;
            parse_number(text, &x);
            *pv = dc_value_real(x);
        } else {
            *pv = dc_value_text(text, strlen(text));
            if (strcmp(p->type, "date") == 0)
                pv->type = DC_DATE;
            else if (strcmp(p->type, "timestamp") == 0)
                pv->type = DC_TIMESTAMP;
        }
    }
    out->nparams = nbound;
    out->backend = v->pub.backend;
cleanup:
    if (rc == DC_ENOMEM)
        util_err(err, errlen, rc, "out of memory");
    if (rc != DC_OK)
        dp_rendered_free(out);
    ph_free(&pl);
    sbuf_free(&sql);
    sbuf_free(&store);
    free(vals);
    free(offs);
    free(order);
    return rc;
}

/* ------------------------------------------------------------------------
 * Checks against a live database.
 */
static const struct dc_column_info *find_col(const struct dc_table_info *t, const char *name)
{
    for (size_t i = 0; i < t->ncolumns; i++)
        if (strcasecmp(t->columns[i].name, name) == 0)
            return &t->columns[i];
    return NULL;
}

static void hint_tables(char *hint, size_t hlen, const struct dc_schema *sc, const char *name)
{
    const char *names[256];
    size_t n = 0;
    for (size_t i = 0; i < schema_ntables(sc) && n < 256; i++)
        names[n++] = schema_table(sc, i)->name;
    hint_names(hint, hlen, name, names, n, "tables");
}

static void hint_cols(char *hint, size_t hlen, const struct dc_table_info *t, const char *name)
{
    const char *names[256];
    size_t n = 0;
    for (size_t i = 0; i < t->ncolumns && n < 256; i++)
        names[n++] = t->columns[i].name;
    hint_names(hint, hlen, name, names, n, "columns");
}

static void quote_name(struct sbuf *b, const char *name)
{
    sbuf_adds(b, "\"");
    for (const char *p = name; *p; p++)
        sbuf_add(b, *p == '"' ? "\"\"" : p, 1 + (*p == '"'));
    sbuf_adds(b, "\"");
}

struct lint_ctx {
    const struct dp_live *live;
    struct dp_diags *dg;
    size_t nerr;
};

static void lint_err(struct lint_ctx *lc, const struct dp *d, struct dp_pos at, const char *code,
                     const char *hint, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void lint_err(struct lint_ctx *lc, const struct dp *d, struct dp_pos at, const char *code,
                     const char *hint, const char *fmt, ...)
{
    va_list ap;
    lc->nerr++;
    va_start(ap, fmt);
    diag_vadd(lc->dg, d->info.file, at.line, at.col, code, hint, fmt, ap);
    va_end(ap);
}

/* The table, or NULL after reporting it. */
static const struct dc_table_info *lint_table(struct lint_ctx *lc, const struct dp *d,
                                              const char *table, struct dp_pos at)
{
    const struct dc_table_info *t = schema_find(lc->live->schema, table);
    if (!t) {
        char hint[256];
        hint_tables(hint, sizeof(hint), lc->live->schema, table);
        lint_err(lc, d, at, "E-DP-UNKNOWN-TABLE", hint,
                 "table '%s' does not exist in database %s", table, lc->live->db_name);
    }
    return t;
}

static void lint_col(struct lint_ctx *lc, const struct dp *d, const struct dc_table_info *t,
                     const char *col, struct dp_pos at)
{
    if (find_col(t, col))
        return;
    char hint[256];
    hint_cols(hint, sizeof(hint), t, col);
    lint_err(lc, d, at, "E-DP-UNKNOWN-COLUMN", hint, "column '%s' does not exist in table %s",
             col, t->name);
}

static void lint_prepare(struct lint_ctx *lc, const struct dp *d, const char *sql,
                         struct dp_pos at, const char *code, const char *what)
{
    char err[512] = "";
    if (lc->live->prepare(lc->live->arg, sql, err, sizeof(err)) == DC_OK)
        return;
    lint_err(lc, d, at, code, "run the statement with `datachat sql` to see it fail",
             "%s does not prepare on %s: %s", what, lc->live->db_name,
             err[0] ? err : "unknown error");
}

static void lint_identifiers(struct lint_ctx *lc, const struct dp *d)
{
    for (size_t k = 0; k < d->info.nparams; k++) {
        const struct dp_param_x *p = (const struct dp_param_x *)d->info.params[k];
        if (strcmp(p->pub.type, "identifier") != 0)
            continue;
        for (size_t j = 0; j < p->pub.nvalues; j++) {
            const char *v = p->pub.values[j];
            const char *dot = strchr(v, '.');
            int found = 0;
            if (dot) {
                char tn[80];
                snprintf(tn, sizeof(tn), "%.*s", (int)(dot - v), v);
                const struct dc_table_info *t = schema_find(lc->live->schema, tn);
                found = t && find_col(t, dot + 1);
            } else {
                for (size_t i = 0; i < schema_ntables(lc->live->schema) && !found; i++) {
                    const struct dc_table_info *t = schema_table(lc->live->schema, i);
                    found = strcasecmp(t->name, v) == 0 || find_col(t, v);
                }
            }
            if (!found)
                lint_err(lc, d, p->at, "E-DP-UNKNOWN-COLUMN",
                         "allow only identifiers that exist in the database",
                         "parameter '%s' allows identifier '%s', which is no table or column "
                         "in database %s",
                         p->pub.name, v, lc->live->db_name);
        }
    }
}

static void lint_one(struct lint_ctx *lc, const struct dp *d)
{
    const struct dp_live *live = lc->live;
    struct sbuf q;
    sbuf_init(&q);
    for (size_t i = 0; i < d->info.ndata_sources; i++) {
        const struct dp_source_x *s = (const struct dp_source_x *)d->info.data_sources[i];
        const struct dc_table_info *t = lint_table(lc, d, s->pub.table, s->at_table);
        if (!t)
            continue;
        for (size_t j = 0; j < s->pub.ncolumns; j++)
            lint_col(lc, d, t, s->pub.columns[j], s->at_columns[j]);
        for (size_t j = 0; j < s->pub.nfilters; j++) {
            sbuf_reset(&q);
            sbuf_adds(&q, "SELECT 1 FROM ");
            quote_name(&q, t->name);
            sbuf_addf(&q, " WHERE (%s)", s->pub.filters[j]);
            if (q.oom)
                break;
            lint_prepare(lc, d, q.p, s->at_filters[j], "E-DP-FILTER-INVALID",
                         "business filter");
        }
    }
    if (d->type == DP_SCHEMA && d->info.table) {
        const struct dc_table_info *t = lint_table(lc, d, d->info.table, d->at_table);
        for (size_t j = 0; t && j < d->info.ncolumns; j++) {
            const struct dp_column_x *c = (const struct dp_column_x *)d->info.columns[j];
            lint_col(lc, d, t, c->pub.name, c->at);
        }
        for (size_t j = 0; t && j < d->info.nforeign_keys; j++) {
            const struct dp_fk_x *f = (const struct dp_fk_x *)d->info.foreign_keys[j];
            lint_col(lc, d, t, f->pub.column, f->at);
            const struct dc_table_info *to = lint_table(lc, d, f->pub.to_table, f->at);
            if (to)
                lint_col(lc, d, to, f->pub.to_column, f->at);
        }
    }
    if ((d->type == DP_METRIC || d->type == DP_QUERY) && (d->tmpl || d->info.nvariants)) {
        lint_identifiers(lc, d);
        const struct dp_variant_x *v = pick_variant(d, live->backend);
        if (!v) {
            lint_err(lc, d, d->at_id, "E-DP-NO-VARIANT",
                     "add backend_variants for it, or a portable sql_template",
                     "%s has no template for %s (database %s)", d->info.id,
                     live->backend ? live->backend : "this backend", live->db_name);
        } else {
            struct dp_arg *args = calloc(d->info.nparams + 1, sizeof(*args));
            struct dp_rendered r;
            char err[512] = "";
            if (!args) {
                lint_err(lc, d, d->at_id, "E-DP-NOMEM", "free memory", "out of memory");
            } else {
                for (size_t k = 0; k < d->info.nparams; k++) {
                    args[k].name = d->info.params[k]->name;
                    args[k].value = dp_param_sample(d->info.params[k]);
                }
                if (dp_render(d, live->backend, args, d->info.nparams, &r, err, sizeof(err)) !=
                    DC_OK) {
                    lint_err(lc, d, v->at, "E-DP-TEMPLATE-INVALID",
                             "fix the template or its parameters", "%s", err);
                } else {
                    char what[96];
                    snprintf(what, sizeof(what), "template (%s)", v->pub.backend);
                    lint_prepare(lc, d, r.sql, v->at, "E-DP-TEMPLATE-INVALID", what);
                    dp_rendered_free(&r);
                }
                free(args);
            }
        }
    }
    sbuf_free(&q);
}

int dp_lint_live(const struct dp_set *s, const char *only, const struct dp_live *live,
                 struct dp_diags *dg)
{
    if (!s || !live || !live->schema || !live->prepare)
        return DC_EINVAL;
    struct lint_ctx lc = {live, dg, 0};
    for (size_t i = 0; i < s->nall; i++) {
        const struct dp *d = s->all[i];
        if (d->dup)
            continue;
        if (d->info.database ? strcmp(d->info.database, live->db_name) != 0 : !live->unbound)
            continue;
        if (only && strcmp(d->info.file, only) != 0)
            continue;
        lint_one(&lc, d);
    }
    return lc.nerr ? DC_EINVAL : DC_OK;
}
