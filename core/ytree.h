/*
 * ytree - YAML text to a tree of nodes, each with its 1-based line:col.
 * The tree is built from libyaml events because the document API resolves
 * anchors and aliases silently: here they are seen and refused. It also
 * bounds depth and node count, allows one document per text, and reports
 * duplicate and non-scalar mapping keys (the first of equal keys counts).
 * It gives the nodes no meaning: the config, DataPoint and policy loaders
 * do. Problems go to the caller's callback with codes under the caller's
 * prefix ("E-CFG" gives E-CFG-SYNTAX, E-CFG-ALIAS, ...); it prints nothing.
 */
#ifndef DC_YTREE_H
#define DC_YTREE_H

#include <stddef.h>

enum { YN_SCALAR = 1, YN_SEQ = 2, YN_MAP = 3 };

struct ynode {
    int kind;
    int line, col;
    int plain; /* plain scalar without a tag: YAML type resolution applies */
    int block; /* literal (|) or folded (>) block scalar */
    int bad;   /* stands in for a refused node; checks skip it silently */
    int skip;  /* map key: duplicate or unusable, its pair is ignored */
    char *s;   /* scalar text, NUL-terminated */
    size_t len;
    struct ynode **kids; /* sequence items; mapping: key, value, key, value */
    size_t nkids, cap;
};

struct ytree_opts {
    const char *prefix; /* code prefix, e.g. "E-CFG" */
    const char *what;   /* what one text holds, for messages: "config", "DataPoint" */
    int max_depth;      /* at most 64 */
    size_t max_nodes;
    /* Every problem: position (0:0 for the text as a whole), the full code,
     * a hint saying what to do, and the message. */
    void (*diag)(void *arg, int line, int col, const char *code, const char *hint,
                 const char *msg);
    void *arg;
};

/* A reusable arena: the nodes of the last parse live in it until the next
 * parse or ytree_free, so loading many small files allocates little. */
struct ytree;

struct ytree *ytree_new(void);
void ytree_free(struct ytree *t);

/* Parses text into *root (NULL for an empty text). DC_OK; DC_EINVAL after a
 * fatal problem (syntax, depth, size), reported through the callback, with
 * *root a partial tree that can still be walked; DC_ENOMEM. Non-fatal
 * problems (anchors, duplicate keys, NUL characters) are reported and their
 * nodes marked bad or skip, and the result is DC_OK: the caller counts the
 * diagnostics it received. */
int ytree_parse(struct ytree *t, const struct ytree_opts *o, const char *text, size_t len,
                struct ynode **root);

/* Written as nothing: empty plain scalar, ~ or null. */
int ynode_is_null(const struct ynode *n);
/* "a mapping", "a list", "nothing" or "a scalar", for messages. */
const char *ynode_kind_name(const struct ynode *n);
/* The value under key in a mapping (skipped keys ignored), its key node in
 * *knode when asked; NULL when map is not a mapping or lacks the key. */
const struct ynode *ynode_get(const struct ynode *map, const char *key,
                              const struct ynode **knode);

#endif
