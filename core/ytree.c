#include "ytree.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include <datachat/value.h>

#define YTREE_DEPTH_CAP 64
#define YTREE_BLOCK 65536

struct yblk {
    struct yblk *next;
    size_t cap;
    max_align_t data[];
};

struct ytree {
    struct yblk *head, *cur;
    size_t used;
};

/* One parse: the options, the counters and whether memory ran out. */
struct yrun {
    struct ytree *t;
    const struct ytree_opts *o;
    size_t nodes;
    int oom;
};

struct ytree *ytree_new(void)
{
    return calloc(1, sizeof(struct ytree));
}

void ytree_free(struct ytree *t)
{
    if (!t)
        return;
    struct yblk *b = t->head;
    while (b) {
        struct yblk *next = b->next;
        free(b);
        b = next;
    }
    free(t);
}

/* Blocks are kept across parses and reused from the head. */
static void *y_alloc(struct ytree *t, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    while (!t->cur || t->cur->cap - t->used < n) {
        struct yblk *next = t->cur ? t->cur->next : t->head;
        if (next && next->cap >= n) {
            t->cur = next;
            t->used = 0;
            continue;
        }
        size_t cap = n > YTREE_BLOCK ? n : YTREE_BLOCK;
        struct yblk *b = malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->cap = cap;
        /* spliced in after cur, keeping any later (too small) blocks */
        if (t->cur) {
            b->next = t->cur->next;
            t->cur->next = b;
        } else {
            b->next = t->head;
            t->head = b;
        }
        t->cur = b;
        t->used = 0;
    }
    void *p = (char *)t->cur->data + t->used;
    t->used += n;
    return p;
}

static void y_diag(struct yrun *r, int line, int col, const char *code, const char *hint,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void y_diag(struct yrun *r, int line, int col, const char *code, const char *hint,
                   const char *fmt, ...)
{
    char full[48], msg[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(full, sizeof(full), "%s-%s", r->o->prefix, code);
    if (r->o->diag)
        r->o->diag(r->o->arg, line, col, full, hint, msg);
}

static void y_oom(struct yrun *r)
{
    if (!r->oom)
        y_diag(r, 0, 0, "NOMEM", "free memory and retry", "out of memory while reading the %s",
               r->o->what);
    r->oom = 1;
}

static struct ynode *y_node(struct yrun *r, int kind, const yaml_mark_t *m)
{
    if (r->nodes >= r->o->max_nodes)
        return NULL;
    struct ynode *n = y_alloc(r->t, sizeof(*n));
    if (!n) {
        y_oom(r);
        return NULL;
    }
    memset(n, 0, sizeof(*n));
    r->nodes++;
    n->kind = kind;
    n->line = (int)m->line + 1;
    n->col = (int)m->column + 1;
    return n;
}

static int y_append(struct yrun *r, struct ynode *p, struct ynode *k)
{
    if (p->nkids == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        struct ynode **nk = y_alloc(r->t, cap * sizeof(*nk));
        if (!nk)
            return DC_ENOMEM;
        if (p->nkids)
            memcpy(nk, p->kids, p->nkids * sizeof(*nk));
        p->kids = nk;
        p->cap = cap;
    }
    p->kids[p->nkids++] = k;
    return DC_OK;
}

static int same_key(const struct ynode *a, const struct ynode *b)
{
    return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

static int key_cmp(const void *a, const void *b)
{
    const struct ynode *const *x = a, *const *y = b;
    size_t n = (*x)->len < (*y)->len ? (*x)->len : (*y)->len;
    int c = memcmp((*x)->s, (*y)->s, n);
    if (c)
        return c;
    if ((*x)->len != (*y)->len)
        return (*x)->len < (*y)->len ? -1 : 1;
    /* equal keys: earlier in the text first, so the first one is kept */
    if ((*x)->line != (*y)->line)
        return (*x)->line < (*y)->line ? -1 : 1;
    return (*x)->col < (*y)->col ? -1 : ((*x)->col > (*y)->col);
}

static void dup_report(struct yrun *r, struct ynode *k, const struct ynode *first)
{
    k->skip = 1;
    y_diag(r, k->line, k->col, "DUPLICATE-KEY", "remove one of the two entries",
           "duplicate key '%s' (first defined at line %d)", k->s, first->line);
}

/* Duplicate keys are refused in every mapping: the later value silently
 * winning hides mistakes. Small maps are scanned pairwise; big ones (option
 * maps, policy tables) sorted. */
static void map_check(struct yrun *r, struct ynode *map)
{
    size_t npairs = map->nkids / 2, nk = 0;
    for (size_t i = 0; i < npairs; i++) {
        struct ynode *k = map->kids[2 * i];
        if (k->bad) {
            k->skip = 1;
        } else if (k->kind != YN_SCALAR) {
            k->skip = 1;
            y_diag(r, k->line, k->col, "TYPE", "write keys as plain names",
                   "a mapping key must be a scalar, not %s", ynode_kind_name(k));
        }
    }
    if (npairs < 2)
        return;
    if (npairs <= 16) {
        for (size_t i = 1; i < npairs; i++) {
            struct ynode *k = map->kids[2 * i];
            for (size_t j = 0; j < i && !k->skip; j++) {
                const struct ynode *f = map->kids[2 * j];
                if (!f->skip && same_key(f, k))
                    dup_report(r, k, f);
            }
        }
        return;
    }
    struct ynode **keys = malloc(npairs * sizeof(*keys));
    if (!keys) {
        y_oom(r);
        return;
    }
    for (size_t i = 0; i < npairs; i++)
        if (!map->kids[2 * i]->skip)
            keys[nk++] = map->kids[2 * i];
    qsort(keys, nk, sizeof(*keys), key_cmp);
    size_t g = 0; /* first key of the current run of equal keys */
    for (size_t i = 1; i < nk; i++) {
        if (!same_key(keys[g], keys[i]))
            g = i;
        else
            dup_report(r, keys[i], keys[g]);
    }
    free(keys);
}

static int y_anchor(struct yrun *r, const unsigned char *anchor, const struct ynode *n)
{
    if (!anchor)
        return 0;
    y_diag(r, n->line, n->col, "ALIAS", "write the values out in full",
           "anchors (&%s) are not allowed in a %s", (const char *)anchor, r->o->what);
    return 1;
}

static void syntax_error(struct yrun *r, const yaml_parser_t *p, const char *text, size_t len)
{
    int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
    if (p->error == YAML_READER_ERROR) {
        /* the reader reports a byte offset, not a mark */
        line = 1;
        col = 1;
        for (size_t i = 0; i < p->problem_offset && i < len; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
    }
    y_diag(r, line, col, "SYNTAX",
           "fix the YAML at this position (check indentation, quotes and colons)",
           "YAML syntax error: %s%s%s", p->problem ? p->problem : "invalid YAML",
           p->context ? " " : "", p->context ? p->context : "");
}

/* The scalar event's text, copied with its NUL; a NUL inside is refused. */
static struct ynode *y_scalar(struct yrun *r, const yaml_event_t *ev)
{
    struct ynode *n = y_node(r, YN_SCALAR, &ev->start_mark);
    if (!n)
        return NULL;
    if (y_anchor(r, ev->data.scalar.anchor, n))
        n->bad = 1;
    int style = ev->data.scalar.style;
    n->plain = style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag;
    n->block = style == YAML_LITERAL_SCALAR_STYLE || style == YAML_FOLDED_SCALAR_STYLE;
    n->len = ev->data.scalar.length;
    n->s = y_alloc(r->t, n->len + 1);
    if (!n->s) {
        y_oom(r);
        return NULL;
    }
    if (n->len)
        memcpy(n->s, ev->data.scalar.value, n->len);
    n->s[n->len] = '\0';
    if (strlen(n->s) != n->len) {
        y_diag(r, n->line, n->col, "TYPE", "remove the \\0 escape from the value",
               "a value must not contain a NUL character");
        n->len = strlen(n->s);
        n->bad = 1;
    }
    return n;
}

int ytree_parse(struct ytree *t, const struct ytree_opts *o, const char *text, size_t len,
                struct ynode **root)
{
    yaml_parser_t p;
    yaml_event_t ev;
    struct ynode *stack[YTREE_DEPTH_CAP + 1];
    int max_depth = o->max_depth > 0 && o->max_depth < YTREE_DEPTH_CAP ? o->max_depth
                                                                         : YTREE_DEPTH_CAP;
    int depth = 0, ndocs = 0, stop = 0, rc = DC_OK;
    struct yrun r = {t, o, 0, 0};

    *root = NULL;
    t->cur = NULL;
    t->used = 0;
    if (!yaml_parser_initialize(&p)) {
        y_oom(&r);
        return DC_ENOMEM;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    while (!stop) {
        if (!yaml_parser_parse(&p, &ev)) {
            if (p.error == YAML_MEMORY_ERROR) {
                y_oom(&r);
                rc = DC_ENOMEM;
            } else {
                syntax_error(&r, &p, text, len);
                rc = DC_EINVAL;
            }
            break;
        }
        struct ynode *n = NULL;
        int push = 0;
        yaml_event_type_t et = ev.type;
        const yaml_mark_t *m = &ev.start_mark;
        switch (et) {
        case YAML_STREAM_END_EVENT:
            stop = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (ndocs++ > 0) {
                y_diag(&r, (int)m->line + 1, (int)m->column + 1, "SYNTAX",
                       "keep one document per file",
                       "a %s file holds exactly one YAML document; a second one starts here",
                       o->what);
                rc = DC_EINVAL;
                stop = 1;
            }
            break;
        case YAML_ALIAS_EVENT:
            y_diag(&r, (int)m->line + 1, (int)m->column + 1, "ALIAS",
                   "write the values out in full", "aliases (*%s) are not allowed in a %s",
                   (const char *)ev.data.alias.anchor, o->what);
            n = y_node(&r, YN_SCALAR, m);
            if (n)
                n->bad = 1;
            break;
        case YAML_SCALAR_EVENT:
            n = y_scalar(&r, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            int is_map = et == YAML_MAPPING_START_EVENT;
            if (depth >= max_depth) {
                y_diag(&r, (int)m->line + 1, (int)m->column + 1, "TOO-DEEP",
                       "flatten the structure; a few levels are enough",
                       "nesting deeper than %d levels", max_depth);
                rc = DC_EINVAL;
                stop = 1;
                break;
            }
            n = y_node(&r, is_map ? YN_MAP : YN_SEQ, m);
            if (!n)
                break;
            if (y_anchor(&r, is_map ? ev.data.mapping_start.anchor : ev.data.sequence_start.anchor,
                         n))
                n->bad = 1;
            push = 1;
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (depth > 0) {
                depth--;
                if (stack[depth]->kind == YN_MAP)
                    map_check(&r, stack[depth]);
            }
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (r.oom) {
            rc = DC_ENOMEM;
            break;
        }
        if (!n) {
            if (!stop && r.nodes >= o->max_nodes &&
                (et == YAML_SCALAR_EVENT || et == YAML_ALIAS_EVENT ||
                 et == YAML_SEQUENCE_START_EVENT || et == YAML_MAPPING_START_EVENT)) {
                y_diag(&r, 0, 0, "TOO-LARGE", "split the file or simplify it",
                       "more than %zu YAML nodes", o->max_nodes);
                rc = DC_EINVAL;
                break;
            }
            continue;
        }
        if (depth == 0) {
            if (!*root)
                *root = n;
        } else if (y_append(&r, stack[depth - 1], n) != DC_OK) {
            y_oom(&r);
            rc = DC_ENOMEM;
            break;
        }
        if (push)
            stack[depth++] = n;
    }
    yaml_parser_delete(&p);
    return rc;
}

int ynode_is_null(const struct ynode *n)
{
    return n && n->kind == YN_SCALAR && n->plain &&
           (n->len == 0 || strcmp(n->s, "~") == 0 || strcmp(n->s, "null") == 0 ||
            strcmp(n->s, "Null") == 0 || strcmp(n->s, "NULL") == 0);
}

const char *ynode_kind_name(const struct ynode *n)
{
    if (n->kind == YN_MAP)
        return "a mapping";
    if (n->kind == YN_SEQ)
        return "a list";
    if (ynode_is_null(n))
        return "nothing";
    return "a scalar";
}

const struct ynode *ynode_get(const struct ynode *map, const char *key,
                              const struct ynode **knode)
{
    if (knode)
        *knode = NULL;
    if (!map || map->kind != YN_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->nkids; i += 2) {
        const struct ynode *k = map->kids[i];
        if (!k->skip && k->kind == YN_SCALAR && strcmp(k->s, key) == 0) {
            if (knode)
                *knode = k;
            return map->kids[i + 1];
        }
    }
    return NULL;
}
