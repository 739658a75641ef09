#include "question.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lexicon.h"

/* ---- tokens ------------------------------------------------------------ */

static int word_byte(unsigned char c)
{
    return isalnum(c) || c == '_' || c >= 0x80;
}

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
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)q[i];
        if (!word_byte(c)) {
            i++;
            continue;
        }
        size_t s = i;
        for (;;) {
            while (i < n && word_byte((unsigned char)q[i]))
                i++;
            /* Joiners between word characters: "isn't", "PG-13",
             * "2024-03-01", "1,000", "12.5". */
            if (i + 1 < n && word_byte((unsigned char)q[i + 1]) &&
                (q[i] == '\'' || q[i] == '-' ||
                 ((q[i] == '.' || q[i] == ',') && isdigit((unsigned char)q[i - 1]) &&
                  isdigit((unsigned char)q[i + 1])))) {
                i++;
                continue;
            }
            break;
        }
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

int q_small_number(const char *low)
{
    static const char *const names[] = {"zero",     "one",     "two",       "three",
                                        "four",     "five",    "six",       "seven",
                                        "eight",    "nine",    "ten",       "eleven",
                                        "twelve",   "thirteen", "fourteen", "fifteen",
                                        "sixteen",  "seventeen", "eighteen", "nineteen",
                                        "twenty"};
    for (size_t i = 1; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(low, names[i]) == 0)
            return (int)i;
    return -1;
}

/* ---- calendar --------------------------------------------------------------- */

long q_days(int y, int m, int d)
{
    /* Howard Hinnant's days_from_civil. */
    long yy = (long)y - (m <= 2);
    long era = (yy >= 0 ? yy : yy - 399) / 400;
    long yoe = yy - era * 400;
    long mp = (m + 9) % 12;
    long doy = (153 * mp + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void q_civil(long z, int *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

int q_parse_day(const char *s, long *days)
{
    int y, m, d;
    char tail;
    if (!s || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return -1;
    if (s[4] != '-' || s[7] != '-' || y < 1 || m < 1 || m > 12 || d < 1 ||
        d > days_in_month(y, m))
        return -1;
    *days = q_days(y, m, d);
    return 0;
}

void q_format_day(long days, char out[11])
{
    int y, m, d;
    q_civil(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        y = y < 0 ? 0 : 9999;
        m = y ? 12 : 1;
        d = y ? 31 : 1;
    }
    unsigned uy = (unsigned)y % 10000u, um = (unsigned)m % 13u, ud = (unsigned)d % 32u;
    out[0] = (char)('0' + uy / 1000);
    out[1] = (char)('0' + uy / 100 % 10);
    out[2] = (char)('0' + uy / 10 % 10);
    out[3] = (char)('0' + uy % 10);
    out[4] = '-';
    out[5] = (char)('0' + um / 10);
    out[6] = (char)('0' + um % 10);
    out[7] = '-';
    out[8] = (char)('0' + ud / 10);
    out[9] = (char)('0' + ud % 10);
    out[10] = '\0';
}

static long add_months(long day, int delta)
{
    int y, m, d;
    q_civil(day, &y, &m, &d);
    long mi = (long)y * 12 + (m - 1) + delta;
    y = (int)(mi / 12);
    m = (int)(mi % 12) + 1;
    if (d > days_in_month(y, m))
        d = days_in_month(y, m);
    return q_days(y, m, d);
}

static int month_name(const char *low)
{
    static const char *const full[] = {"january", "february", "march",     "april",
                                       "may",     "june",     "july",      "august",
                                       "september", "october", "november", "december"};
    static const char *const abbr[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};
    for (int i = 0; i < 12; i++)
        if (strcmp(low, full[i]) == 0 || strcmp(low, abbr[i]) == 0 ||
            (i == 8 && strcmp(low, "sept") == 0))
            return i + 1;
    return 0;
}

static int year_of(const struct q_token *t)
{
    if (!t->is_num || !t->num_int || t->num < 1900 || t->num > 2200 || strlen(t->low) != 4)
        return 0;
    return (int)t->num;
}

static int quarter_of(const char *low)
{
    if (strlen(low) == 2 && low[0] == 'q' && low[1] >= '1' && low[1] <= '4')
        return low[1] - '0';
    return 0;
}

static int is_unit(const struct q_tokens *tk, size_t i, int *unit)
{
    int kw, arg;
    if (i >= tk->n || q_keyword(tk, i, &kw, &arg) != 1 || kw != KW_UNIT)
        return 0;
    *unit = arg;
    return 1;
}

/* The calendar period [from, to) of unit containing day. */
static void period_of(long day, int unit, long *from, long *to)
{
    int y, m, d;
    q_civil(day, &y, &m, &d);
    switch (unit) {
    case U_DAY:
        *from = day;
        *to = day + 1;
        break;
    case U_WEEK: {
        /* ISO weeks start on Monday; 1970-01-01 was a Thursday. */
        long wd = ((day % 7) + 7 + 3) % 7;
        *from = day - wd;
        *to = *from + 7;
        break;
    }
    case U_MONTH:
        *from = q_days(y, m, 1);
        *to = add_months(*from, 1);
        break;
    case U_QUARTER:
        *from = q_days(y, ((m - 1) / 3) * 3 + 1, 1);
        *to = add_months(*from, 3);
        break;
    default:
        *from = q_days(y, 1, 1);
        *to = q_days(y + 1, 1, 1);
        break;
    }
}

static long shift(long day, int unit, long n)
{
    switch (unit) {
    case U_DAY: return day + n;
    case U_WEEK: return day + 7 * n;
    case U_MONTH: return add_months(day, (int)n);
    case U_QUARTER: return add_months(day, (int)(3 * n));
    default: return add_months(day, (int)(12 * n));
    }
}

/* A point-like period: a year, a month with or without year, a quarter, an
 * ISO day. Returns tokens consumed. */
static size_t period_at(const struct q_tokens *tk, size_t i, long today, long *from,
                        long *to)
{
    if (i >= tk->n)
        return 0;
    const struct q_token *t = &tk->t[i];
    long day;
    if (q_parse_day(t->low, &day) == 0) {
        *from = day;
        *to = day + 1;
        return 1;
    }
    int y = year_of(t);
    if (y) {
        *from = q_days(y, 1, 1);
        *to = q_days(y + 1, 1, 1);
        return 1;
    }
    int ty, tm, td;
    q_civil(today, &ty, &tm, &td);
    int m = month_name(t->low);
    int q = quarter_of(t->low);
    if (m || q) {
        int first = m ? m : (q - 1) * 3 + 1, len = m ? 1 : 3;
        size_t used = 1;
        int yy = 0;
        if (i + 1 < tk->n && (yy = year_of(&tk->t[i + 1])) != 0) {
            used = 2;
        } else if (i + 2 < tk->n && strcmp(tk->t[i + 1].low, "of") == 0 &&
                   (yy = year_of(&tk->t[i + 2])) != 0) {
            used = 3;
        } else {
            /* Without a year: the most recent one that has started. */
            if (m == 5 && strcmp(t->low, "may") == 0 && i > 0 &&
                strcmp(tk->t[i - 1].low, "in") != 0 && strcmp(tk->t[i - 1].low, "since") != 0)
                return 0; /* "may" is also a verb */
            yy = ty;
            if (q_days(yy, first, 1) > today)
                yy--;
        }
        *from = q_days(yy, first, 1);
        *to = add_months(*from, len);
        return used;
    }
    return 0;
}

size_t q_date_expr(const struct q_tokens *tk, size_t i, long today, struct q_range *r)
{
    memset(r, 0, sizeof(*r));
    if (i >= tk->n)
        return 0;
    size_t k = i;
    const char *w = tk->t[k].low;
    long from, to;
    size_t n;
    int unit;
    if (strcmp(w, "today") == 0 || strcmp(w, "yesterday") == 0) {
        long d = strcmp(w, "today") == 0 ? today : today - 1;
        r->has_from = r->has_to = 1;
        r->from = d;
        r->to = d + 1;
        return 1;
    }
    if (strcmp(w, "ytd") == 0 ||
        (k + 2 < tk->n && strcmp(w, "year") == 0 && strcmp(tk->t[k + 1].low, "to") == 0 &&
         strcmp(tk->t[k + 2].low, "date") == 0)) {
        period_of(today, U_YEAR, &from, &to);
        r->has_from = r->has_to = 1;
        r->from = from;
        r->to = today + 1;
        return strcmp(w, "ytd") == 0 ? 1 : 3;
    }
    if (strcmp(w, "since") == 0 || strcmp(w, "after") == 0 || strcmp(w, "before") == 0 ||
        strcmp(w, "until") == 0) {
        n = period_at(tk, k + 1, today, &from, &to);
        if (!n)
            return 0;
        if (w[0] == 's') {
            r->has_from = 1;
            r->from = from;
        } else if (w[0] == 'a') {
            r->has_from = 1;
            r->from = to;
        } else if (w[0] == 'b') {
            r->has_to = 1;
            r->to = from;
        } else {
            r->has_to = 1;
            r->to = to;
        }
        return 1 + n;
    }
    if (strcmp(w, "between") == 0 || strcmp(w, "from") == 0) {
        long f2, t2;
        size_t a = period_at(tk, k + 1, today, &from, &to);
        if (!a || k + 1 + a >= tk->n)
            return 0;
        const char *mid = tk->t[k + 1 + a].low;
        if (!(w[0] == 'b' ? strcmp(mid, "and") == 0
                          : (strcmp(mid, "to") == 0 || strcmp(mid, "until") == 0 ||
                             strcmp(mid, "through") == 0)))
            return 0;
        size_t b = period_at(tk, k + 2 + a, today, &f2, &t2);
        if (!b || t2 <= from)
            return 0;
        r->has_from = r->has_to = 1;
        r->from = from;
        r->to = t2;
        return 2 + a + b;
    }
    /* Optional lead-in: "in", "during", "for", "within", "of", "on",
     * then an optional "the". */
    /* Never "over": "orders over 2000" compares an amount. */
    if (strcmp(w, "in") == 0 || strcmp(w, "during") == 0 || strcmp(w, "for") == 0 ||
        strcmp(w, "within") == 0 || strcmp(w, "of") == 0 || strcmp(w, "on") == 0)
        k++;
    if (k < tk->n && strcmp(tk->t[k].low, "the") == 0)
        k++;
    if (k >= tk->n)
        return 0;
    w = tk->t[k].low;
    int lead = k > i;
    if (strcmp(w, "this") == 0 || strcmp(w, "current") == 0) {
        if (!is_unit(tk, k + 1, &unit))
            return 0;
        period_of(today, unit, &from, &to);
        r->has_from = r->has_to = 1;
        r->from = from;
        r->to = to;
        return k + 2 - i;
    }
    if (strcmp(w, "last") == 0 || strcmp(w, "previous") == 0 || strcmp(w, "past") == 0) {
        const struct q_token *nt = k + 1 < tk->n ? &tk->t[k + 1] : NULL;
        long cnt = -1;
        if (nt && nt->is_num && nt->num_int && nt->num >= 1 && nt->num <= 10000)
            cnt = (long)nt->num;
        else if (nt && q_small_number(nt->low) > 0)
            cnt = q_small_number(nt->low);
        if (cnt > 0 && is_unit(tk, k + 2, &unit)) {
            /* Rolling: the last N units up to and including today. */
            r->has_from = r->has_to = 1;
            r->from = unit == U_DAY ? today - cnt + 1 : shift(today, unit, -cnt) + 1;
            r->to = today + 1;
            return k + 3 - i;
        }
        if (is_unit(tk, k + 1, &unit)) {
            if (strcmp(w, "past") == 0) {
                r->has_from = r->has_to = 1;
                r->from = unit == U_DAY ? today : shift(today, unit, -1) + 1;
                r->to = today + 1;
            } else {
                period_of(shift(today, unit, -1), unit, &from, &to);
                if (unit == U_WEEK)
                    period_of(today - 7, U_WEEK, &from, &to);
                r->has_from = r->has_to = 1;
                r->from = from;
                r->to = to;
            }
            return k + 2 - i;
        }
        return 0;
    }
    /* A period needs a lead-in unless it is unmistakable (an ISO day, a
     * quarter or a month followed by a year). */
    n = period_at(tk, k, today, &from, &to);
    if (!n)
        return 0;
    if (!lead && n == 1 && q_parse_day(w, &from) != 0)
        return 0;
    if (!lead && n == 1)
        period_at(tk, k, today, &from, &to);
    r->has_from = r->has_to = 1;
    r->from = from;
    r->to = to;
    return k + n - i;
}
