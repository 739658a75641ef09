/*
 * datephrase - calendar arithmetic and the date phrases of analyst English
 * ("in 2025", "last month", "Q2 2024", "since March", "past 30 days",
 * "yesterday", "between 2024-01-01 and 2024-03-31"), resolved against a
 * reference day. Compiled into the compiler and metric stages (a static
 * source, not a library), so both read a phrase the same way. It is pure
 * and bounded: it never allocates, never reads the clock (the caller
 * passes today) and never builds SQL. The q_ names are the compiler's,
 * kept so its planner and tests did not change when this moved here.
 */
#ifndef DC_COMMON_DATEPHRASE_H
#define DC_COMMON_DATEPHRASE_H

#include <stddef.h>

enum q_unit { U_DAY = 1, U_WEEK, U_MONTH, U_QUARTER, U_YEAR };

/* One word of a question as the phrase parser needs it: lowercase text and,
 * when the word is a number, its value. */
struct dph_word {
    const char *low;
    int is_num;
    int num_int; /* a whole number */
    double num;
};

/* A day as a count of days since 1970-01-01 (proleptic Gregorian). */
long q_days(int y, int m, int d);
void q_civil(long days, int *y, int *m, int *d);
/* Parses "YYYY-MM-DD" (a real calendar day); returns 0 or -1. */
int q_parse_day(const char *s, long *days);
void q_format_day(long days, char out[11]);

/* A half-open day range [from, to); has_from / has_to say which ends exist. */
struct q_range {
    int has_from, has_to;
    long from, to;
};

/* "five" -> 5 for one..twenty; -1 otherwise. */
int q_small_number(const char *low);
/* day/days ... year/years -> enum q_unit; 0 otherwise. */
int dph_unit_word(const char *low);

/* The date phrase starting at word i of w[0..n), relative to today: returns
 * the words consumed (0 if none starts there) and fills r. */
size_t dph_date_expr(const struct dph_word *w, size_t n, size_t i, long today, struct q_range *r);

#endif
