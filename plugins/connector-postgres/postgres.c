/*
 * connector-postgres - PostgreSQL databases through libpq, read-only.
 *
 * The gate has already judged the statement on libpg_query's parse tree
 * (core/pgparse.c) before prepare() is called; the connector checks it
 * against the live schema (an unnamed prepared statement, never executed)
 * and runs it. Whatever the gate says, every statement runs inside
 * BEGIN READ ONLY with SET LOCAL statement_timeout and is rolled back, the
 * session defaults to read-only transactions, results stream in single-row
 * mode and stop at the row cap, and connection parameters are passed as
 * separate keywords with expand_dbname=0 so a database name can never carry
 * other connection options. Passwords come only from the variable named by
 * password_env or libpq's own PGPASSWORD/pgpass, never from config text.
 *
 * The handle open() returns is a small pool (option pool_size, default 4)
 * of libpq connections to one database: each prepare, execute and
 * introspect call borrows an idle connection for its own duration and
 * gives it back, so callers on several threads run in parallel, up to the
 * pool size, and wait beyond it. A connection found dropped (server
 * restart, pg_terminate_backend) is re-established once before its next
 * statement; if that fails the statement fails with the cause's code
 * (E-DB-UNREACHABLE, E-DB-AUTH). A statement whose connection drops while
 * it runs fails with E-DB-CONNECTION-LOST.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libpq-fe.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#define PG_DEFAULT_CONNECT_TIMEOUT_S 10
#define PG_MAX_CONNECT_TIMEOUT_S 600
/* Parse analysis only; a lock held by a concurrent ALTER is the usual wait. */
#define PG_PREPARE_TIMEOUT_MS 10000
#define PG_INTROSPECT_TIMEOUT_MS 60000
/* How long past the server-side statement_timeout the client waits before
 * it cancels on its own (a server that stopped answering). */
#define PG_CLIENT_GRACE_MS 5000
#define PG_MAX_KEYWORDS 48
#define PG_DEFAULT_POOL_SIZE 4
#define PG_MAX_POOL_SIZE 64
/* The stable code a lost connection carries in its message (docs/CONFIG.md). */
/* Stable codes at the head of connection failures ("postgres: E-DB-...: "),
 * which the gate takes over as the decision's code: one per cause. */
#define PG_E_AUTH "E-DB-AUTH"             /* wrong password or role */
#define PG_E_UNREACHABLE "E-DB-UNREACHABLE" /* no server at host:port, or no answer */
#define PG_E_CONNECTION "E-DB-CONNECTION" /* anything else (TLS, database name, ...) */
#define PG_E_LOST "E-DB-CONNECTION-LOST"  /* dropped while a statement ran */

/* Type OIDs from PostgreSQL's pg_type.dat (stable across versions). */
enum {
    OID_BOOL = 16, OID_BYTEA = 17, OID_CHAR = 18, OID_NAME = 19, OID_INT8 = 20, OID_INT2 = 21,
    OID_INT4 = 23, OID_TEXT = 25, OID_OID = 26, OID_JSON = 114, OID_XML = 142,
    OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_BPCHAR = 1042, OID_VARCHAR = 1043, OID_DATE = 1082,
    OID_TIME = 1083, OID_TIMESTAMP = 1114, OID_TIMESTAMPTZ = 1184, OID_INTERVAL = 1186,
    OID_NUMERIC = 1700, OID_UUID = 2950, OID_JSONB = 3802
};

/* One libpq connection of a pool. */
struct pg_conn {
    const struct dc_host *h;
    PGconn *pg;
    char label[256];           /* "database "x" on host:port", for every message */
    const char *search_path;   /* the pool's */
    const char *schemas_array; /* the pool's */
};

enum pg_slot { SLOT_EMPTY = 0, SLOT_IDLE, SLOT_BUSY, SLOT_CONNECTING };

/* The handle the host holds: every connection to one configured database. */
struct pg_pool {
    const struct dc_host *h;
    char *search_path;   /* the configured schemas as quoted identifiers */
    char *schemas_array; /* the same as a text[] literal for introspection */
    char **key, **val;   /* libpq keywords, NULL-terminated, for new connections */
    int size;
    pthread_mutex_t mu;
    pthread_cond_t freed; /* a slot went idle or empty */
    struct pg_conn **conns;
    int *state;           /* enum pg_slot per slot */
};

struct pg_stmt {
    char *sql;
    int nparams;
    int ncols;
};

static int pg_err(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int pg_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int64_t pg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libpq's messages span lines ("...failed: X\n\tIs the server running...");
 * a user sees one line. */
static void pg_one_line(const char *in, char *out, size_t outlen)
{
    size_t n = 0;
    int space = 0;
    if (!outlen)
        return;
    for (const char *p = in ? in : ""; *p && n + 1 < outlen; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r') {
            space = 1;
            continue;
        }
        if (space && n > 0 && n + 2 < outlen) {
            out[n++] = ';';
            out[n++] = ' ';
        }
        space = 0;
        out[n++] = *p;
    }
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == ';'))
        n--;
    out[n] = '\0';
}

static int pg_type_of(Oid oid)
{
    switch (oid) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8: return DC_INT;
    case OID_FLOAT4:
    case OID_FLOAT8: return DC_REAL;
    case OID_NUMERIC: return DC_NUMERIC;
    case OID_BOOL: return DC_BOOL;
    case OID_DATE: return DC_DATE;
    case OID_TIMESTAMP:
    case OID_TIMESTAMPTZ: return DC_TIMESTAMP;
    case OID_JSON:
    case OID_JSONB: return DC_JSON;
    case OID_BYTEA: return DC_BLOB;
    default: return DC_TEXT;
    }
}

static const char *pg_type_name(Oid oid)
{
    static const struct {
        Oid oid;
        const char *name;
    } names[] = {
        {OID_BOOL, "boolean"}, {OID_BYTEA, "bytea"}, {OID_CHAR, "\"char\""},
        {OID_NAME, "name"}, {OID_INT8, "bigint"}, {OID_INT2, "smallint"},
        {OID_INT4, "integer"}, {OID_TEXT, "text"}, {OID_OID, "oid"}, {OID_JSON, "json"},
        {OID_XML, "xml"}, {OID_FLOAT4, "real"}, {OID_FLOAT8, "double precision"},
        {OID_BPCHAR, "character"}, {OID_VARCHAR, "character varying"}, {OID_DATE, "date"},
        {OID_TIME, "time without time zone"}, {OID_TIMESTAMP, "timestamp without time zone"},
        {OID_TIMESTAMPTZ, "timestamp with time zone"}, {OID_INTERVAL, "interval"},
        {OID_NUMERIC, "numeric"}, {OID_UUID, "uuid"}, {OID_JSONB, "jsonb"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].oid == oid)
            return names[i].name;
    return NULL;
}

/* ---- Connection parameters ------------------------------------------------- */

struct pg_kw {
    const char *key[PG_MAX_KEYWORDS + 1];
    const char *val[PG_MAX_KEYWORDS + 1];
    int n;
};

static int pg_kw_set(struct pg_kw *kw, const char *key, const char *val)
{
    if (!val)
        return DC_OK;
    for (int i = 0; i < kw->n; i++) {
        if (strcmp(kw->key[i], key) == 0) {
            kw->val[i] = val;
            return DC_OK;
        }
    }
    if (kw->n >= PG_MAX_KEYWORDS)
        return DC_ELIMIT;
    kw->key[kw->n] = key;
    kw->val[kw->n] = val;
    kw->n++;
    kw->key[kw->n] = NULL;
    kw->val[kw->n] = NULL;
    return DC_OK;
}

/* Double-quoted identifier, or a text[] element: both double embedded
 * quotes away (identifier) or backslash them (array element). */
static int pg_append_quoted(char **buf, size_t *len, const char *s, int array_elem)
{
    size_t n = strlen(s), extra = 0;
    for (size_t i = 0; i < n; i++)
        extra += s[i] == '"' || (array_elem && s[i] == '\\');
    char *b = realloc(*buf, *len + n + extra + 4);
    if (!b)
        return DC_ENOMEM;
    *buf = b;
    char *p = b + *len;
    if (*len > 0 && p[-1] != '{')
        *p++ = ',';
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            *p++ = array_elem ? '\\' : '"';
        else if (array_elem && s[i] == '\\')
            *p++ = '\\';
        *p++ = s[i];
    }
    *p++ = '"';
    *p = '\0';
    *len = (size_t)(p - b);
    return DC_OK;
}

static int pg_schemas(struct pg_pool *c, const struct dc_opts *opts, char *err, size_t errlen)
{
    const struct dc_host *h = c->h;
    size_t n = h->opt_list_len ? h->opt_list_len(opts, "schemas") : 0;
    size_t plen = 0, alen = 1;
    c->schemas_array = strdup("{");
    if (!c->schemas_array)
        return pg_err(err, errlen, DC_ENOMEM, "postgres: out of memory");
    for (size_t i = 0; i < (n ? n : 1); i++) {
        const char *s = n ? h->opt_list_item(opts, "schemas", i) : "public";
        if (!s || !*s)
            return pg_err(err, errlen, DC_EINVAL,
                          "postgres: option 'schemas' item %zu is empty; list schema names, "
                          "e.g. [public, sales]",
                          i + 1);
        if (pg_append_quoted(&c->search_path, &plen, s, 0) != DC_OK ||
            pg_append_quoted(&c->schemas_array, &alen, s, 1) != DC_OK)
            return pg_err(err, errlen, DC_ENOMEM, "postgres: out of memory");
    }
    char *a = realloc(c->schemas_array, alen + 2);
    if (!a)
        return pg_err(err, errlen, DC_ENOMEM, "postgres: out of memory");
    c->schemas_array = a;
    memcpy(a + alen, "}", 2);
    return DC_OK;
}

/* What to do about a failed connection, judged on libpq's message. */
static const char *pg_connect_hint(const char *msg)
{
    if (strstr(msg, "password authentication failed") || strstr(msg, "no password supplied"))
        return "check the password in the variable named by password_env (or PGPASSWORD, "
               "~/.pgpass) and the user name";
    if (strstr(msg, "does not exist") && strstr(msg, "database"))
        return "check the database name (option dbname)";
    if (strstr(msg, "does not exist") && strstr(msg, "role"))
        return "check the user name (option user)";
    if (strstr(msg, "timeout expired"))
        return "the server did not answer within connect_timeout_s; check host, port and "
               "firewalls";
    if (strstr(msg, "Connection refused") || strstr(msg, "No such file or directory") ||
        strstr(msg, "could not translate host name") || strstr(msg, "No route to host"))
        return "check host and port, and that the server is running";
    if (strstr(msg, "SSL") || strstr(msg, "certificate"))
        return "check sslmode and sslrootcert";
    return "check the connection options";
}

/* The stable code of a failed connection, judged on libpq's message. */
static const char *pg_connect_code(const char *msg)
{
    if (strstr(msg, "password authentication failed") || strstr(msg, "no password supplied") ||
        (strstr(msg, "does not exist") && strstr(msg, "role")))
        return PG_E_AUTH;
    if (strstr(msg, "timeout expired") || strstr(msg, "Connection refused") ||
        strstr(msg, "No such file or directory") || strstr(msg, "could not translate host name") ||
        strstr(msg, "No route to host"))
        return PG_E_UNREACHABLE;
    return PG_E_CONNECTION;
}

static void pg_set_label(struct pg_conn *c)
{
    const char *db = PQdb(c->pg), *host = PQhost(c->pg), *port = PQport(c->pg);
    snprintf(c->label, sizeof(c->label), "database \"%.80s\" on %.120s:%.10s", db ? db : "?",
             host && *host ? host : "localhost", port && *port ? port : "5432");
}

/* Session defaults every statement relies on: read-only transactions even
 * if BEGIN READ ONLY were ever skipped, the configured schemas first on the
 * search path (as introspection shows them), ISO dates. */
static int pg_session_setup(struct pg_conn *c, char *err, size_t errlen)
{
    const char *params[1] = {c->search_path};
    PGresult *r = PQexecParams(c->pg,
                               "SELECT pg_catalog.set_config('default_transaction_read_only', "
                               "'on', false), pg_catalog.set_config('search_path', $1, false), "
                               "pg_catalog.set_config('DateStyle', 'ISO, YMD', false), "
                               "pg_catalog.set_config('IntervalStyle', 'iso_8601', false)",
                               1, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    char line[512];
    if (!ok)
        pg_one_line(PQresultErrorMessage(r), line, sizeof(line));
    PQclear(r);
    if (!ok)
        return pg_err(err, errlen, DC_EIO, "postgres: %s: cannot set up the session: %s",
                      c->label, line);
    return DC_OK;
}

static void pg_conn_free(struct pg_conn *c)
{
    if (!c)
        return;
    if (c->pg)
        PQfinish(c->pg);
    free(c);
}

static void pg_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void pg_close(void *conn)
{
    struct pg_pool *p = conn;
    if (!p)
        return;
    for (int i = 0; p->conns && i < p->size; i++)
        pg_conn_free(p->conns[i]);
    free(p->conns);
    free(p->state);
    pg_strv_free(p->key);
    pg_strv_free(p->val);
    free(p->search_path);
    free(p->schemas_array);
    pthread_cond_destroy(&p->freed);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* One new connection with the pool's keywords and session defaults. */
static int pg_conn_new(struct pg_pool *p, struct pg_conn **out, char *err, size_t errlen)
{
    char line[768];
    int rc = DC_OK;
    struct pg_conn *c = calloc(1, sizeof(*c));
    *out = NULL;
    if (!c)
        return pg_err(err, errlen, DC_ENOMEM, "postgres: out of memory");
    c->h = p->h;
    c->search_path = p->search_path;
    c->schemas_array = p->schemas_array;
    /* expand_dbname = 0: dbname is a name, never a connection string. */
    c->pg = PQconnectdbParams((const char *const *)p->key, (const char *const *)p->val, 0);
    if (!c->pg) {
        rc = pg_err(err, errlen, DC_ENOMEM, "postgres: out of memory while connecting");
        goto cleanup;
    }
    pg_set_label(c);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        pg_one_line(PQerrorMessage(c->pg), line, sizeof(line));
        rc = pg_err(err, errlen, DC_EIO, "postgres: %s: cannot connect to %s: %s; %s",
                    pg_connect_code(line), c->label, line, pg_connect_hint(line));
        goto cleanup;
    }
    rc = pg_session_setup(c, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    *out = c;
    c = NULL;
cleanup:
    pg_conn_free(c);
    return rc;
}

/* Borrows an idle connection, opening one more while the pool has room
 * and waiting for a busy one to come back otherwise. A failed extra
 * connection is not an error while others exist: the caller waits for
 * one of them instead (the server's max_connections, say). */
static int pg_acquire(struct pg_pool *p, struct pg_conn **out, char *err, size_t errlen)
{
    int rc = DC_OK, grow = 1;
    *out = NULL;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        int idle = -1, empty = -1, others = 0;
        for (int i = 0; i < p->size; i++) {
            if (p->state[i] == SLOT_IDLE && idle < 0)
                idle = i;
            else if (p->state[i] == SLOT_EMPTY && empty < 0)
                empty = i;
            if (p->state[i] != SLOT_EMPTY)
                others = 1;
        }
        if (idle >= 0) {
            p->state[idle] = SLOT_BUSY;
            *out = p->conns[idle];
            break;
        }
        if (empty >= 0 && (grow || !others)) {
            struct pg_conn *c = NULL;
            p->state[empty] = SLOT_CONNECTING;
            pthread_mutex_unlock(&p->mu);
            rc = pg_conn_new(p, &c, err, errlen);
            pthread_mutex_lock(&p->mu);
            if (rc == DC_OK) {
                p->conns[empty] = c;
                p->state[empty] = SLOT_BUSY;
                *out = c;
                break;
            }
            p->state[empty] = SLOT_EMPTY;
            pthread_cond_broadcast(&p->freed);
            others = 0;
            for (int i = 0; i < p->size; i++)
                others |= p->state[i] != SLOT_EMPTY;
            if (!others)
                break;
            grow = 0;
            rc = DC_OK;
        }
        pthread_cond_wait(&p->freed, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void pg_release(struct pg_pool *p, struct pg_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->size; i++) {
        if (p->conns[i] == c && p->state[i] == SLOT_BUSY) {
            p->state[i] = SLOT_IDLE;
            break;
        }
    }
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->mu);
}

/* The keywords outlive pg_open's locals: every later connection uses them. */
static int pg_pool_keywords(struct pg_pool *p, const struct pg_kw *kw)
{
    p->key = calloc((size_t)kw->n + 1, sizeof(*p->key));
    p->val = calloc((size_t)kw->n + 1, sizeof(*p->val));
    if (!p->key || !p->val)
        return DC_ENOMEM;
    for (int i = 0; i < kw->n; i++) {
        p->key[i] = strdup(kw->key[i]);
        p->val[i] = strdup(kw->val[i]);
        if (!p->key[i] || !p->val[i]) {
            free(p->key[i]); /* the NULL-terminated arrays stay consistent */
            free(p->val[i]);
            p->key[i] = p->val[i] = NULL;
            return DC_ENOMEM;
        }
    }
    return DC_OK;
}

static int pg_open(const struct dc_host *h, const struct dc_opts *opts, void **conn, char *err,
                   size_t errlen)
{
    struct pg_pool *c = NULL;
    struct pg_conn *first = NULL;
    PQconninfoOption *parsed = NULL;
    char *perr = NULL;
    struct pg_kw kw;
    char timeout_txt[24];
    char line[768];
    int rc = DC_OK;
    memset(&kw, 0, sizeof(kw));
    if (!h || !conn)
        return pg_err(err, errlen, DC_EINVAL, "postgres: open called without host or handle");
    *conn = NULL;
    const char *dsn = h->opt_str(opts, "dsn");
    const char *dsn_env = h->opt_str(opts, "dsn_env");
    const char *pw_env = h->opt_str(opts, "password_env");
    int64_t timeout_s = PG_DEFAULT_CONNECT_TIMEOUT_S;
    int orc = h->opt_int(opts, "connect_timeout_s", &timeout_s);
    if (orc == DC_ENOTFOUND)
        timeout_s = PG_DEFAULT_CONNECT_TIMEOUT_S;
    else if (orc != DC_OK || timeout_s < 1 || timeout_s > PG_MAX_CONNECT_TIMEOUT_S)
        return pg_err(err, errlen, DC_EINVAL,
                      "postgres: option 'connect_timeout_s' must be a whole number of seconds "
                      "from 1 to %d",
                      PG_MAX_CONNECT_TIMEOUT_S);
    int64_t pool_size = PG_DEFAULT_POOL_SIZE;
    orc = h->opt_int(opts, "pool_size", &pool_size);
    if (orc == DC_ENOTFOUND)
        pool_size = PG_DEFAULT_POOL_SIZE;
    else if (orc != DC_OK || pool_size < 1 || pool_size > PG_MAX_POOL_SIZE)
        return pg_err(err, errlen, DC_EINVAL,
                      "postgres: option 'pool_size' must be a whole number of connections "
                      "from 1 to %d",
                      PG_MAX_POOL_SIZE);
    if (dsn && *dsn && dsn_env && *dsn_env)
        return pg_err(err, errlen, DC_EINVAL,
                      "postgres: options 'dsn' and 'dsn_env' are both set; keep one");
    int from_env = 0;
    if (dsn_env && *dsn_env) {
        dsn = getenv(dsn_env);
        from_env = 1;
        if (!dsn || !*dsn)
            return pg_err(err, errlen, DC_EINVAL,
                          "postgres: option 'dsn_env' names the variable %s, which is not set "
                          "or empty; export it or use 'dsn' and discrete options",
                          dsn_env);
    }

    c = calloc(1, sizeof(*c));
    if (!c)
        return pg_err(err, errlen, DC_ENOMEM, "postgres: out of memory");
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return pg_err(err, errlen, DC_ERR, "postgres: cannot create the pool's lock");
    }
    if (pthread_cond_init(&c->freed, NULL) != 0) {
        pthread_mutex_destroy(&c->mu);
        free(c);
        return pg_err(err, errlen, DC_ERR, "postgres: cannot create the pool's condition");
    }
    c->h = h;
    c->size = (int)pool_size;
    c->conns = calloc((size_t)c->size, sizeof(*c->conns));
    c->state = calloc((size_t)c->size, sizeof(*c->state));
    if (!c->conns || !c->state) {
        rc = pg_err(err, errlen, DC_ENOMEM, "postgres: out of memory");
        goto cleanup;
    }
    rc = pg_schemas(c, opts, err, errlen);
    if (rc != DC_OK)
        goto cleanup;

    if (dsn && *dsn) {
        parsed = PQconninfoParse(dsn, &perr);
        if (!parsed) {
            pg_one_line(perr ? perr : "out of memory", line, sizeof(line));
            rc = pg_err(err, errlen, DC_EINVAL,
                        "postgres: option '%s' is not a valid connection string or "
                        "postgresql:// URL: %s",
                        from_env ? "dsn_env" : "dsn", line);
            goto cleanup;
        }
        for (PQconninfoOption *o = parsed; o->keyword; o++) {
            if (!o->val)
                continue;
            if (strcmp(o->keyword, "password") == 0 && !from_env) {
                /* Config text and command lines end up in ps, logs and shell
                 * history; a secret does not belong there. */
                rc = pg_err(err, errlen, DC_EINVAL,
                            "postgres: option 'dsn' holds a password; remove it and name an "
                            "environment variable in password_env (or use PGPASSWORD or "
                            "~/.pgpass)");
                goto cleanup;
            }
            if (pg_kw_set(&kw, o->keyword, o->val) != DC_OK) {
                rc = pg_err(err, errlen, DC_ELIMIT, "postgres: too many connection options");
                goto cleanup;
            }
        }
    }
    static const char *const discrete[] = {"host", "port", "dbname", "user", "sslmode",
                                           "sslrootcert"};
    for (size_t i = 0; i < sizeof(discrete) / sizeof(discrete[0]); i++) {
        const char *v = h->opt_str(opts, discrete[i]);
        if (v && *v)
            pg_kw_set(&kw, discrete[i], v);
    }
    if (pw_env && *pw_env) {
        const char *pw = getenv(pw_env);
        if (!pw || !*pw) {
            rc = pg_err(err, errlen, DC_EINVAL,
                        "postgres: option 'password_env' names the variable %s, which is not "
                        "set or empty; export it or remove password_env to use ~/.pgpass",
                        pw_env);
            goto cleanup;
        }
        pg_kw_set(&kw, "password", pw);
    }
    snprintf(timeout_txt, sizeof(timeout_txt), "%" PRId64, timeout_s);
    pg_kw_set(&kw, "connect_timeout", timeout_txt);
    pg_kw_set(&kw, "client_encoding", "UTF8");
    pg_kw_set(&kw, "application_name", "datachat");
    if (kw.n >= PG_MAX_KEYWORDS) {
        rc = pg_err(err, errlen, DC_ELIMIT, "postgres: too many connection options");
        goto cleanup;
    }
    if (pg_pool_keywords(c, &kw) != DC_OK) {
        rc = pg_err(err, errlen, DC_ENOMEM, "postgres: out of memory");
        goto cleanup;
    }
    /* The first connection now, so a wrong host or password shows at open. */
    rc = pg_conn_new(c, &first, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    c->conns[0] = first;
    c->state[0] = SLOT_IDLE;
    *conn = c;
    c = NULL;
cleanup:
    if (parsed)
        PQconninfoFree(parsed);
    if (perr)
        PQfreemem(perr);
    pg_close(c);
    return rc;
}

/* ---- Statements -------------------------------------------------------- */

/* A dropped connection is reset once (and its session set up again). */
static int pg_ensure(struct pg_conn *c, char *err, size_t errlen)
{
    char line[512];
    if (PQstatus(c->pg) == CONNECTION_OK)
        return DC_OK;
    PQreset(c->pg);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        pg_one_line(PQerrorMessage(c->pg), line, sizeof(line));
        return pg_err(err, errlen, DC_EIO,
                      "postgres: %s: %s: the connection was lost and reconnecting failed "
                      "(cannot connect): %s; %s",
                      pg_connect_code(line), c->label, line, pg_connect_hint(line));
    }
    return pg_session_setup(c, err, errlen);
}

/* Maps a failed result to a status code and one line naming the database. */
static int pg_result_err(struct pg_conn *c, PGresult *r, const char *doing, char *err,
                         size_t errlen)
{
    char line[512];
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *pos = r ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
    /* 57P01-57P03: the server is shutting the session down (terminated
     * backend, restart); 08: connection exceptions. Either way this
     * connection is finished, whatever libpq has noticed so far. */
    int lost = PQstatus(c->pg) == CONNECTION_BAD ||
               (state && (strncmp(state, "57P0", 4) == 0 || strncmp(state, "08", 2) == 0));
    if (lost) {
        if (primary)
            pg_one_line(primary, line, sizeof(line));
        else
            pg_one_line(PQerrorMessage(c->pg), line, sizeof(line));
        return pg_err(err, errlen, DC_EIO,
                      "postgres: " PG_E_LOST ": %s: the connection was lost while %s: "
                      "%s; the next statement reconnects",
                      c->label, doing, line[0] ? line : "the server closed the connection");
    }
    pg_one_line(primary ? primary : (r ? PQresultErrorMessage(r) : PQerrorMessage(c->pg)), line,
                sizeof(line));
    int code = DC_EIO;
    if (state && strcmp(state, "25006") == 0)
        code = DC_EDENIED; /* read_only_sql_transaction */
    else if (state && strcmp(state, "42501") == 0)
        code = DC_EDENIED; /* insufficient_privilege */
    else if (state && strcmp(state, "57014") == 0)
        code = DC_ETIMEOUT;
    else if (state && (strncmp(state, "42", 2) == 0 || strncmp(state, "22", 2) == 0))
        code = DC_EINVAL; /* the statement's fault: syntax, names, types, data */
    else if (state && strcmp(state, "54000") == 0)
        code = DC_ELIMIT;
    if (pos)
        return pg_err(err, errlen, code, "%s (at character %s)", line, pos);
    return pg_err(err, errlen, code, "%s: %s", c->label, line);
}

static int pg_exec_ok(struct pg_conn *c, const char *sql, const char *doing, char *err,
                      size_t errlen)
{
    PGresult *r = PQexec(c->pg, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = DC_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = pg_result_err(c, r, doing, err, errlen);
    PQclear(r);
    return rc;
}

/* Always leaves the session outside any transaction. */
static void pg_rollback(struct pg_conn *c)
{
    for (int i = 0; i < 2 && PQstatus(c->pg) == CONNECTION_OK &&
                    PQtransactionStatus(c->pg) != PQTRANS_IDLE;
         i++) {
        PGresult *r = PQexec(c->pg, "ROLLBACK");
        PQclear(r);
    }
}

/* BEGIN READ ONLY with the statement's time budget, reconnecting once when
 * the connection turns out to have dropped while idle. */
static int pg_begin(struct pg_conn *c, int64_t timeout_ms, int repeatable, char *err,
                    size_t errlen)
{
    char sql[256];
    int rc = pg_ensure(c, err, errlen);
    if (rc != DC_OK)
        return rc;
    pg_rollback(c);
    snprintf(sql, sizeof(sql),
             "BEGIN TRANSACTION ISOLATION LEVEL %s READ ONLY; "
             "SET LOCAL statement_timeout = %" PRId64 "; SET LOCAL lock_timeout = %" PRId64,
             repeatable ? "REPEATABLE READ" : "READ COMMITTED", timeout_ms, timeout_ms);
    rc = pg_exec_ok(c, sql, "starting a read-only transaction", err, errlen);
    if (rc != DC_OK && PQstatus(c->pg) == CONNECTION_BAD) {
        rc = pg_ensure(c, err, errlen);
        if (rc == DC_OK)
            rc = pg_exec_ok(c, sql, "starting a read-only transaction", err, errlen);
    }
    if (rc != DC_OK)
        pg_rollback(c);
    return rc;
}

static void pg_finalize(void *conn, void *stmt)
{
    struct pg_stmt *s = stmt;
    (void)conn;
    if (!s)
        return;
    free(s->sql);
    free(s);
}

static int pg_prepare_on(struct pg_conn *c, const char *sql, const struct dc_authorizer *az,
                         void **stmt, struct dc_stmt_info *info, char *err, size_t errlen)
{
    struct pg_stmt *s = NULL;
    PGresult *r = NULL;
    int rc;
    (void)az; /* the gate judged the statement on its parse tree already */
    if (!c || !sql || !stmt || !info)
        return pg_err(err, errlen, DC_EINVAL, "postgres: prepare called with a missing argument");
    *stmt = NULL;
    if (info->struct_size < offsetof(struct dc_stmt_info, ncols) + sizeof(info->ncols))
        return pg_err(err, errlen, DC_EABI, "postgres: statement info struct is too small");
    s = calloc(1, sizeof(*s));
    if (!s || !(s->sql = strdup(sql))) {
        rc = pg_err(err, errlen, DC_ENOMEM, "postgres: out of memory");
        goto cleanup;
    }
    rc = pg_begin(c, PG_PREPARE_TIMEOUT_MS, 0, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    /* Parse analysis against the live schema; nothing is executed. */
    r = PQprepare(c->pg, "", sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = pg_result_err(c, r, "checking the statement", err, errlen);
        if (rc == DC_ETIMEOUT)
            rc = pg_err(err, errlen, DC_EIO,
                        "postgres: %s: checking the statement took over %d ms (a lock held by "
                        "another session?)",
                        c->label, PG_PREPARE_TIMEOUT_MS);
        goto cleanup;
    }
    PQclear(r);
    r = PQdescribePrepared(c->pg, "");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = pg_result_err(c, r, "describing the statement", err, errlen);
        goto cleanup;
    }
    s->nparams = PQnparams(r);
    s->ncols = PQnfields(r);
    info->single = 1;   /* the gate's parse tree held exactly one statement */
    info->readonly = 1; /* it runs only inside BEGIN READ ONLY */
    info->explain = 0;
    info->ncols = s->ncols;
    *stmt = s;
    s = NULL;
cleanup:
    PQclear(r);
    if (c)
        pg_rollback(c);
    pg_finalize(c, s);
    return rc;
}

static int pg_prepare(void *conn, const char *sql, const struct dc_authorizer *az, void **stmt,
                      struct dc_stmt_info *info, char *err, size_t errlen)
{
    struct pg_pool *p = conn;
    struct pg_conn *c = NULL;
    if (!p || !sql || !stmt || !info)
        return pg_err(err, errlen, DC_EINVAL, "postgres: prepare called with a missing argument");
    *stmt = NULL;
    int rc = pg_acquire(p, &c, err, errlen);
    if (rc != DC_OK)
        return rc;
    rc = pg_prepare_on(c, sql, az, stmt, info, err, errlen);
    pg_release(p, c);
    return rc;
}

/* Parameter values for PQsendQueryParams. Ints and reals are formatted into
 * bufs; text is copied into owned[] because libpq reads text-format values
 * up to a NUL, while SDK text carries a length. Blobs go in binary format. */
static int pg_params(const struct dc_value *params, size_t nparams, const char **vals,
                     int *lens, int *fmts, char (*bufs)[40], char **owned, char *err,
                     size_t errlen)
{
    for (size_t i = 0; i < nparams; i++) {
        const struct dc_value *v = &params[i];
        lens[i] = 0;
        fmts[i] = 0;
        switch (v->type) {
        case DC_NULL: vals[i] = NULL; break;
        case DC_INT:
            snprintf(bufs[i], sizeof(bufs[i]), "%" PRId64, v->v.i);
            vals[i] = bufs[i];
            break;
        case DC_BOOL: vals[i] = v->v.i ? "t" : "f"; break;
        case DC_REAL:
            snprintf(bufs[i], sizeof(bufs[i]), "%.17g", v->v.d);
            vals[i] = bufs[i];
            break;
        case DC_TEXT:
        case DC_DATE:
        case DC_TIMESTAMP:
        case DC_NUMERIC:
        case DC_JSON:
        case DC_BLOB:
            if (v->v.s.n > INT_MAX)
                return pg_err(err, errlen, DC_ELIMIT, "parameter $%zu is too long", i + 1);
            if (v->type != DC_BLOB && v->v.s.p && memchr(v->v.s.p, '\0', v->v.s.n))
                return pg_err(err, errlen, DC_EINVAL,
                              "parameter $%zu holds a NUL byte, which PostgreSQL text cannot",
                              i + 1);
            if (v->type == DC_BLOB) {
                vals[i] = v->v.s.p ? v->v.s.p : "";
                lens[i] = (int)v->v.s.n;
                fmts[i] = 1;
                break;
            }
            owned[i] = malloc(v->v.s.n + 1);
            if (!owned[i])
                return pg_err(err, errlen, DC_ENOMEM, "out of memory binding parameter $%zu",
                              i + 1);
            if (v->v.s.n)
                memcpy(owned[i], v->v.s.p, v->v.s.n);
            owned[i][v->v.s.n] = '\0';
            vals[i] = owned[i];
            break;
        default:
            return pg_err(err, errlen, DC_EINVAL, "parameter $%zu has unknown type %d", i + 1,
                          v->type);
        }
    }
    return DC_OK;
}

/* Waits until a result can be read without blocking, or the deadline. */
static int pg_wait(struct pg_conn *c, int64_t deadline_ms)
{
    while (PQisBusy(c->pg)) {
        int64_t left = deadline_ms - pg_now_ms();
        if (left <= 0)
            return DC_ETIMEOUT;
        struct pollfd pfd = {PQsocket(c->pg), POLLIN, 0};
        if (pfd.fd < 0)
            return DC_EIO;
        int n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n < 0 && errno != EINTR)
            return DC_EIO;
        if (n > 0 && !PQconsumeInput(c->pg))
            return DC_EIO;
    }
    return DC_OK;
}

static void pg_cancel(struct pg_conn *c)
{
    char buf[256];
    PGcancel *cn = PQgetCancel(c->pg);
    if (cn) {
        PQcancel(cn, buf, sizeof(buf));
        PQfreeCancel(cn);
    }
}

static int pg_add_columns(struct pg_conn *c, PGresult *r, struct dc_result *out, char *err,
                          size_t errlen)
{
    int n = PQnfields(r);
    for (int i = 0; i < n; i++) {
        Oid t = PQftype(r, i);
        int rc = c->h->result_add_column(out, PQfname(r, i), pg_type_of(t), pg_type_name(t));
        if (rc != DC_OK)
            return pg_err(err, errlen, rc, "cannot add result column '%s'", PQfname(r, i));
    }
    return DC_OK;
}

/* One single-row-mode result to one result row. Blob values are decoded
 * into buffers freed once the host has copied the row. */
static int pg_add_row(struct pg_conn *c, PGresult *r, struct dc_result *out,
                      struct dc_value *vals, unsigned char **blobs, int64_t *bytes, char *err,
                      size_t errlen)
{
    int n = PQnfields(r), nblobs = 0, rc = DC_OK;
    for (int i = 0; i < n; i++) {
        struct dc_value *v = &vals[i];
        memset(v, 0, sizeof(*v));
        if (PQgetisnull(r, 0, i)) {
            v->type = DC_NULL;
            continue;
        }
        const char *txt = PQgetvalue(r, 0, i);
        size_t len = (size_t)PQgetlength(r, 0, i);
        v->type = pg_type_of(PQftype(r, i));
        *bytes += (int64_t)len;
        switch (v->type) {
        case DC_INT: {
            char *end = NULL;
            errno = 0;
            long long x = strtoll(txt, &end, 10);
            if (errno || !end || *end) {
                v->type = DC_NUMERIC; /* out of int64 range: keep the exact text */
                v->v.s.p = txt;
                v->v.s.n = len;
            } else {
                v->v.i = x;
            }
            break;
        }
        case DC_REAL: v->v.d = strtod(txt, NULL); break; /* also NaN, Infinity */
        case DC_BOOL: v->v.i = txt[0] == 't'; break;
        case DC_BLOB: {
            size_t bl = 0;
            unsigned char *b = PQunescapeBytea((const unsigned char *)txt, &bl);
            if (!b) {
                rc = pg_err(err, errlen, DC_ENOMEM, "out of memory decoding a bytea value");
                goto cleanup;
            }
            blobs[nblobs++] = b;
            v->v.s.p = (const char *)b;
            v->v.s.n = bl;
            break;
        }
        default:
            v->v.s.p = txt;
            v->v.s.n = len;
            break;
        }
    }
    rc = c->h->result_append_row(out, vals, (size_t)n);
    if (rc != DC_OK)
        rc = pg_err(err, errlen, rc, "cannot append a result row");
cleanup:
    for (int i = 0; i < nblobs; i++)
        PQfreemem(blobs[i]);
    return rc;
}

/* Reads the results of the query sent last, one row at a time. */
static int pg_read_rows(struct pg_conn *c, const struct dc_limits *lim, struct dc_result *out,
                        char *err, size_t errlen)
{
    int64_t max_rows = lim ? lim->max_rows : 0, timeout_ms = lim ? lim->timeout_ms : 0;
    int64_t max_bytes = lim ? lim->max_bytes : 0, nrows = 0, bytes = 0;
    int64_t deadline = pg_now_ms() + (timeout_ms > 0 ? timeout_ms + PG_CLIENT_GRACE_MS
                                                     : (int64_t)24 * 3600 * 1000);
    int cols_done = 0, truncated = 0, cancelled = 0, rc = DC_OK;
    struct dc_value *vals = NULL;
    unsigned char **blobs = NULL;
    for (;;) {
        int wrc = pg_wait(c, deadline);
        if (wrc == DC_ETIMEOUT && !cancelled) {
            pg_cancel(c);
            cancelled = 1;
            deadline = pg_now_ms() + PG_CLIENT_GRACE_MS;
            if (rc == DC_OK)
                rc = pg_err(err, errlen, DC_ETIMEOUT,
                            "postgres: %s: the statement exceeded %" PRId64
                            " ms and was cancelled; narrow it with filters or a LIMIT",
                            c->label, timeout_ms);
            continue;
        }
        if (wrc != DC_OK) {
            /* A broken socket, or a server that ignored the cancel: the
             * protocol state is unknown, so the connection starts afresh. */
            if (rc == DC_OK)
                rc = pg_result_err(c, NULL, "reading the result", err, errlen);
            if (PQstatus(c->pg) != CONNECTION_BAD)
                PQreset(c->pg);
            break;
        }
        PGresult *r = PQgetResult(c->pg);
        if (!r)
            break;
        ExecStatusType st = PQresultStatus(r);
        if ((st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) && !cols_done && rc == DC_OK) {
            cols_done = 1;
            rc = pg_add_columns(c, r, out, err, errlen);
            int n = PQnfields(r);
            vals = calloc((size_t)(n > 0 ? n : 1), sizeof(*vals));
            blobs = calloc((size_t)(n > 0 ? n : 1), sizeof(*blobs));
            if (rc == DC_OK && (!vals || !blobs))
                rc = pg_err(err, errlen, DC_ENOMEM, "out of memory reading the result");
        }
        if (st == PGRES_SINGLE_TUPLE && rc == DC_OK && !truncated) {
            int64_t row_bytes = 0;
            for (int i = 0; i < PQnfields(r); i++)
                row_bytes += PQgetlength(r, 0, i);
            if (max_rows > 0 && nrows >= max_rows) {
                /* The row past the cap only tells that more exist. */
                truncated = 1;
            } else if (max_bytes > 0 && bytes + row_bytes > max_bytes) {
                truncated = 1; /* whole rows only: the one crossing the budget is left out */
            } else {
                rc = pg_add_row(c, r, out, vals, blobs, &bytes, err, errlen);
                nrows++;
            }
            if (truncated && !cancelled) {
                pg_cancel(c);
                cancelled = 1;
            }
        } else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK &&
                   st != PGRES_COMMAND_OK && rc == DC_OK && !truncated) {
            rc = pg_result_err(c, r, "running the statement", err, errlen);
            if (rc == DC_ETIMEOUT)
                rc = pg_err(err, errlen, DC_ETIMEOUT,
                            "postgres: %s: the statement exceeded the %" PRId64
                            " ms statement_timeout and was cancelled; narrow it with filters "
                            "or a LIMIT",
                            c->label, timeout_ms);
        }
        PQclear(r);
    }
    if (rc == DC_OK && truncated)
        c->h->result_set_truncated(out, 1);
    free(vals);
    free(blobs);
    return rc;
}

static int pg_execute_on(struct pg_conn *c, struct pg_stmt *s, const struct dc_value *params,
                         size_t nparams, const struct dc_limits *lim, struct dc_result *out,
                         char *err, size_t errlen)
{
    const char **vals = NULL;
    int *lens = NULL, *fmts = NULL;
    char(*bufs)[40] = NULL;
    char **owned = NULL;
    int rc;
    if (!c || !s || !out || (nparams && !params))
        return pg_err(err, errlen, DC_EINVAL, "postgres: execute called with a missing argument");
    if ((size_t)s->nparams != nparams)
        return pg_err(err, errlen, DC_EINVAL,
                      "the statement has %d parameter(s) but %zu value(s) were given",
                      s->nparams, nparams);
    size_t np = nparams ? nparams : 1;
    vals = calloc(np, sizeof(*vals));
    lens = calloc(np, sizeof(*lens));
    fmts = calloc(np, sizeof(*fmts));
    bufs = calloc(np, sizeof(*bufs));
    owned = calloc(np, sizeof(*owned));
    if (!vals || !lens || !fmts || !bufs || !owned) {
        rc = pg_err(err, errlen, DC_ENOMEM, "postgres: out of memory");
        goto cleanup;
    }
    rc = pg_params(params, nparams, vals, lens, fmts, bufs, owned, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    int64_t timeout_ms = lim && lim->timeout_ms > 0 ? lim->timeout_ms : 0;
    rc = pg_begin(c, timeout_ms, 0, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    if (!PQsendQueryParams(c->pg, s->sql, (int)nparams, NULL, vals, lens, fmts, 0)) {
        rc = pg_result_err(c, NULL, "sending the statement", err, errlen);
        goto cleanup;
    }
    if (!PQsetSingleRowMode(c->pg)) {
        /* Without single-row mode the whole result would be loaded. */
        pg_cancel(c);
        while (1) {
            PGresult *r = PQgetResult(c->pg);
            if (!r)
                break;
            PQclear(r);
        }
        rc = pg_err(err, errlen, DC_EIO, "postgres: %s: cannot stream the result row by row",
                    c->label);
        goto cleanup;
    }
    rc = pg_read_rows(c, lim, out, err, errlen);
cleanup:
    pg_rollback(c);
    for (size_t i = 0; owned && i < nparams; i++)
        free(owned[i]);
    free(owned);
    free(vals);
    free(lens);
    free(fmts);
    free(bufs);
    return rc;
}

static int pg_execute(void *conn, void *stmt, const struct dc_value *params, size_t nparams,
                      const struct dc_limits *lim, struct dc_result *out, char *err,
                      size_t errlen)
{
    struct pg_pool *p = conn;
    struct pg_conn *c = NULL;
    if (!p || !stmt || !out || (nparams && !params))
        return pg_err(err, errlen, DC_EINVAL, "postgres: execute called with a missing argument");
    int rc = pg_acquire(p, &c, err, errlen);
    if (rc != DC_OK)
        return rc;
    rc = pg_execute_on(c, stmt, params, nparams, lim, out, err, errlen);
    pg_release(p, c);
    return rc;
}

/* ---- Introspection ----------------------------------------------------- */

static const char pg_sql_tables[] =
    "SELECT c.oid, n.nspname, c.relname, c.relkind, c.reltuples::bigint, "
    "       pg_catalog.obj_description(c.oid, 'pg_class') "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
    "  AND NOT c.relispartition "
    "ORDER BY n.nspname, c.relname";

static const char pg_sql_columns[] =
    "SELECT a.attrelid, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), "
    "       CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END, a.attnotnull, "
    "       pg_catalog.pg_get_expr(d.adbin, d.adrelid), "
    "       pg_catalog.col_description(a.attrelid, a.attnum), "
    "       coalesce(pg_catalog.array_position(pk.conkey, a.attnum), 0) "
    "FROM pg_catalog.pg_attribute a "
    "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
    "LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "LEFT JOIN pg_catalog.pg_constraint pk ON pk.conrelid = a.attrelid AND pk.contype = 'p' "
    "WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
    "  AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY a.attrelid, a.attnum";

static const char pg_sql_fks[] =
    "SELECT con.conrelid, fa.attname, tn.nspname, tc.relname, ta.attname, sn.nspname "
    "FROM pg_catalog.pg_constraint con "
    "JOIN pg_catalog.pg_class sc ON sc.oid = con.conrelid "
    "JOIN pg_catalog.pg_namespace sn ON sn.oid = sc.relnamespace "
    "JOIN pg_catalog.pg_class tc ON tc.oid = con.confrelid "
    "JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace "
    "CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(con.conkey), "
    "     pg_catalog.unnest(con.confkey)) WITH ORDINALITY AS k(fromnum, tonum, ord) "
    "JOIN pg_catalog.pg_attribute fa ON fa.attrelid = con.conrelid AND fa.attnum = k.fromnum "
    "JOIN pg_catalog.pg_attribute ta ON ta.attrelid = con.confrelid AND ta.attnum = k.tonum "
    "WHERE con.contype = 'f' AND sn.nspname = ANY ($1::text[]) "
    "ORDER BY con.conrelid, con.conname, k.ord";

struct pg_oidx {
    unsigned long oid;
    size_t idx;
};

static int pg_oidx_cmp(const void *a, const void *b)
{
    const struct pg_oidx *x = a, *y = b;
    return x->oid < y->oid ? -1 : x->oid > y->oid;
}

/* Index of the table with this oid, or (size_t)-1. */
static size_t pg_oidx_find(const struct pg_oidx *map, size_t n, const char *oid_text)
{
    struct pg_oidx key = {strtoul(oid_text, NULL, 10), 0};
    const struct pg_oidx *f = bsearch(&key, map, n, sizeof(*map), pg_oidx_cmp);
    return f ? f->idx : (size_t)-1;
}

static PGresult *pg_catalog_query(struct pg_conn *c, const char *sql, char *err, size_t errlen,
                                  int *rc)
{
    const char *params[1] = {c->schemas_array};
    PGresult *r = PQexecParams(c->pg, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        *rc = pg_result_err(c, r, "reading the catalog", err, errlen);
        PQclear(r);
        return NULL;
    }
    return r;
}

static const char *pg_val(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

struct pg_table_build {
    struct dc_column_info *cols;
    size_t ncols;
    struct dc_fk_info *fks;
    size_t nfks;
    char **owned; /* "schema.table" names of foreign-key targets */
    size_t nowned;
};

static int pg_introspect_on(struct pg_conn *c, struct dc_schema *out, char *err,
                            size_t errlen)
{
    PGresult *tr = NULL, *cr = NULL, *fr = NULL;
    struct pg_oidx *map = NULL;
    struct pg_table_build *tb = NULL;
    size_t nt = 0;
    int rc;
    if (!c || !out)
        return pg_err(err, errlen, DC_EINVAL, "postgres: introspect called without a handle");
    /* One snapshot for the three catalog reads, so they agree. */
    rc = pg_begin(c, PG_INTROSPECT_TIMEOUT_MS, 1, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    if (!(tr = pg_catalog_query(c, pg_sql_tables, err, errlen, &rc)) ||
        !(cr = pg_catalog_query(c, pg_sql_columns, err, errlen, &rc)) ||
        !(fr = pg_catalog_query(c, pg_sql_fks, err, errlen, &rc)))
        goto cleanup;
    nt = (size_t)PQntuples(tr);
    map = calloc(nt ? nt : 1, sizeof(*map));
    tb = calloc(nt ? nt : 1, sizeof(*tb));
    if (!map || !tb) {
        rc = pg_err(err, errlen, DC_ENOMEM, "postgres: out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < nt; i++) {
        map[i].oid = strtoul(PQgetvalue(tr, (int)i, 0), NULL, 10);
        map[i].idx = i;
    }
    qsort(map, nt, sizeof(*map), pg_oidx_cmp);

    for (int row = 0; row < PQntuples(cr); row++) {
        size_t ti = pg_oidx_find(map, nt, PQgetvalue(cr, row, 0));
        if (ti == (size_t)-1)
            continue;
        struct pg_table_build *b = &tb[ti];
        struct dc_column_info *cols = realloc(b->cols, (b->ncols + 1) * sizeof(*cols));
        if (!cols) {
            rc = pg_err(err, errlen, DC_ENOMEM, "postgres: out of memory");
            goto cleanup;
        }
        b->cols = cols;
        struct dc_column_info *ci = &cols[b->ncols++];
        memset(ci, 0, sizeof(*ci));
        ci->struct_size = sizeof(*ci);
        ci->name = PQgetvalue(cr, row, 1);
        ci->decl_type = PQgetvalue(cr, row, 2);
        ci->type = pg_type_of((Oid)strtoul(PQgetvalue(cr, row, 3), NULL, 10));
        ci->notnull = PQgetvalue(cr, row, 4)[0] == 't';
        ci->default_value = pg_val(cr, row, 5);
        ci->comment = pg_val(cr, row, 6);
        ci->pk = atoi(PQgetvalue(cr, row, 7));
    }
    for (int row = 0; row < PQntuples(fr); row++) {
        size_t ti = pg_oidx_find(map, nt, PQgetvalue(fr, row, 0));
        if (ti == (size_t)-1)
            continue;
        struct pg_table_build *b = &tb[ti];
        struct dc_fk_info *fks = realloc(b->fks, (b->nfks + 1) * sizeof(*fks));
        char **owned = realloc(b->owned, (b->nowned + 1) * sizeof(*owned));
        if (fks)
            b->fks = fks;
        if (owned)
            b->owned = owned;
        if (!fks || !owned) {
            rc = pg_err(err, errlen, DC_ENOMEM, "postgres: out of memory");
            goto cleanup;
        }
        const char *to_schema = PQgetvalue(fr, row, 2), *to_table = PQgetvalue(fr, row, 3);
        struct dc_fk_info *fk = &fks[b->nfks++];
        memset(fk, 0, sizeof(*fk));
        fk->struct_size = sizeof(*fk);
        fk->from_column = PQgetvalue(fr, row, 1);
        fk->to_column = PQgetvalue(fr, row, 4);
        fk->to_table = to_table;
        if (strcmp(to_schema, PQgetvalue(fr, row, 5)) != 0) {
            /* A target in another schema is named with it. */
            size_t n = strlen(to_schema) + strlen(to_table) + 2;
            char *q = malloc(n);
            if (!q) {
                rc = pg_err(err, errlen, DC_ENOMEM, "postgres: out of memory");
                goto cleanup;
            }
            snprintf(q, n, "%s.%s", to_schema, to_table);
            owned[b->nowned++] = q;
            fk->to_table = q;
        }
    }
    for (size_t i = 0; i < nt; i++) {
        int row = (int)i;
        char kind = PQgetvalue(tr, row, 3)[0];
        struct dc_table_info ti;
        memset(&ti, 0, sizeof(ti));
        ti.struct_size = sizeof(ti);
        ti.schema_name = PQgetvalue(tr, row, 1);
        ti.name = PQgetvalue(tr, row, 2);
        /* A foreign table reads another server: not a "table" to the gate,
         * whose policies cannot reach behind it. */
        ti.kind = (kind == 'v' || kind == 'm') ? "view" : kind == 'f' ? "foreign table" : "table";
        /* reltuples is -1 until the table is first vacuumed or analyzed. */
        ti.row_count = kind == 'v' ? -1 : strtoll(PQgetvalue(tr, row, 4), NULL, 10);
        if (ti.row_count < 0)
            ti.row_count = -1;
        ti.comment = pg_val(tr, row, 5);
        ti.ncolumns = tb[i].ncols;
        ti.columns = tb[i].cols;
        ti.nfks = tb[i].nfks;
        ti.fks = tb[i].fks;
        rc = c->h->schema_add_table(out, &ti);
        if (rc != DC_OK) {
            rc = pg_err(err, errlen, rc, "cannot add table '%s' to the catalog", ti.name);
            goto cleanup;
        }
    }
cleanup:
    if (c)
        pg_rollback(c);
    for (size_t i = 0; tb && i < nt; i++) {
        free(tb[i].cols);
        free(tb[i].fks);
        for (size_t j = 0; j < tb[i].nowned; j++)
            free(tb[i].owned[j]);
        free(tb[i].owned);
    }
    free(tb);
    free(map);
    PQclear(tr);
    PQclear(cr);
    PQclear(fr);
    return rc;
}

static int pg_introspect(void *conn, struct dc_schema *out, char *err, size_t errlen)
{
    struct pg_pool *p = conn;
    struct pg_conn *c = NULL;
    if (!p || !out)
        return pg_err(err, errlen, DC_EINVAL, "postgres: introspect called without a handle");
    int rc = pg_acquire(p, &c, err, errlen);
    if (rc != DC_OK)
        return rc;
    rc = pg_introspect_on(c, out, err, errlen);
    pg_release(p, c);
    return rc;
}

static const struct dc_option pg_options[] = {
    {"dsn", DC_OPT_STRING, 0, NULL,
     "a libpq connection string or postgresql:// URL, without a password"},
    {"dsn_env", DC_OPT_ENV, 0, NULL,
     "the name of an environment variable holding the connection string (may hold a "
     "password)"},
    {"host", DC_OPT_STRING, 0, NULL, "server host name, address or unix-socket directory"},
    {"port", DC_OPT_STRING, 0, NULL, "server port"},
    {"dbname", DC_OPT_STRING, 0, NULL, "database name (a name only, never a connection string)"},
    {"user", DC_OPT_STRING, 0, NULL, "role to connect as; give it read-only privileges"},
    {"password_env", DC_OPT_ENV, 0, NULL,
     "the name of an environment variable holding the password (else PGPASSWORD or "
     "~/.pgpass)"},
    {"sslmode", DC_OPT_STRING, 0, NULL, "libpq sslmode: disable, prefer, require, verify-full..."},
    {"sslrootcert", DC_OPT_PATH, 0, NULL, "CA certificate file for verify-ca/verify-full"},
    {"connect_timeout_s", DC_OPT_INT, 0, "10", "seconds to wait for a connection"},
    {"pool_size", DC_OPT_INT, 0, "4",
     "connections kept open to this database, so that this many statements run at once"},
    {"schemas", DC_OPT_LIST, 0, NULL,
     "schemas the catalog shows and the search path holds (default [public])"},
    DC_OPTIONS_END};

static const struct dc_connector_vtable pg_vtable = {
    .struct_size = sizeof(struct dc_connector_vtable),
    .dialect = "postgres",
    .options = pg_options,
    .open = pg_open,
    .close = pg_close,
    .prepare = pg_prepare,
    .execute = pg_execute,
    .finalize = pg_finalize,
    .introspect = pg_introspect,
    .concurrent = 1,
};

DC_PLUGIN_DEFINE_CAPS(DC_KIND_CONNECTOR, "postgres", "0.1.0", "MIT",
                      "PostgreSQL databases through libpq, read-only transactions, validated by "
                      "PostgreSQL's own parser in the gate",
                      &pg_vtable,
                      DC_CAP_NONE)
