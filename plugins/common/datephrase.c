#include "datephrase.h"

#include <stdio.h>
#include <string.h>

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

static int year_of(const struct dph_word *t)
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

int dph_unit_word(const char *low)
{
    static const char *const names[] = {"day", "week", "month", "quarter", "year"};
    for (int u = 0; u < 5; u++) {
        size_t n = strlen(names[u]);
        if (strncmp(low, names[u], n) == 0 && (low[n] == '\0' || (low[n] == 's' && !low[n + 1])))
            return u + 1;
    }
    return 0;
}

static int is_unit(const struct dph_word *tk, size_t ntk, size_t i, int *unit)
{
    if (i >= ntk || (*unit = dph_unit_word(tk[i].low)) == 0)
        return 0;
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
static size_t period_at(const struct dph_word *tk, size_t ntk, size_t i, long today, long *from,
                        long *to)
{
    if (i >= ntk)
        return 0;
    const struct dph_word *t = &tk[i];
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
        if (i + 1 < ntk && (yy = year_of(&tk[i + 1])) != 0) {
            used = 2;
        } else if (i + 2 < ntk && strcmp(tk[i + 1].low, "of") == 0 &&
                   (yy = year_of(&tk[i + 2])) != 0) {
            used = 3;
        } else {
            /* Without a year: the most recent one that has started. */
            if (m == 5 && strcmp(t->low, "may") == 0 && i > 0 &&
                strcmp(tk[i - 1].low, "in") != 0 && strcmp(tk[i - 1].low, "since") != 0)
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

size_t dph_date_expr(const struct dph_word *tk, size_t ntk, size_t i, long today,
                     struct q_range *r)
{
    memset(r, 0, sizeof(*r));
    if (i >= ntk)
        return 0;
    size_t k = i;
    const char *w = tk[k].low;
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
        (k + 2 < ntk && strcmp(w, "year") == 0 && strcmp(tk[k + 1].low, "to") == 0 &&
         strcmp(tk[k + 2].low, "date") == 0)) {
        period_of(today, U_YEAR, &from, &to);
        r->has_from = r->has_to = 1;
        r->from = from;
        r->to = today + 1;
        return strcmp(w, "ytd") == 0 ? 1 : 3;
    }
    if (strcmp(w, "since") == 0 || strcmp(w, "after") == 0 || strcmp(w, "before") == 0 ||
        strcmp(w, "until") == 0) {
        n = period_at(tk, ntk, k + 1, today, &from, &to);
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
        size_t a = period_at(tk, ntk, k + 1, today, &from, &to);
        if (!a || k + 1 + a >= ntk)
            return 0;
        const char *mid = tk[k + 1 + a].low;
        if (!(w[0] == 'b' ? strcmp(mid, "and") == 0
                          : (strcmp(mid, "to") == 0 || strcmp(mid, "until") == 0 ||
                             strcmp(mid, "through") == 0)))
            return 0;
        size_t b = period_at(tk, ntk, k + 2 + a, today, &f2, &t2);
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
    if (k < ntk && strcmp(tk[k].low, "the") == 0)
        k++;
    if (k >= ntk)
        return 0;
    w = tk[k].low;
    int lead = k > i;
    if (strcmp(w, "this") == 0 || strcmp(w, "current") == 0) {
        if (!is_unit(tk, ntk, k + 1, &unit))
            return 0;
        period_of(today, unit, &from, &to);
        r->has_from = r->has_to = 1;
        r->from = from;
        r->to = to;
        return k + 2 - i;
    }
    if (strcmp(w, "last") == 0 || strcmp(w, "previous") == 0 || strcmp(w, "past") == 0) {
        const struct dph_word *nt = k + 1 < ntk ? &tk[k + 1] : NULL;
        long cnt = -1;
        if (nt && nt->is_num && nt->num_int && nt->num >= 1 && nt->num <= 10000)
            cnt = (long)nt->num;
        else if (nt && q_small_number(nt->low) > 0)
            cnt = q_small_number(nt->low);
        if (cnt > 0 && is_unit(tk, ntk, k + 2, &unit)) {
            /* Rolling: the last N units up to and including today. */
            r->has_from = r->has_to = 1;
            r->from = unit == U_DAY ? today - cnt + 1 : shift(today, unit, -cnt) + 1;
            r->to = today + 1;
            return k + 3 - i;
        }
        if (is_unit(tk, ntk, k + 1, &unit)) {
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
    n = period_at(tk, ntk, k, today, &from, &to);
    if (!n)
        return 0;
    if (!lead && n == 1 && q_parse_day(w, &from) != 0)
        return 0;
    if (!lead && n == 1)
        period_at(tk, ntk, k, today, &from, &to);
    r->has_from = r->has_to = 1;
    r->from = from;
    r->to = to;
    return k + n - i;
}
