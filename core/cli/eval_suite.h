/*
 * eval_suite - the gold-question suite files `datachat eval` runs
 * (docs/EVAL.md): header lines (`today:`, `database:`), then one question
 * per line as question<TAB>expect[<TAB>flags]. It owns the parsed model and
 * the file:line:col diagnostics of a bad file. It never runs a question,
 * never touches a database and never prints.
 */
#ifndef DC_EVAL_SUITE_H
#define DC_EVAL_SUITE_H

#include <stddef.h>

/* What a question expects. */
enum eval_expect {
    EVAL_GOLD = 1, /* a result set equal to the gold SQL's */
    EVAL_UNSURE,   /* no answer at all: abstaining is right, any result is wrong */
    EVAL_REFUSE,   /* a refusal, optionally with this code */
    EVAL_CLARIFY,  /* a clarifying question */
    EVAL_INTENT,   /* the intent stage labels it so */
    EVAL_CATALOG   /* a catalog answer of this operation (and table) */
};

struct eval_item {
    int line;
    char *question;
    char *expect;    /* the expect column as written, for reports */
    int kind;        /* enum eval_expect */
    char *arg;       /* gold SQL, refusal code (or NULL), intent label, catalog op */
    char *table;     /* EVAL_CATALOG: the table the answer must name, or NULL */
    int ordered;     /* flag "ordered": rows compared in order */
    int metric;      /* flag "metric": a metric DataPoint question (reported apart) */
    long rows;       /* flag "rows=N": the answer has exactly N rows; -1 when absent */
};

struct eval_suite {
    char *path;
    char *name;      /* the file name without directories: the baseline key */
    char *today;     /* header `today:`, YYYY-MM-DD, or NULL */
    char *database;  /* header `database:`, or NULL */
    struct eval_item *items;
    size_t n;
    size_t cap;
};

/* Parses len bytes of text read from path (used in messages only). On bad
 * input returns DC_EINVAL with "path:line:col: E-EVAL-...: what; hint" in
 * err, and *out stays NULL. */
int eval_suite_parse(const char *path, const char *text, size_t len, struct eval_suite **out,
                     char *err, size_t errlen);
/* Reads and parses a suite file (at most 16 MiB). */
int eval_suite_load(const char *path, struct eval_suite **out, char *err, size_t errlen);
void eval_suite_free(struct eval_suite *s);

/* 1 when s is a real calendar date written YYYY-MM-DD. */
int eval_valid_day(const char *s);

#endif
