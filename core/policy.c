#include "policy.h"

#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include <datachat/host.h>

#include "schema.h"
#include "util.h"

/* A policy file is small; anything bigger is a mistake, not a policy. */
#define POLICY_MAX_FILE ((size_t)4 << 20)
/* Nested roles deeper than this are certainly a cycle or a mistake. */
#define POLICY_MAX_ROLE_DEPTH 16
#define POLICY_MAX_LIMIT ((int64_t)1 << 40)

struct pl {
    yaml_document_t *doc;
    const char *file; /* owned by the set */
    struct cfg_diags *diags;
    struct policy_set *ps;
    int nerr;
};

static void pl_diag(struct pl *l, const yaml_node_t *at, const char *code, const char *hint,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void pl_diag(struct pl *l, const yaml_node_t *at, const char *code, const char *hint,
                    const char *fmt, ...)
{
    l->nerr++;
    if (!l->diags)
        return;
    if (l->diags->n >= CFG_MAX_DIAGS) {
        l->diags->dropped++;
        return;
    }
    struct cfg_diag *d = &l->diags->d[l->diags->n++];
    memset(d, 0, sizeof(*d));
    snprintf(d->file, sizeof(d->file), "%s", l->file);
    if (at) {
        d->line = (int)at->start_mark.line + 1;
        d->col = (int)at->start_mark.column + 1;
    }
    snprintf(d->code, sizeof(d->code), "%s", code);
    snprintf(d->hint, sizeof(d->hint), "%s", hint ? hint : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
    va_end(ap);
}

static void diag_at(struct cfg_diags *diags, const char *file, int line, int col,
                    const char *code, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static void diag_at(struct cfg_diags *diags, const char *file, int line, int col,
                    const char *code, const char *hint, const char *fmt, ...)
{
    if (!diags)
        return;
    if (diags->n >= CFG_MAX_DIAGS) {
        diags->dropped++;
        return;
    }
    struct cfg_diag *d = &diags->d[diags->n++];
    memset(d, 0, sizeof(*d));
    snprintf(d->file, sizeof(d->file), "%s", file ? file : "");
    d->line = line;
    d->col = col;
    snprintf(d->code, sizeof(d->code), "%s", code);
    snprintf(d->hint, sizeof(d->hint), "%s", hint ? hint : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
    va_end(ap);
}

static const char *node_str(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static const char *kind_name(const yaml_node_t *n)
{
    if (!n)
        return "nothing";
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

static int want_map(struct pl *l, const yaml_node_t *n, const char *what)
{
    if (n && n->type == YAML_MAPPING_NODE)
        return 1;
    pl_diag(l, n, "E-POLICY-TYPE", "see docs/SECURITY.md for the policy format",
            "%s must be a mapping, not %s", what, kind_name(n));
    return 0;
}

static int want_scalar(struct pl *l, const yaml_node_t *n, const char *what)
{
    if (n && n->type == YAML_SCALAR_NODE)
        return 1;
    pl_diag(l, n, "E-POLICY-TYPE", "give a single value", "%s must be a scalar, not %s", what,
            kind_name(n));
    return 0;
}

/* Iterates a mapping checking keys against allowed (NULL-terminated; NULL
 * allows any) and duplicates. Returns the number of pairs. */
typedef void (*pl_pair_fn)(struct pl *l, const yaml_node_t *key, const yaml_node_t *val,
                           void *arg);

static void pl_map(struct pl *l, const yaml_node_t *map, const char *what,
                   const char *const *allowed, pl_pair_fn fn, void *arg)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        const char *ks = node_str(k);
        if (!ks) {
            pl_diag(l, k, "E-POLICY-TYPE", "keys are plain names", "a key in %s is %s", what,
                    kind_name(k));
            continue;
        }
        int dup = 0;
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            const char *qs = node_str(yaml_document_get_node(l->doc, q->key));
            if (qs && strcmp(qs, ks) == 0)
                dup = 1;
        }
        if (dup) {
            pl_diag(l, k, "E-POLICY-DUPLICATE", "keep one of them", "'%s' appears twice in %s",
                    ks, what);
            continue;
        }
        if (allowed) {
            int ok = 0;
            for (size_t i = 0; allowed[i]; i++)
                ok |= strcmp(allowed[i], ks) == 0;
            if (!ok) {
                char list[256] = "";
                size_t used = 0;
                for (size_t i = 0; allowed[i] && used < sizeof(list); i++) {
                    int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
                                     allowed[i]);
                    if (w < 0)
                        break;
                    used += (size_t)w;
                }
                char hint[300];
                snprintf(hint, sizeof(hint), "known keys here: %s", list);
                pl_diag(l, k, "E-POLICY-UNKNOWN-KEY", hint, "unknown key '%s' in %s", ks, what);
                continue;
            }
        }
        fn(l, k, v, arg);
    }
}

static int pl_bool(struct pl *l, const yaml_node_t *v, const char *what, int *out)
{
    if (!want_scalar(l, v, what))
        return 0;
    const char *s = node_str(v);
    if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0) {
        *out = 1;
        return 1;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0) {
        *out = 0;
        return 1;
    }
    pl_diag(l, v, "E-POLICY-TYPE", "write true or false", "%s must be true or false, not '%s'",
            what, s);
    return 0;
}

static int pl_int(struct pl *l, const yaml_node_t *v, const char *what, int64_t *out)
{
    if (!want_scalar(l, v, what))
        return 0;
    const char *s = node_str(v);
    char *end = NULL;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (!*s || errno || !end || *end || x < 1 || x > POLICY_MAX_LIMIT) {
        pl_diag(l, v, "E-POLICY-VALUE", "write a whole number of at least 1",
                "%s must be a positive whole number, not '%s'", what, s);
        return 0;
    }
    *out = x;
    return 1;
}

static char *pl_dup(struct pl *l, const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        pl_diag(l, NULL, "E-POLICY-INTERNAL", NULL, "out of memory");
    return d;
}

/* "main.t" and "public.t" name the table t. */
static const char *unqualify(const char *name)
{
    if (strncasecmp(name, "main.", 5) == 0)
        return name + 5;
    if (strncasecmp(name, "public.", 7) == 0)
        return name + 7;
    return name;
}

/* ---- columns ---------------------------------------------------------- */

static struct policy_column *pl_column(struct pl *l, struct policy_table *t, const yaml_node_t *at,
                                       const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (strcasecmp(t->cols[i].name, name) == 0)
            return &t->cols[i];
    struct policy_column *c = realloc(t->cols, (t->ncols + 1) * sizeof(*c));
    if (!c) {
        pl_diag(l, at, "E-POLICY-INTERNAL", NULL, "out of memory");
        return NULL;
    }
    t->cols = c;
    c = &t->cols[t->ncols];
    memset(c, 0, sizeof(*c));
    c->name = pl_dup(l, name);
    if (!c->name)
        return NULL;
    c->line = (int)at->start_mark.line + 1;
    c->col = (int)at->start_mark.column + 1;
    t->ncols++;
    return c;
}

static void pl_mask_pair(struct pl *l, const yaml_node_t *k, const yaml_node_t *v, void *arg)
{
    struct policy_table *t = arg;
    const char *col = node_str(k);
    int mask = 0;
    const char *sql = NULL;
    if (v && v->type == YAML_SCALAR_NODE) {
        const char *r = node_str(v);
        if (strcmp(r, "email") == 0)
            mask = POLICY_MASK_EMAIL;
        else if (strcmp(r, "last4") == 0)
            mask = POLICY_MASK_LAST4;
        else if (strcmp(r, "hash") == 0)
            mask = POLICY_MASK_HASH;
        else if (strcmp(r, "null") == 0)
            mask = POLICY_MASK_NULL;
        else {
            pl_diag(l, v, "E-POLICY-UNKNOWN-MASK",
                    "use email, last4, hash, null, or { sql: \"<expression>\" }",
                    "unknown mask rule '%s' for column '%s'", r, col);
            return;
        }
    } else if (v && v->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
             p++) {
            const yaml_node_t *kk = yaml_document_get_node(l->doc, p->key);
            const yaml_node_t *vv = yaml_document_get_node(l->doc, p->value);
            const char *ks = node_str(kk);
            if (!ks || strcmp(ks, "sql") != 0) {
                pl_diag(l, kk, "E-POLICY-UNKNOWN-MASK",
                        "a custom mask is { sql: \"<expression over the column>\" }",
                        "unknown key '%s' in the mask of column '%s'", ks ? ks : "?", col);
                return;
            }
            if (sql) {
                pl_diag(l, kk, "E-POLICY-DUPLICATE", "keep one", "'sql' appears twice");
                return;
            }
            if (!want_scalar(l, vv, "a custom mask's sql"))
                return;
            sql = node_str(vv);
            if (!*sql) {
                pl_diag(l, vv, "E-POLICY-VALUE", "write an expression over the column",
                        "the custom mask of column '%s' is empty", col);
                return;
            }
        }
        if (!sql) {
            pl_diag(l, v, "E-POLICY-UNKNOWN-MASK",
                    "a custom mask is { sql: \"<expression over the column>\" }",
                    "the mask of column '%s' has no sql", col);
            return;
        }
        mask = POLICY_MASK_SQL;
    } else {
        pl_diag(l, v, "E-POLICY-UNKNOWN-MASK",
                "use email, last4, hash, null, or { sql: \"<expression>\" }",
                "the mask of column '%s' must be a rule name or { sql: ... }, not %s", col,
                kind_name(v));
        return;
    }
    struct policy_column *c = pl_column(l, t, k, col);
    if (!c)
        return;
    if (c->denied) {
        pl_diag(l, k, "E-POLICY-CONFLICT", "a denied column is never shown; drop one rule",
                "column '%s' is both denied and masked", col);
        return;
    }
    c->mask = mask;
    if (sql && !(c->mask_sql = pl_dup(l, sql)))
        return;
}

static void pl_columns_pair(struct pl *l, const yaml_node_t *k, const yaml_node_t *v, void *arg)
{
    struct policy_table *t = arg;
    const char *key = node_str(k);
    if (strcmp(key, "denied") == 0) {
        if (!v || v->type != YAML_SEQUENCE_NODE) {
            pl_diag(l, v, "E-POLICY-TYPE", "write a list, e.g. denied: [salary]",
                    "columns.denied must be a list, not %s", kind_name(v));
            return;
        }
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top; it++) {
            const yaml_node_t *n = yaml_document_get_node(l->doc, *it);
            if (!want_scalar(l, n, "a denied column"))
                continue;
            struct policy_column *c = pl_column(l, t, n, node_str(n));
            if (!c)
                return;
            if (c->mask) {
                pl_diag(l, n, "E-POLICY-CONFLICT", "a denied column is never shown; drop one rule",
                        "column '%s' is both denied and masked", c->name);
                continue;
            }
            if (c->denied) {
                pl_diag(l, n, "E-POLICY-DUPLICATE", "keep one",
                        "column '%s' is listed twice in denied", c->name);
                continue;
            }
            c->denied = 1;
        }
    } else if (want_map(l, v, "columns.masked")) {
        pl_map(l, v, "columns.masked", NULL, pl_mask_pair, t);
    }
}

static void pl_table_pair(struct pl *l, const yaml_node_t *k, const yaml_node_t *v, void *arg)
{
    struct policy_table *t = arg;
    const char *key = node_str(k);
    if (strcmp(key, "allowed") == 0) {
        pl_bool(l, v, "allowed", &t->allowed);
    } else if (strcmp(key, "row_filter") == 0) {
        if (!want_scalar(l, v, "row_filter"))
            return;
        const char *f = node_str(v);
        if (strspn(f, " \t\r\n") == strlen(f)) {
            pl_diag(l, v, "E-POLICY-ROW-FILTER", "write a condition, e.g. region = 'EU'",
                    "row_filter of table '%s' is empty", t->name);
            return;
        }
        t->row_filter = pl_dup(l, f);
        t->filter_line = (int)v->start_mark.line + 1;
        t->filter_col = (int)v->start_mark.column + 1;
    } else if (want_map(l, v, "columns")) {
        static const char *const keys[] = {"denied", "masked", NULL};
        pl_map(l, v, "columns", keys, pl_columns_pair, t);
    }
}

static void pl_tables_pair(struct pl *l, const yaml_node_t *k, const yaml_node_t *v, void *arg)
{
    struct policy_db *db = arg;
    const char *name = unqualify(node_str(k));
    for (size_t i = 0; i < db->ntables; i++)
        if (strcasecmp(db->tables[i].name, name) == 0) {
            pl_diag(l, k, "E-POLICY-DUPLICATE", "main.t, public.t and t name the same table",
                    "table '%s' appears twice in database '%s'", name, db->name);
            return;
        }
    if (!want_map(l, v, "a table's rules"))
        return;
    struct policy_table *t = realloc(db->tables, (db->ntables + 1) * sizeof(*t));
    if (!t) {
        pl_diag(l, k, "E-POLICY-INTERNAL", NULL, "out of memory");
        return;
    }
    db->tables = t;
    t = &db->tables[db->ntables];
    memset(t, 0, sizeof(*t));
    t->allowed = -1;
    t->line = (int)k->start_mark.line + 1;
    t->col = (int)k->start_mark.column + 1;
    if (!(t->name = pl_dup(l, name)))
        return;
    db->ntables++;
    static const char *const keys[] = {"allowed", "row_filter", "columns", NULL};
    pl_map(l, v, "a table's rules", keys, pl_table_pair, t);
}

static void pl_default_pair(struct pl *l, const yaml_node_t *k, const yaml_node_t *v, void *arg)
{
    (void)k;
    pl_bool(l, v, "default_table.allowed", arg);
}

static void pl_db_pair(struct pl *l, const yaml_node_t *k, const yaml_node_t *v, void *arg)
{
    struct policy_db *db = arg;
    const char *key = node_str(k);
    if (strcmp(key, "mode") == 0) {
        if (want_scalar(l, v, "mode") && strcmp(node_str(v), "read_only") != 0)
            pl_diag(l, v, "E-POLICY-MODE",
                    "DataChat only reads; write mode: read_only or leave it out",
                    "mode '%s' is not supported", node_str(v));
    } else if (strcmp(key, "max_rows") == 0) {
        pl_int(l, v, "max_rows", &db->max_rows);
    } else if (strcmp(key, "statement_timeout_ms") == 0) {
        pl_int(l, v, "statement_timeout_ms", &db->timeout_ms);
    } else if (strcmp(key, "queries_per_minute") == 0) {
        pl_int(l, v, "queries_per_minute", &db->per_minute);
    } else if (strcmp(key, "concurrent_queries") == 0) {
        pl_int(l, v, "concurrent_queries", &db->concurrent);
    } else if (strcmp(key, "tables") == 0) {
        if (want_map(l, v, "tables"))
            pl_map(l, v, "tables", NULL, pl_tables_pair, db);
    } else if (want_map(l, v, "default_table")) {
        static const char *const keys[] = {"allowed", NULL};
        pl_map(l, v, "default_table", keys, pl_default_pair, &db->default_allowed);
    }
}

static void pl_dbs_pair(struct pl *l, const yaml_node_t *k, const yaml_node_t *v, void *arg)
{
    struct policy_principal *p = arg;
    if (!want_map(l, v, "a database's rules"))
        return;
    struct policy_db *db = realloc(p->dbs, (p->ndbs + 1) * sizeof(*db));
    if (!db) {
        pl_diag(l, k, "E-POLICY-INTERNAL", NULL, "out of memory");
        return;
    }
    p->dbs = db;
    db = &p->dbs[p->ndbs];
    memset(db, 0, sizeof(*db));
    db->default_allowed = -1;
    db->line = (int)k->start_mark.line + 1;
    db->col = (int)k->start_mark.column + 1;
    if (!(db->name = pl_dup(l, node_str(k))))
        return;
    p->ndbs++;
    static const char *const keys[] = {"mode",          "max_rows",           "statement_timeout_ms",
                                       "queries_per_minute", "concurrent_queries", "tables",
                                       "default_table", NULL};
    pl_map(l, v, "a database's rules", keys, pl_db_pair, db);
}

static void pl_principal_pair(struct pl *l, const yaml_node_t *k, const yaml_node_t *v, void *arg)
{
    struct policy_principal *p = arg;
    const char *key = node_str(k);
    if (strcmp(key, "roles") == 0) {
        if (!v || v->type != YAML_SEQUENCE_NODE) {
            pl_diag(l, v, "E-POLICY-TYPE", "write a list, e.g. roles: [staff]",
                    "roles must be a list, not %s", kind_name(v));
            return;
        }
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top; it++) {
            const yaml_node_t *n = yaml_document_get_node(l->doc, *it);
            if (!want_scalar(l, n, "a role"))
                continue;
            size_t m = p->nroles + 1;
            char **r = realloc(p->roles, m * sizeof(*r));
            if (r)
                p->roles = r;
            int *rl = realloc(p->role_line, m * sizeof(*rl));
            if (rl)
                p->role_line = rl;
            int *rc = realloc(p->role_col, m * sizeof(*rc));
            if (rc)
                p->role_col = rc;
            if (!r || !rl || !rc || !(p->roles[p->nroles] = pl_dup(l, node_str(n)))) {
                pl_diag(l, n, "E-POLICY-INTERNAL", NULL, "out of memory");
                return;
            }
            p->role_line[p->nroles] = (int)n->start_mark.line + 1;
            p->role_col[p->nroles] = (int)n->start_mark.column + 1;
            p->nroles++;
        }
    } else if (want_map(l, v, "databases")) {
        pl_map(l, v, "databases", NULL, pl_dbs_pair, p);
    }
}

static void pl_principals_pair(struct pl *l, const yaml_node_t *k, const yaml_node_t *v,
                               void *arg)
{
    (void)arg;
    const char *name = node_str(k);
    if (policy_find(l->ps, name)) {
        pl_diag(l, k, "E-POLICY-DUPLICATE", "define each principal in one place",
                "principal '%s' is defined twice", name);
        return;
    }
    if (v && v->type == YAML_SCALAR_NODE && !*node_str(v)) {
        /* "name:" with nothing: a principal with no rules (denied everything). */
    } else if (!want_map(l, v, "a principal")) {
        return;
    }
    struct policy_principal *p = realloc(l->ps->p, (l->ps->np + 1) * sizeof(*p));
    if (!p) {
        pl_diag(l, k, "E-POLICY-INTERNAL", NULL, "out of memory");
        return;
    }
    l->ps->p = p;
    p = &l->ps->p[l->ps->np];
    memset(p, 0, sizeof(*p));
    p->file = l->file;
    p->line = (int)k->start_mark.line + 1;
    p->col = (int)k->start_mark.column + 1;
    if (!(p->name = pl_dup(l, name)))
        return;
    l->ps->np++;
    if (v->type == YAML_MAPPING_NODE) {
        static const char *const keys[] = {"roles", "databases", NULL};
        pl_map(l, v, "a principal", keys, pl_principal_pair, p);
    }
}

static void pl_root_pair(struct pl *l, const yaml_node_t *k, const yaml_node_t *v, void *arg)
{
    (void)k;
    (void)arg;
    if (want_map(l, v, "principals"))
        pl_map(l, v, "principals", NULL, pl_principals_pair, NULL);
}

static char *set_add_file(struct policy_set *ps, const char *name)
{
    char **f = realloc(ps->files, (ps->nfiles + 1) * sizeof(*f));
    if (!f)
        return NULL;
    ps->files = f;
    f[ps->nfiles] = strdup(name);
    if (!f[ps->nfiles])
        return NULL;
    return f[ps->nfiles++];
}

static int set_parse(struct policy_set *ps, const char *text, size_t len, const char *name,
                     struct cfg_diags *diags)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    int nerr = 0;
    const char *file = set_add_file(ps, name);
    if (!file) {
        diag_at(diags, name, 0, 0, "E-POLICY-INTERNAL", NULL, "out of memory");
        return 1;
    }
    if (!yaml_parser_initialize(&parser)) {
        diag_at(diags, name, 0, 0, "E-POLICY-INTERNAL", NULL, "cannot start the YAML parser");
        return 1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        diag_at(diags, name, (int)parser.problem_mark.line + 1,
                (int)parser.problem_mark.column + 1, "E-POLICY-SYNTAX",
                "fix the YAML syntax (indentation, quotes, colons)", "YAML: %s%s%s",
                parser.problem ? parser.problem : "syntax error", parser.context ? " " : "",
                parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return 1;
    }
    struct pl l = {&doc, file, diags, ps, 0};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        diag_at(diags, name, 0, 0, "E-POLICY-EMPTY", "start the file with principals:",
                "the policy file is empty");
        nerr = 1;
    } else if (want_map(&l, root, "the policy file")) {
        static const char *const keys[] = {"principals", NULL};
        pl_map(&l, root, "the policy file", keys, pl_root_pair, NULL);
        nerr = l.nerr;
    } else {
        nerr = l.nerr;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return nerr;
}

const struct policy_principal *policy_find(const struct policy_set *ps, const char *name)
{
    if (!ps || !name)
        return NULL;
    for (size_t i = 0; i < ps->np; i++)
        if (strcmp(ps->p[i].name, name) == 0)
            return &ps->p[i];
    return NULL;
}

static int role_walk(const struct policy_set *ps, const struct policy_principal *p,
                     const struct policy_principal **stack, size_t depth, struct cfg_diags *diags)
{
    int nerr = 0;
    for (size_t i = 0; i < p->nroles; i++) {
        const struct policy_principal *r = policy_find(ps, p->roles[i]);
        if (!r) {
            diag_at(diags, p->file, p->role_line[i], p->role_col[i], "E-POLICY-UNKNOWN-ROLE",
                    "a role is a principal defined in a policy file; define it or drop it",
                    "principal '%s' names role '%s', which no policy file defines", p->name,
                    p->roles[i]);
            nerr++;
            continue;
        }
        int cycle = 0;
        for (size_t j = 0; j < depth; j++)
            cycle |= stack[j] == r;
        if (cycle || depth >= POLICY_MAX_ROLE_DEPTH) {
            diag_at(diags, p->file, p->role_line[i], p->role_col[i], "E-POLICY-ROLE-CYCLE",
                    "roles must not include themselves, directly or through other roles",
                    "role '%s' of '%s' leads back to itself", r->name, p->name);
            nerr++;
            continue;
        }
        stack[depth] = r;
        nerr += role_walk(ps, r, stack, depth + 1, diags);
    }
    return nerr;
}

static int set_check_roles(const struct policy_set *ps, struct cfg_diags *diags)
{
    const struct policy_principal *stack[POLICY_MAX_ROLE_DEPTH + 1];
    int nerr = 0;
    for (size_t i = 0; i < ps->np; i++) {
        stack[0] = &ps->p[i];
        nerr += role_walk(ps, &ps->p[i], stack, 1, diags);
        if (nerr)
            break; /* one report per problem is enough; cycles repeat per member */
    }
    return nerr;
}

int policy_load_string(const char *text, size_t len, const char *name, struct policy_set **out,
                       struct cfg_diags *diags)
{
    if (!out)
        return DC_EINVAL;
    *out = NULL;
    if (diags)
        memset(diags, 0, sizeof(*diags));
    struct policy_set *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return DC_ENOMEM;
    int nerr = set_parse(ps, text ? text : "", text ? len : 0, name ? name : "<policy>", diags);
    if (!nerr)
        nerr = set_check_roles(ps, diags);
    if (nerr) {
        policy_set_free(ps);
        return DC_EINVAL;
    }
    *out = ps;
    return DC_OK;
}

int policy_load_glob(const char *pattern, struct policy_set **out, struct cfg_diags *diags)
{
    glob_t g;
    int nerr = 0;
    if (!out)
        return DC_EINVAL;
    *out = NULL;
    if (diags)
        memset(diags, 0, sizeof(*diags));
    struct policy_set *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return DC_ENOMEM;
    memset(&g, 0, sizeof(g));
    int grc = glob(pattern ? pattern : "", GLOB_ERR, NULL, &g);
    if (grc != 0 || g.gl_pathc == 0) {
        diag_at(diags, pattern ? pattern : "", 0, 0, "E-POLICY-FILE",
                "fix the config's policies: glob, or remove the key to use only the gate's "
                "built-in rules",
                "policies: '%s' matches no file; with no policy every principal would be "
                "refused",
                pattern ? pattern : "");
        nerr = 1;
    }
    for (size_t i = 0; !nerr && i < g.gl_pathc; i++) {
        char *text = NULL;
        size_t len = 0;
        char err[256] = "";
        if (util_read_file(g.gl_pathv[i], POLICY_MAX_FILE, &text, &len, err, sizeof(err)) !=
            DC_OK) {
            diag_at(diags, g.gl_pathv[i], 0, 0, "E-POLICY-FILE",
                    "make the file readable (and smaller than 4 MiB)", "cannot read: %s", err);
            nerr++;
            continue;
        }
        nerr += set_parse(ps, text, len, g.gl_pathv[i], diags);
        free(text);
    }
    globfree(&g);
    if (!nerr)
        nerr = set_check_roles(ps, diags);
    if (nerr) {
        policy_set_free(ps);
        return DC_EINVAL;
    }
    *out = ps;
    return DC_OK;
}

static void table_clear(struct policy_table *t)
{
    for (size_t i = 0; i < t->ncols; i++) {
        free(t->cols[i].name);
        free(t->cols[i].mask_sql);
    }
    free(t->cols);
    free(t->name);
    free(t->row_filter);
}

void policy_set_free(struct policy_set *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->np; i++) {
        struct policy_principal *p = &ps->p[i];
        for (size_t j = 0; j < p->nroles; j++)
            free(p->roles[j]);
        free(p->roles);
        free(p->role_line);
        free(p->role_col);
        for (size_t j = 0; j < p->ndbs; j++) {
            for (size_t k = 0; k < p->dbs[j].ntables; k++)
                table_clear(&p->dbs[j].tables[k]);
            free(p->dbs[j].tables);
            free(p->dbs[j].name);
        }
        free(p->dbs);
        free(p->name);
    }
    free(ps->p);
    for (size_t i = 0; i < ps->nfiles; i++)
        free(ps->files[i]);
    free(ps->files);
    free(ps);
}

/* ---- Checks against the live catalog ------------------------------------ */

static const struct dc_column_info *find_column(const struct dc_table_info *t, const char *name)
{
    for (size_t i = 0; i < t->ncolumns; i++)
        if (t->columns[i].name && strcasecmp(t->columns[i].name, name) == 0)
            return &t->columns[i];
    return NULL;
}

int policy_check_schema(const struct policy_set *ps, const char *db, const struct dc_schema *s,
                        struct cfg_diags *diags)
{
    int nerr = 0;
    if (!ps || !db || !s)
        return DC_EINVAL;
    for (size_t i = 0; i < ps->np; i++) {
        const struct policy_principal *p = &ps->p[i];
        for (size_t j = 0; j < p->ndbs; j++) {
            const struct policy_db *d = &p->dbs[j];
            if (strcmp(d->name, db) != 0)
                continue;
            for (size_t k = 0; k < d->ntables; k++) {
                const struct policy_table *t = &d->tables[k];
                const struct dc_table_info *ti = schema_find(s, t->name);
                if (!ti) {
                    diag_at(diags, p->file, t->line, t->col, "E-POLICY-NO-TABLE",
                            "check the spelling against `datachat query \"list tables\"`",
                            "database '%s' has no table '%s' (principal '%s')", db, t->name,
                            p->name);
                    nerr++;
                    continue;
                }
                for (size_t c = 0; c < t->ncols; c++)
                    if (!find_column(ti, t->cols[c].name)) {
                        diag_at(diags, p->file, t->cols[c].line, t->cols[c].col,
                                "E-POLICY-NO-COLUMN",
                                "check the spelling against `datachat query \"describe TABLE\"`",
                                "table '%s' of database '%s' has no column '%s'", t->name, db,
                                t->cols[c].name);
                        nerr++;
                    }
            }
        }
    }
    return nerr ? DC_EINVAL : DC_OK;
}

/* ---- Effective rules ------------------------------------------------------ */

static int rules_collect(const struct policy_set *ps, const struct policy_principal *p,
                         const struct policy_principal **order, size_t *n, size_t cap,
                         size_t depth)
{
    for (size_t i = 0; i < *n; i++)
        if (order[i] == p)
            return DC_OK;
    if (*n >= cap || depth > POLICY_MAX_ROLE_DEPTH)
        return DC_OK;
    order[(*n)++] = p;
    for (size_t i = 0; i < p->nroles; i++) {
        const struct policy_principal *r = policy_find(ps, p->roles[i]);
        if (r)
            rules_collect(ps, r, order, n, cap, depth + 1);
    }
    return DC_OK;
}

int policy_resolve(const struct policy_set *ps, const char *principal, const char *db,
                   struct policy_rules **out)
{
    const struct policy_principal **order = NULL;
    struct policy_rules *r = NULL;
    int rc = DC_OK;
    if (!out)
        return DC_EINVAL;
    *out = NULL;
    const struct policy_principal *p = policy_find(ps, principal);
    if (!p || !db)
        return DC_ENOTFOUND;
    order = calloc(ps->np, sizeof(*order));
    r = calloc(1, sizeof(*r));
    if (!order || !r || !(r->principal = strdup(principal)) || !(r->database = strdup(db))) {
        rc = DC_ENOMEM;
        goto cleanup;
    }
    size_t n = 0;
    rules_collect(ps, p, order, &n, ps->np, 0);
    int default_set = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < order[i]->ndbs; j++) {
            const struct policy_db *d = &order[i]->dbs[j];
            if (strcmp(d->name, db) != 0)
                continue;
            r->has_db = 1;
            if (!r->max_rows)
                r->max_rows = d->max_rows;
            if (!r->timeout_ms)
                r->timeout_ms = d->timeout_ms;
            if (!r->per_minute)
                r->per_minute = d->per_minute;
            if (!r->concurrent)
                r->concurrent = d->concurrent;
            if (!default_set && d->default_allowed >= 0) {
                r->default_allowed = d->default_allowed;
                default_set = 1;
            }
            for (size_t k = 0; k < d->ntables; k++) {
                if (policy_rules_table(r, d->tables[k].name))
                    continue;
                struct policy_rule_table *t = realloc(r->tables, (r->ntables + 1) * sizeof(*t));
                if (!t) {
                    rc = DC_ENOMEM;
                    goto cleanup;
                }
                r->tables = t;
                r->tables[r->ntables].t = &d->tables[k];
                r->tables[r->ntables].from = order[i]->name;
                r->tables[r->ntables].file = order[i]->file;
                r->ntables++;
            }
        }
    }
    *out = r;
    r = NULL;
cleanup:
    policy_rules_free(r);
    free(order);
    return rc;
}

void policy_rules_free(struct policy_rules *r)
{
    if (!r)
        return;
    free(r->principal);
    free(r->database);
    free(r->tables);
    free(r);
}

const struct policy_table *policy_rules_table(const struct policy_rules *r, const char *name)
{
    if (!r || !name)
        return NULL;
    name = unqualify(name);
    for (size_t i = 0; i < r->ntables; i++)
        if (strcasecmp(r->tables[i].t->name, name) == 0)
            return r->tables[i].t;
    return NULL;
}

int policy_table_allowed(const struct policy_rules *r, const char *name)
{
    const struct policy_table *t = policy_rules_table(r, name);
    if (t && t->allowed >= 0)
        return t->allowed;
    if (t)
        return 1; /* listed with rules but no `allowed:`: the rules imply access */
    return r ? r->default_allowed : 0;
}

int policy_column_denied(const struct policy_rules *r, const char *table, const char *column)
{
    const struct policy_table *t = policy_rules_table(r, table);
    if (!t || !column)
        return 0;
    for (size_t i = 0; i < t->ncols; i++)
        if (t->cols[i].denied && strcasecmp(t->cols[i].name, column) == 0)
            return 1;
    return 0;
}

int policy_table_shadowed(const struct policy_table *t)
{
    if (!t || t->allowed == 0)
        return 0;
    if (t->row_filter)
        return 1;
    for (size_t i = 0; i < t->ncols; i++)
        if (t->cols[i].denied || t->cols[i].mask)
            return 1;
    return 0;
}

int policy_filter_schema(const struct policy_rules *r, const struct dc_schema *in,
                         struct dc_schema **out)
{
    struct dc_column_info *cols = NULL;
    struct dc_fk_info *fks = NULL;
    int rc = DC_OK;
    *out = NULL;
    struct dc_schema *s = schema_new();
    if (!s)
        return DC_ENOMEM;
    for (size_t i = 0; i < schema_ntables(in); i++) {
        const struct dc_table_info *t = schema_table(in, i);
        if (!policy_table_allowed(r, t->name))
            continue;
        struct dc_table_info copy = *t;
        free(cols);
        free(fks);
        cols = calloc(t->ncolumns ? t->ncolumns : 1, sizeof(*cols));
        fks = calloc(t->nfks ? t->nfks : 1, sizeof(*fks));
        if (!cols || !fks) {
            rc = DC_ENOMEM;
            goto cleanup;
        }
        size_t nc = 0, nf = 0;
        for (size_t c = 0; c < t->ncolumns; c++)
            if (!policy_column_denied(r, t->name, t->columns[c].name))
                cols[nc++] = t->columns[c];
        for (size_t f = 0; f < t->nfks; f++)
            if (policy_table_allowed(r, t->fks[f].to_table) &&
                !policy_column_denied(r, t->name, t->fks[f].from_column) &&
                !policy_column_denied(r, t->fks[f].to_table, t->fks[f].to_column))
                fks[nf++] = t->fks[f];
        copy.columns = cols;
        copy.ncolumns = nc;
        copy.fks = fks;
        copy.nfks = nf;
        /* A filtered table's row count would reveal how many rows are hidden. */
        const struct policy_table *pt = policy_rules_table(r, t->name);
        if (pt && pt->row_filter)
            copy.row_count = -1;
        rc = schema_add_table(s, &copy);
        if (rc != DC_OK)
            goto cleanup;
    }
    *out = s;
    s = NULL;
cleanup:
    free(cols);
    free(fks);
    schema_free(s);
    return rc;
}

/* ---- SQL generation --------------------------------------------------------- */

static int quote_ident(struct sbuf *b, const char *name)
{
    sbuf_adds(b, "\"");
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            sbuf_add(b, "\"", 1);
        sbuf_add(b, p, 1);
    }
    return sbuf_adds(b, "\"");
}

/* tmpl with every '@' replaced by the quoted column. */
static void add_template(struct sbuf *b, const char *tmpl, const char *qcol)
{
    for (const char *p = tmpl; *p; p++) {
        if (*p == '@')
            sbuf_adds(b, qcol);
        else
            sbuf_add(b, p, 1);
    }
}

const char *policy_mask_name(int mask)
{
    switch (mask) {
    case POLICY_MASK_EMAIL: return "email";
    case POLICY_MASK_LAST4: return "last4";
    case POLICY_MASK_HASH: return "hash";
    case POLICY_MASK_NULL: return "null";
    case POLICY_MASK_SQL: return "sql";
    default: return "none";
    }
}

static const struct policy_column *rule_column(const struct policy_table *t, const char *name);

/* PostgreSQL's masks give the same text as SQLite's (hash: lowercase hex
 * SHA-256 of the value's text), built from pg_catalog functions only. */
static char *mask_expr_pg(int mask, const char *mask_sql, const char *qcol)
{
    struct sbuf b;
    sbuf_init(&b);
    switch (mask) {
    case POLICY_MASK_EMAIL:
        add_template(&b,
                     "CASE WHEN @ IS NULL THEN NULL "
                     "WHEN pg_catalog.strpos(CAST(@ AS text), pg_catalog.chr(64)) > 1 THEN "
                     "pg_catalog.left(CAST(@ AS text), 1) || '***' || "
                     "pg_catalog.substr(CAST(@ AS text), "
                     "pg_catalog.strpos(CAST(@ AS text), pg_catalog.chr(64))) "
                     "ELSE '***' END",
                     qcol);
        break;
    case POLICY_MASK_LAST4:
        add_template(&b,
                     "CASE WHEN @ IS NULL THEN NULL "
                     "WHEN pg_catalog.length(CAST(@ AS text)) > 4 THEN "
                     "'***' || pg_catalog.right(CAST(@ AS text), 4) "
                     "ELSE '****' END",
                     qcol);
        break;
    case POLICY_MASK_HASH:
        add_template(&b,
                     "pg_catalog.encode(pg_catalog.sha256("
                     "pg_catalog.convert_to(CAST(@ AS text), 'UTF8')), 'hex')",
                     qcol);
        break;
    case POLICY_MASK_NULL: sbuf_adds(&b, "NULL"); break;
    case POLICY_MASK_SQL: sbuf_addf(&b, "(\n%s\n)", mask_sql ? mask_sql : "NULL"); break;
    default: sbuf_adds(&b, qcol); break;
    }
    if (b.oom) {
        sbuf_free(&b);
        return NULL;
    }
    return sbuf_detach(&b);
}

char *policy_shadow_query(const struct policy_table *pt, const struct dc_table_info *ti,
                          const char *dialect)
{
    struct sbuf b, q;
    if (!pt || !ti || !dialect || strcmp(dialect, "postgres") != 0)
        return NULL;
    sbuf_init(&b);
    sbuf_init(&q);
    sbuf_adds(&b, "SELECT ");
    int first = 1;
    for (size_t c = 0; c < ti->ncolumns; c++) {
        const struct policy_column *rc = rule_column(pt, ti->columns[c].name);
        if (rc && rc->denied)
            continue;
        sbuf_reset(&q);
        quote_ident(&q, ti->columns[c].name);
        char *e = q.oom ? NULL
                        : policy_mask_expr(rc ? rc->mask : 0, rc ? rc->mask_sql : NULL, q.p,
                                           dialect);
        if (!e) {
            b.oom = 1;
            break;
        }
        sbuf_addf(&b, "%s%s AS %s", first ? "" : ", ", e, q.p);
        free(e);
        first = 0;
    }
    if (first)
        sbuf_adds(&b, "NULL AS \"_\"");
    sbuf_adds(&b, " FROM ");
    if (ti->schema_name) {
        quote_ident(&b, ti->schema_name);
        sbuf_adds(&b, ".");
    }
    quote_ident(&b, ti->name);
    /* One parenthesised conjunct; OFFSET 0 keeps the planner from pulling
     * the subquery up or pushing the user's conditions below the filter, so
     * they never see (or fail on) a row the filter hides. */
    if (pt->row_filter)
        sbuf_addf(&b, " WHERE (\n%s\n)", pt->row_filter);
    sbuf_adds(&b, " OFFSET 0");
    sbuf_free(&q);
    if (b.oom) {
        sbuf_free(&b);
        return NULL;
    }
    return sbuf_detach(&b);
}

char *policy_mask_expr(int mask, const char *mask_sql, const char *qcol, const char *dialect)
{
    struct sbuf b;
    if (!dialect || !qcol)
        return NULL;
    if (strcmp(dialect, "postgres") == 0)
        return mask_expr_pg(mask, mask_sql, qcol);
    if (strcmp(dialect, "sqlite") != 0)
        return NULL;
    sbuf_init(&b);
    switch (mask) {
    case POLICY_MASK_EMAIL:
        /* char(64) is '@': the template marks the column with '@' itself. */
        add_template(&b,
                     "CASE WHEN @ IS NULL THEN NULL "
                     "WHEN instr(CAST(@ AS TEXT), char(64)) > 1 THEN "
                     "substr(CAST(@ AS TEXT), 1, 1) || '***' || "
                     "substr(CAST(@ AS TEXT), instr(CAST(@ AS TEXT), char(64))) "
                     "ELSE '***' END",
                     qcol);
        break;
    case POLICY_MASK_LAST4:
        add_template(&b,
                     "CASE WHEN @ IS NULL THEN NULL "
                     "WHEN length(CAST(@ AS TEXT)) > 4 THEN '***' || substr(CAST(@ AS TEXT), -4) "
                     "ELSE '****' END",
                     qcol);
        break;
    case POLICY_MASK_HASH: sbuf_addf(&b, "dc_mask_hash(%s)", qcol); break;
    case POLICY_MASK_NULL: sbuf_adds(&b, "NULL"); break;
    case POLICY_MASK_SQL: sbuf_addf(&b, "(\n%s\n)", mask_sql ? mask_sql : "NULL"); break;
    default: sbuf_adds(&b, qcol); break;
    }
    if (b.oom) {
        sbuf_free(&b);
        return NULL;
    }
    return sbuf_detach(&b);
}

static const struct policy_column *rule_column(const struct policy_table *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (strcasecmp(t->cols[i].name, name) == 0)
            return &t->cols[i];
    return NULL;
}

static int push_str(char ***v, size_t *n, char *s)
{
    if (!s)
        return DC_ENOMEM;
    char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (!nv) {
        free(s);
        return DC_ENOMEM;
    }
    *v = nv;
    nv[(*n)++] = s;
    return DC_OK;
}

static char *view_sql(const struct policy_table *pt, const struct dc_table_info *ti,
                      const char *dialect, int probe)
{
    struct sbuf b, q;
    sbuf_init(&b);
    sbuf_init(&q);
    sbuf_adds(&b, "CREATE TEMP VIEW ");
    quote_ident(&b, ti->name);
    sbuf_adds(&b, " AS SELECT ");
    int first = 1;
    for (size_t c = 0; c < ti->ncolumns; c++) {
        const struct policy_column *rc = rule_column(pt, ti->columns[c].name);
        if (rc && rc->denied && !probe)
            continue;
        sbuf_reset(&q);
        quote_ident(&q, ti->columns[c].name);
        if (q.oom)
            break;
        if (!first)
            sbuf_adds(&b, ", ");
        first = 0;
        if (probe) {
            sbuf_addf(&b, "NULL AS %s", q.p);
        } else {
            char *e = policy_mask_expr(rc ? rc->mask : 0, rc ? rc->mask_sql : NULL, q.p, dialect);
            if (!e) {
                b.oom = 1;
                break;
            }
            sbuf_addf(&b, "%s AS %s", e, q.p);
            free(e);
        }
    }
    if (first)
        sbuf_adds(&b, "NULL AS \"_\"");
    if (probe) {
        sbuf_adds(&b, " LIMIT 0");
    } else {
        sbuf_adds(&b, " FROM main.");
        quote_ident(&b, ti->name);
        /* The filter is one parenthesised conjunct; LIMIT -1 OFFSET 0 keeps
         * SQLite from flattening the view or pushing the user's conditions
         * into it, so they never see (or fail on) a row the filter hides. */
        if (pt->row_filter)
            sbuf_addf(&b, " WHERE (\n%s\n) LIMIT -1 OFFSET 0", pt->row_filter);
    }
    sbuf_free(&q);
    if (b.oom) {
        sbuf_free(&b);
        return NULL;
    }
    return sbuf_detach(&b);
}

int policy_session_sql(const struct policy_rules *r, const struct dc_schema *s,
                       const char *dialect, int probe, char ***stmts, size_t *n, char *err,
                       size_t errlen)
{
    *stmts = NULL;
    *n = 0;
    if (!dialect || strcmp(dialect, "sqlite") != 0)
        return util_err(err, errlen, DC_EUNSUPPORTED,
                        "row filters, masks and denied columns are not enforced for '%s' "
                        "databases yet",
                        dialect ? dialect : "?");
    for (size_t i = 0; i < r->ntables; i++) {
        const struct policy_table *pt = r->tables[i].t;
        if (!policy_table_shadowed(pt))
            continue;
        const struct dc_table_info *ti = schema_find(s, pt->name);
        if (!ti)
            continue; /* checked at load; a table dropped since has nothing to show */
        int rc = push_str(stmts, n, view_sql(pt, ti, dialect, probe));
        if (rc != DC_OK) {
            policy_strv_free(*stmts, *n);
            *stmts = NULL;
            *n = 0;
            return util_err(err, errlen, rc, "out of memory building policy views");
        }
    }
    return DC_OK;
}

void policy_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int policy_describe(const struct policy_rules *r, char ***lines, size_t *n)
{
    struct sbuf b;
    *lines = NULL;
    *n = 0;
    sbuf_init(&b);
    for (size_t i = 0; i < r->ntables; i++) {
        const struct policy_table *t = r->tables[i].t;
        sbuf_reset(&b);
        sbuf_addf(&b, "%s: ", t->name);
        if (!policy_table_allowed(r, t->name)) {
            sbuf_adds(&b, "denied");
        } else {
            int any = 0;
            if (t->row_filter) {
                sbuf_addf(&b, "rows where (%s)", t->row_filter);
                any = 1;
            }
            for (int pass = 0; pass < 2; pass++) {
                int started = 0;
                for (size_t c = 0; c < t->ncols; c++) {
                    const struct policy_column *pc = &t->cols[c];
                    if (pass == 0 ? !pc->mask : !pc->denied)
                        continue;
                    sbuf_adds(&b, started ? ", " : any ? "; " : "");
                    if (!started)
                        sbuf_adds(&b, pass == 0 ? "masked " : "denied columns ");
                    started = any = 1;
                    if (pass == 0)
                        sbuf_addf(&b, "%s=%s", pc->name, policy_mask_name(pc->mask));
                    else
                        sbuf_adds(&b, pc->name);
                }
            }
            if (!any)
                sbuf_adds(&b, "allowed");
        }
        sbuf_addf(&b, " (from %s)", r->tables[i].from);
        if (b.oom || push_str(lines, n, sbuf_detach(&b)) != DC_OK)
            goto oom;
    }
    sbuf_reset(&b);
    sbuf_addf(&b, "other tables: %s", r->default_allowed ? "allowed" : "denied");
    if (!r->has_db)
        sbuf_addf(&b, " (no rule names database '%s')", r->database);
    if (b.oom || push_str(lines, n, sbuf_detach(&b)) != DC_OK)
        goto oom;
    sbuf_free(&b);
    return DC_OK;
oom:
    sbuf_free(&b);
    policy_strv_free(*lines, *n);
    *lines = NULL;
    *n = 0;
    return DC_ENOMEM;
}
