#include "lexicon.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *dupstr(const char *s)
{
    size_t n = strlen(s ? s : "");
    char *p = malloc(n + 1);
    if (p)
        memcpy(p, s ? s : "", n + 1);
    return p;
}

static int ends(const char *w, size_t n, const char *suf)
{
    size_t k = strlen(suf);
    return n >= k && memcmp(w + n - k, suf, k) == 0;
}

static int is_vowel(char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

void lex_stem(const char *word, size_t n, char *out, size_t cap)
{
    char w[LEX_WORD_MAX];
    if (cap == 0)
        return;
    if (n >= sizeof(w))
        n = sizeof(w) - 1;
    for (size_t i = 0; i < n; i++)
        w[i] = (char)tolower((unsigned char)word[i]);
    w[n] = '\0';
    /* Digits and short words stay as they are: "id", "at", "q2". */
    int alpha = 1;
    for (size_t i = 0; i < n; i++)
        if (!isalpha((unsigned char)w[i]))
            alpha = 0;
    if (alpha && n > 3) {
        if (ends(w, n, "ies") && n > 4) {
            n -= 3;
            w[n++] = 'y';
        } else if (ends(w, n, "sses")) {
            n -= 2;
        } else if (ends(w, n, "ches") || ends(w, n, "shes") || ends(w, n, "xes") ||
                   ends(w, n, "zes")) {
            n -= 2;
        } else if (w[n - 1] == 's' && !ends(w, n, "ss") && !ends(w, n, "us") &&
                   !ends(w, n, "is")) {
            n -= 1;
        }
        w[n] = '\0';
        if (n >= 7 && ends(w, n, "ing")) {
            n -= 3;
        } else if (n >= 5 && ends(w, n, "ed")) {
            n -= 2;
        } else {
            goto final_e;
        }
        /* "shipp" -> "ship" */
        if (n >= 2 && w[n - 1] == w[n - 2] && !is_vowel(w[n - 1]) && w[n - 1] != 's' &&
            w[n - 1] != 'l')
            n--;
        w[n] = '\0';
    final_e:
        if (n > 3 && w[n - 1] == 'e')
            n--;
        w[n] = '\0';
    }
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(out, w, k);
    out[k] = '\0';
}

void lex_split_ident(const char *ident, struct lex_words *out)
{
    out->n = 0;
    size_t len = strlen(ident), i = 0;
    while (i < len && out->n < LEX_MAX_WORDS) {
        while (i < len && !isalnum((unsigned char)ident[i]))
            i++;
        if (i >= len)
            break;
        size_t s = i;
        if (isdigit((unsigned char)ident[i])) {
            while (i < len && isdigit((unsigned char)ident[i]))
                i++;
        } else {
            i++;
            /* An upper-case run followed by lower case starts a new word at
             * its last capital ("IDNumber" -> "ID", "Number"). */
            if (isupper((unsigned char)ident[s])) {
                while (i < len && isupper((unsigned char)ident[i]) &&
                       !(i + 1 < len && islower((unsigned char)ident[i + 1])))
                    i++;
                if (i == s + 1 || !(i < len && isupper((unsigned char)ident[i])))
                    while (i < len && islower((unsigned char)ident[i]))
                        i++;
            } else {
                while (i < len && islower((unsigned char)ident[i]))
                    i++;
            }
        }
        lex_stem(ident + s, i - s, out->w[out->n], LEX_WORD_MAX);
        if (out->w[out->n][0])
            out->n++;
    }
}

int lex_edit1(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > lb + 1 || lb > la + 1)
        return 0;
    size_t i = 0;
    while (i < la && i < lb && a[i] == b[i])
        i++;
    if (i == la && i == lb)
        return 1;
    if (la == lb) {
        if (strcmp(a + i + 1, b + i + 1) == 0)
            return 1;
        return i + 1 < la && a[i] == b[i + 1] && a[i + 1] == b[i] &&
               strcmp(a + i + 2, b + i + 2) == 0;
    }
    if (la > lb)
        return strcmp(a + i + 1, b + i) == 0;
    return strcmp(a + i, b + i + 1) == 0;
}

static int has_word(const struct lex_words *w, const char *x)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->w[i], x) == 0)
            return 1;
    return 0;
}

static int decl_has(const char *decl, const char *part)
{
    if (!decl)
        return 0;
    size_t n = strlen(part);
    for (const char *p = decl; *p; p++)
        if (strncasecmp(p, part, n) == 0)
            return 1;
    return 0;
}

/* Words (stemmed) that make a column money-like or free text; generic
 * English, never the name of one schema's column. */
static const char *const money_words[] = {"amount", "total", "pric", "cost", "fee",
                                          "revenu", "balanc", "spend", NULL};
static const char *const freetext_words[] = {
    "email", "phon", "fax", "address", "postal", "zip", "password", "description",
    "url", "sku", "pictur", "comment", "not", "usernam", "cod", "hash", "token", NULL};

static int any_word(const struct lex_words *w, const char *const *list)
{
    for (const char *const *p = list; *p; p++)
        if (has_word(w, *p))
            return 1;
    return 0;
}

static int column_flags(const struct dc_column_info *c, const struct lex_words *w,
                        int is_fk)
{
    int f = 0;
    const char *d = c->decl_type;
    int date = decl_has(d, "DATE") || decl_has(d, "TIME") || c->type == DC_DATE ||
               c->type == DC_TIMESTAMP;
    int num = !date && (decl_has(d, "INT") || decl_has(d, "REAL") || decl_has(d, "FLOA") ||
                        decl_has(d, "DOUB") || decl_has(d, "DEC") || decl_has(d, "NUM") ||
                        decl_has(d, "MONEY") || c->type == DC_INT || c->type == DC_REAL ||
                        c->type == DC_NUMERIC);
    int text = !date && !num &&
               (decl_has(d, "CHAR") || decl_has(d, "TEXT") || decl_has(d, "CLOB") ||
                c->type == DC_TEXT);
    if (date)
        f |= LEX_DATE;
    if (num)
        f |= LEX_NUMERIC;
    if (text)
        f |= LEX_TEXT;
    if (decl_has(d, "BOOL") || c->type == DC_BOOL ||
        (num && w->n >= 2 && (strcmp(w->w[0], "is") == 0 || strcmp(w->w[0], "has") == 0)))
        f = (f & ~LEX_NUMERIC) | LEX_BOOL;
    if (c->pk || is_fk || (w->n > 0 && strcmp(w->w[w->n - 1], "id") == 0))
        f |= LEX_KEY;
    if ((f & LEX_NUMERIC) && !(f & LEX_KEY) && any_word(w, money_words))
        f |= LEX_MONEY;
    if (has_word(w, "updat") || has_word(w, "modifi"))
        f |= LEX_TECH;
    if ((f & LEX_TEXT) && !(f & LEX_KEY) && !any_word(w, freetext_words))
        f |= LEX_PROBE;
    if ((f & LEX_NUMERIC) && w->n >= 2 &&
        (strcmp(w->w[0], "total") == 0 || strcmp(w->w[0], "sum") == 0))
        f |= LEX_AGGWORD;
    return f;
}

void lex_free(struct lexicon *lx)
{
    if (!lx)
        return;
    for (size_t i = 0; i < lx->ntables; i++) {
        struct lex_table *t = &lx->tables[i];
        for (size_t k = 0; k < t->ncols; k++)
            free(t->cols[k].name);
        free(t->cols);
        free(t->name);
    }
    for (size_t i = 0; i < lx->nvals; i++)
        free(lx->vals[i].value);
    free(lx->vals);
    free(lx->syns);
    free(lx->tables);
    free(lx->edges);
    free(lx);
}

int lex_find_table(const struct lexicon *lx, const char *name)
{
    for (size_t i = 0; name && i < lx->ntables; i++)
        if (strcasecmp(lx->tables[i].name, name) == 0)
            return (int)i;
    return -1;
}

int lex_find_column(const struct lexicon *lx, int table, const char *name)
{
    if (table < 0 || (size_t)table >= lx->ntables || !name)
        return -1;
    const struct lex_table *t = &lx->tables[table];
    for (size_t i = 0; i < t->ncols; i++)
        if (strcasecmp(t->cols[i].name, name) == 0)
            return (int)i;
    return -1;
}

static void pick_labels(struct lex_table *t)
{
    t->nlabel = 0;
    int first = -1, last = -1;
    for (size_t k = 0; k < t->ncols; k++) {
        const struct lex_column *c = &t->cols[k];
        if (!(c->flags & LEX_TEXT) || (c->flags & LEX_KEY))
            continue;
        const struct lex_words *w = &c->words;
        int tail_name = w->n > 0 && strcmp(w->w[w->n - 1], "nam") == 0;
        if (w->n == 1 && (strcmp(w->w[0], "nam") == 0 || strcmp(w->w[0], "titl") == 0)) {
            t->label[0] = (int)k;
            t->nlabel = 1;
            return;
        }
        if (tail_name && w->n == 2 && strcmp(w->w[0], "first") == 0)
            first = (int)k;
        if (tail_name && w->n == 2 && strcmp(w->w[0], "last") == 0)
            last = (int)k;
    }
    if (first >= 0 && last >= 0) {
        t->label[0] = first;
        t->label[1] = last;
        t->nlabel = 2;
        return;
    }
    /* A table named like one of its text columns ("country.country"). */
    for (size_t k = 0; k < t->ncols; k++) {
        const struct lex_column *c = &t->cols[k];
        if ((c->flags & LEX_TEXT) && !(c->flags & LEX_KEY) && c->words.n == t->words.n &&
            t->words.n > 0 &&
            strcmp(c->words.w[c->words.n - 1], t->words.w[t->words.n - 1]) == 0) {
            t->label[0] = (int)k;
            t->nlabel = 1;
            return;
        }
    }
}

int lex_build(const struct dc_table_info *const *tables, size_t n, struct lexicon **out)
{
    *out = NULL;
    struct lexicon *lx = calloc(1, sizeof(*lx));
    if (!lx)
        return DC_ENOMEM;
    lx->tables = calloc(n ? n : 1, sizeof(*lx->tables));
    if (!lx->tables)
        goto oom;
    size_t nfk = 0;
    for (size_t i = 0; i < n; i++)
        nfk += tables[i] ? tables[i]->nfks : 0;
    lx->edges = calloc(nfk ? nfk : 1, sizeof(*lx->edges));
    if (!lx->edges)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        const struct dc_table_info *ti = tables[i];
        if (!ti || !ti->name)
            continue;
        struct lex_table *t = &lx->tables[lx->ntables++];
        t->name = dupstr(ti->name);
        t->cols = calloc(ti->ncolumns ? ti->ncolumns : 1, sizeof(*t->cols));
        if (!t->name || !t->cols)
            goto oom;
        t->is_view = ti->kind && strcmp(ti->kind, "view") == 0;
        lex_split_ident(ti->name, &t->words);
        t->pk = -1;
        int npk = 0;
        for (size_t k = 0; k < ti->ncolumns; k++) {
            const struct dc_column_info *ci = &ti->columns[k];
            struct lex_column *c = &t->cols[t->ncols++];
            c->name = dupstr(ci->name ? ci->name : "");
            if (!c->name)
                goto oom;
            lex_split_ident(c->name, &c->words);
            int is_fk = 0;
            for (size_t f = 0; f < ti->nfks; f++)
                if (ti->fks[f].from_column && ci->name &&
                    strcasecmp(ti->fks[f].from_column, ci->name) == 0)
                    is_fk = 1;
            c->flags = column_flags(ci, &c->words, is_fk);
            if (ci->pk) {
                npk++;
                t->pk = (int)k;
            }
        }
        if (npk != 1)
            t->pk = -1;
        pick_labels(t);
    }
    for (size_t i = 0; i < n; i++) {
        const struct dc_table_info *ti = tables[i];
        if (!ti || !ti->name)
            continue;
        int from_t = lex_find_table(lx, ti->name);
        for (size_t f = 0; f < ti->nfks; f++) {
            int to_t = lex_find_table(lx, ti->fks[f].to_table);
            int from_c = lex_find_column(lx, from_t, ti->fks[f].from_column);
            int to_c = ti->fks[f].to_column ? lex_find_column(lx, to_t, ti->fks[f].to_column)
                                            : (to_t >= 0 ? lx->tables[to_t].pk : -1);
            if (from_t < 0 || to_t < 0 || from_c < 0 || to_c < 0)
                continue;
            struct lex_edge *e = &lx->edges[lx->nedges++];
            e->from_t = from_t;
            e->from_c = from_c;
            e->to_t = to_t;
            e->to_c = to_c;
        }
    }
    *out = lx;
    return DC_OK;
oom:
    lex_free(lx);
    return DC_ENOMEM;
}

int lex_add_synonym(struct lexicon *lx, const char *phrase, const char *table,
                    const char *column)
{
    int t = lex_find_table(lx, table);
    int c = column ? lex_find_column(lx, t, column) : -1;
    if (t < 0 || (column && c < 0) || !phrase)
        return DC_ENOTFOUND;
    if (lx->nsyns == lx->capsyns) {
        size_t cap = lx->capsyns ? lx->capsyns * 2 : 16;
        struct lex_synonym *p = realloc(lx->syns, cap * sizeof(*p));
        if (!p)
            return DC_ENOMEM;
        lx->syns = p;
        lx->capsyns = cap;
    }
    struct lex_synonym *s = &lx->syns[lx->nsyns];
    /* Phrases are words separated by blanks; each is stemmed like a question
     * word so "Revenue" and "revenues" meet. */
    s->words.n = 0;
    const char *p = phrase;
    while (*p && s->words.n < LEX_MAX_WORDS) {
        while (*p && !isalnum((unsigned char)*p))
            p++;
        const char *st = p;
        while (*p && (isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80))
            p++;
        if (p > st) {
            lex_stem(st, (size_t)(p - st), s->words.w[s->words.n], LEX_WORD_MAX);
            s->words.n++;
        }
    }
    if (s->words.n == 0)
        return DC_EINVAL;
    s->table = t;
    s->column = c;
    lx->nsyns++;
    return DC_OK;
}

int lex_add_value(struct lexicon *lx, const char *table, const char *column,
                  const char *value)
{
    int t = lex_find_table(lx, table);
    int c = lex_find_column(lx, t, column);
    if (t < 0 || c < 0 || !value)
        return DC_ENOTFOUND;
    if (lx->nvals == lx->capvals) {
        size_t cap = lx->capvals ? lx->capvals * 2 : 32;
        struct lex_value *p = realloc(lx->vals, cap * sizeof(*p));
        if (!p)
            return DC_ENOMEM;
        lx->vals = p;
        lx->capvals = cap;
    }
    char *v = dupstr(value);
    if (!v)
        return DC_ENOMEM;
    lx->vals[lx->nvals].table = t;
    lx->vals[lx->nvals].column = c;
    lx->vals[lx->nvals].value = v;
    lx->nvals++;
    return DC_OK;
}
