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

/* ---- Policy rewrite --------------------------------------------------------
 * A table the principal reads through a row filter, masks or denied
 * columns. Every reference to it in the statement is replaced, on the parse
 * tree's locations and the scanner's token spans, by "(query) AS alias". */
struct pgparse_fragment;

struct pgparse_shadow {
    const char *schema; /* where the table lives ("public"); NULL: any */
    const char *name;   /* as the catalog spells it */
    const char *query;  /* the SELECT that stands in for it (policy_shadow_query) */
    const char *const *denied; /* columns that are not there for the principal */
    size_t ndenied;
};

/* A shadow query checked once, when the policy is applied the first time,
 * rather than on every statement: parsed as "SELECT * FROM (query\n) AS _"
 * under every rule of pgparse_check, and proved to be one parenthesised
 * SELECT there. DC_OK with *out; DC_EDENIED with code (40 bytes) and err
 * when the query breaks a rule; DC_ENOMEM. */
int pgparse_fragment_new(const char *query, struct pgparse_fragment **out, char *code,
                         char *err, size_t errlen);
const char *pgparse_fragment_text(const struct pgparse_fragment *f);
void pgparse_fragment_free(struct pgparse_fragment *f);

/* How a rewrite is proved right (docs/SECURITY.md, "The splice proof"). */
enum {
    PGPARSE_VERIFY_PROOF = 0,  /* the splice proof; a full re-parse where it does not apply */
    PGPARSE_VERIFY_BOTH = 1,   /* paranoid: the proof, then the full re-parse as well; a
                                * statement the proof accepts and the re-parse refuses is
                                * refused with E-GATE-INTERNAL */
    PGPARSE_VERIFY_REPARSE = 2 /* the full re-parse only: the reference the proof is
                                * tested against */
};

struct pgparse_rewrite {
    /* in, kept by pgparse_rewrite_clear */
    int verify; /* PGPARSE_VERIFY_* */
    /* NULL, or one entry per shadow: its query checked beforehand by
     * pgparse_fragment_new (the fragment's text then stands in for the
     * table, sh[i].query may be NULL), or NULL: checked on each call. */
    const struct pgparse_fragment *const *frags;
    /* out */
    char code[40];     /* stable refusal code, "" when rewritten */
    char *sql;         /* the statement with every shadowed reference replaced */
    size_t nrewritten; /* references replaced */
    int reparsed;      /* the rewritten text was parsed again: the splice
                        * proof did not apply, or verify asked for it */
    char **ctes;       /* names the statement's WITH clauses define */
    size_t nctes;
    /* Names the statement calls or uses without the pg_catalog. prefix:
     * user-defined ones could read tables behind the gate's back, so the
     * caller asks the server's catalog about them. */
    char **functions, **operators, **types;
    size_t nfunctions, noperators, ntypes;
};

/* Rewrites sql (already accepted by pgparse_check) for the shadows.
 * DC_OK with out->sql set; DC_EDENIED with out->code and err when the
 * rewrite cannot be proved right (a CTE named like a shadowed table, a
 * denied column named, a reference the rewriter cannot place, a function
 * qualified with another schema, a shadow query that breaks a rule, or a
 * re-parse that still finds a direct read). The rewritten text is parsed
 * again only when the splice proof does not apply (docs/SECURITY.md) or
 * out->verify asks for it. out must be zeroed (apart from verify and
 * frags) and released with pgparse_rewrite_clear(). */
int pgparse_rewrite(const char *sql, const struct pgparse_shadow *sh, size_t nsh,
                    struct pgparse_rewrite *out, char *err, size_t errlen);
void pgparse_rewrite_clear(struct pgparse_rewrite *rw);
/* pgparse_check and pgparse_rewrite on one parse of sql: the walk that
 * judges the statement also gathers what the rewrite needs, and the
 * rewritten text is proved (or, where the proof does not apply, parsed
 * again) to be judged as pgparse_check judges it, with no direct read of a
 * shadowed table. DC_OK:
 * info as pgparse_check fills it, out->sql the text to run (sql itself
 * when nothing was rewritten). Refusals carry their code in both info->code
 * and out->code. Both must be zeroed and cleared whatever the outcome. */
int pgparse_check_rewrite(const char *sql, const struct pgparse_shadow *sh, size_t nsh,
                          struct pgparse_info *info, struct pgparse_rewrite *out, char *err,
                          size_t errlen);

/* The deny-list entry a function name matches (NULL if none), and why it
 * is denied: exposed for the documentation test and the gate's messages. */
const char *pgparse_denied_function(const char *name, const char **why);

/* The i-th entry of the deny list (NULL past the end) and why it is
 * denied; the i-th system-catalog rule (NULL past the end): a name pattern
 * ("pg_*") and whether it applies to a relation's schema (1) or to the
 * name of an unqualified relation (0). For the documentation test. */
const char *pgparse_deny_entry(size_t i, const char **why);
const char *pgparse_catalog_rule(size_t i, int *schema);

#endif
