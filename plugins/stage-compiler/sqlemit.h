/*
 * sqlemit - SQL text for a grounded plan, in one dialect.
 * It owns everything that differs between engines (identifier quoting,
 * parameter placeholders, date bucketing) in one struct sql_dialect, the
 * statement text with every identifier quoted and every user-supplied
 * literal bound as a parameter, and the one-sentence summary of what the
 * statement computes. It never runs SQL and never pastes question text into
 * the statement.
 */
#ifndef DC_COMPILER_SQLEMIT_H
#define DC_COMPILER_SQLEMIT_H

#include <stddef.h>

#include <datachat/value.h>

#include "lexicon.h"
#include "planner.h"

#define EMIT_MAX_PARAMS 48

struct sql_dialect {
    const char *name;
    /* "?1" (SQLite) or "$1" (PostgreSQL) */
    const char *param_prefix;
    /* Expression grouping column expression `col` by period `unit`
     * (enum q_unit); printf format with one %s per use of col. */
    const char *bucket_fmt[6];
    int bucket_uses[6];
};

/* The dialect for a connector's dialect name ("sqlite", "postgres"); NULL if
 * the compiler has none. */
const struct sql_dialect *emit_dialect(const char *name);

struct emitted {
    char *sql;
    char *summary;
    size_t nparams;
    struct dc_value params[EMIT_MAX_PARAMS];
    char ptext[EMIT_MAX_PARAMS][PLAN_VALUE_MAX]; /* backing store of text params */
};

/* Fills e from a plan that is not unsure. DC_OK, DC_ENOMEM, or DC_ELIMIT when
 * the plan needs more parameters than EMIT_MAX_PARAMS. */
int emit_sql(const struct lexicon *lx, const struct plan *p, const struct sql_dialect *d,
             struct emitted *e);
void emit_free(struct emitted *e);

/* The statement that checks whether `value` (parameter 1) occurs in
 * table.column, case-insensitively, returning the stored spelling. Caller
 * frees; NULL when out of memory. */
char *emit_probe_sql(const struct sql_dialect *d, const char *table, const char *column);

#endif
