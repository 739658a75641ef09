/*
 * classify - the deterministic question classifier behind the intent stage.
 * It owns normalisation (case, whitespace, punctuation, Unicode quotes, a
 * bounded length), refusal rules (destructive requests, prompt injection,
 * privilege requests, pasted write SQL), clarification of questions with no
 * grounded word, catalog phrasing (including "which table has X" searches)
 * and table-name resolution against the names it is given. It is pure: no
 * host, no I/O, one work area sized from the input, bounded time on any
 * input. It never decides what SQL runs; the catalog stage and the gate do.
 */
#ifndef DC_STAGE_CLASSIFY_H
#define DC_STAGE_CLASSIFY_H

#include <stddef.h>

/* Bytes of a question the classifier reads (the runtime's default question
 * limit); the rest is ignored and the result says so. The stage refuses
 * longer questions outright. */
#define CLS_MAX_INPUT 65536
#define CLS_NAME_MAX 256
#define CLS_REASON_MAX 512

enum cls_intent {
    CLS_EMPTY = 0, /* nothing but blanks: the caller reports E-QUERY-EMPTY */
    CLS_CATALOG,
    CLS_SQL,
    CLS_METRIC,
    CLS_TOOL,
    CLS_CLARIFY,
    CLS_REFUSE
};

enum cls_op {
    CLS_OP_NONE = 0,
    CLS_OP_TABLES,
    CLS_OP_COLUMNS,
    CLS_OP_SAMPLE,
    CLS_OP_COUNT,
    CLS_OP_FIND /* which tables/columns/DataPoints are about some words */
};

/* One table of the schema; columns are only used to recognise the object of
 * a destructive request ("update prices to 0"). */
struct cls_table {
    const char *name;
    const char *const *columns;
    size_t ncolumns;
};

struct cls_result {
    int intent;                  /* enum cls_intent */
    int op;                      /* enum cls_op when intent is CLS_CATALOG */
    int resolved;                /* table names a schema table */
    char table[CLS_NAME_MAX];    /* the real name if resolved, else the user's words */
    const char *how;             /* how the table was resolved, NULL if not */
    long limit;                  /* rows asked for in a sample, 0 if not given */
    char search[CLS_REASON_MAX]; /* CLS_OP_FIND: the words to look up, normalised */
    const char *code;            /* refusal code (E-INTENT-*), NULL otherwise */
    const char *rule;            /* the rule that decided, for the trace */
    int truncated;               /* input was longer than CLS_MAX_INPUT */
    char reason[CLS_REASON_MAX]; /* one line saying why */
};

/* Classifies q[0..n) (need not be NUL-terminated, any bytes). Returns 0, or
 * -1 when the work area could not be allocated. */
int classify_question(const char *q, size_t n, const struct cls_table *tables,
                       size_t ntables, struct cls_result *out);

/* Resolves a table phrase typed by a person ("order items", "InvoiceLines",
 * "Customer") to an index into tables, or -1. *how names the rule used. */
int classify_resolve_table(const char *phrase, const struct cls_table *tables,
                           size_t ntables, const char **how);

const char *classify_intent_name(int intent);
const char *classify_op_name(int op);

#endif
