/*
 * csv - an org-specific connector: a folder of CSV files as tables.
 *
 *   databases:
 *     sales: { connector: csv, dir: data/sales }
 *
 * open() reads every <name>.csv in `dir` (first line: column names) into a
 * private in-memory SQLite database through a writing connection, then
 * opens a second, read-only connection to it; every statement the core
 * sends is prepared on that one with SQLite's authorizer reporting each
 * table, column and function it touches to the core's gate. Column types
 * are inferred: INTEGER when every value is an integer, REAL when every
 * value is a number, TEXT otherwise; an empty field is NULL. The dialect is
 * "sqlite", so the gate, the catalog and the compiler treat it as SQLite.
 */
/* strdup, fileno, strcasecmp: POSIX, also under -std=c11. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#define CSV_FILE_MAX (64L << 20)
#define CSV_NAME_MAX 64
#define CSV_COLS_MAX 256

struct csv_conn {
    const struct dc_host *h;
    sqlite3 *writer; /* keeps the in-memory database alive; never runs user SQL */
    sqlite3 *db;     /* read-only: every statement from the core */
};

struct csv_stmt {
    sqlite3_stmt *st;
    struct dc_authorizer az;
};

static int csv_err(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int csv_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

/* ---- reading CSV (RFC 4180: quotes, doubled quotes, CRLF or LF) ---------- */

struct csv_row {
    char **f;
    size_t n, cap;
};

static void row_clear(struct csv_row *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->f[i]);
    r->n = 0;
}

static int row_push(struct csv_row *r, const char *s, size_t n)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        char **f = realloc(r->f, cap * sizeof(*f));
        if (!f)
            return DC_ENOMEM;
        r->f = f;
        r->cap = cap;
    }
    char *c = malloc(n + 1);
    if (!c)
        return DC_ENOMEM;
    memcpy(c, s, n);
    c[n] = '\0';
    r->f[r->n++] = c;
    return DC_OK;
}

/* Reads one record starting at *pos; DC_ENOTFOUND at end of text. */
static int next_row(const char *text, size_t len, size_t *pos, struct csv_row *r, char *buf)
{
    size_t i = *pos, b = 0;
    int quoted = 0, any = 0;
    row_clear(r);
    while (i < len && (text[i] == '\n' || text[i] == '\r'))
        i++; /* blank lines hold no record */
    if (i >= len)
        return DC_ENOTFOUND;
    for (; i < len; i++) {
        char c = text[i];
        any = 1;
        if (quoted) {
            if (c == '"' && i + 1 < len && text[i + 1] == '"') {
                buf[b++] = '"';
                i++;
            } else if (c == '"') {
                quoted = 0;
            } else {
                buf[b++] = c;
            }
        } else if (c == '"') {
            quoted = 1;
        } else if (c == ',') {
            if (row_push(r, buf, b) != DC_OK)
                return DC_ENOMEM;
            b = 0;
        } else if (c == '\n' || c == '\r') {
            if (c == '\r' && i + 1 < len && text[i + 1] == '\n')
                i++;
            i++;
            break;
        } else {
            buf[b++] = c;
        }
    }
    if (quoted)
        return DC_EINVAL;
    *pos = i;
    if (!any)
        return DC_ENOTFOUND;
    return row_push(r, buf, b);
}

static int is_integer(const char *s)
{
    char *end;
    errno = 0;
    (void)strtoll(s, &end, 10);
    return *s && !*end && errno == 0;
}

static int is_number(const char *s)
{
    char *end;
    (void)strtod(s, &end);
    return *s && !*end;
}

/* A table or column name: lowercase letters, digits and '_', not starting
 * with a digit; anything else becomes '_'. */
static void clean_name(const char *in, size_t n, char *out)
{
    size_t i = 0;
    for (; i < n && i < CSV_NAME_MAX; i++) {
        char c = in[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        int ok = (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
        out[i] = ok ? c : '_';
    }
    if (i == 0)
        out[i++] = '_';
    out[i] = '\0';
}

static int load_file(sqlite3 *w, const char *path, const char *table, char *err,
                     size_t errlen)
{
    int rc = DC_OK;
    char *text = NULL, *buf = NULL, *sql = NULL;
    int *types = NULL;
    sqlite3_stmt *ins = NULL;
    struct csv_row row = {0};
    size_t len = 0, pos = 0, ncols = 0;
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0)
        return csv_err(err, errlen, DC_EIO, "csv: %s: cannot read: %s", path, strerror(errno));
    if (st.st_size > CSV_FILE_MAX) {
        fclose(f);
        return csv_err(err, errlen, DC_ELIMIT, "csv: %s: larger than %ld bytes", path,
                       CSV_FILE_MAX);
    }
    len = (size_t)st.st_size;
    text = malloc(len + 1);
    buf = malloc(len + 1);
    if (!text || !buf || fread(text, 1, len, f) != len) {
        rc = csv_err(err, errlen, text && buf ? DC_EIO : DC_ENOMEM, "csv: %s: cannot read",
                     path);
        goto cleanup;
    }
    /* The header names the columns. */
    if (next_row(text, len, &pos, &row, buf) != DC_OK || row.n == 0 || row.n > CSV_COLS_MAX) {
        rc = csv_err(err, errlen, DC_EINVAL,
                     "csv: %s:1: the first line must name 1-%d columns", path, CSV_COLS_MAX);
        goto cleanup;
    }
    ncols = row.n;
    char (*names)[CSV_NAME_MAX + 1] = calloc(ncols, sizeof(*names));
    types = calloc(ncols, sizeof(*types));
    if (!names || !types) {
        free(names);
        rc = csv_err(err, errlen, DC_ENOMEM, "csv: out of memory");
        goto cleanup;
    }
    for (size_t c = 0; c < ncols; c++) {
        clean_name(row.f[c], strlen(row.f[c]), names[c]);
        types[c] = SQLITE_INTEGER;
    }
    /* First pass: the narrowest type every value of a column fits. */
    size_t body = pos, line = 1;
    int nr;
    while ((nr = next_row(text, len, &pos, &row, buf)) == DC_OK) {
        line++;
        if (row.n != ncols) {
            rc = csv_err(err, errlen, DC_EINVAL, "csv: %s:%zu: %zu fields, the header has %zu",
                         path, line, row.n, ncols);
            free(names);
            goto cleanup;
        }
        for (size_t c = 0; c < ncols; c++) {
            const char *v = row.f[c];
            if (!*v)
                continue;
            if (types[c] == SQLITE_INTEGER && !is_integer(v))
                types[c] = SQLITE_FLOAT;
            if (types[c] == SQLITE_FLOAT && !is_number(v))
                types[c] = SQLITE_TEXT;
        }
    }
    if (nr != DC_ENOTFOUND) {
        rc = csv_err(err, errlen, nr == DC_ENOMEM ? DC_ENOMEM : DC_EINVAL,
                     "csv: %s:%zu: unterminated quoted field", path, line + 1);
        free(names);
        goto cleanup;
    }
    sqlite3_str *ddl = sqlite3_str_new(NULL), *ist = sqlite3_str_new(NULL);
    sqlite3_str_appendf(ddl, "CREATE TABLE \"%w\" (", table);
    sqlite3_str_appendf(ist, "INSERT INTO \"%w\" VALUES (", table);
    for (size_t c = 0; c < ncols; c++) {
        const char *t = types[c] == SQLITE_INTEGER ? "INTEGER"
                        : types[c] == SQLITE_FLOAT ? "REAL"
                                                   : "TEXT";
        sqlite3_str_appendf(ddl, "%s\"%w\" %s", c ? ", " : "", names[c], t);
        sqlite3_str_appendf(ist, "%s?", c ? ", " : "");
    }
    sqlite3_str_appendall(ddl, ")");
    sqlite3_str_appendall(ist, ")");
    free(names);
    sql = sqlite3_str_finish(ddl);
    char *isql = sqlite3_str_finish(ist);
    if (!sql || !isql) {
        sqlite3_free(isql);
        rc = csv_err(err, errlen, DC_ENOMEM, "csv: out of memory");
        goto cleanup;
    }
    int src = sqlite3_exec(w, sql, NULL, NULL, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(w, isql, -1, &ins, NULL);
    sqlite3_free(isql);
    if (src != SQLITE_OK) {
        rc = csv_err(err, errlen, DC_EINVAL, "csv: %s: cannot create table %s: %s", path, table,
                     sqlite3_errmsg(w));
        goto cleanup;
    }
    /* Second pass: the rows. */
    pos = body;
    while (next_row(text, len, &pos, &row, buf) == DC_OK) {
        for (size_t c = 0; c < ncols; c++) {
            const char *v = row.f[c];
            int b = !*v                         ? sqlite3_bind_null(ins, (int)c + 1)
                    : types[c] == SQLITE_INTEGER ? sqlite3_bind_int64(ins, (int)c + 1,
                                                                      strtoll(v, NULL, 10))
                    : types[c] == SQLITE_FLOAT
                        ? sqlite3_bind_double(ins, (int)c + 1, strtod(v, NULL))
                        : sqlite3_bind_text(ins, (int)c + 1, v, -1, SQLITE_TRANSIENT);
            if (b != SQLITE_OK) {
                rc = csv_err(err, errlen, DC_EIO, "csv: %s: %s", path, sqlite3_errmsg(w));
                goto cleanup;
            }
        }
        if (sqlite3_step(ins) != SQLITE_DONE || sqlite3_reset(ins) != SQLITE_OK) {
            rc = csv_err(err, errlen, DC_EIO, "csv: %s: %s", path, sqlite3_errmsg(w));
            goto cleanup;
        }
    }

cleanup:
    sqlite3_finalize(ins);
    sqlite3_free(sql);
    row_clear(&row);
    free(row.f);
    free(types);
    free(buf);
    free(text);
    if (f)
        fclose(f);
    return rc;
}

static int has_csv_suffix(const char *name, size_t *stem)
{
    size_t n = strlen(name);
    *stem = n > 4 ? n - 4 : 0;
    return n > 4 && name[0] != '.' && strcasecmp(name + n - 4, ".csv") == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(sqlite3 *w, const char *dir, char *err, size_t errlen)
{
    int rc = DC_OK;
    char **names = NULL;
    size_t n = 0, cap = 0, stem;
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return csv_err(err, errlen, DC_EIO, "csv: cannot read directory %s: %s", dir,
                       strerror(errno));
    while ((e = readdir(d)) != NULL) {
        if (!has_csv_suffix(e->d_name, &stem))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **p = realloc(names, cap * sizeof(*p));
            if (!p) {
                rc = csv_err(err, errlen, DC_ENOMEM, "csv: out of memory");
                goto cleanup;
            }
            names = p;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = csv_err(err, errlen, DC_ENOMEM, "csv: out of memory");
            goto cleanup;
        }
        n++;
    }
    if (n == 0) {
        rc = csv_err(err, errlen, DC_ENOTFOUND, "csv: %s holds no .csv file", dir);
        goto cleanup;
    }
    qsort(names, n, sizeof(*names), cmp_str);
    if (sqlite3_exec(w, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        rc = csv_err(err, errlen, DC_EIO, "csv: %s", sqlite3_errmsg(w));
        goto cleanup;
    }
    for (size_t i = 0; i < n && rc == DC_OK; i++) {
        char table[CSV_NAME_MAX + 1];
        size_t plen = strlen(dir) + strlen(names[i]) + 2;
        char *path = malloc(plen);
        if (!path) {
            rc = csv_err(err, errlen, DC_ENOMEM, "csv: out of memory");
            break;
        }
        snprintf(path, plen, "%s/%s", dir, names[i]);
        has_csv_suffix(names[i], &stem);
        clean_name(names[i], stem, table);
        rc = load_file(w, path, table, err, errlen);
        free(path);
    }
    if (sqlite3_exec(w, rc == DC_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK &&
        rc == DC_OK)
        rc = csv_err(err, errlen, DC_EIO, "csv: %s", sqlite3_errmsg(w));

cleanup:
    closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* ---- the connector -------------------------------------------------------- */

static void csv_close(void *conn)
{
    struct csv_conn *c = conn;
    if (!c)
        return;
    sqlite3_close(c->db);
    sqlite3_close(c->writer);
    free(c);
}

static int csv_open(const struct dc_host *h, const struct dc_opts *opts, void **conn,
                    char *err, size_t errlen)
{
    int rc;
    char uri[96];
    const char *dir = h->opt_str(opts, "dir");
    struct csv_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return csv_err(err, errlen, DC_ENOMEM, "csv: out of memory");
    c->h = h;
    if (!dir) {
        rc = csv_err(err, errlen, DC_EINVAL, "csv: option dir is required");
        goto fail;
    }
    /* A name private to this connection: a shared in-memory database that
     * only the two handles below ever open. */
    snprintf(uri, sizeof(uri), "file:dc-csv-%p?mode=memory&cache=shared", (void *)c);
    if (sqlite3_open_v2(uri, &c->writer,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, NULL) !=
        SQLITE_OK) {
        rc = csv_err(err, errlen, DC_EIO, "csv: cannot create the in-memory database");
        goto fail;
    }
    rc = load_dir(c->writer, dir, err, errlen);
    if (rc != DC_OK)
        goto fail;
    if (sqlite3_open_v2(uri, &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(c->db, "PRAGMA query_only = 1", NULL, NULL, NULL) != SQLITE_OK) {
        rc = csv_err(err, errlen, DC_EIO, "csv: cannot open the read-only connection: %s",
                     c->db ? sqlite3_errmsg(c->db) : "out of memory");
        goto fail;
    }
    *conn = c;
    return DC_OK;
fail:
    csv_close(c);
    return rc;
}

static int csv_check(const struct dc_authorizer *az, int action, const char *obj,
                     const char *det, const char *schema, const char *via)
{
    if (az->struct_size >= offsetof(struct dc_authorizer, check2) + sizeof(az->check2) &&
        az->check2)
        return az->check2(az->ctx, action, obj, det, schema, via);
    return az->check(az->ctx, action, obj, det);
}

/* SQLite's authorizer actions as the gate's; anything unknown is OTHER. */
static int csv_authorize(void *arg, int code, const char *a1, const char *a2,
                         const char *dbname, const char *view)
{
    struct csv_stmt *s = arg;
    int action = DC_ACT_OTHER;
    const char *obj = a1, *det = a2;
    switch (code) {
    case SQLITE_READ: action = DC_ACT_READ; break;
    case SQLITE_SELECT: action = DC_ACT_SELECT; obj = det = NULL; break;
    case SQLITE_RECURSIVE: action = DC_ACT_RECURSIVE; obj = det = NULL; break;
    case SQLITE_FUNCTION: action = DC_ACT_FUNCTION; obj = a2; det = NULL; break;
    case SQLITE_PRAGMA: action = DC_ACT_PRAGMA; break;
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE: action = DC_ACT_WRITE; break;
    case SQLITE_ATTACH:
    case SQLITE_DETACH: action = DC_ACT_ATTACH; break;
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT: action = DC_ACT_TRANSACTION; break;
    case SQLITE_CREATE_TABLE:
    case SQLITE_CREATE_VIEW:
    case SQLITE_CREATE_INDEX:
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_CREATE_TEMP_TABLE:
    case SQLITE_CREATE_TEMP_VIEW:
    case SQLITE_CREATE_TEMP_INDEX:
    case SQLITE_CREATE_TEMP_TRIGGER:
    case SQLITE_DROP_TABLE:
    case SQLITE_DROP_VIEW:
    case SQLITE_DROP_INDEX:
    case SQLITE_DROP_TRIGGER:
    case SQLITE_DROP_TEMP_TABLE:
    case SQLITE_DROP_TEMP_VIEW:
    case SQLITE_DROP_TEMP_INDEX:
    case SQLITE_DROP_TEMP_TRIGGER:
    case SQLITE_ALTER_TABLE:
    case SQLITE_REINDEX:
    case SQLITE_ANALYZE:
    case SQLITE_CREATE_VTABLE:
    case SQLITE_DROP_VTABLE: action = DC_ACT_SCHEMA; break;
    default: det = "unknown SQLite action"; break;
    }
    return csv_check(&s->az, action, obj, det, dbname, view) == DC_OK ? SQLITE_OK : SQLITE_DENY;
}

static int tail_is_blank(const char *p)
{
    while (p && *p) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ';')
            p++;
        else if (p[0] == '-' && p[1] == '-')
            while (*p && *p != '\n')
                p++;
        else
            return 0;
    }
    return 1;
}

static void csv_finalize(void *conn, void *stmt)
{
    struct csv_stmt *s = stmt;
    (void)conn;
    if (s) {
        sqlite3_finalize(s->st);
        free(s);
    }
}

static int csv_prepare(void *conn, const char *sql, const struct dc_authorizer *az,
                       void **stmt, struct dc_stmt_info *info, char *err, size_t errlen)
{
    struct csv_conn *c = conn;
    const char *tail = NULL;
    *stmt = NULL;
    if (!az || !az->check)
        return csv_err(err, errlen, DC_EINVAL, "csv: statements are prepared for the gate only");
    struct csv_stmt *s = calloc(1, sizeof(*s));
    if (!s)
        return csv_err(err, errlen, DC_ENOMEM, "csv: out of memory");
    s->az = *az;
    sqlite3_set_authorizer(c->db, csv_authorize, s);
    int src = sqlite3_prepare_v2(c->db, sql, -1, &s->st, &tail);
    sqlite3_set_authorizer(c->db, NULL, NULL);
    if (src != SQLITE_OK || !s->st) {
        int code = src == SQLITE_AUTH ? DC_EDENIED : DC_EINVAL;
        csv_err(err, errlen, code, "%s", src == SQLITE_OK ? "no SQL statement" : sqlite3_errmsg(c->db));
        csv_finalize(c, s);
        return code;
    }
    info->single = tail_is_blank(tail);
    info->readonly = sqlite3_stmt_readonly(s->st) != 0;
    info->explain = sqlite3_stmt_isexplain(s->st) != 0;
    info->ncols = sqlite3_column_count(s->st);
    *stmt = s;
    return DC_OK;
}

static int csv_type(const char *decl)
{
    if (!decl)
        return DC_TEXT;
    if (strcasecmp(decl, "INTEGER") == 0)
        return DC_INT;
    if (strcasecmp(decl, "REAL") == 0)
        return DC_REAL;
    return DC_TEXT;
}

static int csv_execute(void *conn, void *stmt, const struct dc_value *params, size_t nparams,
                       const struct dc_limits *lim, struct dc_result *out, char *err,
                       size_t errlen)
{
    struct csv_conn *c = conn;
    const struct dc_host *h = c->h;
    sqlite3_stmt *st = ((struct csv_stmt *)stmt)->st;
    int ncols = sqlite3_column_count(st);
    struct dc_value *row = NULL;
    int rc = DC_OK;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    for (size_t i = 0; i < nparams; i++) {
        const struct dc_value *v = &params[i];
        int b = v->type == DC_NULL ? sqlite3_bind_null(st, (int)i + 1)
                : v->type == DC_INT || v->type == DC_BOOL ? sqlite3_bind_int64(st, (int)i + 1, v->v.i)
                : v->type == DC_REAL ? sqlite3_bind_double(st, (int)i + 1, v->v.d)
                : sqlite3_bind_text(st, (int)i + 1, v->v.s.p, (int)v->v.s.n, SQLITE_TRANSIENT);
        if (b != SQLITE_OK)
            return csv_err(err, errlen, DC_EINVAL, "csv: parameter %zu: %s", i + 1,
                           sqlite3_errmsg(c->db));
    }
    for (int i = 0; i < ncols; i++) {
        const char *decl = sqlite3_column_decltype(st, i);
        if (h->result_add_column(out, sqlite3_column_name(st, i), csv_type(decl), decl) != DC_OK)
            return csv_err(err, errlen, DC_ENOMEM, "csv: out of memory");
    }
    row = calloc(ncols ? (size_t)ncols : 1, sizeof(*row));
    if (!row)
        return csv_err(err, errlen, DC_ENOMEM, "csv: out of memory");
    int64_t nrows = 0;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (lim && lim->max_rows > 0 && nrows >= lim->max_rows) {
            h->result_set_truncated(out, 1);
            break;
        }
        for (int i = 0; i < ncols; i++) {
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_NULL: row[i] = DC_VALUE_NULL; break;
            case SQLITE_INTEGER: row[i] = dc_value_int(sqlite3_column_int64(st, i)); break;
            case SQLITE_FLOAT: row[i] = dc_value_real(sqlite3_column_double(st, i)); break;
            default:
                row[i] = dc_value_text((const char *)sqlite3_column_text(st, i),
                                       (size_t)sqlite3_column_bytes(st, i));
                break;
            }
        }
        if (h->result_append_row(out, row, (size_t)ncols) != DC_OK) {
            rc = csv_err(err, errlen, DC_ENOMEM, "csv: out of memory");
            break;
        }
        nrows++;
    }
    if (rc == DC_OK && src != SQLITE_ROW && src != SQLITE_DONE)
        rc = csv_err(err, errlen, DC_EIO, "csv: %s", sqlite3_errmsg(c->db));
    free(row);
    sqlite3_reset(st);
    return rc;
}

static int csv_introspect(void *conn, struct dc_schema *out, char *err, size_t errlen)
{
    struct csv_conn *c = conn;
    sqlite3_stmt *tabs = NULL, *cols = NULL;
    int rc = DC_OK;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
                           -1, &tabs, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db,
                           "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1)", -1,
                           &cols, NULL) != SQLITE_OK) {
        rc = csv_err(err, errlen, DC_EIO, "csv: %s", sqlite3_errmsg(c->db));
        goto cleanup;
    }
    while (rc == DC_OK && sqlite3_step(tabs) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(tabs, 0);
        struct dc_column_info ci[CSV_COLS_MAX];
        char *names[CSV_COLS_MAX], *types[CSV_COLS_MAX];
        size_t n = 0;
        sqlite3_bind_text(cols, 1, name, -1, SQLITE_TRANSIENT);
        while (n < CSV_COLS_MAX && sqlite3_step(cols) == SQLITE_ROW) {
            names[n] = strdup((const char *)sqlite3_column_text(cols, 0));
            types[n] = strdup((const char *)sqlite3_column_text(cols, 1));
            memset(&ci[n], 0, sizeof(ci[n]));
            ci[n].struct_size = sizeof(ci[n]);
            ci[n].name = names[n];
            ci[n].decl_type = types[n];
            ci[n].type = csv_type(types[n]);
            n++;
        }
        sqlite3_reset(cols);
        struct dc_table_info t = {sizeof(t), NULL, name, "table", -1, "from a CSV file", n, ci,
                                  0, NULL};
        if (c->h->schema_add_table(out, &t) != DC_OK)
            rc = csv_err(err, errlen, DC_ENOMEM, "csv: out of memory");
        for (size_t i = 0; i < n; i++) {
            free(names[i]);
            free(types[i]);
        }
    }
cleanup:
    sqlite3_finalize(tabs);
    sqlite3_finalize(cols);
    return rc;
}

static const struct dc_option csv_options[] = {
    {"dir", DC_OPT_PATH, 1, NULL, "directory of .csv files, one table each (file name = table)"},
    DC_OPTIONS_END};

static const struct dc_connector_vtable csv_vtable = {
    .struct_size = sizeof(struct dc_connector_vtable),
    .dialect = "sqlite",
    .options = csv_options,
    .open = csv_open,
    .close = csv_close,
    .prepare = csv_prepare,
    .execute = csv_execute,
    .finalize = csv_finalize,
    .introspect = csv_introspect,
};

DC_PLUGIN_DEFINE_CAPS(DC_KIND_CONNECTOR, "csv", "1.0.0", "MIT",
                      "Example connector: a folder of CSV files as read-only tables", &csv_vtable,
                      DC_CAP_NONE)
