/*
 * gate - the only door to a database.
 * Every statement from any stage, tool or plugin passes gate_run(): parse
 * with the engine's own parser (through the connector's prepare and the
 * gate's authorizer), check the statement shape and every object it
 * touches, apply limits (rows, time, bytes), audit before answering, then
 * execute. A refusal or an audit failure returns without executing.
 * It never decides by matching SQL text with patterns.
 */
#ifndef DC_GATE_H
#define DC_GATE_H

#include <stddef.h>
#include <stdint.h>

#include <datachat/value.h>

struct audit;
struct db;
struct dc_result;

struct gate_limits {
    int64_t max_rows;   /* default 1000 */
    int64_t timeout_ms; /* default 30000 */
    int64_t max_bytes;  /* default 64 MiB */
};

/* What the gate decided and did; filled by gate_run/gate_explain. */
struct gate_decision {
    int rc;               /* DC_OK, DC_EDENIED, DC_ETIMEOUT, DC_EIO, ... */
    char code[40];        /* stable code (docs/SECURITY.md), "" when accepted */
    char reason[512];     /* human text: what was refused and why */
    char **tables;        /* tables the statement reads */
    size_t ntables;
    char *sql_run;        /* the SQL actually run (after any rewrite) */
    int64_t rows;
    int64_t duration_us;
    int truncated;
    /* What the principal's policy did (one line per table rule, then
     * "other tables: ..."); none when no policies are configured. */
    char **policies;
    size_t npolicies;
    char limits[160];     /* the limits in force, e.g. "max_rows=1000 timeout_ms=30000" */
};

struct gate;
struct policy_set;
struct dc_schema;

/* audit is required: the gate answers nothing it cannot record. */
int gate_new(struct audit *audit, const struct gate_limits *defaults, struct gate **out);
void gate_free(struct gate *g);
/* Access policies (borrowed; must outlive g). NULL: the built-in rules
 * only, for any principal. Set: a principal the set does not define is
 * refused (E-POLICY-NO-PRINCIPAL), tables no rule allows are refused. */
void gate_set_policies(struct gate *g, const struct policy_set *ps);
/* The catalog of db as principal may see it (denied tables and columns
 * left out); borrowed from db. NULL with err when the principal is
 * unknown or the catalog cannot be read. */
const struct dc_schema *gate_schema(struct gate *g, const char *principal, struct db *db,
                                    char *err, size_t errlen);

/* Validates and runs sql on db as principal. On success *out is a new
 * result owned by the caller. Every call, accepted or refused, leaves one
 * audit record; if that record cannot be written the call fails with
 * DC_EIO and nothing is returned. question may be NULL. */
int gate_run(struct gate *g, const char *principal, struct db *db, const char *sql,
             const struct dc_value *params, size_t nparams, const char *question,
             struct dc_result **out, struct gate_decision *dec);

/* The same checks without executing (and without an audit record). */
int gate_explain(struct gate *g, const char *principal, struct db *db, const char *sql,
                 struct gate_decision *dec);

void gate_decision_clear(struct gate_decision *dec);

#endif
