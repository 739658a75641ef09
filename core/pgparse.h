/*
 * pgparse - judges PostgreSQL text with PostgreSQL's own parser (libpg_query).
 * It owns the PostgreSQL validation rules and the PostgreSQL function deny
 * list: exactly one SELECT (or EXPLAIN of one), nothing in the whole parse
 * tree that writes, locks, changes the session, copies, reads a system
 * catalog or calls a denied function. It reports every relation the
 * statement names. It never connects to a server and never matches SQL text
 * with patterns: every decision is made on the parse tree.
 */
#ifndef DC_PGPARSE_H
#define DC_PGPARSE_H

#include <stddef.h>

/* One relation the statement names, as the parser resolved it. */
struct pgparse_table {
    char *schema; /* NULL when unqualified */
    char *name;
    char *full;   /* "schema.name" or "name" */
};

struct pgparse_info {
    /* in */
    int want_fingerprint; /* also compute pg_query_fingerprint (a second parse) */
    /* out */
    char code[40];        /* stable refusal code (docs/SECURITY.md), "" when accepted */
    int explain;          /* the statement is an EXPLAIN */
    int nparams;          /* highest $n the statement uses */
    struct pgparse_table *tables;
    size_t ntables;
    char fingerprint[24]; /* hex, "" unless asked for and accepted */
};

/* DC_OK: sql is one statement PostgreSQL classifies as a read. DC_EDENIED:
 * refused (out->code and err say why; parse errors too). DC_ENOMEM or
 * DC_EINVAL (missing argument) otherwise. out must be zeroed (apart from
 * want_fingerprint) and released with pgparse_info_clear(), whatever the
 * outcome. */
int pgparse_check(const char *sql, struct pgparse_info *out, char *err, size_t errlen);
void pgparse_info_clear(struct pgparse_info *info);

/* The deny-list entry a function name matches (NULL if none), and why it
 * is denied: exposed for the documentation test and the gate's messages. */
const char *pgparse_denied_function(const char *name, const char **why);

#endif
