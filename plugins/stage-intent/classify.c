#include "classify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Normalising never emits more than two bytes per input byte (a ';' glued
 * to a word gains a separator), and a token is at least one byte plus a
 * separator, so a question of n bytes gives at most 2n bytes and n+1
 * tokens; the work area is sized from n. */
#define MAX_MENTIONS 128
#define MAX_WORDS 16
#define UNRESOLVED_MAX_TOKENS 4

struct tok {
    const char *s;
    size_t n;
};

struct mention {
    size_t start, len;
    int table;
    const char *how;
};

struct best {
    size_t len;
    int exact;
    int table;
    const char *how;
};

struct work {
    char *norm;
    struct tok *t;
    size_t nt, cap;
    unsigned char *used; /* consumed by a table mention or a limit */
    struct best *best;   /* per token: the longest table match starting there */
    struct mention m[MAX_MENTIONS];
    size_t nm;
    const struct cls_table *tables;
    size_t ntables;
};

static void work_free(struct work *w)
{
    free(w->norm);
    free(w->t);
    free(w->used);
    free(w->best);
}

static int work_alloc(struct work *w, size_t n, const struct cls_table *tables, size_t ntables)
{
    memset(w, 0, sizeof(*w));
    w->cap = n + 1;
    w->norm = malloc(2 * n + 1);
    w->t = malloc(w->cap * sizeof(*w->t));
    w->used = calloc(w->cap, 1);
    w->best = malloc(w->cap * sizeof(*w->best));
    w->tables = tables;
    w->ntables = tables ? ntables : 0;
    if (!w->norm || !w->t || !w->used || !w->best) {
        work_free(w);
        return -1;
    }
    return 0;
}

/* ---- normalisation ------------------------------------------------------- */

enum { CH_SEP = 1, CH_APOS, CH_SKIP, CH_KEEP };

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Classifies the (possibly multi-byte) character at q[i]; *len gets its
 * byte length. Quotes, dashes and Unicode blanks separate words; a right
 * single quote acts like an apostrophe. */
static int char_class(const unsigned char *q, size_t i, size_t n, size_t *len)
{
    unsigned char c = q[i];
    *len = 1;
    if (c < 0x80) {
        if (is_alpha(c) || (c >= '0' && c <= '9') || c == '_' || c == ';')
            return CH_KEEP;
        return c == '\'' ? CH_APOS : CH_SEP;
    }
    if (c == 0xC2 && i + 1 < n) {
        unsigned char d = q[i + 1];
        if (d == 0xA0 || d == 0xAB || d == 0xBB) {
            *len = 2;
            return CH_SEP;
        }
        if (d == 0xB4) {
            *len = 2;
            return CH_APOS;
        }
        return CH_KEEP;
    }
    if (c == 0xE2 && i + 2 < n && q[i + 1] == 0x80) {
        unsigned char d = q[i + 2];
        *len = 3;
        if (d >= 0x8B && d <= 0x8F)
            return CH_SKIP; /* zero-width characters */
        if (d == 0x98 || d == 0x99 || d == 0x9B)
            return CH_APOS;
        if (d <= 0x8A || d == 0xAF || (d >= 0x90 && d <= 0x97) || (d >= 0x9C && d <= 0x9F) ||
            d == 0xA6 || d == 0xB9 || d == 0xBA || d == 0xA8 || d == 0xA9)
            return CH_SEP;
        *len = 1;
        return CH_KEEP;
    }
    if (c == 0xE3 && i + 2 < n && q[i + 1] == 0x80 && q[i + 2] == 0x80) {
        *len = 3;
        return CH_SEP;
    }
    if (c == 0xEF && i + 2 < n && q[i + 1] == 0xBB && q[i + 2] == 0xBF) {
        *len = 3;
        return CH_SKIP; /* byte order mark */
    }
    return CH_KEEP;
}

static int is_blank(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* A sentence end: '.', '!', '?' or ':' before a blank ("Ignore your rules.
 * You are now ..."), not inside "orders.status" or "2.5". */
static int sentence_end(const unsigned char *q, size_t i, size_t n)
{
    unsigned char c = q[i];
    return (c == '.' || c == '!' || c == '?' || c == ':') && i + 1 < n && is_blank(q[i + 1]);
}

static size_t normalize(const char *in, size_t n, char *out)
{
    const unsigned char *q = (const unsigned char *)in;
    size_t o = 0, i = 0;
    int sep = 0, stop = 0;
    while (i < n) {
        size_t len;
        int cls = char_class(q, i, n, &len);
        unsigned char c = q[i];
        if (cls == CH_SKIP) {
            i += len;
            continue;
        }
        /* A sentence end becomes a '.' word before the next word, so the
         * refusal rules see where a new command starts. It costs two
         * output bytes for its two input bytes (mark and blank). */
        if (sentence_end(q, i, n))
            stop = 1;
        if (cls == CH_APOS) {
            /* Inside a word ("what's", "customer's") the apostrophe joins. */
            if (!sep && o > 0 && out[o - 1] != ' ' && out[o - 1] != ';' &&
                i + len < n && is_alpha(q[i + len])) {
                i += len;
                continue;
            }
            sep = 1;
            i += len;
            continue;
        }
        if (cls == CH_SEP) {
            sep = 1;
            i += len;
            continue;
        }
        /* ';' is a token of its own: it marks where a pasted statement starts. */
        if (c == ';')
            sep = 1;
        if (stop && o > 0 && c != ';') {
            out[o++] = ' ';
            out[o++] = '.';
            sep = 1;
        }
        stop = 0;
        if (sep && o > 0)
            out[o++] = ' ';
        sep = (c == ';');
        out[o++] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
        i++;
    }
    out[o] = '\0';
    return o;
}

static void tokenize(struct work *w, size_t len)
{
    size_t i = 0;
    w->nt = 0;
    while (i < len && w->nt < w->cap) {
        while (i < len && w->norm[i] == ' ')
            i++;
        if (i >= len)
            break;
        size_t s = i;
        while (i < len && w->norm[i] != ' ')
            i++;
        w->t[w->nt].s = w->norm + s;
        w->t[w->nt].n = i - s;
        w->nt++;
    }
}

/* ---- token helpers -------------------------------------------------------- */

static int is(const struct work *w, size_t i, const char *word)
{
    return i < w->nt && w->t[i].n == strlen(word) && memcmp(w->t[i].s, word, w->t[i].n) == 0;
}

static int in_list(const struct work *w, size_t i, const char *const *list)
{
    for (; *list; list++)
        if (is(w, i, *list))
            return 1;
    return 0;
}

/* Space-separated phrase at token i; returns its token count or 0. */
static size_t phrase_at(const struct work *w, size_t i, const char *phrase)
{
    size_t k = 0;
    const char *p = phrase;
    while (*p) {
        const char *e = strchr(p, ' ');
        size_t pl = e ? (size_t)(e - p) : strlen(p);
        if (i + k >= w->nt || w->t[i + k].n != pl || memcmp(w->t[i + k].s, p, pl) != 0)
            return 0;
        k++;
        p += pl;
        while (*p == ' ')
            p++;
    }
    return k;
}

static int has_phrase(const struct work *w, const char *phrase)
{
    for (size_t i = 0; i < w->nt; i++)
        if (phrase_at(w, i, phrase))
            return 1;
    return 0;
}

static int has_word(const struct work *w, const char *const *list)
{
    for (size_t i = 0; i < w->nt; i++)
        if (!w->used[i] && in_list(w, i, list))
            return 1;
    return 0;
}

/* ---- singular / plural ---------------------------------------------------- */

struct forms {
    char f[4][CLS_NAME_MAX + 2];
    size_t n;
};

static void add_form(struct forms *fm, const char *s, size_t n, const char *suffix)
{
    size_t sl = strlen(suffix);
    if (fm->n >= 4 || n + sl > CLS_NAME_MAX)
        return;
    memcpy(fm->f[fm->n], s, n);
    memcpy(fm->f[fm->n] + n, suffix, sl + 1);
    fm->n++;
}

static int ends(const char *s, size_t n, const char *suf)
{
    size_t l = strlen(suf);
    return n >= l && memcmp(s + n - l, suf, l) == 0;
}

static const char *const irregular[][2] = {
    {"people", "person"}, {"children", "child"}, {"men", "man"},
    {"women", "woman"},   {"mice", "mouse"},     {"geese", "goose"},
    {NULL, NULL}};

static void word_forms(const char *s, size_t n, struct forms *fm)
{
    fm->n = 0;
    add_form(fm, s, n, "");
    for (size_t k = 0; irregular[k][0]; k++) {
        if (n == strlen(irregular[k][0]) && memcmp(s, irregular[k][0], n) == 0) {
            add_form(fm, irregular[k][1], strlen(irregular[k][1]), "");
            return;
        }
    }
    if (n > 4 && ends(s, n, "ies"))
        add_form(fm, s, n - 3, "y");
    if (n > 3 && ends(s, n, "es"))
        add_form(fm, s, n - 2, "");
    if (n > 2 && s[n - 1] == 's' && !ends(s, n, "ss"))
        add_form(fm, s, n - 1, "");
}

/* 2: identical, 1: equal up to singular/plural, 0: different. */
static int word_match(const char *a, size_t an, const char *b, size_t bn)
{
    if (an == bn && memcmp(a, b, an) == 0)
        return 2;
    /* Every singular/plural pair shares its first letter and differs by at
     * most three bytes in length ("children"/"child"). */
    if (an == 0 || bn == 0 || a[0] != b[0] || an > bn + 3 || bn > an + 3)
        return 0;
    if (an > CLS_NAME_MAX || bn > CLS_NAME_MAX)
        return 0;
    struct forms fa, fb;
    word_forms(a, an, &fa);
    word_forms(b, bn, &fb);
    for (size_t i = 0; i < fa.n; i++)
        for (size_t j = 0; j < fb.n; j++)
            if (strcmp(fa.f[i], fb.f[j]) == 0)
                return 1;
    return 0;
}

/* ---- table names ---------------------------------------------------------- */

struct tname {
    char lower[CLS_NAME_MAX + 1];  /* lowercased name as is */
    char joined[CLS_NAME_MAX + 1]; /* words run together, no separators */
    char words[CLS_NAME_MAX + MAX_WORDS + 1];
    size_t woff[MAX_WORDS], wlen[MAX_WORDS];
    size_t nw;
    int camel; /* the name had a lower-to-upper boundary */
};

static int is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

static int is_lower_or_digit(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Splits snake_case, spaced, dashed and CamelCase names into words. */
static int split_name(const char *name, struct tname *tn)
{
    size_t n = strlen(name);
    if (n == 0 || n > CLS_NAME_MAX)
        return -1;
    size_t wo = 0, jo = 0;
    tn->nw = 0;
    tn->camel = 0;
    int inword = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        tn->lower[i] = (char)(is_upper(c) ? c + 32 : c);
        int sep = !(is_alpha(c) || (c >= '0' && c <= '9') || c >= 0x80);
        if (sep) {
            inword = 0;
            continue;
        }
        int boundary = 0;
        if (inword && is_upper(c) && i > 0) {
            unsigned char p = (unsigned char)name[i - 1];
            if (is_lower_or_digit(p))
                boundary = 1;
            else if (is_upper(p) && i + 1 < n && name[i + 1] >= 'a' && name[i + 1] <= 'z')
                boundary = 1;
        }
        if (boundary)
            tn->camel = 1;
        if (!inword || boundary) {
            if (tn->nw >= MAX_WORDS)
                return -1;
            if (tn->nw > 0)
                tn->words[wo++] = '\0';
            tn->woff[tn->nw] = wo;
            tn->wlen[tn->nw] = 0;
            tn->nw++;
            inword = 1;
        }
        char lc = (char)(is_upper(c) ? c + 32 : c);
        tn->words[wo++] = lc;
        tn->wlen[tn->nw - 1]++;
        tn->joined[jo++] = lc;
    }
    tn->lower[n] = '\0';
    tn->joined[jo] = '\0';
    tn->words[wo] = '\0';
    return tn->nw > 0 ? 0 : -1;
}

/* Matches table tn at token i; returns the token span (0 if none), *exact
 * and *how describe the match. */
static size_t match_table_at(const struct work *w, size_t i, const struct tname *tn,
                             int *exact, const char **how)
{
    const struct tok *t = &w->t[i];
    if (t->n <= CLS_NAME_MAX) {
        if (t->n == strlen(tn->lower) && memcmp(t->s, tn->lower, t->n) == 0) {
            *exact = 2;
            *how = "name (case-insensitive)";
            return 1;
        }
        /* One token, separators dropped: "order_items", "invoicelines". */
        char flat[CLS_NAME_MAX + 1];
        size_t fn = 0;
        for (size_t k = 0; k < t->n; k++)
            if (t->s[k] != '_')
                flat[fn++] = t->s[k];
        int m = fn > 0 ? word_match(flat, fn, tn->joined, strlen(tn->joined)) : 0;
        if (m) {
            *exact = m;
            *how = m == 2 ? (tn->nw > 1 ? "joined words" : "name (case-insensitive)")
                          : "singular/plural";
            return 1;
        }
    }
    if (tn->nw < 2 || i + tn->nw > w->nt)
        return 0;
    int all_exact = 2;
    for (size_t k = 0; k < tn->nw; k++) {
        const struct tok *tk = &w->t[i + k];
        int m = word_match(tk->s, tk->n, tn->words + tn->woff[k], tn->wlen[k]);
        if (!m)
            return 0;
        if (m < all_exact)
            all_exact = m;
    }
    *exact = all_exact;
    if (all_exact == 1)
        *how = tn->camel ? "words to CamelCase, singular/plural" : "words to snake_case, singular/plural";
    else
        *how = tn->camel ? "words to CamelCase" : "words to snake_case";
    return tn->nw;
}

/* Finds table mentions left to right, longest match first; stops looking
 * at ';' so a pasted statement's tables are still seen. */
static void find_mentions(struct work *w)
{
    for (size_t i = 0; i < w->nt; i++)
        w->best[i] = (struct best){0, 0, -1, NULL};
    struct tname tn;
    for (size_t ti = 0; ti < w->ntables; ti++) {
        if (!w->tables[ti].name || split_name(w->tables[ti].name, &tn) != 0)
            continue;
        for (size_t i = 0; i < w->nt; i++) {
            int ex = 0;
            const char *how = NULL;
            size_t len = match_table_at(w, i, &tn, &ex, &how);
            struct best *b = &w->best[i];
            if (len == 0)
                continue;
            if (len > b->len || (len == b->len && ex > b->exact))
                *b = (struct best){len, ex, (int)ti, how};
        }
    }
    w->nm = 0;
    for (size_t i = 0; i < w->nt && w->nm < MAX_MENTIONS;) {
        if (w->best[i].len == 0) {
            i++;
            continue;
        }
        struct mention *m = &w->m[w->nm++];
        m->start = i;
        m->len = w->best[i].len;
        m->table = w->best[i].table;
        m->how = w->best[i].how;
        i += m->len;
    }
}

/* ---- vocabularies ---------------------------------------------------------- */

static const char *const filler[] = {
    "the", "a", "an", "of", "in", "on", "from", "for", "to", "at", "me", "us", "i", "we",
    "you", "your", "our", "my", "please", "pls", "can", "could", "would", "will", "do",
    "does", "did", "is", "are", "was", "were", "be", "there", "here", "have", "has", "had",
    "what", "which", "whats", "show", "list", "give", "tell", "display", "get", "see",
    "let", "lets", "all", "any", "some", "just", "available", "exist", "exists", "existing",
    "present", "currently", "current", "database", "db", "this", "that", "these", "those",
    "it", "its", "inside", "contain", "contains", "within", "got", "kindly", "quick",
    "quickly", "few", "couple", "little", "bit", "now", "look", "like", "print", "output",
    "enumerate", "name", "names", "whole", "entire", "full", "complete", "total", "how",
    "many", "much", "number", "first", "table", "tables", "data", "tell", "about", "info",
    "information", "details", "detail", "overview", "summary", "quickly", "need", "want",
    "know", "find", "out", "does", "yourself", "so", "far", "exactly", ";", ".", "inside", NULL};

static const char *const w_tables[] = {"tables", "relations", "datasets", "views", NULL};
static const char *const w_schema_alone[] = {"schema", "schemas", "structure", "catalog", NULL};
static const char *const w_columns[] = {
    "describe", "desc", "columns", "column", "fields", "field", "attributes", "attribute",
    "schema", "structure", "definition", "layout", "ddl", "types", "datatypes", NULL};
static const char *const w_sample[] = {
    "sample", "samples", "preview", "peek", "example", "examples", "glimpse", "head",
    "snippet", "excerpt", "random", NULL};
static const char *const w_count[] = {"count", "rowcount", "size", "big", "large", NULL};
static const char *const w_rows[] = {"rows", "row", "records", "record", "entries", "entry",
                                     NULL};
static const char *const w_show[] = {"show", "give", "display", "get", "see", "print",
                                     "first", "some", "few", "couple", "list", NULL};
static const char *const w_have[] = {"have", "available", "got", "there", "hold", "stored",
                                     NULL};
static const char *const w_open[] = {"show", "display", "open", "view", NULL};

static const char *const number_words[][2] = {
    {"one", "1"},     {"two", "2"},     {"three", "3"},  {"four", "4"},     {"five", "5"},
    {"six", "6"},     {"seven", "7"},   {"eight", "8"},  {"nine", "9"},     {"ten", "10"},
    {"twelve", "12"}, {"fifteen", "15"}, {"twenty", "20"}, {"fifty", "50"}, {"hundred", "100"},
    {NULL, NULL}};

static int is_number(const struct work *w, size_t i, long *val)
{
    if (i >= w->nt)
        return 0;
    const struct tok *t = &w->t[i];
    for (size_t k = 0; number_words[k][0]; k++) {
        if (is(w, i, number_words[k][0])) {
            *val = 0;
            for (const char *p = number_words[k][1]; *p; p++)
                *val = *val * 10 + (*p - '0');
            return 1;
        }
    }
    if (t->n == 0 || t->n > 9)
        return 0;
    long v = 0;
    for (size_t k = 0; k < t->n; k++) {
        if (t->s[k] < '0' || t->s[k] > '9')
            return 0;
        v = v * 10 + (t->s[k] - '0');
    }
    *val = v;
    return 1;
}

static int in_vocab(const struct work *w, size_t i)
{
    return in_list(w, i, filler) || in_list(w, i, w_tables) || in_list(w, i, w_columns) ||
           in_list(w, i, w_sample) || in_list(w, i, w_count) || in_list(w, i, w_rows) ||
           in_list(w, i, w_schema_alone);
}

static void copy_tokens(const struct work *w, size_t from, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t k = from; k < from + len && k < w->nt; k++) {
        if (k > from && o + 1 < cap)
            out[o++] = ' ';
        for (size_t j = 0; j < w->t[k].n && o + 1 < cap; j++)
            out[o++] = w->t[k].s[j];
    }
    out[o] = '\0';
}

/* ---- refusal rules ---------------------------------------------------------- */

static const char *const prefixes[] = {
    "please", "pls", "kindly", "can you", "could you", "would you", "will you", "can we",
    "could we", "i want you to", "i want to", "i would like you to", "i would like to",
    "id like to", "i need you to", "i need to", "we need to", "we should", "you should",
    "you must", "lets", "let us", "go ahead and", "now", "just", "ok", "okay", "hey", "hi",
    "then", "and", "also", "quickly", "help me", "try to", "you can", "i command you to",
    "run", "execute", "exec", "this", "the", "following", "query", "sql", "statement",
    "command", ";", ".", NULL};

static size_t strip_prefixes(const struct work *w, size_t p)
{
    for (int changed = 1; changed && p < w->nt;) {
        changed = 0;
        for (const char *const *pf = prefixes; *pf; pf++) {
            size_t k = phrase_at(w, p, *pf);
            if (k) {
                p += k;
                changed = 1;
                break;
            }
        }
    }
    return p;
}

static const char *const v_object[] = {
    "drop", "delete", "truncate", "update", "insert", "alter", "grant", "revoke", "remove",
    "erase", "wipe", "destroy", "purge", "overwrite", "rename", "empty", "clear", "reset",
    "nuke", "upsert", "disable", "deactivate", "kill", "scrub", "expunge", "obliterate",
    "shred", "discard", NULL};
/* Verb phrases that mean the same as a destructive verb. */
static const char *const v_phrasal[] = {
    "get rid of", "throw away", "throw out", "clear out", "zero out", "wipe out", "blank out",
    "null out", "clean out", "clean up", "do away with", "turn off", "switch off", "shut off",
    "shut down", "write over", NULL};
/* "mark every pending order as shipped": a change of state. */
static const char *const v_as[] = {"mark", "flag", "tag", "label", "set", NULL};
static const char *const v_to[] = {"set", "change", "modify", "replace", NULL};
static const char *const data_nouns[] = {
    "table", "tables", "database", "databases", "db", "row", "rows", "record", "records",
    "column", "columns", "data", "everything", "all", "schema", "schemas", "index", "indexes",
    "view", "views", "user", "users", "entries", "entry", "privileges", "privilege",
    "permissions", "permission", "access", "them", "it", "new", "values", "value", "field",
    "fields", "role", "roles", "trigger", "triggers", "log", "logs", "audit", "auditing",
    "logging", "history", "backup", "backups", "password", "passwords", "account", "accounts",
    "credentials", "settings", "config", "configuration", NULL};
static const char *const ddl_nouns[] = {
    "table", "tables", "database", "db", "row", "rows", "record", "records", "column",
    "columns", "index", "view", "user", "users", "entry", "trigger", "role", "schema",
    NULL};
/* "change in", "set of": nouns, not commands. */
static const char *const not_a_command[] = {"of", "in", "over", "between", "from", "by",
                                            "up", "on", NULL};

static int token_in_mention(const struct work *w, size_t i)
{
    for (size_t k = 0; k < w->nm; k++)
        if (i >= w->m[k].start && i < w->m[k].start + w->m[k].len)
            return 1;
    return 0;
}

static int is_column_name(const struct work *w, size_t i)
{
    for (size_t ti = 0; ti < w->ntables; ti++) {
        const struct cls_table *t = &w->tables[ti];
        for (size_t c = 0; c < t->ncolumns && t->columns; c++) {
            const char *cn = t->columns[c];
            if (!cn)
                continue;
            size_t cl = strlen(cn);
            char low[CLS_NAME_MAX + 1];
            if (cl > CLS_NAME_MAX)
                continue;
            for (size_t k = 0; k < cl; k++)
                low[k] = (char)(is_upper((unsigned char)cn[k]) ? cn[k] + 32 : cn[k]);
            if (word_match(w->t[i].s, w->t[i].n, low, cl))
                return 1;
        }
    }
    return 0;
}

/* The words of one clause: up to the next ';' or clause joiner. */
static size_t clause_end(const struct work *w, size_t p)
{
    size_t e = p;
    while (e < w->nt && !is(w, e, ";") && !is(w, e, "."))
        e++;
    return e;
}

static int data_object_in(const struct work *w, size_t from, size_t to, const char *const *nouns)
{
    for (size_t i = from; i < to; i++)
        if (in_list(w, i, nouns) || token_in_mention(w, i) || is_column_name(w, i))
            return 1;
    return 0;
}

static int data_object_in_nouns(const struct work *w, size_t from, size_t to,
                                const char *const *nouns)
{
    for (size_t i = from; i < to; i++)
        if (in_list(w, i, nouns))
            return 1;
    return 0;
}

static const char *const sql_drop_obj[] = {
    "table", "view", "index", "database", "schema", "trigger", "user", "role", "function",
    "procedure", "if", NULL};
static const char *const sql_create_obj[] = {
    "table", "view", "index", "trigger", "database", "schema", "user", "role", "function",
    "procedure", "temp", "temporary", "unique", "virtual", "or", NULL};
static const char *const sql_grant_obj[] = {
    "all", "select", "insert", "update", "delete", "usage", "execute", "privileges",
    "connect", "create", "references", NULL};

/* Pasted write SQL starting at token p; returns the statement keyword. */
static const char *sql_write_at(const struct work *w, size_t p)
{
    if (is(w, p, "drop") && in_list(w, p + 1, sql_drop_obj))
        return "DROP";
    if (phrase_at(w, p, "delete from"))
        return "DELETE";
    if (phrase_at(w, p, "insert into") || phrase_at(w, p, "insert or") ||
        phrase_at(w, p, "replace into") || phrase_at(w, p, "merge into"))
        return "INSERT";
    if (is(w, p, "update")) {
        for (size_t k = p + 2; k < p + 5 && k < w->nt; k++)
            if (is(w, k, "set"))
                return "UPDATE";
    }
    if (is(w, p, "alter") && in_list(w, p + 1, sql_drop_obj))
        return "ALTER";
    if (phrase_at(w, p, "truncate table"))
        return "TRUNCATE";
    if (is(w, p, "create") && in_list(w, p + 1, sql_create_obj))
        return "CREATE";
    if ((is(w, p, "grant") || is(w, p, "revoke")) && in_list(w, p + 1, sql_grant_obj))
        return "GRANT";
    if (phrase_at(w, p, "attach database") || phrase_at(w, p, "detach database"))
        return "ATTACH";
    return NULL;
}

/* An imperative destructive verb (or verb phrase, *vlen words) at p with a
 * data object in the clause p..e. */
static int destructive_verb(const struct work *w, size_t p, size_t e, size_t *vlen)
{
    for (const char *const *ph = v_phrasal; *ph; ph++) {
        size_t k = phrase_at(w, p, *ph);
        if (k) {
            *vlen = k;
            return data_object_in(w, p + k, e, data_nouns);
        }
    }
    *vlen = 1;
    if (in_list(w, p + 1, not_a_command))
        return 0;
    if (in_list(w, p, v_as) && data_object_in(w, p + 1, e, data_nouns))
        for (size_t k = p + 2; k < e; k++)
            if (is(w, k, "as"))
                return 1;
    if (in_list(w, p, v_object))
        return data_object_in(w, p + 1, e, data_nouns) ||
               (is(w, p, "update") && (has_phrase(w, "set") || has_phrase(w, "to")));
    if (in_list(w, p, v_to))
        return data_object_in(w, p + 1, e, data_nouns) &&
               (has_phrase(w, "to") || has_phrase(w, "with") || has_phrase(w, "equal"));
    if (is(w, p, "create"))
        return data_object_in_nouns(w, p + 1, p + 4 < e ? p + 4 : e, ddl_nouns);
    if (is(w, p, "add"))
        return data_object_in(w, p + 1, p + 4 < e ? p + 4 : e, ddl_nouns);
    return 0;
}

static int destructive_at(const struct work *w, size_t p, struct cls_result *out)
{
    size_t e = clause_end(w, p);
    const char *kw = sql_write_at(w, p);
    if (kw) {
        out->rule = "pasted write SQL";
        snprintf(out->reason, sizeof(out->reason),
                 "refuse: the question contains write SQL (%s); DataChat only reads data", kw);
        return 1;
    }
    size_t vlen = 1;
    if (p >= e || !destructive_verb(w, p, e, &vlen))
        return 0;
    char verb[64];
    copy_tokens(w, p, vlen, verb, sizeof(verb));
    out->rule = "imperative destructive verb";
    snprintf(out->reason, sizeof(out->reason),
             "refuse: imperative '%s' with a data object; DataChat only reads data", verb);
    return 1;
}

static const char *const override_verbs[] = {"ignore", "disregard", "forget", "override",
                                             "bypass", "discard", "abandon", "circumvent",
                                             NULL};
static const char *const override_phrases[] = {
    "never mind", "nevermind", "pay no attention to", "stop following", "stop obeying",
    "stop listening to", "no longer follow", "dont follow", "do not follow", "set aside",
    "forget about", NULL};
/* What an override is aimed at: the assistant's rules, or what it was told. */
static const char *const rule_nouns[] = {
    "instructions", "instruction", "rules", "rule", "prompt", "prompts", "guidelines",
    "guideline", "directions", "directives", "policy", "policies", "restrictions",
    "guardrails", "constraints", "programming", "training", "safeguards", "system", "told",
    "taught", "instructed", "everything", NULL};
static const char *const injection_phrases[] = {
    "you are now", "you are no longer", "from now on you", "from now on", "system prompt",
    "jailbreak", "developer mode", "dan mode", "do anything now", "pretend to be",
    "pretend you are", "pretend that you", "act as if", "new instructions",
    "your instructions", "your rules", "your prompt", "reveal your", "print your prompt",
    "roleplay as", "new rule", "new rules", "you may now", "you are allowed to",
    "you are permitted to", "you have permission to", "the above", NULL};

/* Length of an override cue ("ignore", "pay no attention to") at i, or 0. */
static size_t override_at(const struct work *w, size_t i)
{
    if (in_list(w, i, override_verbs))
        return 1;
    for (const char *const *ph = override_phrases; *ph; ph++) {
        size_t k = phrase_at(w, i, *ph);
        if (k)
            return k;
    }
    return 0;
}

static int injection(const struct work *w, struct cls_result *out)
{
    for (size_t i = 0; i < w->nt; i++) {
        size_t cue = override_at(w, i);
        for (size_t k = i + cue; cue && k <= i + cue + 5 && k < w->nt; k++) {
            if (in_list(w, k, rule_nouns)) {
                out->rule = "instruction override";
                snprintf(out->reason, sizeof(out->reason),
                         "refuse: the question asks to override the assistant's "
                         "instructions");
                return 1;
            }
        }
        for (const char *const *ph = injection_phrases; *ph; ph++) {
            if (phrase_at(w, i, *ph)) {
                out->rule = "role or prompt manipulation";
                snprintf(out->reason, sizeof(out->reason),
                         "refuse: the question contains '%s', an attempt to change the "
                         "assistant's role or rules",
                         *ph);
                return 1;
            }
        }
    }
    return 0;
}

/* Asking for rights: "grant me admin", "make me an administrator", "give us
 * superuser privileges", "promote my account to owner". */
static const char *const priv_verbs[] = {"grant", "give", "make", "promote", "elevate",
                                         "escalate", "assign", "add", NULL};
static const char *const priv_nouns[] = {
    "admin", "admins", "administrator", "administrators", "superuser", "superusers", "root",
    "sudo", "sysadmin", "dba", "owner", "privileges", "privilege", "permissions",
    "permission", "rights", "elevated", NULL};
static const char *const recipients[] = {"me", "us", "myself", "ourselves", "my", "our",
                                         "him", "her", "them", "everyone", "everybody",
                                         NULL};

static int privilege_at(const struct work *w, size_t p, struct cls_result *out)
{
    size_t e = clause_end(w, p);
    if (!in_list(w, p, priv_verbs))
        return 0;
    /* give/make/assign/add need a person to receive the rights; grant,
     * promote, elevate and escalate are about rights already. */
    int asks = !(is(w, p, "give") || is(w, p, "make") || is(w, p, "assign") ||
                 is(w, p, "add")) ||
               in_list(w, p + 1, recipients);
    int noun = 0;
    for (size_t k = p + 1; k < e; k++) {
        if (token_in_mention(w, k))
            return 0; /* "give me the admin users": a table is being asked about */
        noun = noun || in_list(w, k, priv_nouns);
    }
    if (!asks || !noun)
        return 0;
    char verb[64];
    copy_tokens(w, p, 1, verb, sizeof(verb));
    out->rule = "privilege request";
    snprintf(out->reason, sizeof(out->reason),
             "refuse: '%s' asks for rights or roles; DataChat cannot change who may do what",
             verb);
    return 1;
}

static int refuse(struct work *w, struct cls_result *out)
{
    if (injection(w, out)) {
        out->code = "E-INTENT-INJECTION";
        return 1;
    }
    for (size_t i = 0; i < w->nt; i++) {
        /* Clause starts: the beginning, after ';' or a sentence end, or
         * after a joiner. */
        if (i > 0 && !is(w, i - 1, ";") && !is(w, i - 1, ".") && !is(w, i - 1, "and") &&
            !is(w, i - 1, "then") && !is(w, i - 1, "also"))
            continue;
        size_t p = strip_prefixes(w, i);
        if (p >= w->nt)
            continue;
        if (privilege_at(w, p, out)) {
            out->code = "E-INTENT-PRIVILEGE";
            return 1;
        }
        if (destructive_at(w, p, out)) {
            out->code = "E-INTENT-DESTRUCTIVE";
            return 1;
        }
    }
    return 0;
}

/* ---- catalog ---------------------------------------------------------------- */

enum { WEAK = 0, STRONG = 1 };

static int catalog(struct work *w, struct cls_result *out)
{
    /* One table at most; the same one twice ("orders ... orders table")
     * still counts as one. */
    for (size_t k = 1; k < w->nm; k++)
        if (w->m[k].table != w->m[0].table)
            return 0;
    for (size_t k = 0; k < w->nm; k++)
        for (size_t j = 0; j < w->m[k].len; j++)
            w->used[w->m[k].start + j] = 1;
    int table = w->nm > 0 ? w->m[0].table : -1;

    int rows = has_word(w, w_rows);
    int count_sig = has_phrase(w, "how many") || has_phrase(w, "number of") ||
                    has_word(w, w_count) || has_phrase(w, "row count");
    int count_strong = count_sig && (rows || has_word(w, w_count));
    int cols = has_word(w, w_columns);
    int sample = has_word(w, w_sample);
    int sample_rows = rows && has_word(w, w_show);
    int whats_in = has_phrase(w, "whats in") || has_phrase(w, "what is in") ||
                   has_phrase(w, "whats inside") || has_phrase(w, "look like");
    int db_word = has_phrase(w, "database") || has_phrase(w, "db");

    /* Leftovers: words outside every catalog vocabulary and table mention.
     * Numbers are settled once the operation is known. */
    size_t lstart = 0, lcount = 0, lruns = 0;
    int prev_left = 0;
    for (size_t i = 0; i < w->nt; i++) {
        long v;
        int left = !w->used[i] && !in_vocab(w, i) && !is_number(w, i, &v);
        if (left) {
            if (!prev_left) {
                lruns++;
                lstart = i;
            }
            lcount++;
        }
        prev_left = left;
    }

    int op = CLS_OP_NONE, strength = WEAK;
    const char *rule = NULL;
    if (table < 0 && has_word(w, w_tables)) {
        /* "which tables have an email column" is about the data model,
         * not one of the four catalog operations. */
        if (lcount > 0)
            return 0;
        op = CLS_OP_TABLES;
        rule = "tables: 'tables' with no table named";
    } else if (table < 0 && lcount == 0 && !rows && has_word(w, w_schema_alone)) {
        op = CLS_OP_TABLES;
        rule = "tables: 'schema' with no table named";
    } else if (cols && !(count_sig && rows)) {
        op = CLS_OP_COLUMNS;
        strength = STRONG;
        rule = "columns: describe/columns/fields/schema/structure keyword";
    } else if (count_sig) {
        op = CLS_OP_COUNT;
        strength = count_strong ? STRONG : WEAK;
        rule = count_strong ? "count: rows/count/size keyword"
                            : "count: 'how many'/'number of' a table";
    } else if (sample || sample_rows) {
        op = CLS_OP_SAMPLE;
        strength = STRONG;
        rule = sample ? "sample: sample/preview/peek/example keyword"
                      : "sample: show/first/some rows";
    } else if (whats_in && table < 0 && db_word && lcount == 0) {
        op = CLS_OP_TABLES;
        rule = "tables: what is in the database";
    } else if (whats_in) {
        op = CLS_OP_COLUMNS;
        rule = "columns: what is in a table";
    } else if (table < 0 && lcount == 0 && has_phrase(w, "data") && has_word(w, w_have)) {
        op = CLS_OP_TABLES;
        rule = "tables: what data is there";
    } else if (table >= 0 && has_phrase(w, "table")) {
        for (size_t i = 0; i < w->nt && op == CLS_OP_NONE; i++) {
            if (in_list(w, i, w_open)) {
                op = CLS_OP_SAMPLE;
                rule = "sample: show a table";
            }
        }
    }
    if (op == CLS_OP_NONE)
        return 0;

    /* A number is a sample size when it sits next to rows/examples, after
     * "first", or just before the table; any other number qualifies the
     * question and makes it a data question. */
    long limit = 0;
    for (size_t i = 0; i < w->nt; i++) {
        long v;
        if (w->used[i] || !is_number(w, i, &v))
            continue;
        int near = in_list(w, i + 1, w_rows) || in_list(w, i + 1, w_sample) ||
                   (i > 0 && is(w, i - 1, "first")) ||
                   (i + 1 < w->nt && w->used[i + 1]) ||
                   (is(w, i + 1, "random") || is(w, i + 1, "sample"));
        if (op == CLS_OP_SAMPLE && near && limit == 0) {
            limit = v;
            w->used[i] = 1;
            continue;
        }
        out->rule = "numbers qualify the question";
        return 0;
    }

    if (op == CLS_OP_TABLES) {
        out->op = op;
        out->rule = rule;
        snprintf(out->reason, sizeof(out->reason), "catalog tables");
        return 1;
    }
    if (table >= 0) {
        if (lcount > 0)
            return 0;
        out->op = op;
        out->resolved = 1;
        out->how = w->m[0].how;
        out->limit = limit;
        out->rule = rule;
        snprintf(out->table, sizeof(out->table), "%s", w->tables[table].name);
        snprintf(out->reason, sizeof(out->reason), "catalog %s; table '%s' resolved by %s",
                 classify_op_name(op), out->table, out->how);
        return 1;
    }
    /* No known table: a short run of unknown words after a strong signal is
     * taken as the table the person meant, so the catalog can say it is
     * missing and suggest names. */
    if (strength != STRONG || lruns != 1 || lcount > UNRESOLVED_MAX_TOKENS)
        return 0;
    out->op = op;
    out->resolved = 0;
    out->limit = limit;
    out->rule = rule;
    copy_tokens(w, lstart, lcount, out->table, sizeof(out->table));
    snprintf(out->reason, sizeof(out->reason), "catalog %s; table '%s' is not in the schema",
             classify_op_name(op), out->table);
    return 1;
}

/* ---- catalog search ---------------------------------------------------------- */

/* "which table has email addresses", "where is revenue defined", "find
 * columns about country": the person wants to know where something lives,
 * not the data itself. The words left after the locating phrase are what
 * the catalog stage looks up in the retrieval index. */
static const char *const part_nouns[] = {
    "table", "tables", "column", "columns", "field", "fields", "attribute", "attributes",
    "dataset", "datasets", "datapoint", "datapoints", NULL};
static const char *const holds_verbs[] = {
    "has", "have", "had", "contain", "contains", "containing", "hold", "holds", "holding",
    "store", "stores", "storing", "keep", "keeps", "mention", "mentions", "mentioning",
    "include", "includes", "including", "record", "records", "track", "tracks", "cover",
    "covers", "reference", "references", "refer", "refers", "about", "with", "for", "like",
    "named", "called", "matching", "match", "matches", "relate", "relates", "related",
    "describes", "deal", "deals", NULL};
static const char *const place_words[] = {"in", "stored", "kept", "found", "located",
                                          "defined", "held", "recorded", NULL};
static const char *const where_aux[] = {"is", "are", "can", "do", "does", "would", "should",
                                        "will", "was", "were", "could", NULL};
static const char *const which_words[] = {"which", "what", "whats", NULL};
static const char *const finders[] = {"find", "search", "locate", "lookup", NULL};
static const char *const find_places[] = {
    "schema", "catalog", "database", "db", "definition", "definitions", "datapoint",
    "datapoints", "metadata", NULL};
static const char *const find_stop[] = {
    "the", "a", "an", "of", "in", "on", "to", "at", "me", "us", "i", "we", "you", "our",
    "my", "your", "is", "are", "was", "were", "be", "been", "do", "does", "did", "can",
    "could", "would", "should", "will", "there", "that", "this", "these", "those", "it",
    "its", "which", "what", "whats", "where", "wheres", "any", "some", "all", "please",
    "show", "list", "tell", "give", "get", "find", "search", "locate", "lookup", "look",
    "up", "defined", "stored", "kept", "found", "located", "held", "recorded", "live",
    "lives", "data", "info", "information", "word", "words", "term", "terms", "mentioned",
    "exactly", "actually", "kind", "kinds", "sort", "type", ";", ".", NULL};

static int find_search(struct work *w, struct cls_result *out)
{
    size_t p = strip_prefixes(w, 0), from = 0;
    const char *rule = NULL;
    if (p >= w->nt)
        return 0;
    if (in_list(w, p, which_words)) {
        for (size_t k = p + 1; k <= p + 3 && k < w->nt && !rule; k++) {
            if (!in_list(w, k, part_nouns))
                continue;
            for (size_t v = k + 1; v <= k + 3 && v < w->nt && !rule; v++) {
                if (in_list(w, v, holds_verbs)) {
                    rule = "find: which table or column has ...";
                    from = v + 1;
                }
            }
            if (!rule && w->nt > k + 2 && in_list(w, w->nt - 1, place_words)) {
                rule = "find: which table is ... in";
                from = k + 1;
            }
        }
    } else if ((is(w, p, "where") && in_list(w, p + 1, where_aux)) || is(w, p, "wheres")) {
        rule = "find: where is ...";
        from = p + 1;
    } else if (in_list(w, p, finders) || phrase_at(w, p, "look for") ||
               phrase_at(w, p, "look up")) {
        for (size_t k = p + 1; k < w->nt && !rule; k++) {
            if (in_list(w, k, part_nouns) || in_list(w, k, find_places)) {
                rule = "find: find/search tables or columns";
                from = p + 1;
            }
        }
    }
    if (!rule)
        return 0;
    size_t o = 0, nwords = 0;
    for (size_t i = from; i < w->nt; i++) {
        long v;
        if (is_number(w, i, &v))
            return 0; /* "which tables have more than 1000 rows" asks about data */
        if (in_list(w, i, find_stop) || in_list(w, i, part_nouns) ||
            in_list(w, i, holds_verbs) || in_list(w, i, find_places))
            continue;
        if (o + w->t[i].n + 2 > sizeof(out->search))
            break;
        if (o)
            out->search[o++] = ' ';
        memcpy(out->search + o, w->t[i].s, w->t[i].n);
        o += w->t[i].n;
        nwords++;
    }
    out->search[o] = '\0';
    if (nwords == 0)
        return 0;
    out->op = CLS_OP_FIND;
    out->rule = rule;
    snprintf(out->reason, sizeof(out->reason), "catalog find: look up '%.400s' in the index",
             out->search);
    return 1;
}

/* ---- vague questions ---------------------------------------------------------- */

/* Words that never name data by themselves: a question made only of these,
 * filler and numbers ("show me the best ones", "give me the numbers", "how
 * are we doing") names no table, column or metric, so the compiler could
 * only guess. */
static const char *const vague_words[] = {
    "best", "top", "worst", "ones", "one", "good", "bad", "great", "nice", "cool", "numbers",
    "figures", "stats", "statistics", "metrics", "kpis", "kpi", "results", "stuff", "thing",
    "things", "other", "others", "something", "anything", "everything", "interesting",
    "important", "new", "usual", "same", "again", "more", "rest", "doing", "going",
    "happening", "up", "morning", "afternoon", "evening", "night", "day", "today", "hi",
    "hello", "hey", "thanks", "thank", "ok", "okay", "yes", "no", "sure", "about", "and",
    "or", "but", "with", "by", "as", "if", "them", "they", "lately", "recently", "last",
    "next", "week", "month", "year", "quarter", "trend", "trends", "latest", "anyway", "well",
    "really", "very", "most", "least", "why", "who", "when", "where", "lot", "lots",
    "overall", "stand", "standing", "look", "looking", "looks", "been", "report", "else",
    "such", "via", "ever", "guys", "team", NULL};

static int vague(const struct work *w, struct cls_result *out)
{
    if (w->nm > 0)
        return 0;
    for (size_t i = 0; i < w->nt; i++) {
        long v;
        if (is_number(w, i, &v) || in_list(w, i, filler) || in_list(w, i, vague_words))
            continue;
        return 0;
    }
    for (size_t i = 0; i < w->nt; i++)
        if (is_column_name(w, i))
            return 0;
    out->rule = "no grounded word";
    snprintf(out->reason, sizeof(out->reason),
             "clarify: no table, column or metric word; asking which data is meant");
    return 1;
}

/* ---- the rest ----------------------------------------------------------------- */

static const char *const greetings[] = {
    "help", "hi", "hello", "hey", "what can you do", "what can i ask", "what can i ask you",
    "how does this work", "who are you", "thanks", "thank you", "help me", "what do you do",
    NULL};

static int clarify(const struct work *w, struct cls_result *out)
{
    if (w->nt == 0) {
        out->rule = "no words";
        snprintf(out->reason, sizeof(out->reason),
                 "clarify: the question has no words, only punctuation or symbols");
        return 1;
    }
    for (const char *const *g = greetings; *g; g++) {
        if (phrase_at(w, 0, *g) && phrase_at(w, 0, *g) == w->nt) {
            out->rule = "greeting or help request";
            snprintf(out->reason, sizeof(out->reason),
                     "clarify: '%s' is not a data question", *g);
            return 1;
        }
    }
    return 0;
}

static const char *const tool_verbs[] = {"run", "use", "call", "invoke", "execute", NULL};

static int tool(const struct work *w, struct cls_result *out)
{
    size_t p = 0;
    while (p < w->nt && (is(w, p, "please") || is(w, p, "can") || is(w, p, "could") ||
                         is(w, p, "you")))
        p++;
    if (!in_list(w, p, tool_verbs))
        return 0;
    for (size_t k = p + 1; k <= p + 4 && k < w->nt; k++) {
        if (is(w, k, "tool")) {
            out->rule = "tool request";
            snprintf(out->reason, sizeof(out->reason), "tool: asks to run a tool");
            return 1;
        }
    }
    return 0;
}

int classify_question(const char *q, size_t n, const struct cls_table *tables,
                      size_t ntables, struct cls_result *out)
{
    static const struct cls_result zero;
    *out = zero;
    size_t i = 0;
    while (q && i < n && (q[i] == ' ' || (q[i] >= '\t' && q[i] <= '\r')))
        i++;
    if (!q || i == n) {
        out->intent = CLS_EMPTY;
        out->rule = "empty";
        snprintf(out->reason, sizeof(out->reason), "the question is empty");
        return 0;
    }
    if (n > CLS_MAX_INPUT) {
        out->truncated = 1;
        n = CLS_MAX_INPUT;
    }
    struct work w;
    if (work_alloc(&w, n, tables, ntables) != 0)
        return -1;
    tokenize(&w, normalize(q, n, w.norm));
    find_mentions(&w);

    if (refuse(&w, out)) {
        out->intent = CLS_REFUSE;
    } else if (clarify(&w, out)) {
        out->intent = CLS_CLARIFY;
    } else if (find_search(&w, out)) {
        out->intent = CLS_CATALOG;
    } else if (catalog(&w, out)) {
        out->intent = CLS_CATALOG;
    } else if (tool(&w, out)) {
        out->intent = CLS_TOOL;
    } else if (vague(&w, out)) {
        out->intent = CLS_CLARIFY;
    } else {
        out->intent = CLS_SQL;
        out->op = CLS_OP_NONE;
        out->table[0] = '\0';
        out->limit = 0;
        if (!out->rule)
            out->rule = "default";
        snprintf(out->reason, sizeof(out->reason),
                 "sql: no refusal, help or catalog rule matched; a data question for the "
                 "query compiler");
    }
    work_free(&w);
    return 0;
}

int classify_resolve_table(const char *phrase, const struct cls_table *tables,
                           size_t ntables, const char **how)
{
    *how = NULL;
    if (!phrase || !tables)
        return -1;
    size_t pl = strlen(phrase);
    for (size_t i = 0; i < ntables; i++) {
        if (tables[i].name && strcmp(tables[i].name, phrase) == 0) {
            *how = "exact name";
            return (int)i;
        }
    }
    if (pl == 0 || pl > CLS_NAME_MAX * 4)
        return -1;
    struct work storage;
    struct work *w = &storage;
    if (work_alloc(w, pl, tables, ntables) != 0)
        return -1;
    tokenize(w, normalize(phrase, pl, w->norm));
    find_mentions(w);
    int found = -1;
    /* The phrase must be one table mention, optionally around "table". */
    size_t start = 0, end = w->nt;
    if (is(w, 0, "the"))
        start = 1;
    if (end > start + 1 && is(w, end - 1, "table"))
        end--;
    for (size_t k = 0; k < w->nm && found < 0 && w->nt > 0; k++) {
        if (w->m[k].start == start && w->m[k].start + w->m[k].len == end) {
            *how = w->m[k].how;
            found = w->m[k].table;
        }
    }
    work_free(w);
    return found;
}

const char *classify_intent_name(int intent)
{
    switch (intent) {
    case CLS_CATALOG: return "catalog";
    case CLS_SQL: return "sql";
    case CLS_METRIC: return "metric";
    case CLS_TOOL: return "tool";
    case CLS_CLARIFY: return "clarify";
    case CLS_REFUSE: return "refuse";
    default: return "empty";
    }
}

const char *classify_op_name(int op)
{
    switch (op) {
    case CLS_OP_TABLES: return "tables";
    case CLS_OP_COLUMNS: return "columns";
    case CLS_OP_SAMPLE: return "sample";
    case CLS_OP_COUNT: return "count";
    case CLS_OP_FIND: return "find";
    default: return "none";
    }
}
