#include "gate.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <datachat/plugin.h>

#include "audit.h"
#include "db.h"
#include "result.h"
#include "util.h"

/* Same bound as the SQLite connector's SQLITE_LIMIT_SQL_LENGTH. */
#define GATE_MAX_SQL ((size_t)1024 * 1024)
/* How much of an oversized statement the audit record keeps. */
#define GATE_AUDIT_CLIP 4000

#define GATE_DEFAULT_MAX_ROWS 1000
#define GATE_DEFAULT_TIMEOUT_MS 30000
#define GATE_DEFAULT_MAX_BYTES ((int64_t)64 * 1024 * 1024)

/* The deny list: every function or table-like object the gate refuses,
 * whatever the statement around it. Names are matched without regard to
 * case; a trailing '*' matches any rest. docs/SECURITY.md explains each
 * entry; keep the two in step. */
enum gate_deny_kind { DENY_FUNCTION = 1, DENY_TABLE = 2 };

static const struct gate_deny {
    int kind;
    const char *name;
    const char *code;
    const char *why;
} gate_deny_list[] = {
    {DENY_FUNCTION, "load_extension", "E-GATE-FUNC-DENIED", "it loads native code into the server"},
    {DENY_FUNCTION, "readfile", "E-GATE-FUNC-DENIED", "it reads files on the server"},
    {DENY_FUNCTION, "writefile", "E-GATE-FUNC-DENIED", "it writes files on the server"},
    {DENY_FUNCTION, "edit", "E-GATE-FUNC-DENIED", "it starts an editor process on the server"},
    {DENY_FUNCTION, "fts3_tokenizer", "E-GATE-FUNC-DENIED",
     "it can register a native tokenizer by pointer"},
    {DENY_FUNCTION, "sqlite_compileoption_*", "E-GATE-FUNC-DENIED",
     "it reveals how the database engine was built, which no question needs"},
    {DENY_FUNCTION, "sqlite_rename_*", "E-GATE-FUNC-DENIED", "it is an internal schema rewriter"},
    {DENY_FUNCTION, "sqlite_drop_column", "E-GATE-FUNC-DENIED", "it is an internal schema rewriter"},
    {DENY_FUNCTION, "icu_load_collation", "E-GATE-FUNC-DENIED",
     "it changes the connection's collations"},
    {DENY_FUNCTION, "sleep", "E-GATE-FUNC-DENIED", "it holds a connection without doing work"},
    {DENY_TABLE, "sqlite_*", "E-GATE-CATALOG",
     "it is the engine's own catalog or internals; ask a catalog question (\"which tables "
     "are there?\") instead"},
    {DENY_TABLE, "dbstat", "E-GATE-CATALOG",
     "it exposes the database file's page layout; ask a catalog question instead"},
    {DENY_TABLE, "fsdir", "E-GATE-DENIED", "it lists the server's file system"},
    {DENY_TABLE, "zipfile", "E-GATE-DENIED", "it reads archives from the server's file system"},
};

struct gate {
    struct audit *audit;
    struct gate_limits lim;
};

enum gate_kind { KIND_OK = 0, KIND_REFUSED = 1, KIND_ERROR = 2 };

/* One gate_run/gate_explain call: what the authorizer has seen so far. */
struct gate_call {
    struct gate_decision *dec;
    int kind;       /* enum gate_kind of the first problem */
    int saw_select; /* the statement is (or explains) a query */
};

static int gate_set(struct gate_call *gc, int kind, int rc, const char *code, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));

/* Records the first problem only: later ones are usually its consequences. */
static int gate_set(struct gate_call *gc, int kind, int rc, const char *code, const char *fmt,
                    ...)
{
    struct gate_decision *dec = gc->dec;
    if (dec->code[0])
        return dec->rc;
    gc->kind = kind;
    dec->rc = rc;
    snprintf(dec->code, sizeof(dec->code), "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dec->reason, sizeof(dec->reason), fmt, ap);
    va_end(ap);
    return rc;
}

static int gate_name_matches(const char *pattern, const char *name)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*')
        return strncasecmp(pattern, name, n - 1) == 0;
    return strcasecmp(pattern, name) == 0;
}

static const struct gate_deny *gate_denied(int kind, const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof(gate_deny_list) / sizeof(gate_deny_list[0]); i++)
        if (gate_deny_list[i].kind == kind && gate_name_matches(gate_deny_list[i].name, name))
            return &gate_deny_list[i];
    return NULL;
}

static int gate_add_table(struct gate_decision *dec, const char *name)
{
    for (size_t i = 0; i < dec->ntables; i++)
        if (strcasecmp(dec->tables[i], name) == 0)
            return DC_OK;
    char **t = realloc(dec->tables, (dec->ntables + 1) * sizeof(*t));
    if (!t)
        return DC_ENOMEM;
    dec->tables = t;
    t[dec->ntables] = strdup(name);
    if (!t[dec->ntables])
        return DC_ENOMEM;
    dec->ntables++;
    return DC_OK;
}

static const char *nz(const char *s)
{
    return s ? s : "?";
}

/* The gate's side of the connector's authorizer: allow what a read-only
 * query needs, refuse the rest with a stable code. */
static int gate_authorize(void *arg, int action, const char *object, const char *detail)
{
    struct gate_call *gc = arg;
    const struct gate_deny *d;
    switch (action) {
    case DC_ACT_SELECT:
        gc->saw_select = 1;
        return DC_OK;
    case DC_ACT_RECURSIVE:
        return DC_OK;
    case DC_ACT_READ:
        if ((d = gate_denied(DENY_TABLE, object)) != NULL)
            return gate_set(gc, KIND_REFUSED, DC_EDENIED, d->code, "reading '%s' is not allowed: %s",
                            object, d->why);
        if (object && *object && gate_add_table(gc->dec, object) != DC_OK)
            return gate_set(gc, KIND_ERROR, DC_ENOMEM, "E-GATE-INTERNAL",
                            "out of memory while checking the statement");
        return DC_OK;
    case DC_ACT_FUNCTION:
        if ((d = gate_denied(DENY_FUNCTION, object)) != NULL)
            return gate_set(gc, KIND_REFUSED, DC_EDENIED, d->code,
                            "function %s() is not allowed: %s", object, d->why);
        return DC_OK;
    case DC_ACT_WRITE:
        return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-GATE-WRITE",
                        "the statement writes to '%s'; only reading queries (SELECT, WITH ... "
                        "SELECT, EXPLAIN) may run",
                        nz(object));
    case DC_ACT_SCHEMA:
        return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-GATE-DDL",
                        "the statement changes the schema ('%s'); only reading queries may run",
                        nz(object));
    case DC_ACT_ATTACH:
        return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-GATE-ATTACH",
                        "attaching or detaching databases ('%s') is not allowed; query the "
                        "configured database only",
                        nz(object));
    case DC_ACT_PRAGMA:
        return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-GATE-PRAGMA",
                        "PRAGMA %s is not allowed; ask a catalog question instead of running "
                        "pragmas",
                        nz(object));
    case DC_ACT_TRANSACTION:
        return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-GATE-TXN",
                        "transaction control (%s) is not allowed; every query runs on its own",
                        nz(object));
    default:
        return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-GATE-DENIED",
                        "the statement does something only reading queries may not (%s)",
                        detail ? detail : nz(object));
    }
}

int gate_new(struct audit *audit, const struct gate_limits *defaults, struct gate **out)
{
    if (!out)
        return DC_EINVAL;
    *out = NULL;
    if (!audit)
        return DC_EINVAL;
    struct gate_limits lim = {GATE_DEFAULT_MAX_ROWS, GATE_DEFAULT_TIMEOUT_MS,
                              GATE_DEFAULT_MAX_BYTES};
    if (defaults) {
        if (defaults->max_rows < 1 || defaults->timeout_ms < 0 || defaults->max_bytes < 0)
            return DC_EINVAL;
        lim = *defaults;
    }
    struct gate *g = calloc(1, sizeof(*g));
    if (!g)
        return DC_ENOMEM;
    g->audit = audit;
    g->lim = lim;
    *out = g;
    return DC_OK;
}

void gate_free(struct gate *g)
{
    free(g);
}

void gate_decision_clear(struct gate_decision *dec)
{
    if (!dec)
        return;
    for (size_t i = 0; i < dec->ntables; i++)
        free(dec->tables[i]);
    free(dec->tables);
    free(dec->sql_run);
    memset(dec, 0, sizeof(*dec));
}

/* Step 1: what can be judged from the text alone. */
static int gate_precheck(struct gate_call *gc, const char *principal, const char *sql)
{
    if (!principal || !*principal)
        return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-GATE-PRINCIPAL",
                        "no principal: every query must say on whose behalf it runs");
    if (!sql)
        return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-GATE-EMPTY", "no SQL was given");
    size_t n = strnlen(sql, GATE_MAX_SQL + 1);
    if (n > GATE_MAX_SQL)
        return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-GATE-TOO-LONG",
                        "the statement is longer than %zu bytes; send a shorter query",
                        GATE_MAX_SQL);
    if (strspn(sql, " \t\n\r\f\v") == n)
        return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-GATE-EMPTY",
                        "the SQL text is empty; send one SELECT statement");
    return DC_OK;
}

/* Policies will rewrite the statement here (row filters, column masks);
 * today the statement runs as written. The rewritten text is what gets
 * prepared, executed and audited, so sql_run is kept apart from the input. */
static int gate_rewrite(struct gate_call *gc, const char *sql)
{
    free(gc->dec->sql_run);
    gc->dec->sql_run = strdup(sql);
    if (!gc->dec->sql_run)
        return gate_set(gc, KIND_ERROR, DC_ENOMEM, "E-GATE-INTERNAL", "out of memory");
    return DC_OK;
}

/* Step 2: parse with the engine's own parser and judge what it reports.
 * This is the per-dialect seam: for SQLite the connector's prepare with
 * the gate's authorizer sees every object; PostgreSQL will first walk the
 * libpg_query parse tree here, then prepare. Caller holds d->lock. */
static int gate_validate(struct gate_call *gc, struct db *d, void **stmt)
{
    struct dc_authorizer az = {sizeof(az), gc, gate_authorize};
    struct dc_stmt_info info;
    char err[512] = "";
    memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    int rc = d->vt->prepare(d->conn, gc->dec->sql_run, &az, stmt, &info, err, sizeof(err));
    if (rc != DC_OK) {
        *stmt = NULL;
        if (gc->dec->code[0])
            return gc->dec->rc;
        if (rc == DC_ENOTFOUND)
            return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-GATE-EMPTY",
                            "the SQL text holds only comments; send one SELECT statement");
        if (rc == DC_ENOMEM)
            return gate_set(gc, KIND_ERROR, DC_ENOMEM, "E-GATE-INTERNAL",
                            "out of memory while parsing the statement");
        if (rc == DC_EDENIED)
            return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-GATE-DENIED",
                            "the database refused the statement: %s", err);
        if (rc == DC_EINVAL)
            return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-GATE-PARSE",
                            "the statement could not be parsed: %s",
                            err[0] ? err : "unknown error");
        return gate_set(gc, KIND_ERROR, rc < 0 ? rc : DC_ERR, "E-GATE-EXEC",
                        "the database could not compile the statement: %s",
                        err[0] ? err : "unknown error");
    }
    if (gc->dec->code[0])
        return gc->dec->rc; /* a denial the connector did not turn into a failure */
    if (!info.single)
        return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-GATE-MULTI",
                        "the text holds more than one statement; send exactly one SELECT");
    if (!info.readonly)
        return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-GATE-WRITE",
                        "the database says this statement can write; only reading queries may "
                        "run");
    if (!gc->saw_select)
        return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-GATE-NOT-QUERY",
                        "only SELECT, WITH ... SELECT and EXPLAIN of those may run");
    return DC_OK;
}

static int gate_execute(struct gate *g, struct gate_call *gc, struct db *d, void *stmt,
                        const struct dc_value *params, size_t nparams, struct dc_result **res)
{
    char err[512] = "";
    struct dc_limits lim = {sizeof(lim), g->lim.max_rows, g->lim.timeout_ms, g->lim.max_bytes};
    struct dc_result *r = result_new();
    if (!r)
        return gate_set(gc, KIND_ERROR, DC_ENOMEM, "E-GATE-INTERNAL", "out of memory");
    int rc = d->vt->execute(d->conn, stmt, params, nparams, &lim, r, err, sizeof(err));
    if (rc != DC_OK) {
        result_free(r);
        if (gc->dec->code[0])
            return gc->dec->rc; /* the authorizer refused a re-prepared plan */
        switch (rc) {
        case DC_ETIMEOUT:
            return gate_set(gc, KIND_ERROR, DC_ETIMEOUT, "E-GATE-TIMEOUT", "%s", err);
        case DC_EDENIED:
            return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-GATE-WRITE",
                            "the read-only connection refused the statement: %s", err);
        case DC_ELIMIT:
            return gate_set(gc, KIND_ERROR, DC_ELIMIT, "E-GATE-LIMIT", "%s", err);
        default:
            return gate_set(gc, KIND_ERROR, rc < 0 ? rc : DC_ERR, "E-GATE-EXEC",
                            "the statement failed: %s", err[0] ? err : "unknown error");
        }
    }
    gc->dec->rows = (int64_t)result_nrows(r);
    gc->dec->truncated = result_truncated(r);
    *res = r;
    return DC_OK;
}

/* Steps 1-3. res NULL: validate only. */
static int gate_process(struct gate *g, struct gate_call *gc, const char *principal,
                        struct db *d, const char *sql, const struct dc_value *params,
                        size_t nparams, struct dc_result **res)
{
    char err[512] = "";
    void *stmt = NULL;
    int rc = gate_precheck(gc, principal, sql);
    if (rc != DC_OK)
        return rc;
    rc = gate_rewrite(gc, sql);
    if (rc != DC_OK)
        return rc;
    rc = db_open(d, err, sizeof(err));
    if (rc != DC_OK)
        return gate_set(gc, KIND_ERROR, rc, "E-GATE-DB-OPEN", "%s", err);
    /* One statement at a time per connection, from prepare to finalize. */
    pthread_mutex_lock(&d->lock);
    rc = gate_validate(gc, d, &stmt);
    if (rc == DC_OK && res)
        rc = gate_execute(g, gc, d, stmt, params, nparams, res);
    if (stmt)
        d->vt->finalize(d->conn, stmt);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

static int gate_args_ok(struct gate *g, struct db *d, struct gate_decision *dec)
{
    return g && d && d->vt && dec;
}

int gate_run(struct gate *g, const char *principal, struct db *db, const char *sql,
             const struct dc_value *params, size_t nparams, const char *question,
             struct dc_result **out, struct gate_decision *dec)
{
    struct gate_decision local;
    struct dc_result *res = NULL;
    char clipped[GATE_AUDIT_CLIP + 64];
    char aerr[512] = "";
    char hash[65] = "";
    if (out)
        *out = NULL;
    if (!dec)
        dec = &local;
    memset(dec, 0, sizeof(*dec));
    if (!gate_args_ok(g, db, dec) || (nparams && !params)) {
        dec->rc = DC_EINVAL;
        snprintf(dec->code, sizeof(dec->code), "E-GATE-INTERNAL");
        snprintf(dec->reason, sizeof(dec->reason), "gate_run called with a missing argument");
        return DC_EINVAL;
    }
    struct gate_call gc = {dec, KIND_OK, 0};
    int64_t t0 = util_now_us();
    int rc = gate_process(g, &gc, principal, db, sql, params, nparams, &res);
    dec->duration_us = util_now_us() - t0;
    if (rc == DC_OK && result_hash(res, hash) != DC_OK)
        rc = gate_set(&gc, KIND_ERROR, DC_ERR, "E-GATE-INTERNAL",
                      "cannot hash the result for the audit record");

    /* Step 4: one record per call, whatever happened. */
    const char *audited_sql = dec->sql_run;
    if (!audited_sql && sql) {
        if (strnlen(sql, GATE_AUDIT_CLIP + 1) > GATE_AUDIT_CLIP) {
            snprintf(clipped, sizeof(clipped), "%.*s... [clipped by the gate]",
                     GATE_AUDIT_CLIP, sql);
            audited_sql = clipped;
        } else {
            audited_sql = sql;
        }
    }
    struct audit_record rec;
    memset(&rec, 0, sizeof(rec));
    rec.event = rc == DC_OK ? "query" : gc.kind == KIND_REFUSED ? "refusal" : "error";
    rec.outcome = rc == DC_OK ? "ok" : gc.kind == KIND_REFUSED ? "refused" : "error";
    rec.principal = principal;
    rec.database = db->name;
    rec.sql = audited_sql;
    rec.tables = (const char *const *)dec->tables;
    rec.ntables = dec->ntables;
    rec.rows = rc == DC_OK ? dec->rows : -1;
    rec.duration_us = dec->duration_us;
    rec.code = rc == DC_OK ? NULL : dec->code;
    rec.reason = rc == DC_OK ? NULL : dec->reason;
    rec.result_hash = rc == DC_OK ? hash : NULL;
    rec.question = question;
    if (audit_append(g->audit, &rec, aerr, sizeof(aerr)) != DC_OK) {
        /* Fail closed: an unrecorded answer is not given. */
        result_free(res);
        res = NULL;
        rc = DC_EIO;
        dec->rc = DC_EIO;
        snprintf(dec->code, sizeof(dec->code), "E-AUDIT-WRITE");
        snprintf(dec->reason, sizeof(dec->reason),
                 "the audit record could not be written (%.300s); nothing is returned until "
                 "the audit log is writable again",
                 aerr[0] ? aerr : "unknown error");
    }
    dec->rc = rc;
    if (rc == DC_OK && out)
        *out = res;
    else
        result_free(res);
    if (dec == &local)
        gate_decision_clear(&local);
    return rc;
}

int gate_explain(struct gate *g, const char *principal, struct db *db, const char *sql,
                 struct gate_decision *dec)
{
    struct gate_decision local;
    if (!dec)
        dec = &local;
    memset(dec, 0, sizeof(*dec));
    if (!gate_args_ok(g, db, dec)) {
        dec->rc = DC_EINVAL;
        snprintf(dec->code, sizeof(dec->code), "E-GATE-INTERNAL");
        snprintf(dec->reason, sizeof(dec->reason), "gate_explain called with a missing argument");
        return DC_EINVAL;
    }
    struct gate_call gc = {dec, KIND_OK, 0};
    int64_t t0 = util_now_us();
    int rc = gate_process(g, &gc, principal, db, sql, NULL, 0, NULL);
    dec->duration_us = util_now_us() - t0;
    dec->rc = rc;
    if (dec == &local)
        gate_decision_clear(&local);
    return rc;
}
