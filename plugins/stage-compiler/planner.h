/*
 * planner - turns one question into a grounded query plan, or into a precise
 * "unsure". It owns grounding (every content word must be a schema word, a
 * synonym, a probed value, a date, a number in a recognised phrase or a
 * known function word), the interpretation (measure, entity, group-by,
 * filters, order, limit) and the join tree along unique shortest FK paths.
 * Values are looked up only through the probe callback it is given, so it
 * stays pure and testable. It never builds SQL text and never guesses: any
 * ambiguity or leftover word makes the plan PLAN_UNSURE with the reason.
 */
#ifndef DC_COMPILER_PLANNER_H
#define DC_COMPILER_PLANNER_H

#include <stddef.h>

#include "lexicon.h"
#include "question.h"

#define PLAN_MAX_FILTERS 8
#define PLAN_MAX_VALUES 8
#define PLAN_MAX_GROUPS 3
#define PLAN_MAX_JOINS 8
#define PLAN_MAX_COLS 6
#define PLAN_VALUE_MAX 256
#define PLAN_TEXT_MAX 1024

/* Looks value up in table.column (case-insensitively); on a hit copies the
 * stored spelling into canon and returns 1, 0 when absent, <0 on error. */
typedef int (*plan_probe_fn)(void *arg, const char *table, const char *column,
                             const char *value, char *canon, size_t cap);

struct plan_opts {
    long today;          /* days since 1970-01-01 (q_days) */
    plan_probe_fn probe; /* NULL: only lexicon values are matched */
    void *probe_arg;
    int max_probes;      /* 0: 24 */
};

enum plan_agg { AGG_NONE = 0, AGG_COUNT, AGG_COUNT_DISTINCT, AGG_SUM, AGG_AVG, AGG_MIN, AGG_MAX };

enum plan_fkind { F_TEXT = 1, F_NUM, F_DATE, F_BOOL };

struct plan_ref {
    int t, c; /* c = -1: the whole table (count rows, group by its key) */
};

struct plan_filter {
    struct plan_ref col;
    int kind;     /* enum plan_fkind */
    int op;       /* enum q_cmp (EQ or NE for text/bool; any for numbers) */
    size_t nvals; /* text: IN (...) when > 1 */
    char vals[PLAN_MAX_VALUES][PLAN_VALUE_MAX];
    double num;
    int num_int;
    struct q_range range;
};

struct plan_group {
    struct plan_ref col; /* c = -1: group by the table's key, show its label */
    int bucket;          /* enum q_unit when grouping a date column by period */
};

struct plan_join {
    int from_t, from_c, to_t, to_c; /* "to" is the table being added */
    int fanout; /* the added table references the other: rows multiply */
};

enum plan_shape { SHAPE_SCALAR = 1, SHAPE_GROUPED, SHAPE_ROWS };

struct plan {
    int unsure;                   /* 1: see why */
    char why[PLAN_TEXT_MAX];
    int shape;
    int entity;                   /* FROM table */
    int agg;                      /* enum plan_agg */
    struct plan_ref measure;      /* c = -1 with AGG_COUNT: rows */
    int fanout;                   /* joins multiply entity rows */
    size_t ngroups;
    struct plan_group groups[PLAN_MAX_GROUPS];
    size_t nfilters;
    struct plan_filter filters[PLAN_MAX_FILTERS];
    int having;                   /* filter on the measure */
    int having_op;
    double having_num;
    size_t ncols;                 /* SHAPE_ROWS projection; 0 = all entity columns */
    struct plan_ref cols[PLAN_MAX_COLS];
    int order;                    /* 0 none, 1 by the measure, 2 by order_col */
    struct plan_ref order_col;
    int desc;
    long limit;                   /* 0: none */
    size_t njoins;
    struct plan_join joins[PLAN_MAX_JOINS];
    int probes;                   /* value probes spent */
    char grounding[PLAN_TEXT_MAX]; /* how each word was understood, for the trace */
};

/* Plans question q (n bytes). Returns DC_OK (the plan may still be unsure)
 * or a negative code when the probe failed or memory ran out. */
int plan_question(const struct lexicon *lx, const char *q, size_t n,
                  const struct plan_opts *o, struct plan *out);

/* The unique shortest FK path between two tables, as joins starting from
 * `from`. Returns the number of joins, -1 when there is none, -2 when two
 * different shortest paths exist (both then named in why). */
int plan_fk_path(const struct lexicon *lx, int from, int to, struct plan_join *joins,
                 size_t max, char *why, size_t whylen);

#endif
