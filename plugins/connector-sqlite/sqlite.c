/*
 * connector-sqlite - SQLite databases, opened read-only.
 *
 * The connector reports, the gate decides: prepare() runs SQLite's own
 * parser with an authorizer that translates every SQLite action into an
 * enum dc_action for the gate's callback, and the same authorizer stays
 * installed while the statement steps (SQLite may re-prepare it then).
 * Whatever the gate says, the connection cannot write: it is opened with
 * SQLITE_OPEN_READONLY, defensive mode, untrusted schema, no extension
 * loading, no ATTACH and tight sqlite3_limit() bounds.
 * Introspection uses private statements with no authorizer installed; it
 * never runs user text.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#define SQ_DEFAULT_BUSY_MS 2000
#define SQ_MAX_BUSY_MS 600000
/* Progress-handler period in virtual machine instructions: frequent enough
 * that a deadline is noticed within about a millisecond of work. */
#define SQ_PROGRESS_OPS 1000

struct sq_conn {
    const struct dc_host *h;
    sqlite3 *db;
    char *path;
};

struct sq_stmt {
    sqlite3_stmt *st;
    struct dc_authorizer az;
    /* Set while SQLite does its own bookkeeping for an eponymous virtual
     * table (see sq_authorize). */
    int epo_pending;
    char other[64];
};

struct sq_deadline {
    int64_t at_us;
    int fired;
};

static int sq_err(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int sq_tail_is_blank(const char *p);
static int sq_register_functions(struct sq_conn *c, char *err, size_t errlen);

static int sq_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int64_t sq_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Maps a SQLite result code to the SDK's status codes. */
static int sq_code(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK: return DC_OK;
    case SQLITE_NOMEM: return DC_ENOMEM;
    case SQLITE_AUTH:
    case SQLITE_READONLY:
    case SQLITE_PERM: return DC_EDENIED;
    case SQLITE_TOOBIG: return DC_ELIMIT;
    case SQLITE_INTERRUPT: return DC_ETIMEOUT;
    case SQLITE_ERROR:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH: return DC_EINVAL;
    default: return DC_EIO;
    }
}

/* Column type from a declared type. The order matters: DATETIME contains
 * DATE and INT-bearing names like POINT are what SQLite's own affinity rule
 * calls integers too. Returns -1 when the declaration says nothing. */
static int sq_decl_type(const char *decl)
{
    if (!decl || !*decl)
        return -1;
    char up[64];
    size_t n = 0;
    for (; decl[n] && n < sizeof(up) - 1; n++)
        up[n] = (char)((decl[n] >= 'a' && decl[n] <= 'z') ? decl[n] - 32 : decl[n]);
    up[n] = '\0';
    if (strstr(up, "DATETIME") || strstr(up, "TIMESTAMP"))
        return DC_TIMESTAMP;
    if (strstr(up, "DATE"))
        return DC_DATE;
    if (strstr(up, "BOOL"))
        return DC_BOOL;
    if (strstr(up, "INT"))
        return DC_INT;
    if (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT"))
        return DC_TEXT;
    if (strstr(up, "BLOB"))
        return DC_BLOB;
    if (strstr(up, "REAL") || strstr(up, "FLOA") || strstr(up, "DOUB"))
        return DC_REAL;
    if (strstr(up, "NUMERIC") || strstr(up, "DECIMAL"))
        return DC_NUMERIC;
    if (strstr(up, "JSON"))
        return DC_JSON;
    return -1;
}

static int sq_storage_type(int t)
{
    switch (t) {
    case SQLITE_INTEGER: return DC_INT;
    case SQLITE_FLOAT: return DC_REAL;
    case SQLITE_TEXT: return DC_TEXT;
    case SQLITE_BLOB: return DC_BLOB;
    default: return DC_NULL;
    }
}

/* A relative path is prefixed with "./" so that SQLite, which may be built
 * with URI filenames on, can never read it as "file:...?mode=rwc". */
static char *sq_safe_path(const char *path)
{
    size_t n = strlen(path);
    int rel = path[0] != '/';
    char *p = malloc(n + (rel ? 3 : 1));
    if (!p)
        return NULL;
    if (rel) {
        memcpy(p, "./", 2);
        memcpy(p + 2, path, n + 1);
    } else {
        memcpy(p, path, n + 1);
    }
    return p;
}

static int sq_harden(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    static const struct {
        int op, value;
        const char *name;
    } cfg[] = {
        {SQLITE_DBCONFIG_DEFENSIVE, 1, "defensive"},
        {SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, "trusted_schema"},
        {SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, "load_extension"},
        {SQLITE_DBCONFIG_WRITABLE_SCHEMA, 0, "writable_schema"},
        {SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0, "fts3_tokenizer"},
        {SQLITE_DBCONFIG_ENABLE_TRIGGER, 1, "triggers"},
        {SQLITE_DBCONFIG_ENABLE_VIEW, 1, "views"},
    };
    static const struct {
        int id, value;
    } lim[] = {
        {SQLITE_LIMIT_ATTACHED, 0},
        {SQLITE_LIMIT_LENGTH, 16 * 1024 * 1024},
        /* 1 MiB like the gate, plus room for the "EXPLAIN " that
         * sq_report_btrees puts in front of an accepted statement. */
        {SQLITE_LIMIT_SQL_LENGTH, 1024 * 1024 + 16},
        {SQLITE_LIMIT_EXPR_DEPTH, 500},
        {SQLITE_LIMIT_COMPOUND_SELECT, 250},
        {SQLITE_LIMIT_VDBE_OP, 1000000},
        {SQLITE_LIMIT_FUNCTION_ARG, 100},
        {SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 10000},
        {SQLITE_LIMIT_VARIABLE_NUMBER, 999},
    };
    for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
        int got = -1;
        if (sqlite3_db_config(db, cfg[i].op, cfg[i].value, &got) != SQLITE_OK ||
            got != cfg[i].value)
            return sq_err(err, errlen, DC_EIO,
                          "%s: cannot set SQLite option %s (this SQLite library lacks it)",
                          path, cfg[i].name);
    }
    if (sqlite3_enable_load_extension(db, 0) != SQLITE_OK)
        return sq_err(err, errlen, DC_EIO, "%s: cannot disable extension loading", path);
    for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++)
        sqlite3_limit(db, lim[i].id, lim[i].value);
    return DC_OK;
}

/* Reads the schema once so that a file that is not a database is reported
 * at open, not at the first question. */
static int sq_probe(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        rc = SQLITE_OK;
    int code = DC_OK;
    if ((rc & 0xff) == SQLITE_NOTADB)
        code = sq_err(err, errlen, DC_EINVAL,
                      "%s: not a SQLite database (the file header is not SQLite's); check "
                      "the 'path' option",
                      path);
    else if (rc != SQLITE_OK)
        code = sq_err(err, errlen, DC_EIO, "%s: cannot read the database schema: %s", path,
                      sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return code;
}

static int sq_open(const struct dc_host *h, const struct dc_opts *opts, void **conn, char *err,
                   size_t errlen)
{
    int rc = DC_OK;
    struct sq_conn *c = NULL;
    char *safe = NULL;
    struct stat sb;
    if (!h || !conn)
        return sq_err(err, errlen, DC_EINVAL, "sqlite: open called without host or handle");
    *conn = NULL;
    const char *path = h->opt_str ? h->opt_str(opts, "path") : NULL;
    if (!path || !*path)
        return sq_err(err, errlen, DC_EINVAL,
                      "sqlite: option 'path' is required (the database file to read)");
    int64_t busy = SQ_DEFAULT_BUSY_MS;
    int orc = h->opt_int ? h->opt_int(opts, "busy_timeout_ms", &busy) : DC_ENOTFOUND;
    if (orc == DC_ENOTFOUND)
        busy = SQ_DEFAULT_BUSY_MS;
    else if (orc != DC_OK)
        return sq_err(err, errlen, DC_EINVAL,
                      "sqlite: option 'busy_timeout_ms' must be an integer number of "
                      "milliseconds");
    if (busy < 0 || busy > SQ_MAX_BUSY_MS)
        return sq_err(err, errlen, DC_EINVAL,
                      "sqlite: option 'busy_timeout_ms' is %" PRId64
                      "; use 0 to %d milliseconds",
                      busy, SQ_MAX_BUSY_MS);

    if (stat(path, &sb) != 0) {
        if (errno == ENOENT)
            return sq_err(err, errlen, DC_ENOTFOUND,
                          "%s: database file does not exist (the sqlite connector never "
                          "creates one); check the 'path' option",
                          path);
        return sq_err(err, errlen, DC_EIO, "%s: cannot access the database file: %s", path,
                      strerror(errno));
    }
    if (S_ISDIR(sb.st_mode))
        return sq_err(err, errlen, DC_EINVAL,
                      "%s: is a directory, not a database file; point 'path' at the .db file",
                      path);
    if (!S_ISREG(sb.st_mode))
        return sq_err(err, errlen, DC_EINVAL,
                      "%s: is not a regular file; point 'path' at the .db file", path);

    c = calloc(1, sizeof(*c));
    safe = sq_safe_path(path);
    if (!c || !safe) {
        rc = sq_err(err, errlen, DC_ENOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    c->h = h;
    c->path = strdup(path);
    if (!c->path) {
        rc = sq_err(err, errlen, DC_ENOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    /* NOMUTEX: the core serialises every use of one connection (db->lock). */
    int src = sqlite3_open_v2(safe, &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        rc = sq_err(err, errlen, DC_EIO, "%s: cannot open: %s", path,
                    c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(src));
        goto cleanup;
    }
    sqlite3_extended_result_codes(c->db, 1);
    rc = sq_harden(c->db, path, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    sqlite3_busy_timeout(c->db, (int)busy);
    rc = sq_probe(c->db, path, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    rc = sq_register_functions(c, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    *conn = c;
    c = NULL;
cleanup:
    if (c) {
        sqlite3_close(c->db);
        free(c->path);
        free(c);
    }
    free(safe);
    return rc;
}

/* dc_mask_hash(x): lowercase hex SHA-256 of x's text, NULL for NULL. The
 * `hash` mask of a policy; deterministic and free of side effects, so it
 * may run inside the policy's TEMP views. */
static void sq_mask_hash(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const struct dc_host *h = sqlite3_user_data(ctx);
    char hex[65];
    if (argc != 1 || sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    const unsigned char *p = sqlite3_value_text(argv[0]);
    int n = sqlite3_value_bytes(argv[0]);
    if (!p) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    h->sha256_hex(p, (size_t)n, hex);
    sqlite3_result_text(ctx, hex, 64, SQLITE_TRANSIENT);
}

static int sq_register_functions(struct sq_conn *c, char *err, size_t errlen)
{
    if (!DC_HOST_HAS(c->h, sha256_hex))
        return DC_OK; /* an older host: policies with a hash mask fail to compile */
    if (sqlite3_create_function_v2(c->db, "dc_mask_hash", 1,
                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                   (void *)c->h, sq_mask_hash, NULL, NULL, NULL) != SQLITE_OK)
        return sq_err(err, errlen, DC_EIO, "%s: cannot register dc_mask_hash: %s", c->path,
                      sqlite3_errmsg(c->db));
    return DC_OK;
}

/* Trusted set-up from the gate (policy views), run with no authorizer.
 * Each text must hold exactly one statement: the gate generated it, and
 * anything after it would be a sign that a policy expression broke out. */
static int sq_session(void *conn, const char *const *stmts, size_t n, char *err, size_t errlen)
{
    struct sq_conn *c = conn;
    if (!c || (n && !stmts))
        return sq_err(err, errlen, DC_EINVAL, "sqlite: session called without statements");
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        int src = sqlite3_prepare_v2(c->db, stmts[i], -1, &st, &tail);
        if (src == SQLITE_OK && (!st || !sq_tail_is_blank(tail))) {
            sqlite3_finalize(st);
            return sq_err(err, errlen, DC_EINVAL,
                          "session statement %zu is not exactly one statement", i + 1);
        }
        if (src == SQLITE_OK) {
            src = sqlite3_step(st);
            if (src == SQLITE_DONE || src == SQLITE_ROW)
                src = SQLITE_OK;
        }
        sqlite3_finalize(st);
        if (src != SQLITE_OK)
            return sq_err(err, errlen, sq_code(src) == DC_OK ? DC_EIO : sq_code(src),
                          "session statement %zu failed: %s", i + 1, sqlite3_errmsg(c->db));
    }
    return DC_OK;
}

static void sq_close(void *conn)
{
    struct sq_conn *c = conn;
    if (!c)
        return;
    sqlite3_close(c->db);
    free(c->path);
    free(c);
}

static int sq_is_schema_table(const char *name)
{
    return name && (strcasecmp(name, "sqlite_master") == 0 ||
                    strcasecmp(name, "sqlite_schema") == 0 ||
                    strcasecmp(name, "sqlite_temp_master") == 0 ||
                    strcasecmp(name, "sqlite_temp_schema") == 0);
}

/* The gate's check2 when it has one (schema and view context), else check. */
static int sq_check(const struct dc_authorizer *az, int action, const char *obj, const char *det,
                    const char *schema, const char *via)
{
    if (az->struct_size >= offsetof(struct dc_authorizer, check2) + sizeof(az->check2) &&
        az->check2)
        return az->check2(az->ctx, action, obj, det, schema, via);
    return az->check(az->ctx, action, obj, det);
}

/* Translates SQLite's authorizer actions into dc_action for the gate. */
static int sq_authorize(void *arg, int code, const char *a1, const char *a2, const char *dbname,
                        const char *view)
{
    struct sq_stmt *s = arg;
    int action = DC_ACT_OTHER;
    const char *obj = NULL, *det = NULL;
    int pending = s->epo_pending;
    s->epo_pending = 0;
    switch (code) {
    case SQLITE_READ:
        /* The first use of an eponymous virtual table (json_each,
         * pragma_table_info, ...) on a connection makes SQLite register it
         * with an internal UPDATE of the schema table followed by a read of
         * its rowid. Both are bookkeeping, not the statement's doing. */
        if (pending && sq_is_schema_table(a1) && a2 && strcasecmp(a2, "ROWID") == 0)
            return SQLITE_OK;
        if (a1 && strncasecmp(a1, "pragma_", 7) == 0) {
            /* Pragma table-valued functions are pragmas in disguise. */
            action = DC_ACT_PRAGMA;
            obj = a1 + 7;
        } else {
            action = DC_ACT_READ;
            obj = a1;
            det = a2;
        }
        break;
    case SQLITE_SELECT: action = DC_ACT_SELECT; break;
    case SQLITE_RECURSIVE: action = DC_ACT_RECURSIVE; break;
    case SQLITE_FUNCTION:
        action = DC_ACT_FUNCTION;
        obj = a2;
        break;
    case SQLITE_UPDATE:
        /* No statement can name the schema table as an UPDATE target:
         * prepare refuses that before the authorizer runs. What reaches
         * here is the eponymous-table bookkeeping described above. */
        if (sq_is_schema_table(a1)) {
            s->epo_pending = 1;
            return SQLITE_OK;
        }
        action = DC_ACT_WRITE;
        obj = a1;
        det = a2;
        break;
    case SQLITE_INSERT:
    case SQLITE_DELETE:
        /* Writing the schema table is how CREATE, DROP and ANALYZE work. */
        action = sq_is_schema_table(a1) ? DC_ACT_SCHEMA : DC_ACT_WRITE;
        obj = a1;
        break;
    case SQLITE_CREATE_INDEX:
    case SQLITE_CREATE_TABLE:
    case SQLITE_CREATE_TEMP_INDEX:
    case SQLITE_CREATE_TEMP_TABLE:
    case SQLITE_CREATE_TEMP_TRIGGER:
    case SQLITE_CREATE_TEMP_VIEW:
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_CREATE_VIEW:
    case SQLITE_DROP_INDEX:
    case SQLITE_DROP_TABLE:
    case SQLITE_DROP_TEMP_INDEX:
    case SQLITE_DROP_TEMP_TABLE:
    case SQLITE_DROP_TEMP_TRIGGER:
    case SQLITE_DROP_TEMP_VIEW:
    case SQLITE_DROP_TRIGGER:
    case SQLITE_DROP_VIEW:
    case SQLITE_CREATE_VTABLE:
    case SQLITE_DROP_VTABLE:
    case SQLITE_REINDEX:
    case SQLITE_ANALYZE:
        action = DC_ACT_SCHEMA;
        obj = a1;
        det = a2;
        break;
    case SQLITE_ALTER_TABLE:
        action = DC_ACT_SCHEMA;
        obj = a2;
        det = a1;
        break;
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
        action = DC_ACT_ATTACH;
        obj = a1;
        break;
    case SQLITE_PRAGMA:
        action = DC_ACT_PRAGMA;
        obj = a1;
        det = a2;
        break;
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
        action = DC_ACT_TRANSACTION;
        obj = a1;
        det = a2;
        break;
    default:
        snprintf(s->other, sizeof(s->other), "SQLite authorizer action %d", code);
        det = s->other;
        break;
    }
    return sq_check(&s->az, action, obj, det, dbname, view) == DC_OK ? SQLITE_OK : SQLITE_DENY;
}

/* After the first statement only blanks, comments and empty statements may
 * follow. Anything else, recognised or not, makes the text more than one
 * statement: when unsure, say no. */
static int sq_tail_is_blank(const char *p)
{
    while (p && *p) {
        char c = *p;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == ';') {
            p++;
        } else if (c == '-' && p[1] == '-') {
            p += 2;
            while (*p && *p != '\n')
                p++;
        } else if (c == '/' && p[1] == '*') {
            /* SQLite ends an unterminated block comment at end of input. */
            p += 2;
            while (*p && !(p[0] == '*' && p[1] == '/'))
                p++;
            if (*p)
                p += 2;
        } else {
            return 0;
        }
    }
    return 1;
}

/* Root page -> table name of the main database's b-trees (indexes map to
 * their table), page 1 being the schema table itself. */
struct sq_roots {
    int64_t *page;
    char **name;
    size_t n;
};

static void sq_roots_free(struct sq_roots *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->name[i]);
    free(r->page);
    free(r->name);
    memset(r, 0, sizeof(*r));
}

static int sq_roots_add(struct sq_roots *r, int64_t page, const char *name)
{
    int64_t *p = realloc(r->page, (r->n + 1) * sizeof(*p));
    if (!p)
        return DC_ENOMEM;
    r->page = p;
    char **nm = realloc(r->name, (r->n + 1) * sizeof(*nm));
    if (!nm)
        return DC_ENOMEM;
    r->name = nm;
    r->name[r->n] = strdup(name);
    if (!r->name[r->n])
        return DC_ENOMEM;
    r->page[r->n++] = page;
    return DC_OK;
}

static int sq_roots_load(struct sq_conn *c, struct sq_roots *r)
{
    sqlite3_stmt *st = NULL;
    int rc = sq_roots_add(r, 1, "sqlite_master");
    if (rc != DC_OK)
        return rc;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT rootpage, tbl_name FROM main.sqlite_schema WHERE rootpage > 0",
                           -1, &st, NULL) != SQLITE_OK)
        return DC_EIO;
    int src;
    while (rc == DC_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        if (name)
            rc = sq_roots_add(r, sqlite3_column_int64(st, 0), name);
    }
    if (rc == DC_OK && src != SQLITE_DONE)
        rc = DC_EIO;
    sqlite3_finalize(st);
    return rc;
}

static const char *sq_roots_find(const struct sq_roots *r, int64_t page)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->page[i] == page)
            return r->name[i];
    return NULL;
}

/* SQLite's authorizer misses some reads: the columns of a USING or
 * NATURAL join constraint never pass through it, so a table joined only
 * that way goes unreported. The compiled program does not lie: every
 * b-tree it opens is reported here as a read (or write) of its table.
 * Called after an authorized prepare; the EXPLAIN is compiled, never run. */
static int sq_report_btrees(struct sq_conn *c, struct sq_stmt *s, char *err, size_t errlen)
{
    struct sq_roots roots = {0};
    sqlite3_stmt *ex = NULL;
    char *sql = NULL;
    int rc = DC_OK;
    const char *text = sqlite3_sql(s->st);
    if (!text || sqlite3_stmt_isexplain(s->st))
        return DC_OK;
    size_t n = strlen(text) + 9;
    sql = malloc(n);
    if (!sql)
        return sq_err(err, errlen, DC_ENOMEM, "sqlite: out of memory");
    snprintf(sql, n, "EXPLAIN %s", text);
    rc = sq_roots_load(c, &roots);
    if (rc != DC_OK) {
        rc = sq_err(err, errlen, rc, "sqlite: cannot read the schema's root pages: %s",
                    sqlite3_errmsg(c->db));
        goto cleanup;
    }
    if (sqlite3_prepare_v2(c->db, sql, -1, &ex, NULL) != SQLITE_OK) {
        rc = sq_err(err, errlen, DC_EINVAL, "sqlite: cannot list the statement's program: %s",
                    sqlite3_errmsg(c->db));
        goto cleanup;
    }
    int src;
    while ((src = sqlite3_step(ex)) == SQLITE_ROW) {
        const char *op = (const char *)sqlite3_column_text(ex, 1);
        int write;
        if (!op)
            continue;
        if (strcmp(op, "OpenRead") == 0 || strcmp(op, "ReopenIdx") == 0)
            write = 0;
        else if (strcmp(op, "OpenWrite") == 0)
            write = 1;
        else
            continue;
        int64_t page = sqlite3_column_int64(ex, 3);
        int dbi = sqlite3_column_int(ex, 4);
        const char *name = dbi == 0 ? sq_roots_find(&roots, page) : NULL;
        if (dbi == 1 && page == 1)
            name = "sqlite_temp_master";
        int act = write ? DC_ACT_WRITE : DC_ACT_READ;
        const char *det = NULL;
        char other[96];
        if (!name) {
            /* Opened through a register or another schema: say so. */
            snprintf(other, sizeof(other), "b-tree %" PRId64 " of database %d", page, dbi);
            act = DC_ACT_OTHER;
            det = other;
        } else if (write && sq_is_schema_table(name)) {
            act = DC_ACT_SCHEMA;
        }
        if (sq_check(&s->az, act, name, det, dbi == 0 ? "main" : dbi == 1 ? "temp" : NULL,
                     NULL) != DC_OK) {
            rc = sq_err(err, errlen, DC_EDENIED, "not authorized");
            goto cleanup;
        }
    }
    if (src != SQLITE_DONE)
        rc = sq_err(err, errlen, DC_EIO, "sqlite: cannot list the statement's program: %s",
                    sqlite3_errmsg(c->db));
cleanup:
    sqlite3_finalize(ex);
    sq_roots_free(&roots);
    free(sql);
    return rc;
}

static void sq_finalize(void *conn, void *stmt)
{
    struct sq_stmt *s = stmt;
    (void)conn;
    if (!s)
        return;
    sqlite3_finalize(s->st);
    free(s);
}

static int sq_prepare(void *conn, const char *sql, const struct dc_authorizer *az, void **stmt,
                      struct dc_stmt_info *info, char *err, size_t errlen)
{
    struct sq_conn *c = conn;
    struct sq_stmt *s = NULL;
    const char *tail = NULL;
    int rc = DC_OK;
    if (!c || !sql || !stmt || !info)
        return sq_err(err, errlen, DC_EINVAL, "sqlite: prepare called with a missing argument");
    *stmt = NULL;
    /* ABI 1.0 callers end at check; check2 is optional. */
    if (!az || !az->check ||
        az->struct_size < offsetof(struct dc_authorizer, check) + sizeof(az->check))
        return sq_err(err, errlen, DC_EINVAL,
                      "sqlite: prepare needs an authorizer; statements are only prepared "
                      "for the gate");
    s = calloc(1, sizeof(*s));
    if (!s)
        return sq_err(err, errlen, DC_ENOMEM, "sqlite: out of memory");
    s->az = *az;
    sqlite3_set_authorizer(c->db, sq_authorize, s);
    int src = sqlite3_prepare_v3(c->db, sql, -1, 0, &s->st, &tail);
    sqlite3_set_authorizer(c->db, NULL, NULL);
    if (src != SQLITE_OK) {
        /* DC_EINVAL: the text is at fault; DC_EIO: the database is (busy,
         * corrupt, unreadable). */
        rc = sq_err(err, errlen, (src & 0xff) == SQLITE_AUTH ? DC_EDENIED : sq_code(src), "%s",
                    sqlite3_errmsg(c->db));
        if (rc == DC_ETIMEOUT || rc == DC_ELIMIT)
            rc = DC_EINVAL;
        goto cleanup;
    }
    if (!s->st) {
        rc = sq_err(err, errlen, DC_ENOTFOUND,
                    "the text holds no SQL statement, only blanks or comments");
        goto cleanup;
    }
    rc = sq_report_btrees(c, s, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    if (info->struct_size >= offsetof(struct dc_stmt_info, ncols) + sizeof(info->ncols)) {
        info->single = sq_tail_is_blank(tail);
        info->readonly = sqlite3_stmt_readonly(s->st) != 0;
        info->explain = sqlite3_stmt_isexplain(s->st) != 0;
        info->ncols = sqlite3_column_count(s->st);
    } else {
        rc = sq_err(err, errlen, DC_EABI, "sqlite: statement info struct is too small");
        goto cleanup;
    }
    *stmt = s;
    s = NULL;
cleanup:
    sq_finalize(conn, s);
    return rc;
}

static int sq_bind(sqlite3_stmt *st, const struct dc_value *params, size_t nparams, char *err,
                   size_t errlen)
{
    int want = sqlite3_bind_parameter_count(st);
    if ((size_t)want != nparams)
        return sq_err(err, errlen, DC_EINVAL,
                      "the statement has %d parameter(s) but %zu value(s) were given", want,
                      nparams);
    for (size_t i = 0; i < nparams; i++) {
        const struct dc_value *v = &params[i];
        int idx = (int)i + 1, rc;
        switch (v->type) {
        case DC_NULL: rc = sqlite3_bind_null(st, idx); break;
        case DC_INT:
        case DC_BOOL: rc = sqlite3_bind_int64(st, idx, v->v.i); break;
        case DC_REAL: rc = sqlite3_bind_double(st, idx, v->v.d); break;
        case DC_TEXT:
        case DC_DATE:
        case DC_TIMESTAMP:
        case DC_NUMERIC:
        case DC_JSON:
            if (v->v.s.n > INT_MAX)
                return sq_err(err, errlen, DC_ELIMIT, "parameter %d is too long", idx);
            rc = sqlite3_bind_text(st, idx, v->v.s.p ? v->v.s.p : "", (int)v->v.s.n,
                                   SQLITE_TRANSIENT);
            break;
        case DC_BLOB:
            if (v->v.s.n > INT_MAX)
                return sq_err(err, errlen, DC_ELIMIT, "parameter %d is too long", idx);
            rc = sqlite3_bind_blob(st, idx, v->v.s.p ? v->v.s.p : "", (int)v->v.s.n,
                                   SQLITE_TRANSIENT);
            break;
        default:
            return sq_err(err, errlen, DC_EINVAL, "parameter %d has unknown type %d", idx,
                          v->type);
        }
        if (rc != SQLITE_OK)
            return sq_err(err, errlen, sq_code(rc), "cannot bind parameter %d: %s", idx,
                          sqlite3_errstr(rc));
    }
    return DC_OK;
}

static int sq_progress(void *arg)
{
    struct sq_deadline *d = arg;
    if (sq_now_us() >= d->at_us) {
        d->fired = 1;
        return 1;
    }
    return 0;
}

/* Rows are held as SQLite values until the end so that a column without a
 * usable declared type can take the type of its first non-NULL value. */
struct sq_rows {
    sqlite3_value **v;
    size_t n;   /* values held */
    size_t cap;
};

static void sq_rows_free(struct sq_rows *r)
{
    for (size_t i = 0; i < r->n; i++)
        sqlite3_value_free(r->v[i]);
    free(r->v);
    memset(r, 0, sizeof(*r));
}

static int sq_rows_add(struct sq_rows *r, sqlite3_stmt *st, int ncols, int64_t *bytes)
{
    if (r->n + (size_t)ncols > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        while (cap < r->n + (size_t)ncols)
            cap *= 2;
        sqlite3_value **v = realloc(r->v, cap * sizeof(*v));
        if (!v)
            return DC_ENOMEM;
        r->v = v;
        r->cap = cap;
    }
    for (int i = 0; i < ncols; i++) {
        sqlite3_value *x = sqlite3_value_dup(sqlite3_column_value(st, i));
        if (!x)
            return DC_ENOMEM;
        r->v[r->n++] = x;
        int t = sqlite3_value_type(x);
        *bytes += (t == SQLITE_TEXT || t == SQLITE_BLOB) ? sqlite3_value_bytes(x) : 8;
    }
    return DC_OK;
}

static struct dc_value sq_to_value(sqlite3_value *x)
{
    struct dc_value v;
    memset(&v, 0, sizeof(v));
    switch (sqlite3_value_type(x)) {
    case SQLITE_INTEGER:
        v.type = DC_INT;
        v.v.i = sqlite3_value_int64(x);
        break;
    case SQLITE_FLOAT:
        v.type = DC_REAL;
        v.v.d = sqlite3_value_double(x);
        break;
    case SQLITE_TEXT: {
        const unsigned char *p = sqlite3_value_text(x);
        v.type = DC_TEXT;
        v.v.s.n = (size_t)sqlite3_value_bytes(x);
        v.v.s.p = p ? (const char *)p : "";
        break;
    }
    case SQLITE_BLOB: {
        const void *p = sqlite3_value_blob(x);
        v.type = DC_BLOB;
        v.v.s.n = (size_t)sqlite3_value_bytes(x);
        v.v.s.p = p ? (const char *)p : "";
        break;
    }
    default: v.type = DC_NULL; break;
    }
    return v;
}

static int sq_emit(const struct dc_host *h, sqlite3_stmt *st, int ncols, const struct sq_rows *rows,
                   struct dc_result *out, char *err, size_t errlen)
{
    size_t nrows = ncols ? rows->n / (size_t)ncols : 0;
    struct dc_value *vals = NULL;
    int rc = DC_OK;
    for (int c = 0; c < ncols; c++) {
        const char *name = sqlite3_column_name(st, c);
        const char *decl = sqlite3_column_decltype(st, c);
        int type = sq_decl_type(decl);
        for (size_t r = 0; type < 0 && r < nrows; r++) {
            int t = sq_storage_type(sqlite3_value_type(rows->v[r * (size_t)ncols + (size_t)c]));
            if (t != DC_NULL)
                type = t;
        }
        if (type < 0)
            type = DC_NULL; /* an expression that was NULL throughout: type unknown */
        if (!name)
            return sq_err(err, errlen, DC_ENOMEM, "out of memory reading column names");
        rc = h->result_add_column(out, name, type, decl);
        if (rc != DC_OK)
            return sq_err(err, errlen, rc, "cannot add result column '%s'", name);
    }
    if (ncols == 0 || nrows == 0)
        return DC_OK;
    vals = calloc((size_t)ncols, sizeof(*vals));
    if (!vals)
        return sq_err(err, errlen, DC_ENOMEM, "out of memory building the result");
    for (size_t r = 0; r < nrows; r++) {
        for (int c = 0; c < ncols; c++)
            vals[c] = sq_to_value(rows->v[r * (size_t)ncols + (size_t)c]);
        rc = h->result_append_row(out, vals, (size_t)ncols);
        if (rc != DC_OK) {
            rc = sq_err(err, errlen, rc, "cannot append result row %zu", r + 1);
            break;
        }
    }
    free(vals);
    return rc;
}

static int sq_execute(void *conn, void *stmt, const struct dc_value *params, size_t nparams,
                      const struct dc_limits *lim, struct dc_result *out, char *err,
                      size_t errlen)
{
    struct sq_conn *c = conn;
    struct sq_stmt *s = stmt;
    struct sq_rows rows = {0};
    struct sq_deadline dl = {0};
    int64_t max_rows = 0, timeout_ms = 0, max_bytes = 0, bytes = 0, nrows = 0;
    int truncated = 0, rc = DC_OK;
    if (!c || !s || !out || (nparams && !params))
        return sq_err(err, errlen, DC_EINVAL, "sqlite: execute called with a missing argument");
    if (lim) {
        max_rows = lim->max_rows;
        timeout_ms = lim->timeout_ms;
        max_bytes = lim->max_bytes;
    }
    sqlite3_reset(s->st);
    sqlite3_clear_bindings(s->st);
    rc = sq_bind(s->st, params, nparams, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    int ncols = sqlite3_column_count(s->st);
    /* A schema change makes SQLite re-prepare inside step(); the gate's
     * authorizer must judge that new plan too. */
    sqlite3_set_authorizer(c->db, sq_authorize, s);
    if (timeout_ms > 0) {
        dl.at_us = sq_now_us() + timeout_ms * 1000;
        sqlite3_progress_handler(c->db, SQ_PROGRESS_OPS, sq_progress, &dl);
    }
    for (;;) {
        int src = sqlite3_step(s->st);
        if (src == SQLITE_DONE)
            break;
        if (src != SQLITE_ROW) {
            if (dl.fired || (src & 0xff) == SQLITE_INTERRUPT)
                rc = sq_err(err, errlen, DC_ETIMEOUT,
                            "statement exceeded %" PRId64
                            " ms; narrow it with filters or a LIMIT",
                            timeout_ms);
            else if ((src & 0xff) == SQLITE_READONLY)
                rc = sq_err(err, errlen, DC_EDENIED,
                            "%s: the connection is read-only: %s", c->path,
                            sqlite3_errmsg(c->db));
            else
                rc = sq_err(err, errlen, sq_code(src) == DC_OK ? DC_EIO : sq_code(src), "%s: %s",
                            c->path, sqlite3_errmsg(c->db));
            goto cleanup;
        }
        /* The row past the cap is fetched only to learn that it exists. */
        if (max_rows > 0 && nrows >= max_rows) {
            truncated = 1;
            break;
        }
        int64_t before = bytes;
        rc = sq_rows_add(&rows, s->st, ncols, &bytes);
        if (rc != DC_OK) {
            rc = sq_err(err, errlen, rc, "out of memory reading row %" PRId64, nrows + 1);
            goto cleanup;
        }
        if (max_bytes > 0 && bytes > max_bytes) {
            /* Keep whole rows only: drop the one that crossed the limit. */
            for (int i = 0; i < ncols; i++)
                sqlite3_value_free(rows.v[--rows.n]);
            bytes = before;
            truncated = 1;
            break;
        }
        nrows++;
    }
    rc = sq_emit(c->h, s->st, ncols, &rows, out, err, errlen);
    if (rc == DC_OK && truncated)
        c->h->result_set_truncated(out, 1);
cleanup:
    sqlite3_progress_handler(c->db, 0, NULL, NULL);
    sqlite3_set_authorizer(c->db, NULL, NULL);
    /* reset ends the read transaction so other writers are not held up */
    sqlite3_reset(s->st);
    sqlite3_clear_bindings(s->st);
    sq_rows_free(&rows);
    return rc;
}

/* ---- Introspection --------------------------------------------------------- */

static char *sq_dup_col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

/* "name" with embedded quotes doubled: an identifier SQLite cannot misread. */
static char *sq_quote_ident(const char *name)
{
    size_t n = strlen(name), q = 0;
    for (size_t i = 0; i < n; i++)
        q += name[i] == '"';
    char *out = malloc(n + q + 3);
    if (!out)
        return NULL;
    char *p = out;
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '"')
            *p++ = '"';
        *p++ = name[i];
    }
    *p++ = '"';
    *p = '\0';
    return out;
}

struct sq_table {
    char *name;
    char *kind;
    int64_t rows;
    struct dc_column_info *cols;
    size_t ncols;
    struct dc_fk_info *fks;
    size_t nfks;
};

static void sq_table_clear(struct sq_table *t)
{
    for (size_t i = 0; i < t->ncols; i++) {
        free((char *)t->cols[i].name);
        free((char *)t->cols[i].decl_type);
        free((char *)t->cols[i].default_value);
    }
    for (size_t i = 0; i < t->nfks; i++) {
        free((char *)t->fks[i].from_column);
        free((char *)t->fks[i].to_table);
        free((char *)t->fks[i].to_column);
    }
    free(t->cols);
    free(t->fks);
    free(t->name);
    free(t->kind);
    memset(t, 0, sizeof(*t));
}

static int sq_prep(struct sq_conn *c, const char *sql, sqlite3_stmt **st, char *err,
                   size_t errlen)
{
    int rc = sqlite3_prepare_v2(c->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK)
        return sq_err(err, errlen, sq_code(rc) == DC_OK ? DC_EIO : sq_code(rc),
                      "%s: introspection failed: %s", c->path, sqlite3_errmsg(c->db));
    return DC_OK;
}

/* Statements introspection runs once per table, prepared once: parsing
 * them per table cost more than all the rest of a catalog answer. */
struct sq_intro {
    sqlite3_stmt *cols;
    sqlite3_stmt *fks;
};

static void sq_intro_free(struct sq_intro *in)
{
    sqlite3_finalize(in->cols);
    sqlite3_finalize(in->fks);
}

/* The cached statement *st, prepared on first use, reset and bound to name. */
static int sq_cached(struct sq_conn *c, sqlite3_stmt **st, const char *sql, const char *name,
                     char *err, size_t errlen)
{
    if (!*st) {
        int rc = sq_prep(c, sql, st, err, errlen);
        if (rc != DC_OK)
            return rc;
    }
    sqlite3_reset(*st);
    sqlite3_clear_bindings(*st);
    sqlite3_bind_text(*st, 1, name, -1, SQLITE_STATIC);
    return DC_OK;
}

static int sq_columns(struct sq_conn *c, struct sq_intro *in, struct sq_table *t, char *err,
                      size_t errlen)
{
    int rc = sq_cached(c, &in->cols,
                       "SELECT name, type, \"notnull\", dflt_value, pk, hidden "
                       "FROM pragma_table_xinfo(?1) ORDER BY cid",
                       t->name, err, errlen);
    if (rc != DC_OK)
        return rc;
    sqlite3_stmt *st = in->cols;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_int(st, 5) == 1)
            continue; /* hidden columns of virtual tables are arguments, not data */
        struct dc_column_info *cols = realloc(t->cols, (t->ncols + 1) * sizeof(*cols));
        if (!cols) {
            rc = sq_err(err, errlen, DC_ENOMEM, "out of memory");
            goto cleanup;
        }
        t->cols = cols;
        struct dc_column_info *ci = &t->cols[t->ncols];
        memset(ci, 0, sizeof(*ci));
        ci->struct_size = sizeof(*ci);
        ci->name = sq_dup_col(st, 0);
        ci->decl_type = sq_dup_col(st, 1);
        if (!ci->decl_type)
            ci->decl_type = strdup("");
        ci->notnull = sqlite3_column_int(st, 2) != 0;
        ci->default_value = sq_dup_col(st, 3);
        ci->pk = sqlite3_column_int(st, 4);
        t->ncols++;
        if (!ci->name || !ci->decl_type ||
            (sqlite3_column_type(st, 3) != SQLITE_NULL && !ci->default_value)) {
            rc = sq_err(err, errlen, DC_ENOMEM, "out of memory");
            goto cleanup;
        }
        int type = sq_decl_type(ci->decl_type);
        /* SQLite's affinity rules for the rest: no declared type holds
         * anything (blob affinity), any other name is numeric. */
        ci->type = type >= 0 ? type : (*ci->decl_type ? DC_NUMERIC : DC_BLOB);
    }
    if (src != SQLITE_DONE)
        rc = sq_err(err, errlen, DC_EIO, "%s: columns of '%s': %s", c->path, t->name,
                    sqlite3_errmsg(c->db));
cleanup:
    sqlite3_reset(st);
    return rc;
}

/* The parent key column a foreign key names implicitly: the parent's
 * primary-key column at the same position. NULL when there is none. */
static int sq_parent_pk(struct sq_conn *c, const char *table, int pos, char **out, char *err,
                        size_t errlen)
{
    sqlite3_stmt *st = NULL;
    *out = NULL;
    int rc = sq_prep(c, "SELECT name FROM pragma_table_info(?1) WHERE pk = ?2", &st, err, errlen);
    if (rc != DC_OK)
        return rc;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, pos);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *out = sq_dup_col(st, 0);
        if (!*out)
            rc = sq_err(err, errlen, DC_ENOMEM, "out of memory");
    } else if (src != SQLITE_DONE) {
        rc = sq_err(err, errlen, DC_EIO, "%s: primary key of '%s': %s", c->path, table,
                    sqlite3_errmsg(c->db));
    }
    sqlite3_finalize(st);
    return rc;
}

static int sq_fks(struct sq_conn *c, struct sq_intro *in, struct sq_table *t, char *err,
                  size_t errlen)
{
    char *to_col = NULL;
    int rc = sq_cached(c, &in->fks,
                       "SELECT seq, \"table\", \"from\", \"to\" "
                       "FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
                       t->name, err, errlen);
    if (rc != DC_OK)
        return rc;
    sqlite3_stmt *st = in->fks;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *to_table = (const char *)sqlite3_column_text(st, 1);
        if (!to_table)
            continue;
        if (sqlite3_column_type(st, 3) == SQLITE_NULL) {
            rc = sq_parent_pk(c, to_table, sqlite3_column_int(st, 0) + 1, &to_col, err, errlen);
            if (rc != DC_OK)
                goto cleanup;
            if (!to_col) {
                /* A parent without a primary key cannot be joined on: SQLite
                 * itself reports such a key as a mismatch. */
                c->h->log(c->h, DC_LOG_WARN,
                          "%s: table '%s' has a foreign key to '%s' without a primary key; "
                          "it is left out of the catalog",
                          c->path, t->name, to_table);
                continue;
            }
        } else {
            to_col = sq_dup_col(st, 3);
            if (!to_col) {
                rc = sq_err(err, errlen, DC_ENOMEM, "out of memory");
                goto cleanup;
            }
        }
        struct dc_fk_info *fks = realloc(t->fks, (t->nfks + 1) * sizeof(*fks));
        if (!fks) {
            rc = sq_err(err, errlen, DC_ENOMEM, "out of memory");
            goto cleanup;
        }
        t->fks = fks;
        struct dc_fk_info *fk = &t->fks[t->nfks++];
        memset(fk, 0, sizeof(*fk));
        fk->struct_size = sizeof(*fk);
        fk->from_column = sq_dup_col(st, 2);
        fk->to_table = strdup(to_table);
        fk->to_column = to_col;
        to_col = NULL;
        if (!fk->from_column || !fk->to_table) {
            rc = sq_err(err, errlen, DC_ENOMEM, "out of memory");
            goto cleanup;
        }
    }
    if (src != SQLITE_DONE)
        rc = sq_err(err, errlen, DC_EIO, "%s: foreign keys of '%s': %s", c->path, t->name,
                    sqlite3_errmsg(c->db));
cleanup:
    free(to_col);
    sqlite3_reset(st);
    return rc;
}

/* Row count, or -1 when the table cannot be counted (e.g. a virtual table
 * whose module this SQLite lacks). */
static int64_t sq_count(struct sq_conn *c, const char *name)
{
    int64_t n = -1;
    sqlite3_stmt *st = NULL;
    char *q = sq_quote_ident(name);
    char *sql = NULL;
    if (!q)
        return -1;
    size_t len = strlen(q) + 32;
    sql = malloc(len);
    if (sql) {
        snprintf(sql, len, "SELECT count(*) FROM main.%s", q);
        if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    free(sql);
    free(q);
    return n;
}

/* Row counts without scanning big tables: ANALYZE's sqlite_stat1 holds each
 * table's row count as the first number of any of its rows. */
static int64_t sq_stat_rows(sqlite3_stmt *stat, const char *name)
{
    int64_t n = -1;
    if (!stat)
        return -1;
    sqlite3_reset(stat);
    if (sqlite3_bind_text(stat, 1, name, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_step(stat) == SQLITE_ROW) {
        const char *txt = (const char *)sqlite3_column_text(stat, 0);
        char *end = NULL;
        long long v = txt ? strtoll(txt, &end, 10) : -1;
        if (txt && end != txt && v >= 0)
            n = v;
    }
    sqlite3_reset(stat);
    return n;
}

/* Whole-file size in bytes, -1 when unknown. */
/* The host caches the catalog per file version (see fingerprint), so exact
 * counts are paid once per change of the file, not per question. */
#define SQ_COUNT_BYTES_MAX ((int64_t)64 << 20)

static int64_t sq_db_bytes(struct sq_conn *c)
{
    sqlite3_stmt *st = NULL;
    int64_t pages = -1, size = -1;
    if (sqlite3_prepare_v2(c->db, "SELECT page_count, page_size FROM pragma_page_count(), "
                                  "pragma_page_size()",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        pages = sqlite3_column_int64(st, 0);
        size = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return pages >= 0 && size > 0 ? pages * size : -1;
}

static int sq_introspect(void *conn, struct dc_schema *out, char *err, size_t errlen)
{
    struct sq_conn *c = conn;
    sqlite3_stmt *st = NULL;
    struct sq_table t;
    int rc = DC_OK, src;
    memset(&t, 0, sizeof(t));
    if (!c || !out)
        return sq_err(err, errlen, DC_EINVAL, "sqlite: introspect called without a handle");
    /* Exact counts are cheap on a small file; on a big one they cost a scan
     * per table at every start, so only ANALYZE's figures are used there. */
    int64_t bytes = sq_db_bytes(c);
    int small_db = bytes >= 0 && bytes <= SQ_COUNT_BYTES_MAX;
    struct sq_intro intro = {NULL, NULL};
    sqlite3_stmt *stat = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT stat FROM main.sqlite_stat1 WHERE tbl = ?1 LIMIT 1",
                           -1, &stat, NULL) != SQLITE_OK) {
        sqlite3_finalize(stat);
        stat = NULL; /* no ANALYZE yet */
    }
    rc = sq_prep(c, "SELECT type, name FROM main.sqlite_schema "
                    "WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
                    "ORDER BY name",
                 &st, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        t.kind = sq_dup_col(st, 0);
        t.name = sq_dup_col(st, 1);
        if (!t.kind || !t.name) {
            rc = sq_err(err, errlen, DC_ENOMEM, "out of memory");
            goto cleanup;
        }
        int is_view = strcmp(t.kind, "view") == 0;
        char terr[256] = "";
        int trc = sq_columns(c, &intro, &t, terr, sizeof(terr));
        if (trc == DC_OK && !is_view)
            trc = sq_fks(c, &intro, &t, terr, sizeof(terr));
        if (trc == DC_ENOMEM) {
            rc = sq_err(err, errlen, DC_ENOMEM, "out of memory");
            goto cleanup;
        }
        if (trc != DC_OK) {
            /* One unreadable object (a view over a dropped table, a virtual
             * table without its module) must not hide the rest. */
            c->h->log(c->h, DC_LOG_WARN, "%s: %s '%s' is left out of the catalog: %s",
                      c->path, t.kind, t.name, terr);
            sq_table_clear(&t);
            continue;
        }
        if (is_view) {
            t.rows = -1;
        } else {
            t.rows = sq_stat_rows(stat, t.name);
            if (t.rows < 0 && small_db)
                t.rows = sq_count(c, t.name);
        }
        struct dc_table_info ti;
        memset(&ti, 0, sizeof(ti));
        ti.struct_size = sizeof(ti);
        ti.name = t.name;
        ti.kind = t.kind;
        ti.row_count = t.rows;
        ti.ncolumns = t.ncols;
        ti.columns = t.cols;
        ti.nfks = t.nfks;
        ti.fks = t.fks;
        rc = c->h->schema_add_table(out, &ti);
        if (rc != DC_OK) {
            rc = sq_err(err, errlen, rc, "cannot add table '%s' to the catalog", t.name);
            goto cleanup;
        }
        sq_table_clear(&t);
    }
    if (src != SQLITE_DONE)
        rc = sq_err(err, errlen, DC_EIO, "%s: cannot list tables: %s", c->path,
                    sqlite3_errmsg(c->db));
cleanup:
    sq_table_clear(&t);
    sqlite3_finalize(st);
    sqlite3_finalize(stat);
    sq_intro_free(&intro);
    return rc;
}

static int sq_fingerprint(const struct dc_host *h, const struct dc_opts *opts, char *out,
                          size_t outlen)
{
    const char *path = h->opt_str ? h->opt_str(opts, "path") : NULL;
    struct stat st;
    if (!path || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return DC_EUNSUPPORTED; /* open() reports the real problem */
    /* A WAL file holds commits the main file does not show yet. */
    char wal[4096];
    struct stat ws;
    long long wsize = -1, wmtime = 0;
    if ((size_t)snprintf(wal, sizeof(wal), "%s-wal", path) < sizeof(wal) && stat(wal, &ws) == 0) {
        wsize = (long long)ws.st_size;
        wmtime = (long long)ws.st_mtim.tv_sec * 1000000000LL + ws.st_mtim.tv_nsec;
    }
    snprintf(out, outlen, "sqlite:%llu:%llu:%lld:%lld:%lld:%lld", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino, (long long)st.st_size,
             (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec, wsize, wmtime);
    return DC_OK;
}

static const struct dc_option sq_options[] = {
    {"path", DC_OPT_PATH, 1, NULL, "the SQLite database file; opened read-only, never created"},
    {"busy_timeout_ms", DC_OPT_INT, 0, "2000",
     "how long to wait for a writer's lock before giving up, in milliseconds"},
    DC_OPTIONS_END};

static const struct dc_connector_vtable sq_vtable = {
    .struct_size = sizeof(struct dc_connector_vtable),
    .dialect = "sqlite",
    .options = sq_options,
    .open = sq_open,
    .close = sq_close,
    .prepare = sq_prepare,
    .execute = sq_execute,
    .finalize = sq_finalize,
    .introspect = sq_introspect,
    .session = sq_session,
    .fingerprint = sq_fingerprint,
};

DC_PLUGIN_DEFINE_CAPS(DC_KIND_CONNECTOR, "sqlite", "0.1.0", "MIT",
                      "SQLite databases, read-only, parsed and authorized by SQLite itself",
                      &sq_vtable,
                      DC_CAP_NONE)
