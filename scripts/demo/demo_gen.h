/*
 * demo_gen - writes the retail demo database (regions, customers, categories,
 * products, orders, order_items, payments, transactions) used by examples,
 * tests and benchmarks.
 * It owns the demo schema and the synthetic data model. It never reads the
 * clock, the environment or any other outside input, so the options fix
 * every row; it never prints: counts and error text go back to the caller.
 * The output appears atomically (PATH.tmp, then rename) and an existing file
 * is only replaced when the caller asked for it.
 */
#ifndef DC_DEMO_GEN_H
#define DC_DEMO_GEN_H

#include <stddef.h>
#include <stdint.h>

#define DEMO_TABLE_COUNT 8
#define DEMO_SCALE_MAX 100.0

struct demo_opts {
    const char *out;  /* final path; PATH.tmp is used while writing */
    uint64_t seed;
    int end_day;      /* last day of data, days since 1970-01-01 */
    double scale;     /* 0 < scale <= DEMO_SCALE_MAX; 1 gives ~340k rows */
    int force;        /* replace an existing file at out */
};

struct demo_stats {
    const char *table[DEMO_TABLE_COUNT];
    int64_t rows[DEMO_TABLE_COUNT];
    int64_t total;
};

/* Strict YYYY-MM-DD for a real calendar day in 2000..2199; 0 and *day set,
 * or -1 when s is not such a date. */
int demo_parse_date(const char *s, int *day);
void demo_format_date(int day, char out[11]);

/* 0 on success; -1 with err filled (and no file left at out.tmp) on failure.
 * Returns -2 when out exists and force is off, before any work is done. */
int demo_generate(const struct demo_opts *o, struct demo_stats *st, char *err, size_t errlen);

#endif
