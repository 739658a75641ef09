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
#include "policy.h"
#include "schema.h"
#include "pgparse.h"
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

/* Rate and concurrency budget of one principal on one database. In-process
 * only: several processes would need the shared store (docs/SECURITY.md). */
struct gate_usage {
    char *principal;
    char *database;
    double tokens;   /* queries that may start now (token bucket) */
    int64_t last_us; /* when tokens was last refilled */
    int64_t running; /* statements in flight */
};

/* Shadow queries checked once (pgparse_fragment_new), found by their
 * text: a principal's filtered, masked subquery for a table is the same
 * text on every call, so it is judged on first use only. */
#define GATE_MAX_FRAGS 256

struct gate_frag {
    uint64_t hash;
    struct pgparse_fragment *f;
};

struct gate {
    struct audit *audit;
    struct gate_limits lim;
    const struct policy_set *policies;
    /* DC_GATE_PARANOID=1: every PostgreSQL policy rewrite is also parsed
     * again whole, as a check of the splice proof (docs/SECURITY.md). */
    int paranoid;
    pthread_mutex_t mu; /* guards usage and frags */
    struct gate_usage *usage;
    size_t nusage;
    struct gate_frag *frags;
    size_t nfrags;
};

enum gate_kind { KIND_OK = 0, KIND_REFUSED = 1, KIND_ERROR = 2 };

/* One gate_run/gate_explain call: what the authorizer has seen so far. */
struct gate_call {
    struct gate_decision *dec;
    int kind;       /* enum gate_kind of the first problem */
    int saw_select; /* the statement is (or explains) a query */
    const struct policy_rules *rules; /* NULL: built-in rules only */
    int probe;      /* compiling against stub views: any real read of a
                     * shadowed table is a direct read */
    const struct dc_schema *schema; /* the database's catalog when rules apply */
    struct gate *g; /* NULL: no fragment cache, no paranoid mode */
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

/* A connector may put a stable code of its own at the head of a failure
 * ("postgres: E-DB-AUTH: ..."): the decision then carries it, so that an
 * unreachable server, a wrong password and a dropped connection are told
 * apart. fallback otherwise. The code is copied into buf. */
static const char *gate_db_code(const char *err, const char *fallback, char *buf, size_t n)
{
    const char *p = err ? strstr(err, "E-DB-") : NULL;
    size_t len = 0;
    while (p && ((p[len] >= 'A' && p[len] <= 'Z') || p[len] == '-'))
        len++;
    if (!p || len <= 5 || p[len] != ':' || len >= n)
        return fallback;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return buf;
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
static const char *unqual(const char *name)
{
    if (strncasecmp(name, "main.", 5) == 0)
        return name + 5;
    if (strncasecmp(name, "public.", 7) == 0)
        return name + 7;
    return name;
}

/* Policy on one read. schema: "main", "temp" or NULL (unknown); via: the
 * view or CTE whose expansion reads, NULL when the statement names the
 * table itself. detail NULL: the connector saw the table's b-tree opened
 * (SQLite's authorizer misses USING/NATURAL join columns). */
static int gate_policy_read(struct gate_call *gc, const char *table, const char *column,
                            const char *schema, const char *via)
{
    const struct policy_rules *r = gc->rules;
    if (!r || !table || !*table)
        return DC_OK;
    /* A FROM item none of whose columns are used is reported with no
     * schema; a CTE is too. Names the catalog lacks are CTEs; a real table
     * read that way still shows up in the b-tree report. */
    if (!schema && column && !*column && gc->schema && !schema_find(gc->schema, unqual(table)))
        return DC_OK;
    if (schema && strcmp(schema, "temp") == 0) {
        /* The principal's own shadow view (nothing else can live in temp:
         * the gate refuses CREATE). Denied columns exist only in the probe's
         * stub views, so naming one (or SELECT *) is caught there. */
        if (column && *column && policy_column_denied(r, table, column))
            return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-POLICY-COLUMN-DENIED",
                            "column '%s' of '%s' is denied to principal '%s'; name only the "
                            "columns you may read (SELECT * includes it)",
                            column, table, r->principal);
        return DC_OK;
    }
    if (!policy_table_allowed(r, table))
        return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-POLICY-TABLE-DENIED",
                        "table '%s' is denied to principal '%s' on database '%s'%s%s", table,
                        r->principal, r->database, via ? " (read through " : "",
                        via ? via : "");
    const struct policy_table *t = policy_rules_table(r, table);
    if (!policy_table_shadowed(t)) {
        if (column && *column && policy_column_denied(r, table, column))
            return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-POLICY-COLUMN-DENIED",
                            "column '%s' of '%s' is denied to principal '%s'", column, table,
                            r->principal);
        return DC_OK;
    }
    /* Shadowed: only the principal's own views (named after the tables they
     * shadow; a row filter may read another table) may read it. A CTE can
     * borrow such a name, which is why the probe compile exists. */
    int through_view = via && policy_table_shadowed(policy_rules_table(r, via));
    if (!gc->probe && (through_view || !column || !schema))
        return DC_OK;
    /* SQLite names no schema for a table read without columns (count(*));
     * that may be the stub view, so the b-tree report decides. */
    if (gc->probe && column && !schema)
        return DC_OK;
    return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-POLICY-DIRECT-READ",
                    "table '%s' has a row filter, masks or denied columns for principal '%s', "
                    "so it can only be read by its plain name (not main.%s, a view or a "
                    "renamed CTE over it)%s%s",
                    table, r->principal, table, via && !through_view ? "; read through " : "",
                    via && !through_view ? via : "");
}

static int gate_authorize2(void *arg, int action, const char *object, const char *detail,
                           const char *schema, const char *via)
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
        if (gate_policy_read(gc, object, detail, schema, via) != DC_OK)
            return gc->dec->rc;
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

static int gate_authorize(void *arg, int action, const char *object, const char *detail)
{
    return gate_authorize2(arg, action, object, detail, NULL, NULL);
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
    const char *paranoid = getenv("DC_GATE_PARANOID");
    g->paranoid = paranoid && *paranoid && strcmp(paranoid, "0") != 0;
    if (pthread_mutex_init(&g->mu, NULL) != 0) {
        free(g);
        return DC_ERR;
    }
    *out = g;
    return DC_OK;
}

void gate_free(struct gate *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->nusage; i++) {
        free(g->usage[i].principal);
        free(g->usage[i].database);
    }
    free(g->usage);
    for (size_t i = 0; i < g->nfrags; i++)
        pgparse_fragment_free(g->frags[i].f);
    free(g->frags);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

void gate_set_policies(struct gate *g, const struct policy_set *ps)
{
    if (g)
        g->policies = ps;
}

void gate_decision_clear(struct gate_decision *dec)
{
    if (!dec)
        return;
    for (size_t i = 0; i < dec->ntables; i++)
        free(dec->tables[i]);
    free(dec->tables);
    free(dec->sql_run);
    policy_strv_free(dec->policies, dec->npolicies);
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
    /* Engines disagree on malformed text (SQLite takes the bytes, a UTF-8
     * PostgreSQL server refuses them after our parser accepted them), and
     * the audit log is UTF-8 JSON: such text is refused before anything. */
    if (!util_utf8_valid(sql, n))
        return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-GATE-ENCODING",
                        "the statement is not valid UTF-8; send it as UTF-8 text");
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

/* ---- PostgreSQL policies: rewrite on the parse tree ---------------------- */

/* A text[] literal of names for the catalog queries' parameters. */
static int gate_pg_array(struct sbuf *b, char **v, size_t n)
{
    sbuf_adds(b, "{");
    for (size_t i = 0; i < n; i++) {
        sbuf_adds(b, i ? ",\"" : "\"");
        for (const char *p = v[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                sbuf_add(b, "\\", 1);
            sbuf_add(b, p, 1);
        }
        sbuf_adds(b, "\"");
    }
    return sbuf_adds(b, "}");
}

/* Runs one of the gate's own catalog queries (fixed text, never the
 * user's) on conn; *out holds the rows. doing says what for, in errors. */
static int gate_pg_catalog(struct gate_call *gc, struct db *d, void *conn, const char *q,
                           const struct dc_value *params, size_t n, const char *doing,
                           struct dc_result **out)
{
    struct dc_stmt_info info;
    void *st = NULL;
    char err[400] = "";
    int rc;
    memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    struct dc_authorizer az = {sizeof(az), gc, gate_authorize, gate_authorize2};
    struct dc_limits lim = {sizeof(lim), 2, 10000, 0};
    if (!(*out = result_new()))
        return gate_set(gc, KIND_ERROR, DC_ENOMEM, "E-GATE-INTERNAL", "out of memory");
    rc = d->vt->prepare(conn, q, &az, &st, &info, err, sizeof(err));
    if (rc == DC_OK)
        rc = d->vt->execute(conn, st, params, n, &lim, *out, err, sizeof(err));
    if (st)
        d->vt->finalize(conn, st);
    if (rc != DC_OK) {
        char dbc[40];
        result_free(*out);
        *out = NULL;
        return gate_set(gc, KIND_ERROR, rc < 0 ? rc : DC_ERR,
                        gate_db_code(err, "E-GATE-EXEC", dbc, sizeof(dbc)),
                        "the gate could not %s in the catalog: %s", doing,
                        err[0] ? err : "unknown error");
    }
    return DC_OK;
}

/* Asks the server's catalog (the gate's own query, never the user's text)
 * whether any function, operator or type the statement names exists
 * outside pg_catalog: such code can read tables behind the gate's back. */
static int gate_pg_udf(struct gate_call *gc, struct db *d, void *conn,
                       const struct pgparse_rewrite *rw)
{
    static const char q[] =
        "SELECT 'function', p.proname FROM pg_catalog.pg_proc p "
        "WHERE p.pronamespace <> 'pg_catalog'::pg_catalog.regnamespace "
        "AND p.proname = ANY ($1::pg_catalog.text[]) "
        "UNION ALL SELECT 'operator', o.oprname FROM pg_catalog.pg_operator o "
        "WHERE o.oprnamespace <> 'pg_catalog'::pg_catalog.regnamespace "
        "AND o.oprname = ANY ($2::pg_catalog.text[]) "
        "UNION ALL SELECT 'type', t.typname FROM pg_catalog.pg_type t "
        "WHERE t.typnamespace <> 'pg_catalog'::pg_catalog.regnamespace "
        "AND t.typtype IN ('b', 'd', 'r', 'm') AND t.typname = ANY ($3::pg_catalog.text[]) "
        "LIMIT 1";
    struct sbuf a[3];
    struct dc_value params[3];
    struct dc_result *res = NULL;
    int rc = DC_OK;
    if (!rw->nfunctions && !rw->noperators && !rw->ntypes)
        return DC_OK;
    for (int i = 0; i < 3; i++)
        sbuf_init(&a[i]);
    gate_pg_array(&a[0], rw->functions, rw->nfunctions);
    gate_pg_array(&a[1], rw->operators, rw->noperators);
    gate_pg_array(&a[2], rw->types, rw->ntypes);
    for (int i = 0; i < 3; i++) {
        if (a[i].oom) {
            rc = gate_set(gc, KIND_ERROR, DC_ENOMEM, "E-GATE-INTERNAL", "out of memory");
            goto cleanup;
        }
        params[i] = dc_value_text(a[i].p, a[i].len);
    }
    rc = gate_pg_catalog(gc, d, conn, q, params, 3, "check the statement's functions", &res);
    if (rc != DC_OK)
        goto cleanup;
    if (result_nrows(res) > 0) {
        char *what = result_value_text(result_get(res, 0, 0));
        char *name = result_value_text(result_get(res, 0, 1));
        rc = gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-POLICY-FUNCTION",
                      "%s '%s' is defined outside pg_catalog on this database; principals with "
                      "access policies may only use the built-in ones (a user-defined %s can "
                      "read tables behind the gate's back)",
                      what ? what : "function", name ? name : "?", what ? what : "function");
        free(what);
        free(name);
    }
cleanup:
    result_free(res);
    for (int i = 0; i < 3; i++)
        sbuf_free(&a[i]);
    return rc;
}

static int gate_is_cte(const struct pgparse_rewrite *rw, const struct pgparse_table *t)
{
    for (size_t i = 0; !t->schema && i < rw->nctes; i++)
        if (strcmp(rw->ctes[i], t->name) == 0)
            return 1;
    return 0;
}

/* Every relation the statement names must be a table of the catalog the
 * rules allow: a view's (or foreign table's) body is out of the gate's
 * sight, so it could read a filtered, masked or denied table unrewritten. */
static int gate_pg_relations(struct gate_call *gc, const struct pgparse_info *pi,
                             const struct pgparse_rewrite *rw)
{
    const struct policy_rules *r = gc->rules;
    for (size_t i = 0; i < pi->ntables; i++) {
        const struct pgparse_table *t = &pi->tables[i];
        if (gate_is_cte(rw, t))
            continue;
        if (!policy_table_allowed(r, t->full))
            return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-POLICY-TABLE-DENIED",
                            "table '%s' is denied to principal '%s' on database '%s'", t->full,
                            r->principal, r->database);
        const struct dc_table_info *ti = gc->schema ? schema_find(gc->schema, t->name) : NULL;
        if (ti && t->schema && ti->schema_name && strcasecmp(t->schema, ti->schema_name) != 0)
            ti = NULL;
        if (!ti || (ti->kind && strcmp(ti->kind, "table") != 0))
            return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-POLICY-VIEW",
                            "'%s' is %s%s; principal '%s' has access policies on this database, "
                            "and such a principal may read only tables and views the gate can "
                            "put in place of their names; query its tables instead",
                            t->full, ti ? "a " : "", ti && ti->kind ? ti->kind
                                                                   : "not a table of the catalog",
                            r->principal);
    }
    return DC_OK;
}

static uint64_t gate_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static const struct pgparse_fragment *gate_frag_find(struct gate *g, uint64_t h,
                                                     const char *query)
{
    for (size_t i = 0; i < g->nfrags; i++)
        if (g->frags[i].hash == h && strcmp(pgparse_fragment_text(g->frags[i].f), query) == 0)
            return g->frags[i].f;
    return NULL;
}

/* The checked fragment of query, judged on first use. NULL when the query
 * breaks a rule (pgparse then refuses the statement, saying why), memory
 * is short, or the cache is full: pgparse judges it on each call then. */
static const struct pgparse_fragment *gate_fragment(struct gate *g, const char *query)
{
    uint64_t h = gate_hash(query);
    pthread_mutex_lock(&g->mu);
    const struct pgparse_fragment *found = gate_frag_find(g, h, query);
    int full = g->nfrags >= GATE_MAX_FRAGS;
    pthread_mutex_unlock(&g->mu);
    if (found || full)
        return found;
    struct pgparse_fragment *f = NULL;
    char code[40];
    if (pgparse_fragment_new(query, &f, code, NULL, 0) != DC_OK)
        return NULL;
    pthread_mutex_lock(&g->mu);
    found = gate_frag_find(g, h, query); /* another thread may have been first */
    if (!found && g->nfrags < GATE_MAX_FRAGS) {
        struct gate_frag *v = realloc(g->frags, (g->nfrags + 1) * sizeof(*v));
        if (v) {
            g->frags = v;
            v[g->nfrags].hash = h;
            v[g->nfrags++].f = f;
            found = f;
            f = NULL;
        }
    }
    pthread_mutex_unlock(&g->mu);
    pgparse_fragment_free(f);
    return found;
}

/* The principal's shadows: one per shadowed table of the catalog. */
static int gate_pg_shadows(struct gate_call *gc, struct pgparse_shadow **out, size_t *n)
{
    const struct policy_rules *r = gc->rules;
    *out = NULL;
    *n = 0;
    struct pgparse_shadow *sh = calloc(r->ntables ? r->ntables : 1, sizeof(*sh));
    if (!sh)
        return DC_ENOMEM;
    *out = sh;
    for (size_t i = 0; i < r->ntables; i++) {
        const struct policy_table *pt = r->tables[i].t;
        const struct dc_table_info *ti;
        if (!policy_table_shadowed(pt) || !gc->schema || !(ti = schema_find(gc->schema, pt->name)))
            continue;
        struct pgparse_shadow *s = &sh[(*n)++];
        s->schema = ti->schema_name;
        s->name = ti->name;
        const char **den = calloc(pt->ncols ? pt->ncols : 1, sizeof(*den));
        s->query = policy_shadow_query(pt, ti, "postgres");
        if (!den || !s->query) {
            free(den);
            return DC_ENOMEM;
        }
        for (size_t c = 0; c < pt->ncols; c++)
            if (pt->cols[c].denied)
                den[s->ndenied++] = pt->cols[c].name;
        s->denied = den;
    }
    return DC_OK;
}

/* The checked fragments of the shadows (entries NULL where none). */
static const struct pgparse_fragment **gate_pg_frags(struct gate_call *gc,
                                                     const struct pgparse_shadow *sh, size_t n)
{
    const struct pgparse_fragment **f = calloc(n ? n : 1, sizeof(*f));
    for (size_t i = 0; f && gc->g && i < n; i++)
        f[i] = gate_fragment(gc->g, sh[i].query);
    return f;
}

static void gate_pg_shadows_free(struct pgparse_shadow *sh, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)sh[i].query);
        free((void *)sh[i].denied);
    }
    free(sh);
}

/* ---- PostgreSQL views: inlined, so that the policies reach their tables -- */

/* Views within views deeper than this are refused (a cycle ends here too). */
#define GATE_VIEW_DEPTH 8

/* The relation t of the catalog (not a CTE) is something other than a
 * table the gate can filter. */
static int gate_pg_not_table(struct gate_call *gc, const struct pgparse_table *t)
{
    const struct dc_table_info *ti = gc->schema ? schema_find(gc->schema, t->name) : NULL;
    if (ti && t->schema && ti->schema_name && strcasecmp(t->schema, ti->schema_name) != 0)
        ti = NULL;
    return !ti || (ti->kind && strcmp(ti->kind, "table") != 0);
}

/* The definition of view t from the server's catalog (trusted text from
 * pg_get_viewdef, without its final semicolon) into *def; NULL when t is
 * no relation the catalog knows (gate_pg_relations then refuses it).
 * Materialized views, foreign tables and security_barrier views are
 * refused: their rows are not what their definition reads today, come
 * from elsewhere, or rely on an evaluation order inlining would lose. */
static int gate_pg_viewdef(struct gate_call *gc, struct db *d, void *conn,
                           const struct pgparse_table *t, char **def)
{
    static const char q[] =
        "SELECT c.relkind::pg_catalog.text, CASE WHEN c.relkind = 'v' THEN "
        "pg_catalog.pg_get_viewdef(c.oid) END, "
        "COALESCE(pg_catalog.array_to_string(c.reloptions, ','), '') "
        "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = $1 AND CASE WHEN $2 = '' THEN pg_catalog.pg_table_is_visible(c.oid) "
        "ELSE n.nspname = $2 END LIMIT 1";
    struct dc_value params[2] = {dc_value_text(t->name, strlen(t->name)),
                                 dc_value_text(t->schema ? t->schema : "",
                                               t->schema ? strlen(t->schema) : 0)};
    struct dc_result *res = NULL;
    char *kind = NULL, *body = NULL, *opts = NULL;
    *def = NULL;
    int rc = gate_pg_catalog(gc, d, conn, q, params, 2, "read a view's definition", &res);
    if (rc != DC_OK || result_nrows(res) == 0)
        goto cleanup;
    kind = result_value_text(result_get(res, 0, 0));
    body = result_value_text(result_get(res, 0, 1));
    opts = result_value_text(result_get(res, 0, 2));
    if (!kind || !opts) {
        rc = gate_set(gc, KIND_ERROR, DC_ENOMEM, "E-GATE-INTERNAL", "out of memory");
        goto cleanup;
    }
    const char *sb = strstr(opts, "security_barrier=");
    int barrier = sb && strncasecmp(sb + 17, "false", 5) != 0 &&
                  strncasecmp(sb + 17, "off", 3) != 0 && strncmp(sb + 17, "0", 1) != 0;
    const char *code = NULL, *why = NULL;
    if (kind[0] == 'm') {
        code = "E-POLICY-MATVIEW";
        why = "a materialized view: its rows were read when it was last refreshed, so the "
              "access policy's row filters and masks cannot be applied inside it";
    } else if (kind[0] == 'f') {
        code = "E-POLICY-FOREIGN";
        why = "a foreign table: its rows come from another server, out of the gate's sight";
    } else if (kind[0] == 'v' && barrier) {
        code = "E-POLICY-VIEW-BARRIER";
        why = "a security_barrier view: put in place of its name it would lose the "
              "evaluation order it promises";
    }
    if (code) {
        rc = gate_set(gc, KIND_REFUSED, DC_EDENIED, code,
                      "'%s' is %s; principals with access policies may not read it: query its "
                      "tables instead",
                      t->full, why);
        goto cleanup;
    }
    if (kind[0] != 'v' || !body)
        goto cleanup;
    size_t n = strlen(body);
    while (n && (body[n - 1] == ';' || body[n - 1] == ' ' || body[n - 1] == '\n' ||
                 body[n - 1] == '\t' || body[n - 1] == '\r'))
        body[--n] = '\0';
    *def = body;
    body = NULL;
cleanup:
    free(kind);
    free(body);
    free(opts);
    result_free(res);
    return rc;
}

/* Replaces every reference to a view by "(its definition) AS its name",
 * level after level, until the text names tables only: the table rewrite
 * that follows then filters and masks inside the definitions as in any
 * subquery. *out is the inlined text, NULL when the statement names no
 * view. Every level is checked as a statement of its own first. */
static int gate_pg_inline(struct gate_call *gc, struct db *d, void *conn, char **out)
{
    char *text = strdup(gc->dec->sql_run);
    struct pgparse_shadow *vsh = NULL;
    size_t nv = 0;
    char err[512] = "";
    int rc = DC_OK, changed = 0;
    *out = NULL;
    if (!text)
        return gate_set(gc, KIND_ERROR, DC_ENOMEM, "E-GATE-INTERNAL", "out of memory");
    for (int depth = 0;; depth++) {
        struct pgparse_info pi;
        struct pgparse_rewrite rw;
        memset(&pi, 0, sizeof(pi));
        memset(&rw, 0, sizeof(rw));
        rw.verify = gc->g && gc->g->paranoid ? PGPARSE_VERIFY_BOTH : PGPARSE_VERIFY_PROOF;
        rc = pgparse_check_rewrite(text, NULL, 0, &pi, &rw, err, sizeof(err));
        if (rc != DC_OK)
            rc = gate_set(gc, rc == DC_EDENIED ? KIND_REFUSED : KIND_ERROR, rc,
                          pi.code[0] ? pi.code : "E-GATE-INTERNAL",
                          "a view's definition was refused: %s", err);
        vsh = rc == DC_OK ? calloc(pi.ntables ? pi.ntables : 1, sizeof(*vsh)) : NULL;
        if (rc == DC_OK && !vsh)
            rc = gate_set(gc, KIND_ERROR, DC_ENOMEM, "E-GATE-INTERNAL", "out of memory");
        nv = 0;
        for (size_t i = 0; rc == DC_OK && i < pi.ntables; i++) {
            const struct pgparse_table *t = &pi.tables[i];
            char *def = NULL;
            if (gate_is_cte(&rw, t) || !gate_pg_not_table(gc, t))
                continue;
            if (!policy_table_allowed(gc->rules, t->full)) {
                rc = gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-POLICY-TABLE-DENIED",
                              "table '%s' is denied to principal '%s' on database '%s'",
                              t->full, gc->rules->principal, gc->rules->database);
                break;
            }
            rc = gate_pg_viewdef(gc, d, conn, t, &def);
            if (rc != DC_OK || !def)
                continue;
            if (gate_add_table(gc->dec, t->full) != DC_OK) {
                free(def);
                rc = gate_set(gc, KIND_ERROR, DC_ENOMEM, "E-GATE-INTERNAL", "out of memory");
                break;
            }
            vsh[nv].schema = t->schema;
            vsh[nv].name = t->name;
            vsh[nv].query = def;
            nv++;
        }
        if (rc == DC_OK && nv && depth >= GATE_VIEW_DEPTH)
            rc = gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-POLICY-VIEW-DEPTH",
                          "views read other views more than %d levels deep (or in a cycle); "
                          "query the tables underneath instead",
                          GATE_VIEW_DEPTH);
        pgparse_rewrite_clear(&rw);
        if (rc == DC_OK && nv) {
            rc = pgparse_rewrite(text, vsh, nv, &rw, err, sizeof(err));
            if (rc != DC_OK)
                rc = gate_set(gc, rc == DC_EDENIED ? KIND_REFUSED : KIND_ERROR, rc,
                              rw.code[0] ? rw.code : "E-GATE-INTERNAL",
                              "the view could not be put in place of its name: %s", err);
            else {
                free(text);
                text = rw.sql;
                rw.sql = NULL;
                changed = 1;
            }
            pgparse_rewrite_clear(&rw);
        }
        for (size_t i = 0; i < nv; i++)
            free((char *)vsh[i].query);
        free(vsh);
        vsh = NULL;
        pgparse_info_clear(&pi);
        if (rc != DC_OK || !nv)
            break;
    }
    if (rc == DC_OK && changed)
        *out = text;
    else
        free(text);
    return rc;
}

/* PostgreSQL: libpg_query's parse tree decides before the server sees the
 * text (core/pgparse.c); its code, reason and tables become the gate's.
 * With the principal's rules, the same parse also gives the rewrite: every
 * reference to a shadowed table becomes a subquery that filters, masks and
 * leaves denied columns out, and the rewritten text (proved right, or
 * judged again, by pgparse_check_rewrite; both with DC_GATE_PARANOID)
 * replaces sql_run. */
static int gate_pg_check(struct gate_call *gc, struct db *d, void *conn)
{
    struct pgparse_shadow *sh = NULL;
    const struct pgparse_fragment **frags = NULL;
    size_t nsh = 0;
    struct pgparse_rewrite rw;
    struct pgparse_info pi;
    char err[512] = "";
    int rc;
    memset(&rw, 0, sizeof(rw));
    memset(&pi, 0, sizeof(pi));
    rw.verify = gc->g && gc->g->paranoid ? PGPARSE_VERIFY_BOTH : PGPARSE_VERIFY_PROOF;
    if (gc->rules && (gate_pg_shadows(gc, &sh, &nsh) != DC_OK ||
                      !(frags = gate_pg_frags(gc, sh, nsh)))) {
        rc = gate_set(gc, KIND_ERROR, DC_ENOMEM, "E-GATE-INTERNAL", "out of memory");
        goto cleanup;
    }
    rw.frags = frags;
    if (gc->rules)
        rc = pgparse_check_rewrite(gc->dec->sql_run, sh, nsh, &pi, &rw, err, sizeof(err));
    else
        rc = pgparse_check(gc->dec->sql_run, &pi, err, sizeof(err));
    for (size_t i = 0; rc == DC_OK && i < pi.ntables; i++)
        if (gate_add_table(gc->dec, pi.tables[i].full) != DC_OK)
            rc = gate_set(gc, KIND_ERROR, DC_ENOMEM, "E-GATE-INTERNAL", "out of memory");
    if (rc != DC_OK) {
        if (!gc->dec->code[0])
            gate_set(gc, rc == DC_EDENIED ? KIND_REFUSED : KIND_ERROR, rc,
                     pi.code[0] ? pi.code : "E-GATE-INTERNAL", "%s", err);
        goto cleanup;
    }
    if (!gc->rules)
        goto cleanup;
    /* Views (the slow path: only statements that name one): their
     * definitions go in place of their names, then the table rewrite runs
     * on the whole again. */
    int views = 0;
    for (size_t i = 0; i < pi.ntables; i++)
        views |= !gate_is_cte(&rw, &pi.tables[i]) && gate_pg_not_table(gc, &pi.tables[i]);
    if (views) {
        char *inlined = NULL;
        rc = gate_pg_inline(gc, d, conn, &inlined);
        if (rc == DC_OK && inlined) {
            pgparse_info_clear(&pi);
            pgparse_rewrite_clear(&rw);
            rc = pgparse_check_rewrite(inlined, sh, nsh, &pi, &rw, err, sizeof(err));
            if (rc != DC_OK)
                rc = gate_set(gc, rc == DC_EDENIED ? KIND_REFUSED : KIND_ERROR, rc,
                              pi.code[0] ? pi.code : "E-GATE-INTERNAL",
                              "the statement with its views inlined was refused: %s", err);
            for (size_t i = 0; rc == DC_OK && i < pi.ntables; i++)
                if (gate_add_table(gc->dec, pi.tables[i].full) != DC_OK)
                    rc = gate_set(gc, KIND_ERROR, DC_ENOMEM, "E-GATE-INTERNAL",
                                  "out of memory");
            if (rc == DC_OK)
                rw.nrewritten++; /* the inlined text runs even with no table rewritten */
        }
        free(inlined);
        if (rc != DC_OK)
            goto cleanup;
    }
    rc = gate_pg_relations(gc, &pi, &rw);
    if (rc == DC_OK)
        rc = gate_pg_udf(gc, d, conn, &rw);
    if (rc != DC_OK)
        goto cleanup;
    if (rw.nrewritten) {
        free(gc->dec->sql_run);
        gc->dec->sql_run = rw.sql;
        rw.sql = NULL;
    }
cleanup:
    pgparse_info_clear(&pi);
    pgparse_rewrite_clear(&rw);
    gate_pg_shadows_free(sh, nsh);
    free((void *)frags);
    return rc;
}

/* Step 2: parse with the engine's own parser and judge what it reports.
 * This is the per-dialect seam: for SQLite the connector's prepare with
 * the gate's authorizer sees every object; PostgreSQL will first walk the
 * libpg_query parse tree here, then prepare. Caller holds d->lock. */
static int gate_validate(struct gate_call *gc, struct db *d, void *conn, void **stmt)
{
    struct dc_authorizer az = {sizeof(az), gc, gate_authorize, gate_authorize2};
    struct dc_stmt_info info;
    char err[512] = "";
    memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    if (d->vt->dialect && strcmp(d->vt->dialect, "postgres") == 0) {
        if (gate_pg_check(gc, d, conn) != DC_OK)
            return gc->dec->rc;
        gc->saw_select = 1;
    }
    int rc = d->vt->prepare(conn, gc->dec->sql_run, &az, stmt, &info, err, sizeof(err));
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
        char dbc[40];
        return gate_set(gc, KIND_ERROR, rc < 0 ? rc : DC_ERR,
                        gate_db_code(err, "E-GATE-EXEC", dbc, sizeof(dbc)),
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

static int gate_execute(struct gate *g, struct gate_call *gc, struct db *d, void *conn,
                        void *stmt, const struct dc_value *params, size_t nparams,
                        struct dc_result **res)
{
    char err[512] = "";
    struct dc_limits lim = {sizeof(lim), g->lim.max_rows, g->lim.timeout_ms, g->lim.max_bytes};
    if (gc->rules && gc->rules->max_rows)
        lim.max_rows = gc->rules->max_rows;
    if (gc->rules && gc->rules->timeout_ms)
        lim.timeout_ms = gc->rules->timeout_ms;
    struct dc_result *r = result_new();
    if (!r)
        return gate_set(gc, KIND_ERROR, DC_ENOMEM, "E-GATE-INTERNAL", "out of memory");
    int rc = d->vt->execute(conn, stmt, params, nparams, &lim, r, err, sizeof(err));
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
        default: {
            char dbc[40];
            return gate_set(gc, KIND_ERROR, rc < 0 ? rc : DC_ERR,
                            gate_db_code(err, "E-GATE-EXEC", dbc, sizeof(dbc)),
                            "the statement failed: %s", err[0] ? err : "unknown error");
        }
        }
    }
    gc->dec->rows = (int64_t)result_nrows(r);
    gc->dec->truncated = result_truncated(r);
    *res = r;
    return DC_OK;
}

/* ---- Policies ----------------------------------------------------------- */

/* Resolves the principal's rules on d and records what they do in the
 * decision. Without policies only the gate's default limits are listed. */
static int gate_begin(struct gate *g, struct gate_call *gc, const char *principal,
                      struct db *d, struct policy_rules **rules)
{
    struct gate_decision *dec = gc->dec;
    *rules = NULL;
    int64_t rows = g->lim.max_rows, ms = g->lim.timeout_ms;
    if (g->policies && principal && *principal) {
        int rc = policy_resolve(g->policies, principal, d->name, rules);
        if (rc == DC_ENOTFOUND)
            return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-POLICY-NO-PRINCIPAL",
                            "principal '%s' has no access policy; policies are configured, so "
                            "unknown principals are refused (add it to a file under the "
                            "config's policies: glob, or use --as with a defined principal)",
                            principal);
        if (rc != DC_OK)
            return gate_set(gc, KIND_ERROR, rc, "E-GATE-INTERNAL", "out of memory");
        gc->rules = *rules;
        if (policy_describe(*rules, &dec->policies, &dec->npolicies) != DC_OK)
            return gate_set(gc, KIND_ERROR, DC_ENOMEM, "E-GATE-INTERNAL", "out of memory");
        if ((*rules)->max_rows)
            rows = (*rules)->max_rows;
        if ((*rules)->timeout_ms)
            ms = (*rules)->timeout_ms;
    }
    int n = snprintf(dec->limits, sizeof(dec->limits), "max_rows=%lld timeout_ms=%lld",
                     (long long)rows, (long long)ms);
    if (*rules && (*rules)->per_minute && n > 0 && (size_t)n < sizeof(dec->limits))
        n += snprintf(dec->limits + n, sizeof(dec->limits) - (size_t)n,
                      " queries_per_minute=%lld", (long long)(*rules)->per_minute);
    if (*rules && (*rules)->concurrent && n > 0 && (size_t)n < sizeof(dec->limits))
        snprintf(dec->limits + n, sizeof(dec->limits) - (size_t)n, " concurrent_queries=%lld",
                 (long long)(*rules)->concurrent);
    return DC_OK;
}

static struct gate_usage *gate_usage_find(struct gate *g, const char *principal, const char *db)
{
    for (size_t i = 0; i < g->nusage; i++)
        if (strcmp(g->usage[i].principal, principal) == 0 &&
            strcmp(g->usage[i].database, db) == 0)
            return &g->usage[i];
    struct gate_usage *u = realloc(g->usage, (g->nusage + 1) * sizeof(*u));
    if (!u)
        return NULL;
    g->usage = u;
    u = &g->usage[g->nusage];
    memset(u, 0, sizeof(*u));
    u->principal = strdup(principal);
    u->database = strdup(db);
    if (!u->principal || !u->database) {
        free(u->principal);
        free(u->database);
        return NULL;
    }
    u->tokens = -1;
    g->nusage++;
    return u;
}

/* Takes one query from the principal's per-minute budget and one slot of
 * its concurrency limit; *took tells whether a slot must be given back. */
static int gate_budget_take(struct gate *g, struct gate_call *gc, int *took)
{
    const struct policy_rules *r = gc->rules;
    *took = 0;
    if (!r || (!r->per_minute && !r->concurrent))
        return DC_OK;
    int rc = DC_OK;
    pthread_mutex_lock(&g->mu);
    struct gate_usage *u = gate_usage_find(g, r->principal, r->database);
    if (!u) {
        rc = gate_set(gc, KIND_ERROR, DC_ENOMEM, "E-GATE-INTERNAL", "out of memory");
        goto cleanup;
    }
    int64_t now = util_now_us();
    if (r->per_minute) {
        double cap = (double)r->per_minute;
        if (u->tokens < 0)
            u->tokens = cap;
        else
            u->tokens += (double)(now - u->last_us) * cap / 60e6;
        if (u->tokens > cap)
            u->tokens = cap;
        u->last_us = now;
    }
    if (r->concurrent && u->running >= r->concurrent) {
        rc = gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-POLICY-CONCURRENCY",
                      "principal '%s' already runs %lld of %lld concurrent queries allowed on "
                      "'%s' (0 left); retry when one finishes",
                      r->principal, (long long)u->running, (long long)r->concurrent,
                      r->database);
        goto cleanup;
    }
    if (r->per_minute && u->tokens < 1.0) {
        double wait_ms = (1.0 - u->tokens) * 60000.0 / (double)r->per_minute;
        rc = gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-POLICY-RATE",
                      "principal '%s' used its %lld queries per minute on '%s' (0 left); the "
                      "next one is allowed in %.0f ms",
                      r->principal, (long long)r->per_minute, r->database, wait_ms + 0.5);
        goto cleanup;
    }
    if (r->per_minute)
        u->tokens -= 1.0;
    u->running++;
    *took = 1;
cleanup:
    pthread_mutex_unlock(&g->mu);
    return rc;
}

static void gate_budget_release(struct gate *g, struct gate_call *gc)
{
    pthread_mutex_lock(&g->mu);
    struct gate_usage *u = gate_usage_find(g, gc->rules->principal, gc->rules->database);
    if (u && u->running > 0)
        u->running--;
    pthread_mutex_unlock(&g->mu);
}

/* Compiles (never runs) one policy expression on the database so that a
 * row filter or custom mask that does not parse, names a missing column or
 * calls a denied function is reported with its file:line:col. */
static int gate_check_expr(struct db *d, const char *table, const char *select, const char *where,
                           char *err, size_t errlen)
{
    struct gate_decision dec;
    struct gate_call gc;
    struct sbuf b;
    void *stmt = NULL;
    struct dc_stmt_info info;
    memset(&dec, 0, sizeof(dec));
    memset(&gc, 0, sizeof(gc));
    memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    gc.dec = &dec;
    sbuf_init(&b);
    int sqlite = d->vt->dialect && strcmp(d->vt->dialect, "sqlite") == 0;
    sbuf_addf(&b, "SELECT %s FROM %s\"", select, sqlite ? "main." : "");
    for (const char *p = table; *p; p++) {
        if (*p == '"')
            sbuf_add(&b, "\"", 1); /* doubled: the name stays one identifier */
        sbuf_add(&b, p, 1);
    }
    sbuf_adds(&b, "\"");
    if (where)
        sbuf_addf(&b, " WHERE (\n%s\n)", where);
    if (b.oom) {
        sbuf_free(&b);
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    }
    struct dc_authorizer az = {sizeof(az), &gc, gate_authorize, gate_authorize2};
    char perr[400] = "";
    int rc = d->vt->prepare(d->conn, b.p, &az, &stmt, &info, perr, sizeof(perr));
    if (stmt)
        d->vt->finalize(d->conn, stmt);
    sbuf_free(&b);
    if (rc == DC_OK && dec.code[0])
        rc = DC_EDENIED;
    if (rc == DC_OK && !info.single)
        rc = util_err(perr, sizeof(perr), DC_EINVAL, "it holds more than one expression");
    if (rc != DC_OK)
        util_err(err, errlen, rc, "%s", dec.code[0] ? dec.reason : perr[0] ? perr : "it does not compile");
    gate_decision_clear(&dec);
    return rc;
}

/* The policies' live-schema checks, once per database. Caller holds d->lock. */
static int gate_check_db(struct gate *g, struct gate_call *gc, struct db *d,
                         const struct dc_schema *schema)
{
    char msg[700] = "";
    if (!d->policy_checked) {
        struct cfg_diags *diags = calloc(1, sizeof(*diags));
        if (!diags)
            return gate_set(gc, KIND_ERROR, DC_ENOMEM, "E-GATE-INTERNAL", "out of memory");
        if (policy_check_schema(g->policies, d->name, schema, diags) != DC_OK && diags->n) {
            config_diag_format(&diags->d[0], msg, sizeof(msg));
        }
        for (size_t i = 0; !msg[0] && i < g->policies->np; i++) {
            const struct policy_principal *p = &g->policies->p[i];
            for (size_t j = 0; !msg[0] && j < p->ndbs; j++) {
                if (strcmp(p->dbs[j].name, d->name) != 0)
                    continue;
                for (size_t k = 0; !msg[0] && k < p->dbs[j].ntables; k++) {
                    const struct policy_table *t = &p->dbs[j].tables[k];
                    char err[450] = "";
                    if (t->row_filter &&
                        gate_check_expr(d, t->name, "1", t->row_filter, err, sizeof(err)) != DC_OK)
                        snprintf(msg, sizeof(msg),
                                 "%s:%d:%d: E-POLICY-ROW-FILTER: the row_filter of table '%s' "
                                 "(principal '%s') does not compile: %s",
                                 p->file, t->filter_line, t->filter_col, t->name, p->name, err);
                    for (size_t c = 0; !msg[0] && c < t->ncols; c++) {
                        const struct policy_column *pc = &t->cols[c];
                        if (pc->mask != POLICY_MASK_SQL)
                            continue;
                        char *e = policy_mask_expr(pc->mask, pc->mask_sql, pc->name,
                                                   d->vt->dialect ? d->vt->dialect : "sqlite");
                        if (e && gate_check_expr(d, t->name, e, NULL, err, sizeof(err)) != DC_OK)
                            snprintf(msg, sizeof(msg),
                                     "%s:%d:%d: E-POLICY-MASK-SQL: the sql mask of column "
                                     "'%s.%s' (principal '%s') does not compile: %s",
                                     p->file, pc->line, pc->col, t->name, pc->name, p->name, err);
                        free(e);
                    }
                }
            }
        }
        free(diags);
        d->policy_checked = 1;
        if (msg[0] && !(d->policy_error = strdup(msg)))
            return gate_set(gc, KIND_ERROR, DC_ENOMEM, "E-GATE-INTERNAL", "out of memory");
    }
    if (d->policy_error)
        return gate_set(gc, KIND_ERROR, DC_EINVAL, "E-POLICY-INVALID",
                        "the access policy does not match database '%s': %s; fix the policy "
                        "file (nothing runs on this database until then)",
                        d->name, d->policy_error);
    return DC_OK;
}

/* The connections the principal's statements use. Without shadowed tables
 * that is the shared connection and no probe. Caller holds d->lock. */
static int gate_session(struct gate_call *gc, struct db *d, const struct dc_schema *schema,
                        void **conn, void **probe)
{
    const struct policy_rules *r = gc->rules;
    char **run = NULL, **stub = NULL;
    size_t nrun = 0, nstub = 0;
    char err[600] = "";
    int need = 0, rc;
    *conn = d->conn;
    *probe = NULL;
    for (size_t i = 0; i < r->ntables; i++)
        need |= policy_table_shadowed(r->tables[i].t);
    /* PostgreSQL rewrites each statement instead (gate_pg_policy). */
    if (!need || (d->vt->dialect && strcmp(d->vt->dialect, "postgres") == 0))
        return DC_OK;
    struct db_session *s = db_session_get(d, r->principal);
    if (!s)
        return gate_set(gc, KIND_ERROR, DC_ENOMEM, "E-GATE-INTERNAL", "out of memory");
    if (!s->ready) {
        rc = policy_session_sql(r, schema, d->vt->dialect, 0, &run, &nrun, err, sizeof(err));
        if (rc == DC_OK)
            rc = policy_session_sql(r, schema, d->vt->dialect, 1, &stub, &nstub, err,
                                    sizeof(err));
        if (rc == DC_OK)
            rc = db_session_open(d, s, run, nrun, stub, nstub, err, sizeof(err));
        policy_strv_free(run, nrun);
        policy_strv_free(stub, nstub);
        if (rc == DC_EUNSUPPORTED)
            return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-POLICY-UNSUPPORTED",
                            "%s; nothing runs for principal '%s' on this database", err,
                            r->principal);
        if (rc != DC_OK)
            return gate_set(gc, KIND_ERROR, rc, "E-POLICY-SESSION", "%s", err);
    }
    *conn = s->conn;
    *probe = s->probe;
    return DC_OK;
}

/* Compiles the statement against the stub views: there, any read of a
 * shadowed table is a direct one (a qualified name, a user's view, a CTE
 * borrowing the view's name, a USING join), and a denied column is still
 * a column, so naming it gets its own code. */
static int gate_probe(struct gate_call *gc, struct db *d, void *probe)
{
    struct gate_call pc = *gc;
    void *st = NULL;
    pc.probe = 1;
    int rc = gate_validate(&pc, d, probe, &st);
    if (st)
        d->vt->finalize(probe, st);
    gc->kind = pc.kind;
    return rc;
}

/* Tables a parser reported without the authorizer (PostgreSQL's parse
 * tree) still obey table-level rules. */
static int gate_policy_tables(struct gate_call *gc)
{
    for (size_t i = 0; gc->rules && i < gc->dec->ntables; i++) {
        const char *t = gc->dec->tables[i];
        if (gc->schema && !schema_find(gc->schema, unqual(t)))
            continue; /* a CTE's name */
        if (!policy_table_allowed(gc->rules, t))
            return gate_set(gc, KIND_REFUSED, DC_EDENIED, "E-POLICY-TABLE-DENIED",
                            "table '%s' is denied to principal '%s' on database '%s'", t,
                            gc->rules->principal, gc->rules->database);
    }
    return DC_OK;
}

const struct dc_schema *gate_schema(struct gate *g, const char *principal, struct db *d,
                                    char *err, size_t errlen)
{
    struct policy_rules *r = NULL;
    if (!g || !d) {
        util_err(err, errlen, DC_EINVAL, "gate_schema: missing argument");
        return NULL;
    }
    const struct dc_schema *base = db_schema(d, err, errlen);
    if (!base || !g->policies)
        return base;
    int rc = policy_resolve(g->policies, principal ? principal : "", d->name, &r);
    if (rc != DC_OK) {
        util_err(err, errlen, rc,
                 rc == DC_ENOTFOUND ? "E-POLICY-NO-PRINCIPAL: principal '%s' has no access policy"
                                    : "out of memory (%s)",
                 principal ? principal : "");
        return NULL;
    }
    const struct dc_schema *ret = NULL;
    pthread_mutex_lock(&d->lock);
    struct db_session *s = db_session_get(d, r->principal);
    if (s && !s->schema && policy_filter_schema(r, base, &s->schema) != DC_OK)
        s->schema = NULL;
    ret = s ? s->schema : NULL;
    pthread_mutex_unlock(&d->lock);
    policy_rules_free(r);
    if (!ret)
        util_err(err, errlen, DC_ENOMEM, "out of memory filtering the catalog");
    return ret;
}

/* Steps 1-3. res NULL: validate only. */
static int gate_process(struct gate *g, struct gate_call *gc, const char *principal,
                        struct db *d, const char *sql, const struct dc_value *params,
                        size_t nparams, struct dc_result **res)
{
    char err[512] = "";
    void *stmt = NULL, *conn = NULL, *probe = NULL;
    const struct dc_schema *schema = NULL;
    int rc = gate_precheck(gc, principal, sql);
    if (rc != DC_OK)
        return rc;
    rc = gate_rewrite(gc, sql);
    if (rc != DC_OK)
        return rc;
    char dbc[40];
    rc = db_open(d, err, sizeof(err));
    if (rc != DC_OK)
        return gate_set(gc, KIND_ERROR, rc, gate_db_code(err, "E-GATE-DB-OPEN", dbc, sizeof(dbc)),
                        "%s", err);
    if (gc->rules && !(schema = db_schema(d, err, sizeof(err))))
        return gate_set(gc, KIND_ERROR, DC_EIO,
                        gate_db_code(err, "E-GATE-DB-OPEN", dbc, sizeof(dbc)), "%s", err);
    gc->schema = schema;
    /* One statement at a time per connection, from prepare to finalize; a
     * pooling connector's shared handle serves several at once, so there
     * the lock guards only the policy checks and the session table. */
    pthread_mutex_lock(&d->lock);
    int locked = 1;
    conn = d->conn;
    if (gc->rules) {
        rc = gate_check_db(g, gc, d, schema);
        if (rc == DC_OK)
            rc = gate_session(gc, d, schema, &conn, &probe);
        if (rc == DC_OK && probe)
            rc = gate_probe(gc, d, probe);
    }
    if (rc == DC_OK && conn == d->conn && !probe && db_concurrent(d)) {
        pthread_mutex_unlock(&d->lock);
        locked = 0;
    }
    if (rc == DC_OK)
        rc = gate_validate(gc, d, conn, &stmt);
    if (rc == DC_OK)
        rc = gate_policy_tables(gc);
    if (rc == DC_OK && res)
        rc = gate_execute(g, gc, d, conn, stmt, params, nparams, res);
    if (stmt)
        d->vt->finalize(conn, stmt);
    if (locked)
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
    struct gate_call gc = {dec, KIND_OK, 0, NULL, 0, NULL, g};
    struct policy_rules *rules = NULL;
    char *policy_note = NULL;
    int took = 0;
    int64_t t0 = util_now_us();
    int rc = gate_begin(g, &gc, principal, db, &rules);
    if (rc == DC_OK)
        rc = gate_budget_take(g, &gc, &took);
    if (rc == DC_OK)
        rc = gate_process(g, &gc, principal, db, sql, params, nparams, &res);
    if (took)
        gate_budget_release(g, &gc);
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
    if (g->policies) {
        /* What the policy did is part of what ran: the views the statement
         * read through and the limits it ran under. */
        struct sbuf pb;
        sbuf_init(&pb);
        for (size_t i = 0; i < dec->npolicies; i++)
            sbuf_addf(&pb, "%s%s", i ? "; " : "", dec->policies[i]);
        sbuf_addf(&pb, "%s%s", dec->npolicies ? "; " : "", dec->limits);
        policy_note = pb.oom ? NULL : sbuf_detach(&pb);
        sbuf_free(&pb);
        rec.policy = policy_note ? policy_note : "(policy text unavailable: out of memory)";
    }
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
    free(policy_note);
    policy_rules_free(rules);
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
    struct gate_call gc = {dec, KIND_OK, 0, NULL, 0, NULL, g};
    struct policy_rules *rules = NULL;
    int64_t t0 = util_now_us();
    int rc = gate_begin(g, &gc, principal, db, &rules);
    if (rc == DC_OK)
        rc = gate_process(g, &gc, principal, db, sql, NULL, 0, NULL);
    policy_rules_free(rules);
    dec->duration_us = util_now_us() - t0;
    dec->rc = rc;
    if (dec == &local)
        gate_decision_clear(&local);
    return rc;
}
