#include "question.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lexicon.h"
#include "qword.h"

/* ---- tokens ------------------------------------------------------------ */

static void set_number(struct q_token *t)
{
    const char *s = t->low;
    size_t n = strlen(s), dots = 0, digits = 0;
    for (size_t i = 0; i < n; i++) {
        if (isdigit((unsigned char)s[i]))
            digits++;
        else if (s[i] == '.')
            dots++;
        else if (s[i] != ',')
            return;
    }
    if (digits == 0 || dots > 1 || s[n - 1] == '.' || s[0] == '.')
        return;
    char clean[Q_WORD_MAX];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < sizeof(clean); i++)
        if (s[i] != ',')
            clean[k++] = s[i];
    clean[k] = '\0';
    t->is_num = 1;
    t->num = strtod(clean, NULL);
    t->num_int = dots == 0 && k <= 15;
}

static int prefix_ci(const char *s, const char *pre)
{
    for (; *pre; s++, pre++)
        if (tolower((unsigned char)*s) != *pre)
            return 0;
    return 1;
}

static int push(struct q_tokens *out, const char *q, size_t s, size_t e)
{
    if (out->n >= Q_MAX_TOKENS)
        return -1;
    struct q_token *t = &out->t[out->n];
    memset(t, 0, sizeof(*t));
    t->off = s;
    t->len = e - s;
    size_t k = 0;
    for (size_t i = s; i < e && k + 1 < Q_WORD_MAX; i++) {
        unsigned char c = (unsigned char)q[i];
        if (c == '\'')
            continue;
        t->low[k++] = (char)tolower(c);
    }
    t->low[k] = '\0';
    if (k == 0)
        return 0;
    set_number(t);
    lex_stem(t->low, k, t->stem, sizeof(t->stem));
    out->n++;
    return 0;
}

int q_tokenize(const char *q, size_t n, struct q_tokens *out)
{
    out->src = q;
    out->n = 0;
    if (n > Q_MAX_BYTES)
        return -1;
    size_t pos = 0, s, i;
    /* Digits join across '.' and ',': "12.5", "1,000". */
    while (qword_next(q, n, &pos, ".,", &s, &i)) {
        /* "non-cancelled" is a negation and a word. */
        if (i - s > 4 && prefix_ci(q + s, "non-")) {
            if (push(out, q, s, s + 3) != 0)
                return -1;
            s += 4;
        }
        /* A possessive "'s" adds nothing. */
        size_t e = i;
        if (e - s > 2 && q[e - 2] == '\'' && (q[e - 1] == 's' || q[e - 1] == 'S'))
            e -= 2;
        if (push(out, q, s, e) != 0)
            return -1;
    }
    return 0;
}

/* ---- vocabulary ----------------------------------------------------------- */

struct phrase {
    const char *words;
    int kw, arg;
};

/* Generic analyst English only: nothing here names a table, a column or a
 * business term of any schema. */
static const struct phrase phrases[] = {
    {"how many", KW_COUNT, 0},
    {"how much", KW_SUM, 0},
    {"number of", KW_COUNT, 0},
    {"total number of", KW_COUNT, 0},
    {"the number of", KW_COUNT, 0},
    {"count of", KW_COUNT, 0},
    {"count", KW_COUNT, 0},
    {"counts", KW_COUNT, 0},
    {"total", KW_SUM, 0},
    {"sum of", KW_SUM, 0},
    {"sum", KW_SUM, 0},
    {"average", KW_AVG, 0},
    {"avg", KW_AVG, 0},
    {"mean", KW_AVG, 0},
    {"minimum", KW_MIN, 0},
    {"min", KW_MIN, 0},
    {"lowest", KW_MIN, 0},
    {"smallest", KW_MIN, 0},
    {"least", KW_MIN, 0},
    {"fewest", KW_MIN, 0},
    {"maximum", KW_MAX, 0},
    {"max", KW_MAX, 0},
    {"highest", KW_MAX, 0},
    {"largest", KW_MAX, 0},
    {"biggest", KW_MAX, 0},
    {"greatest", KW_MAX, 0},
    {"most", KW_MAX, 0},
    {"most expensive", KW_ADJ, ADJ_PRICE_HI},
    {"priciest", KW_ADJ, ADJ_PRICE_HI},
    {"cheapest", KW_ADJ, ADJ_PRICE_LO},
    {"least expensive", KW_ADJ, ADJ_PRICE_LO},
    {"longest", KW_ADJ, ADJ_LONG},
    {"shortest", KW_ADJ, ADJ_SHORT},
    {"most recent", KW_ADJ, ADJ_NEW},
    {"latest", KW_ADJ, ADJ_NEW},
    {"newest", KW_ADJ, ADJ_NEW},
    {"oldest", KW_ADJ, ADJ_OLD},
    {"earliest", KW_ADJ, ADJ_OLD},
    {"distinct", KW_DISTINCT, 0},
    {"unique", KW_DISTINCT, 0},
    {"different", KW_DISTINCT, 0},
    {"by", KW_GROUP, 0},
    {"per", KW_GROUP, 0},
    {"for each", KW_GROUP, 0},
    {"for every", KW_GROUP, 0},
    {"in each", KW_GROUP, 0},
    {"each", KW_GROUP, 0},
    {"broken down by", KW_GROUP, 0},
    {"break down by", KW_GROUP, 0},
    {"breakdown by", KW_GROUP, 0},
    {"grouped by", KW_GROUP, 0},
    {"group by", KW_GROUP, 0},
    {"split by", KW_GROUP, 0},
    {"top", KW_TOP, 0},
    {"bottom", KW_BOTTOM, 0},
    {"sorted by", KW_ORDER, 0},
    {"sort by", KW_ORDER, 0},
    {"ordered by", KW_ORDER, 0},
    {"order by", KW_ORDER, 0},
    {"ranked by", KW_ORDER, 0},
    {"ascending", KW_ASC, 0},
    {"in ascending order", KW_ASC, 0},
    {"asc", KW_ASC, 0},
    {"descending", KW_DESC, 0},
    {"in descending order", KW_DESC, 0},
    {"desc", KW_DESC, 0},
    {"more than", KW_CMP, CMP_GT},
    {"greater than", KW_CMP, CMP_GT},
    {"higher than", KW_CMP, CMP_GT},
    {"larger than", KW_CMP, CMP_GT},
    {"bigger than", KW_CMP, CMP_GT},
    {"over", KW_CMP, CMP_GT},
    {"above", KW_CMP, CMP_GT},
    {"exceeding", KW_CMP, CMP_GT},
    {"at least", KW_CMP, CMP_GE},
    {"no less than", KW_CMP, CMP_GE},
    {"less than", KW_CMP, CMP_LT},
    {"fewer than", KW_CMP, CMP_LT},
    {"lower than", KW_CMP, CMP_LT},
    {"smaller than", KW_CMP, CMP_LT},
    {"under", KW_CMP, CMP_LT},
    {"below", KW_CMP, CMP_LT},
    {"at most", KW_CMP, CMP_LE},
    {"no more than", KW_CMP, CMP_LE},
    {"up to", KW_CMP, CMP_LE},
    {"equal to", KW_CMP, CMP_EQ},
    {"equals", KW_CMP, CMP_EQ},
    {"exactly", KW_CMP, CMP_EQ},
    {"or more", KW_CMP_POST, CMP_GE},
    {"or higher", KW_CMP_POST, CMP_GE},
    {"or less", KW_CMP_POST, CMP_LE},
    {"or fewer", KW_CMP_POST, CMP_LE},
    {"or lower", KW_CMP_POST, CMP_LE},
    {"between", KW_BETWEEN, 0},
    {"and", KW_AND, 0},
    {"or", KW_OR, 0},
    {"not", KW_NOT, 0},
    {"non", KW_NOT, 0},
    {"isnt", KW_NOT, 0},
    {"arent", KW_NOT, 0},
    {"wasnt", KW_NOT, 0},
    {"werent", KW_NOT, 0},
    {"excluding", KW_NOT, 0},
    {"except", KW_NOT, 0},
    {"other than", KW_NOT, 0},
    {"daily", KW_BUCKET, U_DAY},
    {"weekly", KW_BUCKET, U_WEEK},
    {"monthly", KW_BUCKET, U_MONTH},
    {"quarterly", KW_BUCKET, U_QUARTER},
    {"yearly", KW_BUCKET, U_YEAR},
    {"annually", KW_BUCKET, U_YEAR},
    {"annual", KW_BUCKET, U_YEAR},
    {"day", KW_UNIT, U_DAY},
    {"days", KW_UNIT, U_DAY},
    {"week", KW_UNIT, U_WEEK},
    {"weeks", KW_UNIT, U_WEEK},
    {"month", KW_UNIT, U_MONTH},
    {"months", KW_UNIT, U_MONTH},
    {"quarter", KW_UNIT, U_QUARTER},
    {"quarters", KW_UNIT, U_QUARTER},
    {"year", KW_UNIT, U_YEAR},
    {"years", KW_UNIT, U_YEAR},
    {"which", KW_WHICH, 0},
    {"who", KW_WHICH, 0},
    {"whose", KW_WHICH, 0},
    {"show", KW_LIST, 0},
    {"list", KW_LIST, 0},
    {"find", KW_LIST, 0},
    {"display", KW_LIST, 0},
    {"give", KW_LIST, 0},
    {"get", KW_LIST, 0},
    {"fetch", KW_LIST, 0},
    {"return", KW_LIST, 0},
    {"all", KW_LIST, 0},
    /* filler */
    {"what", KW_STOP, 0},
    {"whats", KW_STOP, 0},
    {"what is", KW_STOP, 0},
    {"what are", KW_STOP, 0},
    {"tell me", KW_STOP, 0},
    {"me", KW_STOP, 0},
    {"i", KW_STOP, 0},
    {"we", KW_STOP, 0},
    {"us", KW_STOP, 0},
    {"our", KW_STOP, 0},
    {"my", KW_STOP, 0},
    {"you", KW_STOP, 0},
    {"please", KW_STOP, 0},
    {"can", KW_STOP, 0},
    {"could", KW_STOP, 0},
    {"would", KW_STOP, 0},
    {"want", KW_STOP, 0},
    {"need", KW_STOP, 0},
    {"see", KW_STOP, 0},
    {"know", KW_STOP, 0},
    {"a", KW_STOP, 0},
    {"an", KW_STOP, 0},
    {"the", KW_STOP, 0},
    {"of", KW_STOP, 0},
    {"in", KW_STOP, 0},
    {"on", KW_STOP, 0},
    {"at", KW_STOP, 0},
    {"for", KW_STOP, 0},
    {"from", KW_STOP, 0},
    {"to", KW_STOP, 0},
    {"with", KW_STOP, 0},
    {"having", KW_STOP, 0},
    {"that", KW_STOP, 0},
    {"where", KW_STOP, 0},
    {"whom", KW_STOP, 0},
    {"is", KW_STOP, 0},
    {"are", KW_STOP, 0},
    {"was", KW_STOP, 0},
    {"were", KW_STOP, 0},
    {"be", KW_STOP, 0},
    {"been", KW_STOP, 0},
    {"do", KW_STOP, 0},
    {"does", KW_STOP, 0},
    {"did", KW_STOP, 0},
    {"have", KW_STOP, 0},
    {"has", KW_STOP, 0},
    {"had", KW_STOP, 0},
    {"there", KW_STOP, 0},
    {"their", KW_STOP, 0},
    {"its", KW_STOP, 0},
    {"it", KW_STOP, 0},
    {"they", KW_STOP, 0},
    {"them", KW_STOP, 0},
    {"those", KW_STOP, 0},
    {"these", KW_STOP, 0},
    {"as", KW_STOP, 0},
    {"overall", KW_STOP, 0},
    {"altogether", KW_STOP, 0},
    {"in total", KW_STOP, 0},
    {"so far", KW_STOP, 0},
    {"ever", KW_STOP, 0},
    {"currently", KW_STOP, 0},
    {"value", KW_STOP, 0},
    {"values", KW_STOP, 0},
    {"rows", KW_STOP, 0},
    {"records", KW_STOP, 0},
    {"entries", KW_STOP, 0},
    {"placed", KW_STOP, 0},
    {"made", KW_STOP, 0},
    {"happened", KW_STOP, 0},
    {"recorded", KW_STOP, 0},
    {"exist", KW_STOP, 0},
    {"we have", KW_STOP, 0},
    {"there are", KW_STOP, 0},
    {"there were", KW_STOP, 0},
    {"via", KW_STOP, 0},
    {"through", KW_STOP, 0},
    {"dollars", KW_STOP, 0},
    {"usd", KW_STOP, 0},
};

size_t q_keyword(const struct q_tokens *tk, size_t i, int *kw, int *arg)
{
    size_t best = 0;
    *kw = KW_NONE;
    *arg = 0;
    for (size_t p = 0; p < sizeof(phrases) / sizeof(phrases[0]); p++) {
        const char *w = phrases[p].words;
        size_t k = i, used = 0;
        while (*w && k < tk->n) {
            const char *sp = strchr(w, ' ');
            size_t wl = sp ? (size_t)(sp - w) : strlen(w);
            if (strlen(tk->t[k].low) != wl || memcmp(tk->t[k].low, w, wl) != 0)
                break;
            k++;
            used++;
            w += wl;
            if (*w == ' ')
                w++;
        }
        if (*w == '\0' && used > best) {
            best = used;
            *kw = phrases[p].kw;
            *arg = phrases[p].arg;
        }
    }
    return best;
}

size_t q_date_expr(const struct q_tokens *tk, size_t i, long today, struct q_range *r)
{
    struct dph_word w[Q_MAX_TOKENS];
    for (size_t k = 0; k < tk->n; k++) {
        w[k].low = tk->t[k].low;
        w[k].is_num = tk->t[k].is_num;
        w[k].num_int = tk->t[k].num_int;
        w[k].num = tk->t[k].num;
    }
    return dph_date_expr(w, tk->n, i, today, r);
}
