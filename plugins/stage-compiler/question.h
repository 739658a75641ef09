/*
 * question - the words of one analyst question, for the compiler.
 * It owns tokenisation (words with their byte span in the original text,
 * lowercase and stemmed forms, numbers such as "1,000" or "$12.50", ISO
 * dates), the small generic vocabulary of analyst phrasing (aggregates,
 * grouping, comparisons, negation, ordering, filler words) and applies
 * the date phrases (plugins/common/datephrase.c) over those words. It is
 * pure and bounded: no host, no I/O, no schema knowledge, and it never
 * builds SQL.
 */
#ifndef DC_COMPILER_QUESTION_H
#define DC_COMPILER_QUESTION_H

#include <stddef.h>

#include "datephrase.h"

#define Q_MAX_TOKENS 96
#define Q_WORD_MAX 48
#define Q_MAX_BYTES 2048

struct q_token {
    size_t off, len;      /* span in the original question */
    char low[Q_WORD_MAX]; /* lowercase, apostrophes dropped */
    char stem[Q_WORD_MAX];
    int is_num;
    double num;
    int num_int; /* the number is a whole number */
};

struct q_tokens {
    const char *src;
    size_t n;
    struct q_token t[Q_MAX_TOKENS];
};

/* Splits q[0..n). Returns 0, or -1 when the question is longer than
 * Q_MAX_BYTES or has more than Q_MAX_TOKENS words (the caller says so). */
int q_tokenize(const char *q, size_t n, struct q_tokens *out);

enum q_kw {
    KW_NONE = 0,
    KW_STOP,      /* filler: "the", "show me", "what is" */
    KW_COUNT,     /* how many, number of, count */
    KW_SUM,       /* total, sum of */
    KW_AVG,       /* average, mean, avg */
    KW_MIN,       /* minimum, lowest, least, fewest, smallest */
    KW_MAX,       /* maximum, highest, most, largest, biggest */
    KW_DISTINCT,  /* distinct, unique, different */
    KW_GROUP,     /* by, per, for each, broken down by */
    KW_TOP,       /* top */
    KW_BOTTOM,    /* bottom */
    KW_ORDER,     /* sorted by, ordered by */
    KW_ASC,
    KW_DESC,
    KW_CMP,       /* comparison; arg = enum q_cmp */
    KW_CMP_POST,  /* "or more", "or less" after the number; arg = enum q_cmp */
    KW_BETWEEN,
    KW_AND,
    KW_OR,
    KW_NOT,
    KW_ADJ,       /* a superlative adjective; arg = enum q_adj */
    KW_BUCKET,    /* daily, monthly, ... ; arg = enum q_unit */
    KW_UNIT,      /* day, week, month, quarter, year; arg = enum q_unit */
    KW_WHICH,     /* which, who: the question asks for rows */
    KW_LIST       /* show, list, find: the question asks for rows */
};

enum q_cmp { CMP_EQ = 1, CMP_NE, CMP_GT, CMP_GE, CMP_LT, CMP_LE };
/* Superlative adjectives name a kind of column, never a schema name. */
enum q_adj { ADJ_PRICE_HI = 1, ADJ_PRICE_LO, ADJ_LONG, ADJ_SHORT, ADJ_NEW, ADJ_OLD };

/* The keyword phrase starting at token i: returns its length in tokens
 * (0 if none) and sets *kw and *arg. */
size_t q_keyword(const struct q_tokens *tk, size_t i, int *kw, int *arg);

/* A date expression starting at token i ("in 2025", "last month", "Q2
 * 2024", "since March", "past 30 days", "yesterday", "between 2024-01-01
 * and 2024-03-31"), relative to today. Returns the tokens consumed, 0 if
 * none starts there. */
size_t q_date_expr(const struct q_tokens *tk, size_t i, long today, struct q_range *r);

#endif
