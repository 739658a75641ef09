/*
 * profile - L1 profiling: one database's tables measured into managed
 * schema DataPoints, datapoints/managed/<db>/<table>.yaml.
 * It owns the statistics queries (row counts, null rates, distinct counts,
 * min/max, top values, foreign-key containment), sampling of large tables,
 * the YAML it writes (libyaml's emitter) and writing only what changed,
 * atomically. Every statistic is read through gate_run as the principal
 * "profiler", so it is validated, bounded and audited like any query; the
 * catalog comes from the connector's introspection. It never prints:
 * progress goes to the caller's callback.
 */
#ifndef DC_PROFILE_H
#define DC_PROFILE_H

#include <stddef.h>
#include <stdint.h>

struct gate;
struct db;

struct profile_opts {
    const char *principal;    /* NULL: "profiler" */
    int64_t sample_above;     /* tables with more rows are sampled; 0: 200000 */
    int64_t sample_rows;      /* rows a sample reads (the first ones); 0: 200000 */
    int64_t top_max_distinct; /* text columns with at most this many distinct values
                               * get top values; 0: 200 */
    int top_n;                /* top values kept; 0: 20 */
    int64_t fk_check_rows;    /* values an inferred FK's containment check reads; 0: 10000 */
    /* Called before each table (i of n); may be NULL. */
    void (*progress)(void *arg, const char *table, size_t i, size_t n);
    void *progress_arg;
    /* Profile only these tables (nonly > 0): each must exist (DC_ENOTFOUND
     * naming it otherwise), and no other table's file is removed. */
    const char *const *only;
    size_t nonly;
    /* Checked before each table with progress_arg (may be NULL): non-zero stops with
     * E-PROFILE-STOPPED (DC_ERR); tables done so far keep their files. */
    int (*stop)(void *arg);
};

enum profile_change { PROFILE_ADDED = 1, PROFILE_CHANGED, PROFILE_UNCHANGED, PROFILE_REMOVED };

struct profile_table {
    char *table;
    char *file;
    int change;          /* enum profile_change */
    int64_t rows;
    int64_t sample_rows; /* 0: every row was read */
    size_t ninferred;    /* foreign keys inferred */
};

struct profile_report {
    char *dir;           /* datapoints/managed/<db> */
    struct profile_table *tables;
    size_t ntables;
    size_t added, changed, unchanged, removed;
    int64_t us;
};

/* Profiles every table of d into managed_root/<d->name>/. Files whose
 * content did not change are not touched; files of tables that no longer
 * exist are removed. DC_OK, or an error with err saying which table and
 * statement failed. */
int profile_run(struct gate *g, struct db *d, const char *managed_root,
                const struct profile_opts *o, struct profile_report *rep, char *err,
                size_t errlen);
void profile_report_free(struct profile_report *rep);
/* "added", "changed", "unchanged" or "removed" (enum profile_change). */
const char *profile_change_name(int change);

#endif
