#include "planner.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_CANDS 16
#define MAX_ITEMS Q_MAX_TOKENS

enum item_kind { IT_STOP = 1, IT_KW, IT_NUM, IT_DATE, IT_TABLE, IT_COLUMN, IT_VALUE, IT_UNKNOWN };

struct cand {
    int t, c;
    int full; /* every word of the column name was said */
};

struct item {
    int kind;
    size_t tok, ntok;
    int kw, arg;
    double num;
    int num_int;
    struct q_range range;
    int t; /* IT_TABLE, IT_VALUE; resolved table of IT_COLUMN */
    int c; /* resolved column of IT_COLUMN / IT_VALUE, -1 until resolved */
    struct cand cands[MAX_CANDS];
    size_t ncands;
    int weak;     /* a single word of a longer column name: may be a value */
    int typo;
    int qualified; /* table words said before the column words */
    char val[PLAN_VALUE_MAX];
    int used;
    int negated;
    int locator; /* a table that only says where a value lives */
};

struct pctx {
    const struct lexicon *lx;
    const struct plan_opts *o;
    struct q_tokens tk;
    struct item it[MAX_ITEMS];
    size_t nit;
    struct plan *p;
    char problems[PLAN_TEXT_MAX];
    size_t plen;
    int nproblems;
    int probe_rc;
};

static void problem(struct pctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct pctx *x, const char *fmt, ...)
{
    if (x->plen + 8 >= sizeof(x->problems))
        return;
    if (x->nproblems++ > 0)
        x->plen += (size_t)snprintf(x->problems + x->plen, sizeof(x->problems) - x->plen, "; ");
    if (x->plen >= sizeof(x->problems))
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(x->problems + x->plen, sizeof(x->problems) - x->plen, fmt, ap);
    va_end(ap);
    if (n > 0)
        x->plen += (size_t)n;
    if (x->plen >= sizeof(x->problems))
        x->plen = sizeof(x->problems) - 1;
}

static void note(struct pctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct pctx *x, const char *fmt, ...)
{
    char *g = x->p->grounding;
    size_t len = strlen(g);
    if (len + 8 >= PLAN_TEXT_MAX)
        return;
    if (len)
        len += (size_t)snprintf(g + len, PLAN_TEXT_MAX - len, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g + len, PLAN_TEXT_MAX - len, fmt, ap);
    va_end(ap);
}

/* The words of item i as the user wrote them (quoted in messages). */
static const char *said(const struct pctx *x, const struct item *m, char *buf, size_t cap)
{
    const struct q_token *a = &x->tk.t[m->tok], *b = &x->tk.t[m->tok + m->ntok - 1];
    size_t len = b->off + b->len - a->off;
    if (len >= cap)
        len = cap - 1;
    memcpy(buf, x->tk.src + a->off, len);
    buf[len] = '\0';
    /* Quotes and control bytes would garble the message. */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == '\'')
            buf[i] = ' ';
    return buf;
}

static const char *tname(const struct pctx *x, int t)
{
    return x->lx->tables[t].name;
}

static const char *cname(const struct pctx *x, int t, int c)
{
    return x->lx->tables[t].cols[c].name;
}

static int cflags(const struct pctx *x, int t, int c)
{
    return x->lx->tables[t].cols[c].flags;
}

/* ---- schema matching --------------------------------------------------------- */

static int word_eq(const struct q_token *tok, const char *word, int typo_ok, int *typo)
{
    if (strcmp(tok->stem, word) == 0 || strcmp(tok->low, word) == 0)
        return 1;
    if (typo_ok && strlen(tok->low) >= 5 && strlen(word) >= 4 &&
        (lex_edit1(tok->stem, word) || lex_edit1(tok->low, word))) {
        *typo = 1;
        return 1;
    }
    return 0;
}

/* Tokens from i matching words w[0..n) in order; 0 if they do not. Two
 * tokens may also join into one word ("signed up" -> "signup"). */
static size_t match_words(const struct q_tokens *tk, size_t i, const char (*w)[LEX_WORD_MAX],
                          size_t n, int typo_ok, int *typo)
{
    size_t k = i;
    for (size_t j = 0; j < n; j++) {
        if (k >= tk->n || tk->t[k].is_num)
            return 0;
        if (word_eq(&tk->t[k], w[j], typo_ok, typo)) {
            k++;
            continue;
        }
        if (k + 1 < tk->n) {
            char joined[2 * Q_WORD_MAX];
            snprintf(joined, sizeof(joined), "%s%s", tk->t[k].stem, tk->t[k + 1].stem);
            if (strcmp(joined, w[j]) == 0) {
                k += 2;
                continue;
            }
        }
        return 0;
    }
    return k - i;
}

static int generic_part(const char *w)
{
    static const char *const g[] = {"id", "is", "has", "at", "of", "no", "num", "nr", "first",
                                    "last", "unit", "per", "by", "on", "to", NULL};
    for (const char *const *p = g; *p; p++)
        if (strcmp(w, *p) == 0)
            return 1;
    return 0;
}

static void add_cand(struct item *m, int t, int c, int full)
{
    for (size_t i = 0; i < m->ncands; i++)
        if (m->cands[i].t == t && m->cands[i].c == c) {
            if (full)
                m->cands[i].full = 1;
            return;
        }
    if (m->ncands < MAX_CANDS) {
        m->cands[m->ncands].t = t;
        m->cands[m->ncands].c = c;
        m->cands[m->ncands].full = full;
        m->ncands++;
    }
}

/* The longest schema phrase at token i; fills m (kind IT_TABLE/IT_COLUMN)
 * and returns its length in tokens. */
static size_t match_schema(struct pctx *x, size_t i, struct item *m, int typo_ok)
{
    const struct lexicon *lx = x->lx;
    const struct q_tokens *tk = &x->tk;
    size_t best = 0;
    int best_table = -1, ntables = 0;
    struct item cm;
    memset(&cm, 0, sizeof(cm));
    size_t cbest = 0;
    int typo = 0;

#define CONSIDER_COL(len_, t_, c_, full_, qual_)                                           \
    do {                                                                               \
        size_t l_ = (len_);                                                            \
        if (l_ > cbest) {                                                              \
            cbest = l_;                                                                \
            cm.ncands = 0;                                                             \
            cm.qualified = 0;                                                          \
            cm.weak = 0;                                                               \
        }                                                                              \
        if (l_ == cbest && l_ > 0) {                                                   \
            add_cand(&cm, (t_), (c_), (full_));                                        \
            if (qual_)                                                                 \
                cm.qualified = 1;                                                      \
        }                                                                              \
    } while (0)

    for (size_t t = 0; t < lx->ntables; t++) {
        const struct lex_table *tb = &lx->tables[t];
        if (tb->is_view)
            continue;
        size_t tl = match_words(tk, i, tb->words.w, tb->words.n, typo_ok, &typo);
        /* A table word qualifies a column only in the singular ("customer
         * country", "order total"): "orders shipped" is a table and a verb. */
        int qual_ok = 0;
        if (tl > 0) {
            const struct q_token *lt = &tk->t[i + tl - 1];
            qual_ok = strcmp(lt->low, lt->stem) == 0 ||
                      strlen(lt->stem) + 1 >= strlen(lt->low);
            size_t ln = strlen(lt->low);
            if (ln > 1 && lt->low[ln - 1] == 's' && lt->low[ln - 2] != 's')
                qual_ok = 0;
        }
        if (tl > 0) {
            if (tl > best) {
                best = tl;
                best_table = (int)t;
                ntables = 1;
            } else if (tl == best) {
                ntables++;
            }
            /* Table words, then column words: "customer country". */
            for (size_t c = 0; c < tb->ncols && qual_ok; c++) {
                const struct lex_column *col = &tb->cols[c];
                size_t cl = match_words(tk, i + tl, col->words.w, col->words.n, typo_ok, &typo);
                if (cl)
                    CONSIDER_COL(tl + cl, (int)t, (int)c, 1, 1);
                /* ... or the column words after the table's own words. */
                size_t skip = 0;
                while (skip < col->words.n && skip < tb->words.n &&
                       strcmp(col->words.w[skip], tb->words.w[skip]) == 0)
                    skip++;
                if (skip > 0 && skip < col->words.n) {
                    cl = match_words(tk, i + tl, col->words.w + skip, col->words.n - skip,
                                     typo_ok, &typo);
                    if (cl)
                        CONSIDER_COL(tl + cl, (int)t, (int)c, 1, 1);
                }
            }
            /* ... or one word of a single column of that table. */
            if (i + tl < tk->n && qual_ok) {
                int hit = -1, nhit = 0;
                for (size_t c = 0; c < tb->ncols; c++) {
                    const struct lex_column *col = &tb->cols[c];
                    if (col->flags & LEX_KEY)
                        continue;
                    for (size_t w = 0; w < col->words.n; w++)
                        if (!generic_part(col->words.w[w]) &&
                            word_eq(&tk->t[i + tl], col->words.w[w], 0, &typo)) {
                            if (hit != (int)c)
                                nhit++;
                            hit = (int)c;
                            break;
                        }
                }
                if (nhit == 1)
                    CONSIDER_COL(tl + 1, (int)t, hit, 0, 1);
            }
        }
        for (size_t c = 0; c < tb->ncols; c++) {
            const struct lex_column *col = &tb->cols[c];
            size_t cl = match_words(tk, i, col->words.w, col->words.n, typo_ok, &typo);
            if (cl)
                CONSIDER_COL(cl, (int)t, (int)c, 1, 0);
            if (col->flags & LEX_KEY)
                continue;
            for (size_t w = 0; w < col->words.n && col->words.n > 1; w++) {
                if (generic_part(col->words.w[w]))
                    continue;
                size_t pl = match_words(tk, i, &col->words.w[w], 1, typo_ok, &typo);
                if (pl)
                    CONSIDER_COL(pl, (int)t, (int)c, 0, 0);
            }
        }
    }
    for (size_t s = 0; s < lx->nsyns; s++) {
        const struct lex_synonym *sy = &lx->syns[s];
        size_t sl = match_words(tk, i, sy->words.w, sy->words.n, 0, &typo);
        if (!sl)
            continue;
        if (sy->column < 0) {
            if (sl > best) {
                best = sl;
                best_table = sy->table;
                ntables = 1;
            } else if (sl == best && best_table != sy->table) {
                ntables++;
            }
        } else {
            CONSIDER_COL(sl, sy->table, sy->column, 1, sl > 1);
        }
    }
#undef CONSIDER_COL
    m->typo = typo;
    /* A table wins a tie with its own columns ("country" the table over
     * country.country): grouping by a table shows its label anyway. */
    if (best > 0 && best >= cbest) {
        if (ntables > 1)
            return 0;
        m->kind = IT_TABLE;
        m->t = best_table;
        m->c = -1;
        return best;
    }
    if (cbest > 0) {
        m->kind = IT_COLUMN;
        memcpy(m->cands, cm.cands, sizeof(cm.cands));
        m->ncands = cm.ncands;
        m->qualified = cm.qualified;
        int anyfull = 0;
        for (size_t k = 0; k < cm.ncands; k++)
            anyfull |= cm.cands[k].full;
        m->weak = cbest == 1 && !anyfull;
        m->t = -1;
        m->c = -1;
        return cbest;
    }
    return 0;
}

/* ---- items -------------------------------------------------------------------- */

static int is_listish(int kw)
{
    return kw == KW_STOP || kw == KW_LIST;
}

static void build_items(struct pctx *x)
{
    const struct q_tokens *tk = &x->tk;
    size_t i = 0;
    while (i < tk->n && x->nit < MAX_ITEMS) {
        struct item *m = &x->it[x->nit];
        memset(m, 0, sizeof(*m));
        m->tok = i;
        m->t = m->c = -1;
        int kw, arg;
        size_t kl = q_keyword(tk, i, &kw, &arg);
        struct q_range r;
        size_t dl = q_date_expr(tk, i, x->o->today, &r);
        struct item sm;
        memset(&sm, 0, sizeof(sm));
        size_t sl = match_schema(x, i, &sm, 0);
        if (dl > 0 && dl >= kl && dl >= sl) {
            m->kind = IT_DATE;
            m->ntok = dl;
            m->range = r;
        } else if (tk->t[i].is_num || (kl == 0 && sl == 0 && q_small_number(tk->t[i].low) > 0)) {
            m->kind = IT_NUM;
            m->ntok = 1;
            m->num = tk->t[i].is_num ? tk->t[i].num : q_small_number(tk->t[i].low);
            m->num_int = tk->t[i].is_num ? tk->t[i].num_int : 1;
        } else if (kl > 0 && (kl > sl || (kl == sl && !is_listish(kw)))) {
            m->kind = kw == KW_STOP ? IT_STOP : IT_KW;
            m->kw = kw;
            m->arg = arg;
            m->ntok = kl;
        } else if (sl > 0) {
            sm.tok = i;
            sm.ntok = sl;
            *m = sm;
        } else if (kl > 0) {
            m->kind = kw == KW_STOP ? IT_STOP : IT_KW;
            m->kw = kw;
            m->arg = arg;
            m->ntok = kl;
        } else {
            /* Last resort: a schema word with one typo. */
            sl = match_schema(x, i, &sm, 1);
            if (sl > 0) {
                sm.tok = i;
                sm.ntok = sl;
                *m = sm;
            } else {
                m->kind = IT_UNKNOWN;
                m->ntok = 1;
            }
        }
        i += m->ntok;
        x->nit++;
    }
}

/* Index of the next item after i that is not filler, or nit. */
static size_t next_sig(const struct pctx *x, size_t i)
{
    for (size_t k = i + 1; k < x->nit; k++)
        if (x->it[k].kind != IT_STOP)
            return k;
    return x->nit;
}

static long prev_sig(const struct pctx *x, size_t i)
{
    for (long k = (long)i - 1; k >= 0; k--)
        if (x->it[k].kind != IT_STOP)
            return k;
    return -1;
}

static int is_kw(const struct pctx *x, size_t i, int kw)
{
    return i < x->nit && x->it[i].kind == IT_KW && x->it[i].kw == kw;
}

/* ---- scope and column resolution -------------------------------------------------- */

#define MAX_SCOPE 32

struct scope {
    int t[MAX_SCOPE];
    size_t n;
};

static int in_scope(const struct scope *s, int t)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->t[i] == t)
            return 1;
    return 0;
}

static void scope_add(struct scope *s, int t)
{
    if (t >= 0 && !in_scope(s, t) && s->n < MAX_SCOPE)
        s->t[s->n++] = t;
}

static void mentioned(const struct pctx *x, struct scope *s)
{
    s->n = 0;
    for (size_t i = 0; i < x->nit; i++) {
        const struct item *m = &x->it[i];
        if (m->kind == IT_TABLE)
            scope_add(s, m->t);
        else if (m->kind == IT_COLUMN && m->c >= 0)
            scope_add(s, m->t);
        else if (m->kind == IT_COLUMN && m->ncands > 0 && !m->weak) {
            int t0 = m->cands[0].t, same = 1;
            for (size_t k = 1; k < m->ncands; k++)
                same &= m->cands[k].t == t0;
            if (same)
                scope_add(s, t0);
        } else if (m->kind == IT_VALUE) {
            scope_add(s, m->t);
        }
    }
}

static int any_in_scope(const struct item *m, const struct scope *s)
{
    for (size_t k = 0; k < m->ncands; k++)
        if (in_scope(s, m->cands[k].t))
            return 1;
    return 0;
}

/* "total amount of payments": a column name that starts with an aggregate
 * word ("total_amount" of another table) yields to the aggregate plus the
 * rest of the words when only that reading stays within the tables the
 * question names. */
static void split_agg_prefix(struct pctx *x)
{
    struct scope tables = {{0}, 0}, *s = &tables;
    for (size_t i = 0; i < x->nit; i++)
        if (x->it[i].kind == IT_TABLE)
            scope_add(s, x->it[i].t);
    /* "invoices with a total over 20": an aggregate word right before a
     * comparison is the name of a column of a table the question names. */
    for (size_t i = 0; i + 1 < x->nit; i++) {
        struct item *m = &x->it[i];
        if (m->kind != IT_KW || m->ntok != 1 ||
            !(m->kw == KW_SUM || m->kw == KW_AVG || m->kw == KW_MIN || m->kw == KW_MAX) ||
            x->it[i + 1].kind != IT_KW ||
            !(x->it[i + 1].kw == KW_CMP || x->it[i + 1].kw == KW_BETWEEN))
            continue;
        struct item col;
        memset(&col, 0, sizeof(col));
        if (match_schema(x, m->tok, &col, 0) == 1 && col.kind == IT_COLUMN &&
            any_in_scope(&col, s)) {
            col.tok = m->tok;
            col.ntok = 1;
            *m = col;
        }
    }
    for (size_t i = 0; i < x->nit && x->nit < MAX_ITEMS; i++) {
        struct item *m = &x->it[i];
        if (m->kind != IT_COLUMN || m->ntok < 2 || s->n == 0 || any_in_scope(m, s))
            continue;
        int kw, arg;
        size_t kl = q_keyword(&x->tk, m->tok, &kw, &arg);
        if (kl == 0 || kl >= m->ntok ||
            !(kw == KW_SUM || kw == KW_AVG || kw == KW_MIN || kw == KW_MAX || kw == KW_COUNT))
            continue;
        struct item rest;
        memset(&rest, 0, sizeof(rest));
        size_t rl = match_schema(x, m->tok + kl, &rest, 0);
        if (rl != m->ntok - kl || rest.kind == 0 ||
            (rest.kind == IT_COLUMN && !any_in_scope(&rest, s)))
            continue;
        rest.tok = m->tok + kl;
        rest.ntok = rl;
        memmove(&x->it[i + 2], &x->it[i + 1], (x->nit - i - 1) * sizeof(x->it[0]));
        x->nit++;
        x->it[i + 1] = rest;
        memset(m, 0, sizeof(*m));
        m->kind = IT_KW;
        m->kw = kw;
        m->arg = arg;
        m->tok = rest.tok - kl;
        m->ntok = kl;
        m->t = m->c = -1;
    }
}

/* Picks the one candidate the scope supports: in scope and fully named,
 * then in scope or fully named, then anything; two at the best level are
 * an ambiguity. Returns 1 resolved, 0 ambiguous. */
static int resolve_column(struct pctx *x, struct item *m, const struct scope *s, int want_flags,
                          int report)
{
    int best = -1, nbest = 0, level = -1;
    for (size_t k = 0; k < m->ncands; k++) {
        const struct cand *c = &m->cands[k];
        if (want_flags && !(cflags(x, c->t, c->c) & want_flags))
            continue;
        int lv = (in_scope(s, c->t) ? 2 : 0) + (c->full ? 1 : 0);
        if (lv == 1 || lv == 2)
            lv = 1;
        else if (lv == 3)
            lv = 2;
        if (lv > level) {
            level = lv;
            best = (int)k;
            nbest = 1;
        } else if (lv == level) {
            nbest++;
        }
    }
    if (best < 0)
        return 0;
    if (nbest > 1 && !report)
        return 0;
    if (nbest > 1) {
        char buf[128], ch[512];
        size_t len = 0;
        int shown = 0;
        ch[0] = '\0';
        for (size_t k = 0; k < m->ncands && len + 64 < sizeof(ch); k++) {
            const struct cand *c = &m->cands[k];
            if (want_flags && !(cflags(x, c->t, c->c) & want_flags))
                continue;
            int lv = (in_scope(s, c->t) ? 2 : 0) + (c->full ? 1 : 0);
            lv = lv == 3 ? 2 : (lv ? 1 : 0);
            if (lv != level)
                continue;
            len += (size_t)snprintf(ch + len, sizeof(ch) - len, "%s%s.%s",
                                    shown++ ? " or " : "", tname(x, c->t), cname(x, c->t, c->c));
        }
        problem(x, "'%s' could be %s", said(x, m, buf, sizeof(buf)), ch);
        return 0;
    }
    m->t = m->cands[best].t;
    m->c = m->cands[best].c;
    return 1;
}

/* ---- value probing ------------------------------------------------------------------ */

static void add_parents(const struct lexicon *lx, struct scope *s, const struct scope *from)
{
    for (size_t i = 0; i < from->n; i++)
        for (size_t e = 0; e < lx->nedges; e++)
            if (lx->edges[e].from_t == from->t[i] && !lx->tables[lx->edges[e].to_t].is_view)
                scope_add(s, lx->edges[e].to_t);
}

/* Looks the phrase up in the PROBE columns of the given tables; returns
 * the number of distinct columns that hold it (first one in *t, *c). */
static int probe_tables(struct pctx *x, const int *tables, size_t nt, const char *phrase,
                        int *t, int *c, char *canon, size_t cap, char *alts, size_t altcap)
{
    int hits = 0;
    size_t alen = strlen(alts);
    int budget = x->o->max_probes > 0 ? x->o->max_probes : 24;
    for (size_t i = 0; i < nt; i++) {
        const struct lex_table *tb = &x->lx->tables[tables[i]];
        for (size_t k = 0; k < tb->ncols; k++) {
            if (!(tb->cols[k].flags & LEX_PROBE))
                continue;
            char got[PLAN_VALUE_MAX];
            int found = 0, known = 0;
            for (size_t v = 0; v < x->lx->nvals; v++) {
                const struct lex_value *lv = &x->lx->vals[v];
                if (lv->table != tables[i] || lv->column != (int)k)
                    continue;
                known = 1;
                if (strcasecmp(lv->value, phrase) == 0) {
                    snprintf(got, sizeof(got), "%s", lv->value);
                    found = 1;
                    break;
                }
            }
            (void)known;
            if (!found && x->o->probe) {
                if (x->p->probes >= budget) {
                    x->probe_rc = 1;
                    return hits;
                }
                x->p->probes++;
                int rc = x->o->probe(x->o->probe_arg, tb->name, tb->cols[k].name, phrase, got,
                                     sizeof(got));
                if (rc < 0) {
                    x->probe_rc = rc;
                    return hits;
                }
                found = rc > 0;
            }
            if (found) {
                if (hits == 0) {
                    *t = tables[i];
                    *c = (int)k;
                    snprintf(canon, cap, "%s", got);
                }
                if (alen + 80 < altcap)
                    alen += (size_t)snprintf(alts + alen, altcap - alen, "%s%s.%s",
                                             hits ? " or " : "", tb->name, tb->cols[k].name);
                hits++;
            }
        }
    }
    return hits;
}

/* The table named right before item i ("customers in Brazil"). */
static int table_before(const struct pctx *x, size_t i)
{
    long k = prev_sig(x, i);
    while (k >= 0 && x->it[k].kind == IT_VALUE)
        k = prev_sig(x, (size_t)k);
    if (k >= 0 && x->it[k].kind == IT_KW && x->it[k].kw == KW_NOT)
        k = prev_sig(x, (size_t)k);
    if (k >= 0 && x->it[k].kind == IT_TABLE)
        return x->it[k].t;
    return -1;
}

/* Probes items [a, b] as one phrase in widening tiers of tables. Returns 1
 * found (items become one IT_VALUE), 0 not found, -1 ambiguous (reported). */
static int probe_span(struct pctx *x, size_t a, size_t b, const struct scope *ment)
{
    char phrase[PLAN_VALUE_MAX];
    const struct q_token *ta = &x->tk.t[x->it[a].tok];
    const struct q_token *tb = &x->tk.t[x->it[b].tok + x->it[b].ntok - 1];
    size_t len = tb->off + tb->len - ta->off;
    if (len == 0 || len >= sizeof(phrase))
        return 0;
    memcpy(phrase, x->tk.src + ta->off, len);
    phrase[len] = '\0';
    /* Widening tiers: the table named right before, the tables named, then
     * the tables they reference one, two and three foreign keys away. */
    struct scope tiers[5];
    memset(tiers, 0, sizeof(tiers));
    int before = table_before(x, a);
    if (before >= 0)
        scope_add(&tiers[0], before);
    tiers[1] = *ment;
    add_parents(x->lx, &tiers[2], ment);
    add_parents(x->lx, &tiers[3], &tiers[2]);
    add_parents(x->lx, &tiers[4], &tiers[3]);
    struct scope seen = {{0}, 0};
    for (int tier = 0; tier < 5; tier++) {
        int list[MAX_SCOPE];
        size_t n = 0;
        for (size_t i = 0; i < tiers[tier].n; i++)
            if (!in_scope(&seen, tiers[tier].t[i])) {
                list[n++] = tiers[tier].t[i];
                scope_add(&seen, tiers[tier].t[i]);
            }
        if (n == 0)
            continue;
        for (int variant = 0; variant < 2; variant++) {
            char v[PLAN_VALUE_MAX];
            snprintf(v, sizeof(v), "%s", phrase);
            if (variant == 1) {
                size_t vl = strlen(v);
                if (vl < 4 || (v[vl - 1] != 's' && v[vl - 1] != 'S'))
                    break;
                v[vl - 1] = '\0';
            }
            int t = -1, c = -1;
            char canon[PLAN_VALUE_MAX], alts[512];
            alts[0] = '\0';
            int hits = probe_tables(x, list, n, v, &t, &c, canon, sizeof(canon), alts,
                                    sizeof(alts));
            if (x->probe_rc)
                return 0;
            if (hits > 1) {
                problem(x, "'%s' could be %s", phrase, alts);
                return -1;
            }
            if (hits == 1) {
                /* A name or title further out holding the same text makes
                 * the value ambiguous ("AC/DC" the composer or the artist). */
                for (int deeper = tier + 1; deeper < 5 && hits == 1; deeper++) {
                    for (size_t i = 0; i < tiers[deeper].n && hits == 1; i++) {
                        int dt = tiers[deeper].t[i];
                        if (in_scope(&seen, dt))
                            continue;
                        scope_add(&seen, dt);
                        const struct lex_table *tb2 = &x->lx->tables[dt];
                        for (int l = 0; l < tb2->nlabel && hits == 1; l++) {
                            int lc = tb2->label[l];
                            if (!(tb2->cols[lc].flags & LEX_PROBE) || !x->o->probe)
                                continue;
                            char got[PLAN_VALUE_MAX];
                            if (x->p->probes >= (x->o->max_probes > 0 ? x->o->max_probes : 24)) {
                                x->probe_rc = 1;
                                return 0;
                            }
                            x->p->probes++;
                            int rc = x->o->probe(x->o->probe_arg, tb2->name, tb2->cols[lc].name,
                                                 v, got, sizeof(got));
                            if (rc < 0) {
                                x->probe_rc = rc;
                                return 0;
                            }
                            if (rc > 0) {
                                problem(x, "'%s' could be %s.%s or %s.%s", phrase, tname(x, t),
                                        cname(x, t, c), tb2->name, tb2->cols[lc].name);
                                return -1;
                            }
                        }
                    }
                }
                struct item *m = &x->it[a];
                m->kind = IT_VALUE;
                m->ntok = x->it[b].tok + x->it[b].ntok - m->tok;
                m->t = t;
                m->c = c;
                snprintf(m->val, sizeof(m->val), "%s", canon);
                for (size_t k = a + 1; k <= b; k++)
                    x->it[k].kind = IT_STOP, x->it[k].used = 1, x->it[k].ntok = 0;
                note(x, "'%s' is a value of %s.%s", phrase, tname(x, t), cname(x, t, c));
                return 1;
            }
        }
    }
    return 0;
}

static int bridge(const struct item *m)
{
    return m->kind == IT_STOP || (m->kind == IT_KW && m->kw == KW_AND);
}

static int probe_values(struct pctx *x)
{
    struct scope ment;
    mentioned(x, &ment);
    if (ment.n == 0)
        return 0;
    /* Weak column words outside the scope may be values ("paid orders"). */
    for (size_t i = 0; i < x->nit; i++) {
        struct item *m = &x->it[i];
        if (m->kind == IT_COLUMN && m->weak) {
            int any = 0;
            for (size_t k = 0; k < m->ncands; k++)
                any |= in_scope(&ment, m->cands[k].t);
            if (!any) {
                struct item save = *m;
                m->kind = IT_UNKNOWN;
                int r = probe_span(x, i, i, &ment);
                if (r <= 0 && m->kind == IT_UNKNOWN)
                    *m = save;
                if (r < 0)
                    return -1;
            }
        }
    }
    for (size_t i = 0; i < x->nit; i++) {
        if (x->it[i].kind != IT_UNKNOWN)
            continue;
        /* The run of unknown words, bridged by filler ("Bosnia and
         * Herzegovina"), longest phrase first. */
        size_t end = i;
        for (size_t k = i + 1; k < x->nit; k++) {
            if (x->it[k].kind == IT_UNKNOWN)
                end = k;
            else if (!bridge(&x->it[k]))
                break;
        }
        for (size_t a = i; a <= end; a++) {
            if (x->it[a].kind != IT_UNKNOWN)
                continue;
            for (size_t b = end + 1; b-- > a;) {
                if (x->it[b].kind != IT_UNKNOWN)
                    continue;
                int r = probe_span(x, a, b, &ment);
                if (x->probe_rc)
                    return 0;
                if (r < 0)
                    return -1;
                if (r > 0)
                    break;
            }
        }
    }
    return 0;
}

/* ---- FK paths ------------------------------------------------------------------------- */

struct bfs {
    int dist[256];
    int count[256];
    int via[256]; /* edge index */
};

static void run_bfs(const struct lexicon *lx, int from, struct bfs *b)
{
    size_t n = lx->ntables < 256 ? lx->ntables : 256;
    int queue[256];
    size_t qh = 0, qt = 0;
    for (size_t i = 0; i < n; i++) {
        b->dist[i] = -1;
        b->count[i] = 0;
        b->via[i] = -1;
    }
    if (from < 0 || (size_t)from >= n)
        return;
    b->dist[from] = 0;
    b->count[from] = 1;
    queue[qt++] = from;
    while (qh < qt) {
        int u = queue[qh++];
        for (size_t e = 0; e < lx->nedges; e++) {
            const struct lex_edge *ed = &lx->edges[e];
            if (ed->from_t == ed->to_t)
                continue; /* a self reference is not a path */
            int v;
            if (ed->from_t == u)
                v = ed->to_t;
            else if (ed->to_t == u)
                v = ed->from_t;
            else
                continue;
            if ((size_t)v >= n || lx->tables[v].is_view)
                continue;
            if (b->dist[v] < 0) {
                b->dist[v] = b->dist[u] + 1;
                b->count[v] = b->count[u];
                b->via[v] = (int)e;
                queue[qt++] = v;
            } else if (b->dist[v] == b->dist[u] + 1) {
                b->count[v] += b->count[u];
                if (b->count[v] > 2)
                    b->count[v] = 2;
            }
        }
    }
}

int plan_fk_path(const struct lexicon *lx, int from, int to, struct plan_join *joins,
                 size_t max, char *why, size_t whylen)
{
    struct bfs b;
    if (why && whylen)
        why[0] = '\0';
    if (lx->ntables > 256 || from < 0 || to < 0 || (size_t)to >= lx->ntables)
        return -1;
    run_bfs(lx, from, &b);
    if (b.dist[to] < 0)
        return -1;
    if (b.count[to] > 1) {
        if (why)
            snprintf(why, whylen, "%s and %s are linked by more than one shortest chain of "
                     "foreign keys", lx->tables[from].name, lx->tables[to].name);
        return -2;
    }
    int n = b.dist[to];
    if ((size_t)n > max)
        return -1;
    int cur = to;
    for (int k = n - 1; k >= 0; k--) {
        const struct lex_edge *ed = &lx->edges[b.via[cur]];
        struct plan_join *j = &joins[k];
        j->fanout = ed->to_t != cur;
        if (ed->to_t == cur) {
            j->to_t = ed->to_t;
            j->to_c = ed->to_c;
            j->from_t = ed->from_t;
            j->from_c = ed->from_c;
        } else {
            j->to_t = ed->from_t;
            j->to_c = ed->from_c;
            j->from_t = ed->to_t;
            j->from_c = ed->to_c;
        }
        cur = j->from_t;
    }
    return n;
}

/* ---- interpretation ----------------------------------------------------------------- */

enum { AUTO = -2 };

struct pending_filter {
    size_t f;     /* index in plan filters */
    int ctx_t;    /* table the phrase was attached to, -1 none */
};

struct interp {
    struct pending_filter pend[PLAN_MAX_FILTERS];
    size_t npend;
    int having_t;       /* "more than 5 orders": count of this table */
    int rank;           /* 1 desc, -1 asc: a top-N / superlative asks for ranking */
    int rank_explicit_n;
    long limit;
    int measure_item;   /* item index of the measured object, -1 */
    int sup_col;        /* superlative over a column: item index, -1 */
    int sup_dir;
    int rank_col;       /* "by <numeric column>" after top-N: item index, -1 */
    int adj;            /* enum q_adj, 0 none */
    size_t adj_item;
    int dir_set;        /* asc/desc said explicitly */
    int dir;
    int order_item;     /* "sorted by <column>": item index, -1 */
    int which;          /* the question asks for rows ("which", "show") */
    int distinct;
};

static int add_filter(struct pctx *x, struct interp *in, int kind, int t, int c, int ctx_t)
{
    struct plan *p = x->p;
    if (p->nfilters >= PLAN_MAX_FILTERS || in->npend >= PLAN_MAX_FILTERS) {
        problem(x, "too many conditions (at most %d)", PLAN_MAX_FILTERS);
        return -1;
    }
    struct plan_filter *f = &p->filters[p->nfilters];
    memset(f, 0, sizeof(*f));
    f->kind = kind;
    f->col.t = t;
    f->col.c = c;
    f->op = CMP_EQ;
    in->pend[in->npend].f = p->nfilters;
    in->pend[in->npend].ctx_t = ctx_t;
    in->npend++;
    return (int)p->nfilters++;
}

static int is_agg_kw(const struct item *m)
{
    return m->kind == IT_KW && (m->kw == KW_COUNT || m->kw == KW_SUM || m->kw == KW_AVG ||
                                m->kw == KW_MIN || m->kw == KW_MAX);
}

static int num_col(const struct pctx *x, const struct item *m)
{
    return m->kind == IT_COLUMN && m->c >= 0 &&
           (cflags(x, m->t, m->c) & (LEX_NUMERIC | LEX_KEY)) == LEX_NUMERIC;
}

static int bool_col(const struct pctx *x, const struct item *m)
{
    return m->kind == IT_COLUMN && m->c >= 0 && (cflags(x, m->t, m->c) & LEX_BOOL);
}

/* A measure phrase at item k ("number of orders", "average unit price",
 * "most orders"): sets the plan's measure. Returns 1 on success. */
static int parse_measure(struct pctx *x, struct interp *in, size_t k)
{
    struct plan *p = x->p;
    struct item *a = &x->it[k];
    char buf[128];
    if (p->agg != AGG_NONE || in->sup_col >= 0) {
        problem(x, "the question asks for more than one measure ('%s')",
                said(x, a, buf, sizeof(buf)));
        return 0;
    }
    a->used = 1;
    size_t o = next_sig(x, k);
    while (o < x->nit && x->it[o].kind == IT_KW && x->it[o].kw == KW_DISTINCT) {
        in->distinct = 1;
        x->it[o].used = 1;
        o = next_sig(x, o);
    }
    /* Adjectives before the noun: "how many cancelled orders". */
    size_t obj = o;
    while (obj < x->nit && (x->it[obj].kind == IT_VALUE || bool_col(x, &x->it[obj]) ||
                            (x->it[obj].kind == IT_KW && x->it[obj].kw == KW_NOT)))
        obj = next_sig(x, obj);
    if ((obj >= x->nit || (x->it[obj].kind != IT_TABLE && x->it[obj].kind != IT_COLUMN)) &&
        a->kw == KW_COUNT) {
        /* "orders in 2025, how many?": the counted table came first. */
        for (long b = (long)k - 1; b >= 0; b--)
            if (x->it[b].kind == IT_TABLE && !x->it[b].used) {
                obj = (size_t)b;
                break;
            }
    }
    if (obj >= x->nit || (x->it[obj].kind != IT_TABLE && x->it[obj].kind != IT_COLUMN)) {
        problem(x, "'%s' is not followed by what to measure", said(x, a, buf, sizeof(buf)));
        return 0;
    }
    struct item *m = &x->it[obj];
    if (m->kind == IT_COLUMN && m->c < 0)
        return 0; /* ambiguity already reported */
    int kw = a->kw;
    if (m->kind == IT_TABLE) {
        if (kw == KW_SUM || kw == KW_AVG) {
            char cols[384];
            size_t len = 0;
            cols[0] = '\0';
            const struct lex_table *tb = &x->lx->tables[m->t];
            for (size_t c = 0; c < tb->ncols && len + 64 < sizeof(cols); c++)
                if ((tb->cols[c].flags & (LEX_NUMERIC | LEX_KEY)) == LEX_NUMERIC)
                    len += (size_t)snprintf(cols + len, sizeof(cols) - len, "%s%s.%s",
                                            len ? ", " : "", tb->name, tb->cols[c].name);
            problem(x, "'%s %s' could mean the number of %s or the %s of a column%s%s",
                    said(x, a, buf, sizeof(buf)), tb->name, tb->name,
                    kw == KW_SUM ? "sum" : "average", len ? " such as " : "", cols);
            return 0;
        }
        m->used = 1;
        p->agg = AGG_COUNT;
        p->measure.t = m->t;
        p->measure.c = -1;
        in->measure_item = (int)obj;
        if (kw == KW_MAX || kw == KW_MIN) {
            in->rank = kw == KW_MAX ? 1 : -1;
            p->order = 1;
        }
        return 1;
    }
    /* a column */
    int f = cflags(x, m->t, m->c);
    if (kw == KW_COUNT) {
        /* "how many active customers" with a non yes/no column: the word
         * describes the rows, it is not what is counted. */
        if (obj + 1 < x->nit && x->it[obj + 1].kind == IT_TABLE) {
            problem(x, "'%s' describes %s, but %s.%s is not a yes/no column I can test",
                    said(x, m, buf, sizeof(buf)), tname(x, x->it[obj + 1].t),
                    tname(x, m->t), cname(x, m->t, m->c));
            return 0;
        }
        m->used = 1;
        p->agg = AGG_COUNT_DISTINCT;
        p->measure.t = m->t;
        p->measure.c = m->c;
        in->measure_item = (int)obj;
        return 1;
    }
    if ((f & (LEX_NUMERIC | LEX_KEY)) != LEX_NUMERIC &&
        !((kw == KW_MIN || kw == KW_MAX) && (f & LEX_DATE))) {
        problem(x, "%s.%s is not a number, so '%s' does not apply to it", tname(x, m->t),
                cname(x, m->t, m->c), said(x, a, buf, sizeof(buf)));
        return 0;
    }
    m->used = 1;
    p->measure.t = m->t;
    p->measure.c = m->c;
    in->measure_item = (int)obj;
    if (kw == KW_MIN || kw == KW_MAX) {
        in->sup_col = (int)obj;
        in->sup_dir = kw == KW_MAX ? 1 : -1;
        return 1;
    }
    p->agg = kw == KW_SUM ? AGG_SUM : AGG_AVG;
    return 1;
}

static int add_group(struct pctx *x, int t, int c, int bucket)
{
    struct plan *p = x->p;
    if (p->ngroups >= PLAN_MAX_GROUPS) {
        problem(x, "too many groupings (at most %d)", PLAN_MAX_GROUPS);
        return 0;
    }
    p->groups[p->ngroups].col.t = t;
    p->groups[p->ngroups].col.c = c;
    p->groups[p->ngroups].bucket = bucket;
    p->ngroups++;
    return 1;
}

static void pass_modifiers(struct pctx *x, struct interp *in)
{
    char buf[128];
    for (size_t i = 0; i < x->nit; i++) {
        struct item *m = &x->it[i];
        if (m->used || m->kind == IT_STOP)
            continue;
        if (m->kind == IT_DATE) {
            m->used = 1;
            long pv = prev_sig(x, i);
            int t = AUTO, c = AUTO, ctx = -1;
            if (pv >= 0 && x->it[pv].kind == IT_COLUMN && x->it[pv].c >= 0 &&
                (cflags(x, x->it[pv].t, x->it[pv].c) & LEX_DATE)) {
                t = x->it[pv].t;
                c = x->it[pv].c;
                x->it[pv].used = 1;
            } else {
                ctx = table_before(x, i);
            }
            int f = add_filter(x, in, F_DATE, t, c, ctx);
            if (f >= 0)
                x->p->filters[f].range = m->range;
            continue;
        }
        if (m->kind != IT_KW && m->kind != IT_NUM)
            continue;
        if (m->kind == IT_KW && (m->kw == KW_CMP || m->kw == KW_BETWEEN)) {
            size_t n1 = next_sig(x, i), n2 = x->nit, last;
            if (n1 >= x->nit || x->it[n1].kind != IT_NUM) {
                problem(x, "'%s' is not followed by a number", said(x, m, buf, sizeof(buf)));
                m->used = 1;
                continue;
            }
            last = n1;
            if (m->kw == KW_BETWEEN) {
                size_t a = next_sig(x, n1);
                n2 = a < x->nit ? next_sig(x, a) : x->nit;
                if (!is_kw(x, a, KW_AND) || n2 >= x->nit || x->it[n2].kind != IT_NUM) {
                    problem(x, "'between' needs two numbers joined by 'and'");
                    m->used = 1;
                    continue;
                }
                x->it[a].used = 1;
                last = n2;
            }
            m->used = x->it[n1].used = 1;
            if (n2 < x->nit)
                x->it[n2].used = 1;
            long pv = prev_sig(x, i);
            size_t nx = next_sig(x, last);
            int t = AUTO, c = AUTO;
            if (pv >= 0 && num_col(x, &x->it[pv]) && !x->it[pv].used) {
                t = x->it[pv].t;
                c = x->it[pv].c;
                x->it[pv].used = 1;
            } else if (nx < x->nit && num_col(x, &x->it[nx])) {
                t = x->it[nx].t;
                c = x->it[nx].c;
                x->it[nx].used = 1;
            } else if (nx < x->nit && x->it[nx].kind == IT_TABLE && m->kw == KW_CMP) {
                if (x->p->having) {
                    problem(x, "more than one condition on a count");
                    continue;
                }
                x->p->having = 1;
                x->p->having_op = m->arg;
                x->p->having_num = x->it[n1].num;
                in->having_t = x->it[nx].t;
                x->it[nx].used = 1;
                continue;
            }
            if (m->kw == KW_BETWEEN) {
                int f1 = add_filter(x, in, F_NUM, t, c, -1);
                int f2 = f1 >= 0 ? add_filter(x, in, F_NUM, t, c, -1) : -1;
                if (f2 >= 0) {
                    x->p->filters[f1].op = CMP_GE;
                    x->p->filters[f1].num = x->it[n1].num;
                    x->p->filters[f1].num_int = x->it[n1].num_int;
                    x->p->filters[f2].op = CMP_LE;
                    x->p->filters[f2].num = x->it[n2].num;
                    x->p->filters[f2].num_int = x->it[n2].num_int;
                }
            } else {
                int f = add_filter(x, in, F_NUM, t, c, -1);
                if (f >= 0) {
                    x->p->filters[f].op = m->arg;
                    x->p->filters[f].num = x->it[n1].num;
                    x->p->filters[f].num_int = x->it[n1].num_int;
                }
            }
            continue;
        }
        if (m->kind == IT_NUM) {
            size_t n1 = next_sig(x, i);
            if (n1 < x->nit && x->it[n1].kind == IT_KW && x->it[n1].kw == KW_CMP_POST) {
                m->used = x->it[n1].used = 1;
                size_t nx = next_sig(x, n1);
                long pv = prev_sig(x, i);
                if (nx < x->nit && x->it[nx].kind == IT_TABLE && !x->p->having) {
                    x->p->having = 1;
                    x->p->having_op = x->it[n1].arg;
                    x->p->having_num = m->num;
                    in->having_t = x->it[nx].t;
                    x->it[nx].used = 1;
                    continue;
                }
                int t = AUTO, c = AUTO;
                if (nx < x->nit && num_col(x, &x->it[nx])) {
                    t = x->it[nx].t;
                    c = x->it[nx].c;
                    x->it[nx].used = 1;
                } else if (pv >= 0 && num_col(x, &x->it[pv]) && !x->it[pv].used) {
                    t = x->it[pv].t;
                    c = x->it[pv].c;
                    x->it[pv].used = 1;
                }
                int f = add_filter(x, in, F_NUM, t, c, -1);
                if (f >= 0) {
                    x->p->filters[f].op = x->it[n1].arg;
                    x->p->filters[f].num = m->num;
                    x->p->filters[f].num_int = m->num_int;
                }
                continue;
            }
            /* "5 most expensive", "10 largest orders", "3 latest" */
            if (n1 < x->nit && x->it[n1].kind == IT_KW &&
                (x->it[n1].kw == KW_MAX || x->it[n1].kw == KW_MIN || x->it[n1].kw == KW_ADJ) &&
                m->num_int && m->num >= 1) {
                m->used = 1;
                in->limit = (long)m->num;
                in->rank_explicit_n = 1;
            }
            continue;
        }
        switch (m->kw) {
        case KW_TOP:
        case KW_BOTTOM: {
            m->used = 1;
            in->rank = m->kw == KW_TOP ? 1 : -1;
            size_t n1 = next_sig(x, i);
            if (n1 < x->nit && x->it[n1].kind == IT_NUM && x->it[n1].num_int &&
                x->it[n1].num >= 1) {
                x->it[n1].used = 1;
                in->limit = (long)x->it[n1].num;
                in->rank_explicit_n = 1;
            }
            break;
        }
        case KW_NOT: {
            m->used = 1;
            size_t n1 = next_sig(x, i);
            if (n1 < x->nit && x->it[n1].kind == IT_VALUE)
                x->it[n1].negated = 1;
            else if (n1 < x->nit && bool_col(x, &x->it[n1]))
                x->it[n1].negated = 1;
            else
                problem(x, "'%s' is not followed by a value I can exclude",
                        said(x, m, buf, sizeof(buf)));
            break;
        }
        case KW_ADJ:
            if (in->adj) {
                problem(x, "two superlatives ('%s')", said(x, m, buf, sizeof(buf)));
                break;
            }
            m->used = 1;
            in->adj = m->arg;
            in->adj_item = i;
            break;
        case KW_ASC:
        case KW_DESC:
            m->used = 1;
            in->dir_set = 1;
            in->dir = m->kw == KW_DESC ? 1 : -1;
            break;
        case KW_ORDER: {
            m->used = 1;
            size_t n1 = next_sig(x, i);
            if (n1 < x->nit && x->it[n1].kind == IT_COLUMN && x->it[n1].c >= 0) {
                x->it[n1].used = 1;
                in->order_item = (int)n1;
            } else if (n1 < x->nit && is_agg_kw(&x->it[n1])) {
                if (parse_measure(x, in, n1))
                    x->p->order = 1;
            } else {
                problem(x, "'%s' is not followed by a column", said(x, m, buf, sizeof(buf)));
            }
            break;
        }
        case KW_WHICH:
        case KW_LIST:
            m->used = 1;
            in->which = 1;
            break;
        default:
            break;
        }
    }
}

static void pass_groups(struct pctx *x, struct interp *in)
{
    char buf[128];
    for (size_t i = 0; i < x->nit; i++) {
        struct item *m = &x->it[i];
        if (m->used || m->kind != IT_KW)
            continue;
        if (m->kw == KW_BUCKET) {
            m->used = 1;
            add_group(x, AUTO, AUTO, m->arg);
            continue;
        }
        if (m->kw != KW_GROUP)
            continue;
        m->used = 1;
        size_t k = next_sig(x, i);
        if (k < x->nit && is_agg_kw(&x->it[k])) {
            /* "top 5 customers by number of orders": ranked by a measure. */
            if (parse_measure(x, in, k)) {
                x->p->order = 1;
                if (!in->rank)
                    in->rank = x->it[k].kw == KW_MIN ? -1 : 1;
            }
            continue;
        }
        if (k < x->nit && x->it[k].kind == IT_VALUE)
            continue; /* "payments by card": the value is the condition */
        if (k < x->nit && num_col(x, &x->it[k]) && (in->rank || in->adj)) {
            x->it[k].used = 1;
            in->rank_col = (int)k;
            continue;
        }
        int any = 0;
        while (k < x->nit) {
            struct item *g = &x->it[k];
            if (g->kind == IT_TABLE && !g->used) {
                g->used = 1;
                any |= add_group(x, g->t, -1, 0);
            } else if (g->kind == IT_COLUMN && g->c >= 0 && !g->used) {
                g->used = 1;
                /* A date column groups by day unless a period follows
                 * ("signup year"). */
                int bucket = (cflags(x, g->t, g->c) & LEX_DATE) ? U_DAY : 0;
                size_t u = next_sig(x, k);
                if (bucket && u < x->nit && x->it[u].kind == IT_KW && x->it[u].kw == KW_UNIT) {
                    bucket = x->it[u].arg;
                    x->it[u].used = 1;
                    k = u;
                }
                any |= add_group(x, g->t, g->c, bucket);
            } else if (g->kind == IT_KW && g->kw == KW_UNIT && !g->used) {
                g->used = 1;
                any |= add_group(x, AUTO, AUTO, g->arg);
            } else {
                break;
            }
            size_t a = next_sig(x, k);
            if (!is_kw(x, a, KW_AND))
                break;
            size_t b = next_sig(x, a);
            if (b >= x->nit || !(x->it[b].kind == IT_TABLE || x->it[b].kind == IT_COLUMN ||
                                 (x->it[b].kind == IT_KW && x->it[b].kw == KW_UNIT)))
                break;
            x->it[a].used = 1;
            k = b;
        }
        if (!any)
            problem(x, "'%s' is not followed by something to group by",
                    said(x, m, buf, sizeof(buf)));
    }
}

static int plural(const struct pctx *x, const struct item *m)
{
    const struct q_token *t = &x->tk.t[m->tok + m->ntok - 1];
    size_t n = strlen(t->low);
    return n > 3 && t->low[n - 1] == 's' && strlen(t->stem) < n && t->low[n - 2] != 's';
}

/* The one column of table t with all of flags and none of `without`, whose
 * words include one of `words` (NULL: any). Returns -1 none, -2 several. */
static int unique_col_match(const struct lex_column *col, int flags, int without,
                            const char *const *words)
{
    if ((col->flags & flags) != flags || (col->flags & without))
        return 0;
    int ok = words == NULL;
    for (const char *const *w = words; w && *w && !ok; w++)
        for (size_t k = 0; k < col->words.n; k++)
            if (strcmp(col->words.w[k], *w) == 0)
                ok = 1;
    return ok;
}

static int unique_col(const struct pctx *x, int t, int flags, int without,
                      const char *const *words)
{
    const struct lex_table *tb = &x->lx->tables[t];
    int hit = -1, n = 0;
    for (size_t c = 0; c < tb->ncols; c++) {
        const struct lex_column *col = &tb->cols[c];
        if ((col->flags & flags) != flags || (col->flags & without))
            continue;
        int ok = words == NULL;
        for (const char *const *w = words; w && *w && !ok; w++)
            for (size_t k = 0; k < col->words.n; k++)
                if (strcmp(col->words.w[k], *w) == 0)
                    ok = 1;
        if (!ok)
            continue;
        if (hit != (int)c)
            n++;
        hit = (int)c;
    }
    return n == 0 ? -1 : (n > 1 ? -2 : hit);
}

static void list_cols(const struct pctx *x, int t, int flags, int without, char *out,
                      size_t cap)
{
    const struct lex_table *tb = &x->lx->tables[t];
    size_t len = 0;
    out[0] = '\0';
    for (size_t c = 0; c < tb->ncols && len + 64 < cap; c++)
        if ((tb->cols[c].flags & flags) == flags && !(tb->cols[c].flags & without))
            len += (size_t)snprintf(out + len, cap - len, "%s%s.%s", len ? " or " : "",
                                    tb->name, tb->cols[c].name);
}

/* The date column of table t a date phrase refers to. */
static int date_col(struct pctx *x, int t, const char *why)
{
    int c = unique_col(x, t, LEX_DATE, LEX_TECH, NULL);
    if (c == -1) {
        problem(x, "%s has no date column for %s", tname(x, t), why);
    } else if (c == -2) {
        char ch[384];
        list_cols(x, t, LEX_DATE, LEX_TECH, ch, sizeof(ch));
        problem(x, "%s could use %s", why, ch);
    }
    return c;
}

static const char *const w_price[] = {"pric", NULL};
static const char *const w_money2[] = {"cost", "rat", "amount", "total", "fee", NULL};
static const char *const w_length[] = {"length", "duration", "millisecond", "second", "minut",
                                       "runtim", NULL};

static int adj_col(struct pctx *x, int t, int adj)
{
    int c;
    switch (adj) {
    case ADJ_PRICE_HI:
    case ADJ_PRICE_LO:
        c = unique_col(x, t, LEX_NUMERIC, LEX_KEY, w_price);
        if (c == -1)
            c = unique_col(x, t, LEX_NUMERIC, LEX_KEY, w_money2);
        if (c < 0)
            problem(x, "'%s' needs a price column in %s", adj == ADJ_PRICE_HI ?
                    "most expensive" : "cheapest", tname(x, t));
        return c;
    case ADJ_LONG:
    case ADJ_SHORT:
        c = unique_col(x, t, LEX_NUMERIC, LEX_KEY, w_length);
        if (c == -1)
            problem(x, "'%s' needs a length or duration column in %s",
                    adj == ADJ_LONG ? "longest" : "shortest", tname(x, t));
        if (c == -2) {
            char ch[384];
            size_t len = 0;
            const struct lex_table *tb = &x->lx->tables[t];
            ch[0] = '\0';
            for (size_t k = 0; k < tb->ncols && len + 64 < sizeof(ch); k++)
                if (unique_col_match(&tb->cols[k], LEX_NUMERIC, LEX_KEY, w_length))
                    len += (size_t)snprintf(ch + len, sizeof(ch) - len, "%s%s.%s",
                                            len ? " or " : "", tb->name, tb->cols[k].name);
            problem(x, "'%s' could rank by %s", adj == ADJ_LONG ? "longest" : "shortest", ch);
        }
        return c;
    default:
        return date_col(x, t, adj == ADJ_NEW ? "'latest'" : "'oldest'");
    }
}

static int adj_desc(int adj)
{
    return adj == ADJ_PRICE_HI || adj == ADJ_LONG || adj == ADJ_NEW;
}

/* Resolves every AUTO filter and group against the entity. */
static void resolve_autos(struct pctx *x, struct interp *in)
{
    struct plan *p = x->p;
    for (size_t k = 0; k < in->npend; k++) {
        struct plan_filter *f = &p->filters[in->pend[k].f];
        if (f->col.t != AUTO)
            continue;
        int t = in->pend[k].ctx_t >= 0 ? in->pend[k].ctx_t : p->entity;
        if (f->kind == F_DATE) {
            f->col.t = t;
            f->col.c = date_col(x, t, "the date condition");
        } else {
            int c = unique_col(x, t, LEX_MONEY, LEX_KEY | LEX_TECH, NULL);
            if (c < 0) {
                char ch[384];
                list_cols(x, t, LEX_NUMERIC, LEX_KEY, ch, sizeof(ch));
                problem(x, "a number without a column: which column of %s%s%s?", tname(x, t),
                        ch[0] ? ", e.g. " : "", ch);
            }
            f->col.t = t;
            f->col.c = c;
        }
    }
    for (size_t g = 0; g < p->ngroups; g++)
        if (p->groups[g].col.t == AUTO) {
            p->groups[g].col.t = p->entity;
            p->groups[g].col.c = date_col(x, p->entity, "grouping by period");
        }
}

static int join_needed(struct pctx *x, int t)
{
    struct plan *p = x->p;
    if (t < 0 || t == p->entity)
        return 0;
    for (size_t j = 0; j < p->njoins; j++)
        if (p->joins[j].to_t == t)
            return 0;
    struct plan_join path[PLAN_MAX_JOINS];
    char why[256];
    int n = plan_fk_path(x->lx, p->entity, t, path, PLAN_MAX_JOINS, why, sizeof(why));
    if (n == -2) {
        problem(x, "%s", why);
        return -1;
    }
    if (n < 0) {
        problem(x, "no chain of foreign keys links %s to %s", tname(x, p->entity), tname(x, t));
        return -1;
    }
    for (int k = 0; k < n; k++) {
        int dup = 0;
        for (size_t j = 0; j < p->njoins; j++)
            if (p->joins[j].to_t == path[k].to_t)
                dup = 1;
        if (dup)
            continue;
        if (path[k].to_t == p->entity) {
            problem(x, "the join path from %s to %s loops back", tname(x, p->entity),
                    tname(x, t));
            return -1;
        }
        if (p->njoins >= PLAN_MAX_JOINS) {
            problem(x, "the question needs more than %d joins", PLAN_MAX_JOINS);
            return -1;
        }
        p->joins[p->njoins++] = path[k];
    }
    return 0;
}

static void interpret(struct pctx *x)
{
    struct plan *p = x->p;
    struct interp in;
    char buf[128];
    memset(&in, 0, sizeof(in));
    in.measure_item = in.sup_col = in.rank_col = in.order_item = -1;
    in.having_t = -1;
    p->entity = -1;
    p->measure.t = p->measure.c = -1;

    pass_modifiers(x, &in);
    pass_groups(x, &in);
    for (size_t i = 0; i < x->nit; i++)
        if (!x->it[i].used && is_agg_kw(&x->it[i]))
            parse_measure(x, &in, i);

    /* What is left: subjects, projections, value filters, unknown words. */
    int subject = -1;
    size_t subject_item = 0;
    long noun_item = -1; /* the word that says one or many rows are wanted */
    int ncols = 0;
    size_t colitems[PLAN_MAX_COLS];
    /* Values first, so that the column or table naming them is consumed
     * before it could be read as a projection or a subject. */
    for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < x->nit; i++) {
        struct item *m = &x->it[i];
        if (m->used || m->kind == IT_STOP || (pass == 0) != (m->kind == IT_VALUE))
            continue;
        switch (m->kind) {
        case IT_VALUE: {
            m->used = 1;
            int ctx = table_before(x, i);
            /* merge "Brazil or Argentina" into one IN list */
            int merged = 0;
            for (size_t f = 0; f < p->nfilters && !merged; f++) {
                struct plan_filter *pf = &p->filters[f];
                if (pf->kind == F_TEXT && pf->col.t == m->t && pf->col.c == m->c &&
                    (pf->op == CMP_NE) == (m->negated != 0) && pf->nvals < PLAN_MAX_VALUES) {
                    snprintf(pf->vals[pf->nvals++], PLAN_VALUE_MAX, "%s", m->val);
                    merged = 1;
                }
            }
            if (!merged) {
                int f = add_filter(x, &in, F_TEXT, m->t, m->c, ctx);
                if (f >= 0) {
                    p->filters[f].op = m->negated ? CMP_NE : CMP_EQ;
                    snprintf(p->filters[f].vals[0], PLAN_VALUE_MAX, "%s", m->val);
                    p->filters[f].nvals = 1;
                }
            }
            /* "the enterprise segment", "status cancelled": the column name
             * only says where the value lives. */
            size_t nx = next_sig(x, i);
            long pc = prev_sig(x, i);
            if (nx < x->nit && x->it[nx].kind == IT_COLUMN && x->it[nx].t == m->t &&
                x->it[nx].c == m->c)
                x->it[nx].used = 1;
            if (pc >= 0 && x->it[pc].kind == IT_COLUMN && x->it[pc].t == m->t &&
                x->it[pc].c == m->c)
                x->it[pc].used = 1;
            /* "customers in Brazil": the table only located the value. */
            long pv = prev_sig(x, i);
            while (pv >= 0 && (x->it[pv].kind == IT_VALUE ||
                               (x->it[pv].kind == IT_KW && x->it[pv].kw == KW_NOT)))
                pv = prev_sig(x, (size_t)pv);
            if (pv >= 0 && x->it[pv].kind == IT_TABLE && x->it[pv].t == m->t)
                x->it[pv].locator = 1;
            /* "tracks in the Rock genre": the same after the value. */
            if (nx < x->nit && x->it[nx].kind == IT_TABLE && x->it[nx].t == m->t)
                x->it[nx].locator = 1;
            break;
        }
        case IT_COLUMN:
            if (m->c < 0)
                break; /* ambiguity already reported */
            if (bool_col(x, m)) {
                m->used = 1;
                int f = add_filter(x, &in, F_BOOL, m->t, m->c, -1);
                if (f >= 0)
                    p->filters[f].op = m->negated ? CMP_NE : CMP_EQ;
                break;
            }
            if ((cflags(x, m->t, m->c) & LEX_AGGWORD) && p->agg == AGG_NONE &&
                in.sup_col < 0 && !in.which && m->t != subject) {
                m->used = 1;
                p->agg = AGG_SUM;
                p->measure.t = m->t;
                p->measure.c = m->c;
                in.measure_item = (int)i;
                break;
            }
            if (ncols < PLAN_MAX_COLS) {
                m->used = 1;
                colitems[ncols++] = i;
            } else {
                problem(x, "too many columns asked for");
            }
            break;
        case IT_TABLE:
            if (m->locator) {
                /* The subject only if nothing else can be. */
                int other = p->agg != AGG_NONE || subject >= 0;
                for (size_t k = 0; k < x->nit && !other; k++)
                    other = k != i && x->it[k].kind == IT_TABLE && !x->it[k].used &&
                            !x->it[k].locator;
                if (other) {
                    m->used = 1;
                    break;
                }
            }
            if (subject < 0) {
                subject = m->t;
                subject_item = i;
                m->used = 1;
            } else if (m->t == subject || m->t == p->measure.t) {
                m->used = 1;
            }
            break;
        default:
            break;
        }
    }
    /* A table left over after "customers in Brazil" made it a locator. */
    for (size_t i = 0; i < x->nit; i++) {
        struct item *m = &x->it[i];
        if (m->used || m->kind == IT_STOP)
            continue;
        if (m->kind == IT_TABLE) {
            int located = 0;
            for (size_t f = 0; f < p->nfilters; f++)
                if (p->filters[f].col.t == m->t)
                    located = 1;
            for (size_t k = 0; k < in.npend; k++)
                if (in.pend[k].ctx_t == m->t)
                    located = 1;
            if (located || m->t == p->measure.t || m->t == subject) {
                m->used = 1;
                continue;
            }
            problem(x, "I don't know how '%s' relates to the rest of the question",
                    said(x, m, buf, sizeof(buf)));
        } else if (m->kind == IT_UNKNOWN) {
            problem(x, "I don't know what '%s' means here", said(x, m, buf, sizeof(buf)));
        } else if (m->kind == IT_NUM) {
            problem(x, "I don't know what the number '%s' refers to",
                    said(x, m, buf, sizeof(buf)));
        } else if (m->kind == IT_COLUMN) {
            if (m->c >= 0)
                problem(x, "I don't know how '%s' is used here", said(x, m, buf, sizeof(buf)));
        } else if (m->kind == IT_KW) {
            if (m->kw == KW_AND || m->kw == KW_OR || m->kw == KW_DISTINCT)
                continue;
            problem(x, "I don't know how '%s' applies here", said(x, m, buf, sizeof(buf)));
        }
    }
    if (x->nproblems)
        return;

    /* ---- assemble ---- */
    int row_rank = 0;
    if (in.sup_col >= 0) {
        struct item *sc = &x->it[in.sup_col];
        if (subject >= 0 && subject == sc->t && (subject_item < (size_t)in.sup_col ||
                                                 in.rank_explicit_n)) {
            row_rank = 1;
            p->order = 2;
            p->order_col.t = sc->t;
            p->order_col.c = sc->c;
            p->desc = in.sup_dir > 0;
            if (!in.rank)
                in.rank = in.sup_dir;
            p->measure.t = p->measure.c = -1;
        } else if (subject >= 0 && subject != sc->t) {
            problem(x, "'%s' per %s could be a maximum, minimum or total; say which",
                    said(x, sc, buf, sizeof(buf)), tname(x, subject));
            return;
        } else {
            p->agg = in.sup_dir > 0 ? AGG_MAX : AGG_MIN;
        }
    }
    if (p->having) {
        if (p->agg != AGG_NONE || subject < 0 || subject == in.having_t) {
            problem(x, "a condition on a count needs one kind of row to count and another to "
                       "list");
            return;
        }
        p->agg = AGG_COUNT;
        p->measure.t = in.having_t;
        p->measure.c = -1;
    }
    if (in.adj) {
        int t = subject >= 0 ? subject : p->measure.t;
        if (t < 0 || p->agg != AGG_NONE) {
            problem(x, "I can't tell what '%s' ranks", said(x, &x->it[in.adj_item], buf,
                                                           sizeof(buf)));
            return;
        }
        int c = adj_col(x, t, in.adj);
        if (c < 0)
            return;
        row_rank = 1;
        p->order = 2;
        p->order_col.t = t;
        p->order_col.c = c;
        p->desc = adj_desc(in.adj);
        if (!in.rank)
            in.rank = p->desc ? 1 : -1;
    }
    if (in.rank_col >= 0) {
        struct item *rc = &x->it[in.rank_col];
        if (p->agg != AGG_NONE) {
            problem(x, "ranked by both a measure and '%s'", said(x, rc, buf, sizeof(buf)));
            return;
        }
        if (subject >= 0 && rc->t == subject) {
            row_rank = 1;
            p->order = 2;
            p->order_col.t = rc->t;
            p->order_col.c = rc->c;
        } else if (subject >= 0 && (cflags(x, rc->t, rc->c) & LEX_AGGWORD)) {
            p->agg = AGG_SUM;
            p->measure.t = rc->t;
            p->measure.c = rc->c;
            p->order = 1;
        } else {
            problem(x, "ranking %s by '%s' could mean its total, average or maximum; say which",
                    subject >= 0 ? tname(x, subject) : "rows", said(x, rc, buf, sizeof(buf)));
            return;
        }
    }
    if (in.order_item >= 0) {
        struct item *oi = &x->it[in.order_item];
        if (p->order) {
            problem(x, "two orderings asked for");
            return;
        }
        p->order = 2;
        p->order_col.t = oi->t;
        p->order_col.c = oi->c;
        p->desc = 0;
    }
    if (in.dir_set)
        p->desc = in.dir > 0;
    else if (p->order == 1 || (p->order == 2 && in.rank))
        p->desc = in.rank >= 0;
    if (in.rank && p->order == 1 && !in.dir_set)
        p->desc = in.rank > 0;

    /* entity and shape */
    if (p->agg != AGG_NONE) {
        p->entity = p->measure.t;
        if (subject >= 0 && subject != p->entity) {
            if (!(in.rank || p->order == 1 || p->having || in.which)) {
                problem(x, "I don't know how '%s' relates to the measure",
                        said(x, &x->it[subject_item], buf, sizeof(buf)));
                return;
            }
            if (!add_group(x, subject, -1, 0))
                return;
            if (in.rank && p->order == 0)
                p->order = 1;
        }
        p->shape = p->ngroups ? SHAPE_GROUPED : SHAPE_SCALAR;
    } else if (p->ngroups > 0) {
        if (subject < 0) {
            problem(x, "grouping without anything to count or measure");
            return;
        }
        p->entity = subject;
        p->agg = AGG_COUNT;
        p->measure.t = subject;
        p->measure.c = -1;
        p->shape = SHAPE_GROUPED;
    } else {
        if (subject < 0 && ncols > 0) {
            /* Columns alone name their table only when the user said it
             * ("product names"); "what is the amount" names none. */
            for (int k = 0; k < ncols && subject < 0; k++)
                if (x->it[colitems[k]].qualified)
                    subject = x->it[colitems[k]].t;
            if (subject < 0) {
                problem(x, "which table's '%s'? Name the table too",
                        said(x, &x->it[colitems[0]], buf, sizeof(buf)));
                return;
            }
        }
        if (subject < 0) {
            problem(x, "no table or measure recognised");
            return;
        }
        p->entity = subject;
        p->shape = SHAPE_ROWS;
        for (int k = 0; k < ncols; k++) {
            p->cols[k].t = x->it[colitems[k]].t;
            p->cols[k].c = x->it[colitems[k]].c;
        }
        p->ncols = (size_t)ncols;
        ncols = 0;
        (void)row_rank;
    }
    /* "which country has the most customers", "top 3 cities by number of
     * customers": a leftover non-numeric column is what the measure is
     * compared across. */
    if (ncols > 0 && p->agg != AGG_NONE && (in.rank || in.which || p->order == 1)) {
        int k = 0;
        for (; k < ncols; k++) {
            const struct item *ci = &x->it[colitems[k]];
            if (cflags(x, ci->t, ci->c) & (LEX_NUMERIC | LEX_KEY))
                break;
        }
        if (k == ncols) {
            if (subject < 0)
                noun_item = (long)colitems[0];
            for (k = 0; k < ncols; k++) {
                const struct item *ci = &x->it[colitems[k]];
                if (!add_group(x, ci->t, ci->c,
                               (cflags(x, ci->t, ci->c) & LEX_DATE) ? U_DAY : 0))
                    return;
            }
            if (p->shape == SHAPE_SCALAR)
                p->shape = SHAPE_GROUPED;
            if (in.rank && p->order == 0)
                p->order = 1;
            if (p->order == 1 && !in.dir_set)
                p->desc = in.rank >= 0;
            ncols = 0;
        }
    }
    if (p->agg != AGG_NONE && p->ngroups == 0 && p->order == 1) {
        problem(x, "'most'/'fewest' %s compared across what? Add 'per <something>'",
                tname(x, p->entity));
        return;
    }
    if (ncols > 0) {
        problem(x, "I don't know how '%s' is used with this measure",
                said(x, &x->it[colitems[0]], buf, sizeof(buf)));
        return;
    }
    if (p->shape == SHAPE_GROUPED && p->order == 2) {
        problem(x, "ordering grouped results by a column is not supported");
        return;
    }
    if (p->shape == SHAPE_SCALAR && p->order) {
        problem(x, "a single number cannot be ranked; add 'per <something>'");
        return;
    }
    /* limit */
    if (in.limit > 0)
        p->limit = in.limit;
    else if (in.rank && p->order) {
        const struct item *s = subject >= 0 ? &x->it[subject_item]
                               : (noun_item >= 0 ? &x->it[noun_item] : NULL);
        p->limit = s && !plural(x, s) ? 1 : 10;
    }
    if (in.dir_set && !p->order) {
        problem(x, "ascending or descending, but sorted by what? Add 'sorted by <column>'");
        return;
    }
    if (p->limit > 0 && !p->order) {
        problem(x, "a number of rows was asked for but not how to rank them");
        return;
    }
    if (p->limit > 1000)
        p->limit = 1000;
    resolve_autos(x, &in);
    if (x->nproblems)
        return;
    /* joins */
    for (size_t g = 0; g < p->ngroups; g++)
        if (join_needed(x, p->groups[g].col.t) < 0)
            return;
    for (size_t f = 0; f < p->nfilters; f++)
        if (join_needed(x, p->filters[f].col.t) < 0)
            return;
    for (size_t c = 0; c < p->ncols; c++)
        if (join_needed(x, p->cols[c].t) < 0)
            return;
    if (p->order == 2 && join_needed(x, p->order_col.t) < 0)
        return;
    for (size_t j = 0; j < p->njoins; j++)
        p->fanout |= p->joins[j].fanout;
    if (p->fanout) {
        if (p->agg == AGG_SUM || p->agg == AGG_AVG) {
            problem(x, "summing %s over its joined rows would count some rows more than once",
                    tname(x, p->entity));
            return;
        }
        if (p->agg == AGG_COUNT && x->lx->tables[p->entity].pk < 0) {
            problem(x, "%s has no single-column key to count distinct rows by",
                    tname(x, p->entity));
            return;
        }
        if (p->shape == SHAPE_ROWS && p->ncols == 0 && x->lx->tables[p->entity].pk < 0) {
            problem(x, "%s has no key to list distinct rows by", tname(x, p->entity));
            return;
        }
    }
    for (size_t g = 0; g < p->ngroups; g++)
        if (p->groups[g].col.c < 0 && x->lx->tables[p->groups[g].col.t].pk < 0) {
            problem(x, "%s has no single-column key to group by", tname(x, p->groups[g].col.t));
            return;
        }
}

int plan_question(const struct lexicon *lx, const char *q, size_t n, const struct plan_opts *o,
                  struct plan *out)
{
    memset(out, 0, sizeof(*out));
    struct pctx *x = calloc(1, sizeof(*x));
    if (!x)
        return DC_ENOMEM;
    x->lx = lx;
    x->o = o;
    x->p = out;
    int rc = DC_OK;
    if (lx->ntables > 256) {
        problem(x, "the schema has more than 256 tables; the compiler handles up to 256");
    } else if (q_tokenize(q, n, &x->tk) != 0) {
        problem(x, "the question is too long for the compiler (at most %d bytes and %d words)",
                Q_MAX_BYTES, Q_MAX_TOKENS);
    } else if (x->tk.n == 0) {
        problem(x, "the question has no words");
    } else {
        build_items(x);
        struct scope s;
        split_agg_prefix(x);
        mentioned(x, &s);
        for (size_t i = 0; i < x->nit; i++)
            if (x->it[i].kind == IT_COLUMN && !x->it[i].weak && x->it[i].c < 0)
                resolve_column(x, &x->it[i], &s, 0, 0);
        if (probe_values(x) == 0 && x->probe_rc == 0) {
            mentioned(x, &s);
            for (size_t i = 0; i < x->nit; i++)
                if (x->it[i].kind == IT_COLUMN && x->it[i].c < 0)
                    resolve_column(x, &x->it[i], &s, 0, 1);
            if (!x->nproblems)
                interpret(x);
        }
        if (x->probe_rc < 0)
            rc = x->probe_rc;
        else if (x->probe_rc > 0)
            problem(x, "checking the question's values took more than %d lookups",
                    o->max_probes > 0 ? o->max_probes : 24);
    }
    if (x->nproblems) {
        out->unsure = 1;
        snprintf(out->why, sizeof(out->why), "%s", x->problems);
    }
    free(x);
    return rc;
}
