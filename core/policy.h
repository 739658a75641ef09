/*
 * policy - access policies: which tables, rows and columns of which
 * database a principal may read, and under which limits
 * (YAML files in config/policies/, reference in docs/SECURITY.md).
 * It owns loading and checking policy files (libyaml; every problem with
 * file:line:col and an E-POLICY-* code), merging roles into a principal's
 * effective rules, the catalog a principal may see, and the SQL text of
 * masks and shadow views for a dialect. It never opens a database or runs
 * SQL: the gate does that with what this module generates.
 */
#ifndef DC_POLICY_H
#define DC_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h" /* struct cfg_diags: same diagnostics as the config */

struct dc_schema;

enum policy_mask {
    POLICY_MASK_NONE = 0,
    POLICY_MASK_EMAIL = 1, /* first letter and domain: j***@example.com */
    POLICY_MASK_LAST4 = 2, /* ***6789 */
    POLICY_MASK_HASH = 3,  /* hex SHA-256 of the text: joinable, not readable */
    POLICY_MASK_NULL = 4,  /* always NULL */
    POLICY_MASK_SQL = 5    /* {sql: "<expression over the column>"} */
};

struct policy_column {
    char *name;
    int denied;
    int mask;       /* enum policy_mask */
    char *mask_sql; /* POLICY_MASK_SQL only */
    int line, col;
};

struct policy_table {
    char *name;       /* unqualified: "main."/"public." are dropped at load */
    int allowed;      /* -1 not said, 0, 1 */
    char *row_filter; /* NULL when none */
    int filter_line, filter_col;
    struct policy_column *cols;
    size_t ncols;
    int line, col;
};

struct policy_db {
    char *name;
    int64_t max_rows, timeout_ms, per_minute, concurrent; /* 0 = not said */
    int default_allowed;                                  /* -1 not said */
    struct policy_table *tables;
    size_t ntables;
    int line, col;
};

struct policy_principal {
    char *name;
    const char *file; /* borrowed from the set's file list */
    char **roles;
    int *role_line, *role_col;
    size_t nroles;
    struct policy_db *dbs;
    size_t ndbs;
    int line, col;
};

struct policy_set {
    char **files;
    size_t nfiles;
    struct policy_principal *p;
    size_t np;
};

/* Loads every file matching the glob (absolute, or relative to the working
 * directory). A glob that matches nothing is an error: configured policies
 * that load nothing would lock every principal out without saying why.
 * Returns DC_OK, or DC_EINVAL with diags filled and *out NULL. */
int policy_load_glob(const char *pattern, struct policy_set **out, struct cfg_diags *diags);
/* One file's text; name is used in diagnostics. */
int policy_load_string(const char *text, size_t len, const char *name, struct policy_set **out,
                       struct cfg_diags *diags);
void policy_set_free(struct policy_set *ps);
const struct policy_principal *policy_find(const struct policy_set *ps, const char *name);

/* Checks the live catalog of database db: every table and column the
 * policies name for it exists (E-POLICY-NO-TABLE, E-POLICY-NO-COLUMN). */
int policy_check_schema(const struct policy_set *ps, const char *db, const struct dc_schema *s,
                        struct cfg_diags *diags);

/* ---- Effective rules of one principal on one database ------------------- */
struct policy_rule_table {
    const struct policy_table *t; /* the entry that won the merge */
    const char *from;             /* principal or role it came from */
    const char *file;
};

struct policy_rules {
    char *principal;
    char *database;
    int has_db;                 /* some rule names this database */
    int64_t max_rows, timeout_ms, per_minute, concurrent; /* 0 = not set */
    int default_allowed;        /* 0 unless said */
    struct policy_rule_table *tables;
    size_t ntables;
};

/* Merges the principal's rules with its roles' (the principal's own win,
 * then roles in the order listed, depth first). DC_ENOTFOUND when the set
 * has no such principal. */
int policy_resolve(const struct policy_set *ps, const char *principal, const char *db,
                   struct policy_rules **out);
void policy_rules_free(struct policy_rules *r);

/* name may be qualified ("main.t", "public.t"). NULL when no rule names it. */
const struct policy_table *policy_rules_table(const struct policy_rules *r, const char *name);
int policy_table_allowed(const struct policy_rules *r, const char *name);
int policy_column_denied(const struct policy_rules *r, const char *table, const char *column);
/* The table is read through a shadow view: it has a row filter, masks or
 * denied columns. */
int policy_table_shadowed(const struct policy_table *t);

/* The catalog as the principal sees it: denied tables and columns (and
 * foreign keys to them) left out. */
int policy_filter_schema(const struct policy_rules *r, const struct dc_schema *in,
                         struct dc_schema **out);

/* Session set-up for dialect ("sqlite"): one CREATE TEMP VIEW per shadowed
 * table of s. probe != 0 builds stub views with the same names and columns
 * (denied ones included) that read nothing, so that compiling a statement
 * against them shows every direct read of a real table. DC_EUNSUPPORTED when
 * the dialect has no shadow views. */
int policy_session_sql(const struct policy_rules *r, const struct dc_schema *s,
                       const char *dialect, int probe, char ***stmts, size_t *n, char *err,
                       size_t errlen);
void policy_strv_free(char **v, size_t n);

/* The mask expression for a column (quoted identifier qcol); NULL on
 * out of memory or a dialect without masks. Caller frees. */
char *policy_mask_expr(int mask, const char *mask_sql, const char *qcol, const char *dialect);
const char *policy_mask_name(int mask);

struct dc_table_info;
/* PostgreSQL ("postgres"): the SELECT that stands in for table ti under
 * rule pt: its columns in order, masked ones replaced by the mask under the
 * same name, denied ones left out, rows under the row filter. The gate
 * splices it into the statement (pgparse_rewrite). NULL on out of memory
 * or another dialect. Caller frees. */
char *policy_shadow_query(const struct policy_table *pt, const struct dc_table_info *ti,
                          const char *dialect);

/* Human lines describing what the rules do on the tables of s ("employees:
 * rows where (region = 'EU'); masked ssn=last4; denied salary"), and one
 * line of limits. Caller frees with policy_strv_free. */
int policy_describe(const struct policy_rules *r, char ***lines, size_t *n);

#endif
