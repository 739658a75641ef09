#include "pgparse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <datachat/value.h>

#include "util.h"

/* Deeper trees than this are refused rather than walked: no real question
 * nests that far, and the walk recurses once per level. */
#define PGP_MAX_DEPTH 4000

/* The PostgreSQL function deny list: the one place it is kept. A name is
 * compared without regard to case with the LAST element of the parser's
 * (already de-quoted, Unicode-decoded, case-folded) function name, so
 * "PG_SLEEP", pg_catalog.pg_sleep and U&"pg_\0073leep" all match pg_sleep.
 * A trailing '*' matches any rest. docs/SECURITY.md lists every entry with
 * the same reason; keep the two in step. */
static const struct pgp_deny {
    const char *name;
    const char *why;
} pgp_deny_list[] = {
    /* server file access */
    {"pg_read_file", "it reads files on the database server"},
    {"pg_read_binary_file", "it reads files on the database server"},
    {"pg_stat_file", "it inspects files on the database server"},
    {"pg_ls_*", "it lists directories on the database server"},
    {"pg_file_*", "it writes, renames or removes files on the database server (adminpack)"},
    {"pg_logdir_ls", "it lists the server's log directory (adminpack)"},
    {"pg_current_logfile", "it reveals file paths on the database server"},
    /* large objects */
    {"lo_*", "it reads, writes, imports or exports large objects (lo_import/lo_export touch "
             "server files)"},
    {"loread", "it reads large objects, which table policies do not cover"},
    {"lowrite", "it writes large objects"},
    /* other databases and foreign data */
    {"dblink*", "it opens connections to other databases from the server"},
    {"postgres_fdw_*", "it manages connections to foreign servers"},
    /* configuration */
    {"set_config", "it changes settings such as statement_timeout or search_path"},
    {"current_setting", "it reveals server configuration such as file paths"},
    {"pg_reload_conf", "it makes the server reload its configuration"},
    {"pg_rotate_logfile", "it rotates the server's log file"},
    {"pg_log_backend_memory_contexts", "it writes to the server log"},
    /* sleeps and locks */
    {"pg_sleep*", "it holds a connection without doing work"},
    {"pg_advisory*", "it takes advisory locks that outlive the question"},
    {"pg_try_advisory*", "it takes advisory locks that outlive the question"},
    /* sequences */
    {"nextval", "it advances a sequence (a write)"},
    {"setval", "it sets a sequence (a write)"},
    /* other sessions and the server process */
    {"pg_cancel_backend", "it cancels other sessions' queries"},
    {"pg_terminate_backend", "it terminates other sessions"},
    {"pg_notify", "it sends notifications to other sessions"},
    {"pg_promote", "it promotes a standby server"},
    /* WAL, backups, replication */
    {"pg_switch_wal", "it forces a WAL segment switch"},
    {"pg_create_restore_point", "it writes a WAL record"},
    {"pg_backup_*", "it starts or stops a base backup"},
    {"pg_start_backup", "it starts a base backup"},
    {"pg_stop_backup", "it stops a base backup"},
    {"pg_wal_replay_*", "it pauses or resumes WAL replay"},
    {"pg_create_*_replication_slot", "it creates a replication slot"},
    {"pg_copy_*_replication_slot", "it creates a replication slot"},
    {"pg_drop_replication_slot", "it drops a replication slot"},
    {"pg_replication_slot_advance", "it advances a replication slot"},
    {"pg_logical_slot_*", "it consumes changes from a replication slot"},
    {"pg_logical_emit_message", "it writes a WAL record"},
    {"pg_replication_origin_*", "it changes replication progress"},
    {"pg_stat_reset*", "it resets the server's statistics"},
    {"pg_import_system_collations", "it creates collations"},
    /* transaction identity */
    {"txid_current", "it assigns a transaction id, which a read-only question never needs"},
    {"pg_current_xact_id", "it assigns a transaction id, which a read-only question never needs"},
    {"pg_export_snapshot", "it exports a snapshot to other sessions"},
    /* functions that run SQL given as text, or read whole tables by name */
    {"query_to_xml*", "it runs arbitrary SQL given as a string, out of the gate's sight"},
    {"query_to_xmlschema", "it runs arbitrary SQL given as a string, out of the gate's sight"},
    {"cursor_to_xml*", "it reads an open cursor's rows"},
    {"table_to_xml*", "it reads a whole table named by a string, out of the gate's sight"},
    {"schema_to_xml*", "it reads whole schemas named by a string, out of the gate's sight"},
    {"database_to_xml*", "it reads the whole database, out of the gate's sight"},
    {"ts_stat", "it runs arbitrary SQL given as a string, out of the gate's sight"},
    {"ts_rewrite", "its two-argument form runs arbitrary SQL given as a string"},
};

struct pgp_walk {
    struct pgparse_info *out;
    char *err;
    size_t errlen;
    int rc;
};

static int pgp_refuse(struct pgp_walk *w, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Keeps the first refusal: later ones are usually its consequences. */
static int pgp_refuse(struct pgp_walk *w, const char *code, const char *fmt, ...)
{
    if (w->rc != DC_OK)
        return w->rc;
    w->rc = DC_EDENIED;
    snprintf(w->out->code, sizeof(w->out->code), "%s", code);
    if (w->err && w->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->err, w->errlen, fmt, ap);
        va_end(ap);
    }
    return w->rc;
}

static int pgp_fail(struct pgp_walk *w, int rc, const char *msg)
{
    if (w->rc != DC_OK)
        return w->rc;
    w->rc = rc;
    snprintf(w->out->code, sizeof(w->out->code), "E-GATE-INTERNAL");
    if (w->err && w->errlen)
        snprintf(w->err, w->errlen, "%s", msg);
    return rc;
}

static int pgp_name_matches(const char *pattern, const char *name)
{
    const char *star = strchr(pattern, '*');
    if (!star)
        return strcasecmp(pattern, name) == 0;
    size_t pre = (size_t)(star - pattern);
    const char *post = star + 1;
    size_t n = strlen(name), npost = strlen(post);
    return n >= pre + npost && strncasecmp(pattern, name, pre) == 0 &&
           strcasecmp(name + n - npost, post) == 0;
}

const char *pgparse_denied_function(const char *name, const char **why)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof(pgp_deny_list) / sizeof(pgp_deny_list[0]); i++) {
        if (pgp_name_matches(pgp_deny_list[i].name, name)) {
            if (why)
                *why = pgp_deny_list[i].why;
            return pgp_deny_list[i].name;
        }
    }
    return NULL;
}

/* What a statement node is, in words a user knows. */
static const struct {
    const char *node;
    const char *code;
    const char *what;
} pgp_stmt_kinds[] = {
    {"InsertStmt", "E-GATE-WRITE", "INSERT"},
    {"UpdateStmt", "E-GATE-WRITE", "UPDATE"},
    {"DeleteStmt", "E-GATE-WRITE", "DELETE"},
    {"MergeStmt", "E-GATE-WRITE", "MERGE"},
    {"TruncateStmt", "E-GATE-WRITE", "TRUNCATE"},
    {"TransactionStmt", "E-GATE-TXN", "transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT)"},
    {"CopyStmt", "E-GATE-COPY", "COPY"},
    {"LockStmt", "E-GATE-LOCK", "LOCK TABLE"},
    {"VariableSetStmt", "E-GATE-SESSION", "SET/RESET"},
    {"VariableShowStmt", "E-GATE-SESSION", "SHOW"},
    {"DiscardStmt", "E-GATE-SESSION", "DISCARD"},
    {"ListenStmt", "E-GATE-SESSION", "LISTEN"},
    {"UnlistenStmt", "E-GATE-SESSION", "UNLISTEN"},
    {"NotifyStmt", "E-GATE-SESSION", "NOTIFY"},
    {"PrepareStmt", "E-GATE-SESSION", "PREPARE"},
    {"ExecuteStmt", "E-GATE-SESSION", "EXECUTE"},
    {"DeallocateStmt", "E-GATE-SESSION", "DEALLOCATE"},
    {"DoStmt", "E-GATE-SESSION", "DO"},
    {"CallStmt", "E-GATE-SESSION", "CALL"},
    {"LoadStmt", "E-GATE-SESSION", "LOAD"},
    {"ConstraintsSetStmt", "E-GATE-SESSION", "SET CONSTRAINTS"},
    {"DeclareCursorStmt", "E-GATE-SESSION", "DECLARE CURSOR"},
    {"FetchStmt", "E-GATE-SESSION", "FETCH/MOVE"},
    {"ClosePortalStmt", "E-GATE-SESSION", "CLOSE"},
    {"CheckPointStmt", "E-GATE-SESSION", "CHECKPOINT"},
    {"ExplainStmt", "E-GATE-NOT-QUERY", "a nested EXPLAIN"},
};

/* Node-name prefixes of statements that change the schema or privileges. */
static const char *const pgp_ddl_prefixes[] = {
    "Create", "Alter", "Drop", "Grant", "Rename", "Comment", "Reindex", "Cluster", "Vacuum",
    "Refresh", "Define", "Import", "SecLabel", "View", "Index", "Rule", "CompositeType",
    "Reassign", "Createdb", "Dropdb",
};

static int pgp_refuse_stmt(struct pgp_walk *w, const char *node, json_t *body, const char *where)
{
    /* SET TRANSACTION ... parses as a SET of the pseudo-variable "transaction". */
    const char *var = json_string_value(json_object_get(body, "name"));
    if (strcmp(node, "VariableSetStmt") == 0 && var &&
        (strncasecmp(var, "transaction", 11) == 0 || strcasecmp(var, "session characteristics") == 0))
        return pgp_refuse(w, "E-GATE-TXN",
                          "SET TRANSACTION%s is not allowed; every query runs in the gate's own "
                          "read-only transaction",
                          where);
    for (size_t i = 0; i < sizeof(pgp_stmt_kinds) / sizeof(pgp_stmt_kinds[0]); i++)
        if (strcmp(pgp_stmt_kinds[i].node, node) == 0)
            return pgp_refuse(w, pgp_stmt_kinds[i].code,
                              "%s%s is not allowed; only reading queries (SELECT, WITH ... "
                              "SELECT, EXPLAIN SELECT) may run",
                              pgp_stmt_kinds[i].what, where);
    size_t n = strlen(node);
    int len = (int)(n > 4 ? n - 4 : n); /* without "Stmt" */
    for (size_t i = 0; i < sizeof(pgp_ddl_prefixes) / sizeof(pgp_ddl_prefixes[0]); i++)
        if (strncmp(node, pgp_ddl_prefixes[i], strlen(pgp_ddl_prefixes[i])) == 0)
            return pgp_refuse(w, "E-GATE-DDL",
                              "the statement changes the schema or privileges (%.*s)%s; only "
                              "reading queries may run",
                              len, node, where);
    return pgp_refuse(w, "E-GATE-NOT-QUERY",
                      "%.*s%s is not a query; only SELECT, WITH ... SELECT and EXPLAIN of "
                      "those may run",
                      len, node, where);
}

static int pgp_is_stmt_node(const char *key)
{
    size_t n = strlen(key);
    return n > 4 && strcmp(key + n - 4, "Stmt") == 0 && key[0] >= 'A' && key[0] <= 'Z';
}

static char *pgp_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int pgp_add_table(struct pgp_walk *w, const char *schema, const char *name)
{
    struct pgparse_info *o = w->out;
    for (size_t i = 0; i < o->ntables; i++) {
        const struct pgparse_table *t = &o->tables[i];
        if (strcmp(t->name, name) == 0 &&
            ((!t->schema && !schema) || (t->schema && schema && strcmp(t->schema, schema) == 0)))
            return DC_OK;
    }
    struct pgparse_table *tt = realloc(o->tables, (o->ntables + 1) * sizeof(*tt));
    if (!tt)
        return pgp_fail(w, DC_ENOMEM, "out of memory while checking the statement");
    o->tables = tt;
    struct pgparse_table *t = &tt[o->ntables];
    memset(t, 0, sizeof(*t));
    size_t flen = strlen(name) + (schema ? strlen(schema) + 1 : 0) + 1;
    t->schema = pgp_strdup(schema);
    t->name = pgp_strdup(name);
    t->full = malloc(flen);
    o->ntables++; /* counted now so that pgparse_info_clear frees a partial entry */
    if ((schema && !t->schema) || !t->name || !t->full)
        return pgp_fail(w, DC_ENOMEM, "out of memory while checking the statement");
    if (schema)
        snprintf(t->full, flen, "%s.%s", schema, name);
    else
        snprintf(t->full, flen, "%s", name);
    return DC_OK;
}

/* A RangeVar: any object with a "relname" member, wrapped or not. */
static int pgp_check_relation(struct pgp_walk *w, json_t *rv)
{
    const char *name = json_string_value(json_object_get(rv, "relname"));
    const char *schema = json_string_value(json_object_get(rv, "schemaname"));
    if (!name)
        return DC_OK;
    if (schema && (strncasecmp(schema, "pg_", 3) == 0 ||
                   strcasecmp(schema, "information_schema") == 0))
        return pgp_refuse(w, "E-GATE-CATALOG",
                          "reading the system catalog (%s.%s) is not allowed; ask a catalog "
                          "question (\"which tables are there?\") instead",
                          schema, name);
    if (!schema && strncasecmp(name, "pg_", 3) == 0)
        return pgp_refuse(w, "E-GATE-CATALOG",
                          "reading '%s' is not allowed: names starting with pg_ are the "
                          "system catalog's; ask a catalog question instead",
                          name);
    return pgp_add_table(w, schema, name);
}

/* FuncCall.funcname: a list of String nodes, the last one the function. */
static int pgp_check_funcname(struct pgp_walk *w, json_t *names)
{
    size_t n = json_array_size(names);
    if (n == 0)
        return DC_OK;
    json_t *last = json_array_get(names, n - 1);
    const char *fn = json_string_value(json_object_get(json_object_get(last, "String"), "sval"));
    if (!fn)
        return pgp_refuse(w, "E-GATE-FUNC-DENIED",
                          "a function call whose name the gate cannot read is not allowed");
    const char *why = NULL;
    if (pgparse_denied_function(fn, &why))
        return pgp_refuse(w, "E-GATE-FUNC-DENIED", "function %s() is not allowed: %s", fn, why);
    return DC_OK;
}

static int pgp_walk(struct pgp_walk *w, json_t *v, int depth);

static int pgp_walk_object(struct pgp_walk *w, json_t *obj, int depth)
{
    const char *key;
    json_t *child;
    if (json_object_get(obj, "relname") && pgp_check_relation(w, obj) != DC_OK)
        return w->rc;
    json_object_foreach(obj, key, child) {
        if (pgp_is_stmt_node(key) && strcmp(key, "SelectStmt") != 0)
            return pgp_refuse_stmt(w, key, child, " inside the query");
        if (strcmp(key, "intoClause") == 0 && !json_is_null(child))
            return pgp_refuse(w, "E-GATE-INTO",
                              "SELECT ... INTO creates a table; only reading queries may run");
        if (strcmp(key, "lockingClause") == 0 && json_array_size(child) > 0)
            return pgp_refuse(w, "E-GATE-LOCK",
                              "locking clauses (FOR UPDATE/NO KEY UPDATE/SHARE/KEY SHARE) are "
                              "not allowed; drop the FOR ... clause");
        if (strcmp(key, "funcname") == 0 && json_is_array(child) &&
            pgp_check_funcname(w, child) != DC_OK)
            return w->rc;
        if (strcmp(key, "ParamRef") == 0) {
            json_int_t num = json_integer_value(json_object_get(child, "number"));
            if (num > w->out->nparams && num <= 65535)
                w->out->nparams = (int)num;
        }
        if (pgp_walk(w, child, depth + 1) != DC_OK)
            return w->rc;
    }
    return DC_OK;
}

/* Visits every object and array of the tree, so no node type is missed. */
static int pgp_walk(struct pgp_walk *w, json_t *v, int depth)
{
    if (depth > PGP_MAX_DEPTH)
        return pgp_refuse(w, "E-GATE-PARSE", "the statement is nested too deeply");
    if (json_is_object(v))
        return pgp_walk_object(w, v, depth);
    if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) {
            if (pgp_walk(w, item, depth + 1) != DC_OK)
                return w->rc;
        }
    }
    return DC_OK;
}

/* The one node of a {"NodeName": {...}} wrapper. */
static const char *pgp_node(json_t *wrapper, json_t **body)
{
    const char *key;
    json_t *child;
    *body = NULL;
    if (!json_is_object(wrapper) || json_object_size(wrapper) != 1)
        return NULL;
    json_object_foreach(wrapper, key, child) {
        *body = child;
        return key;
    }
    return NULL;
}

static int pgp_check_tree(struct pgp_walk *w, json_t *root)
{
    json_t *stmts = json_object_get(root, "stmts");
    json_t *body = NULL;
    if (!json_is_array(stmts))
        return pgp_refuse(w, "E-GATE-PARSE", "the parser returned no statement list");
    if (json_array_size(stmts) == 0)
        return pgp_refuse(w, "E-GATE-EMPTY",
                          "the SQL text holds only comments or semicolons; send one SELECT "
                          "statement");
    if (json_array_size(stmts) > 1)
        return pgp_refuse(w, "E-GATE-MULTI",
                          "the text holds %zu statements; send exactly one SELECT",
                          json_array_size(stmts));
    const char *node = pgp_node(json_object_get(json_array_get(stmts, 0), "stmt"), &body);
    if (!node)
        return pgp_refuse(w, "E-GATE-PARSE", "the parser returned an unexpected tree");
    if (strcmp(node, "ExplainStmt") == 0) {
        json_t *inner = NULL;
        const char *what = pgp_node(json_object_get(body, "query"), &inner);
        w->out->explain = 1;
        if (!what)
            return pgp_refuse(w, "E-GATE-PARSE", "EXPLAIN without a statement");
        if (strcmp(what, "SelectStmt") != 0)
            return pgp_refuse_stmt(w, what, inner, " (under EXPLAIN)");
        /* EXPLAIN ANALYZE of a SELECT runs it, which is what a query does anyway. */
    } else if (strcmp(node, "SelectStmt") != 0) {
        return pgp_refuse_stmt(w, node, body, "");
    }
    return pgp_walk(w, body, 0);
}

int pgparse_check(const char *sql, struct pgparse_info *out, char *err, size_t errlen)
{
    struct pgp_walk w = {out, err, errlen, DC_OK};
    json_t *root = NULL;
    json_error_t jerr;
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return DC_EINVAL;
    out->code[0] = '\0';
    out->fingerprint[0] = '\0';
    if (!sql)
        return pgp_refuse(&w, "E-GATE-EMPTY", "no SQL was given");
    PgQueryParseResult pr = pg_query_parse(sql);
    if (pr.error) {
        const char *msg = pr.error->message ? pr.error->message : "syntax error";
        if (pr.error->cursorpos > 0)
            pgp_refuse(&w, "E-GATE-PARSE", "the statement could not be parsed: %s (at character %d)",
                       msg, pr.error->cursorpos);
        else
            pgp_refuse(&w, "E-GATE-PARSE", "the statement could not be parsed: %s", msg);
        goto cleanup;
    }
    if (!pr.parse_tree) {
        pgp_fail(&w, DC_ENOMEM, "out of memory while parsing the statement");
        goto cleanup;
    }
    root = json_loads(pr.parse_tree, 0, &jerr);
    if (!root) {
        pgp_refuse(&w, "E-GATE-PARSE",
                   "the statement's parse tree could not be read (%s); it is probably nested "
                   "too deeply",
                   jerr.text);
        goto cleanup;
    }
    if (pgp_check_tree(&w, root) != DC_OK)
        goto cleanup;
    if (out->want_fingerprint) {
        PgQueryFingerprintResult fr = pg_query_fingerprint(sql);
        if (!fr.error && fr.fingerprint_str)
            snprintf(out->fingerprint, sizeof(out->fingerprint), "%s", fr.fingerprint_str);
        pg_query_free_fingerprint_result(fr);
    }
cleanup:
    json_decref(root);
    pg_query_free_parse_result(pr);
    return w.rc;
}

void pgparse_info_clear(struct pgparse_info *info)
{
    if (!info)
        return;
    for (size_t i = 0; i < info->ntables; i++) {
        free(info->tables[i].schema);
        free(info->tables[i].name);
        free(info->tables[i].full);
    }
    free(info->tables);
    int want = info->want_fingerprint;
    memset(info, 0, sizeof(*info));
    info->want_fingerprint = want;
}

/* ---- Policy rewrite ------------------------------------------------------ */

/* One RangeVar of the tree. Strings are borrowed from the JSON tree. */
struct rw_ref {
    int loc;
    const char *catalog, *schema, *name, *alias;
    int inh, alias_cols;
    int shadow; /* index into the shadows, -1 when none */
};

/* One ColumnRef: its last name and the one before (table or alias). */
struct rw_col {
    const char *qual, *name;
};

struct rw {
    const struct pgparse_shadow *sh;
    size_t nsh;
    struct pgparse_rewrite *out;
    char *err;
    size_t errlen;
    int rc;
    int verify; /* walking the rewritten text: collect references only */
    struct rw_ref *refs;
    size_t nrefs;
    struct rw_col *cols;
    size_t ncols;
};

static int rw_refuse(struct rw *w, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int rw_refuse(struct rw *w, const char *code, const char *fmt, ...)
{
    if (w->rc != DC_OK)
        return w->rc;
    w->rc = DC_EDENIED;
    snprintf(w->out->code, sizeof(w->out->code), "%s", code);
    if (w->err && w->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->err, w->errlen, fmt, ap);
        va_end(ap);
    }
    return w->rc;
}

static int rw_oom(struct rw *w)
{
    if (w->rc != DC_OK)
        return w->rc;
    w->rc = DC_ENOMEM;
    snprintf(w->out->code, sizeof(w->out->code), "E-GATE-INTERNAL");
    if (w->err && w->errlen)
        snprintf(w->err, w->errlen, "out of memory while applying the access policy");
    return w->rc;
}

static int rw_push(struct rw *w, char ***v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return DC_OK;
    char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (!nv)
        return rw_oom(w);
    *v = nv;
    if (!(nv[*n] = strdup(s)))
        return rw_oom(w);
    (*n)++;
    return DC_OK;
}

static const char *rw_sval(json_t *node)
{
    return json_string_value(json_object_get(json_object_get(node, "String"), "sval"));
}

static int rw_match(const struct pgparse_shadow *s, const struct rw_ref *r)
{
    return strcasecmp(r->name, s->name) == 0 &&
           (!r->schema || !s->schema || strcasecmp(r->schema, s->schema) == 0);
}

static int rw_add_ref(struct rw *w, json_t *rv)
{
    struct rw_ref *nr = realloc(w->refs, (w->nrefs + 1) * sizeof(*nr));
    if (!nr)
        return rw_oom(w);
    w->refs = nr;
    struct rw_ref *r = &nr[w->nrefs++];
    memset(r, 0, sizeof(*r));
    json_t *loc = json_object_get(rv, "location");
    r->loc = loc ? (int)json_integer_value(loc) : 0;
    r->catalog = json_string_value(json_object_get(rv, "catalogname"));
    r->schema = json_string_value(json_object_get(rv, "schemaname"));
    r->name = json_string_value(json_object_get(rv, "relname"));
    r->inh = json_is_true(json_object_get(rv, "inh"));
    json_t *alias = json_object_get(rv, "alias");
    r->alias = json_string_value(json_object_get(alias, "aliasname"));
    r->alias_cols = json_array_size(json_object_get(alias, "colnames")) > 0;
    r->shadow = -1;
    for (size_t i = 0; r->name && i < w->nsh; i++)
        if (rw_match(&w->sh[i], r)) {
            r->shadow = (int)i;
            break;
        }
    return DC_OK;
}

static int rw_add_col(struct rw *w, json_t *fields)
{
    size_t n = json_array_size(fields);
    const char *name = n ? rw_sval(json_array_get(fields, n - 1)) : NULL;
    if (!name)
        return DC_OK; /* t.* or * */
    struct rw_col *nc = realloc(w->cols, (w->ncols + 1) * sizeof(*nc));
    if (!nc)
        return rw_oom(w);
    w->cols = nc;
    nc[w->ncols].name = name;
    nc[w->ncols].qual = n >= 2 ? rw_sval(json_array_get(fields, n - 2)) : NULL;
    w->ncols++;
    return DC_OK;
}

/* A qualified name list (function, operator, type): schema-qualified ones
 * outside pg_catalog are refused outright when qualified_refused; the bare
 * name goes to *v for the caller's catalog check. */
static int rw_add_name(struct rw *w, json_t *names, const char *what, char ***v, size_t *n)
{
    size_t k = json_array_size(names);
    if (k == 0 || w->verify)
        return DC_OK;
    const char *last = rw_sval(json_array_get(names, k - 1));
    const char *schema = k >= 2 ? rw_sval(json_array_get(names, k - 2)) : NULL;
    if (!last)
        return rw_refuse(w, "E-POLICY-FUNCTION",
                         "a %s whose name the gate cannot read is not allowed for principals "
                         "with access policies",
                         what);
    if (schema && strcmp(schema, "pg_catalog") == 0)
        return DC_OK;
    if (schema && strcmp(what, "type") != 0)
        return rw_refuse(w, "E-POLICY-FUNCTION",
                         "%s %s.%s is outside pg_catalog; principals with access policies may "
                         "only use the built-in ones (a user-defined %s can read tables behind "
                         "the gate's back)",
                         what, schema, last, what);
    return rw_push(w, v, n, last);
}

static int rw_walk(struct rw *w, json_t *v, int depth);

static int rw_walk_object(struct rw *w, json_t *obj, int depth)
{
    const char *key;
    json_t *child;
    if (json_object_get(obj, "relname") && rw_add_ref(w, obj) != DC_OK)
        return w->rc;
    json_object_foreach(obj, key, child) {
        int rc = DC_OK;
        struct pgparse_rewrite *o = w->out;
        if (strcmp(key, "CommonTableExpr") == 0) {
            const char *cte = json_string_value(json_object_get(child, "ctename"));
            if (cte && !w->verify)
                rc = rw_push(w, &o->ctes, &o->nctes, cte);
        } else if (strcmp(key, "ColumnRef") == 0) {
            rc = rw_add_col(w, json_object_get(child, "fields"));
        } else if (strcmp(key, "FuncCall") == 0) {
            rc = rw_add_name(w, json_object_get(child, "funcname"), "function", &o->functions,
                             &o->nfunctions);
        } else if (strcmp(key, "A_Expr") == 0) {
            rc = rw_add_name(w, json_object_get(child, "name"), "operator", &o->operators,
                             &o->noperators);
        } else if (strcmp(key, "SubLink") == 0) {
            rc = rw_add_name(w, json_object_get(child, "operName"), "operator", &o->operators,
                             &o->noperators);
        } else if (strcmp(key, "typeName") == 0) {
            rc = rw_add_name(w, json_object_get(child, "names"), "type", &o->types, &o->ntypes);
        }
        if (rc != DC_OK || rw_walk(w, child, depth + 1) != DC_OK)
            return w->rc;
    }
    return DC_OK;
}

static int rw_walk(struct rw *w, json_t *v, int depth)
{
    if (depth > PGP_MAX_DEPTH)
        return rw_refuse(w, "E-GATE-PARSE", "the statement is nested too deeply");
    if (json_is_object(v))
        return rw_walk_object(w, v, depth);
    if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) {
            if (rw_walk(w, item, depth + 1) != DC_OK)
                return w->rc;
        }
    }
    return DC_OK;
}

/* Parses text and walks it into w; *root keeps the strings alive. */
static int rw_parse(struct rw *w, const char *sql, json_t **root)
{
    json_error_t jerr;
    *root = NULL;
    PgQueryParseResult pr = pg_query_parse(sql);
    if (pr.error) {
        rw_refuse(w, "E-POLICY-REWRITE",
                  "the statement could not be rewritten for the access policy (the result "
                  "does not parse: %s); write the table as a plain FROM item (FROM employees "
                  "or FROM employees AS e)",
                  pr.error->message ? pr.error->message : "syntax error");
    } else if (!pr.parse_tree || !(*root = json_loads(pr.parse_tree, 0, &jerr))) {
        rw_refuse(w, "E-GATE-PARSE", "the statement's parse tree could not be read");
    } else {
        rw_walk(w, *root, 0);
    }
    pg_query_free_parse_result(pr);
    return w->rc;
}

static int rw_is_name_token(const PgQuery__ScanToken *t)
{
    return t->token == PG_QUERY__TOKEN__IDENT || t->token == PG_QUERY__TOKEN__UIDENT ||
           t->keyword_kind != PG_QUERY__KEYWORD_KIND__NO_KEYWORD;
}

/* The byte span [*a, *b) of the relation name that starts at r->loc
 * (catalog.schema.name, quoted, U&"..." UESCAPE '!'), widened over ONLY. */
/* The scanner's tokens without comments: a name may have comments between
 * its parts. */
struct rw_toks {
    PgQuery__ScanToken **t;
    size_t n;
};

static int rw_span(struct rw *w, struct rw_toks *sr, const struct rw_ref *r,
                   int textlen, int *a, int *b)
{
    size_t lo = 0, hi = sr->n, i;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sr->t[mid]->start < r->loc)
            lo = mid + 1;
        else
            hi = mid;
    }
    i = lo;
    int parts = 1 + (r->schema != NULL) + (r->catalog != NULL);
    if (i >= sr->n || sr->t[i]->start != r->loc || !rw_is_name_token(sr->t[i]))
        goto unplaced;
    size_t first = i;
    for (int k = 0;; k++) {
        if (i >= sr->n || !rw_is_name_token(sr->t[i]))
            goto unplaced;
        if (sr->t[i]->token == PG_QUERY__TOKEN__UIDENT && i + 2 < sr->n &&
            sr->t[i + 1]->token == PG_QUERY__TOKEN__UESCAPE)
            i += 2;
        if (k == parts - 1)
            break;
        if (i + 1 >= sr->n || sr->t[i + 1]->token != PG_QUERY__TOKEN__ASCII_46)
            goto unplaced;
        i += 2;
    }
    *a = sr->t[first]->start;
    *b = sr->t[i]->end;
    /* The scanner reports a U&"..." token one byte long: it ends where the
     * next token (or the text) begins. */
    if (sr->t[i]->token == PG_QUERY__TOKEN__UIDENT)
        *b = i + 1 < sr->n ? sr->t[i + 1]->start : textlen;
    if (!r->inh) {
        /* ONLY t or ONLY (t): the subquery replaces the whole item. */
        if (first >= 1 && sr->t[first - 1]->token == PG_QUERY__TOKEN__ONLY) {
            *a = sr->t[first - 1]->start;
        } else if (first >= 2 && sr->t[first - 1]->token == PG_QUERY__TOKEN__ASCII_40 &&
                   sr->t[first - 2]->token == PG_QUERY__TOKEN__ONLY &&
                   i + 1 < sr->n && sr->t[i + 1]->token == PG_QUERY__TOKEN__ASCII_41) {
            *a = sr->t[first - 2]->start;
            *b = sr->t[i + 1]->end;
        } else {
            goto unplaced;
        }
    }
    return DC_OK;
unplaced:
    return rw_refuse(w, "E-POLICY-REWRITE",
                     "the reference to '%s' at character %d could not be placed for the access "
                     "policy; write it as a plain FROM item (FROM %s or FROM %s AS e)",
                     r->name, r->loc + 1, r->name, r->name);
}

static int rw_ref_cmp(const void *x, const void *y)
{
    const struct rw_ref *a = x, *b = y;
    return (a->loc > b->loc) - (a->loc < b->loc);
}

static void rw_quote(struct sbuf *b, const char *name)
{
    sbuf_adds(b, "\"");
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            sbuf_add(b, "\"", 1);
        sbuf_add(b, p, 1);
    }
    sbuf_adds(b, "\"");
}

/* Judgements on the collected tree before any text changes. */
static int rw_judge(struct rw *w)
{
    struct pgparse_rewrite *o = w->out;
    for (size_t c = 0; c < o->nctes; c++)
        for (size_t i = 0; i < w->nsh; i++)
            if (strcasecmp(o->ctes[c], w->sh[i].name) == 0)
                return rw_refuse(w, "E-POLICY-DIRECT-READ",
                                 "the WITH query '%s' has the name of a table with a row "
                                 "filter, masks or denied columns, so the gate cannot tell "
                                 "which one each reference means; rename the WITH query",
                                 o->ctes[c]);
    for (size_t r = 0; r < w->nrefs; r++) {
        const struct rw_ref *ref = &w->refs[r];
        if (ref->shadow >= 0 && ref->alias_cols && w->sh[ref->shadow].ndenied)
            return rw_refuse(w, "E-POLICY-REWRITE",
                             "a column alias list on '%s' is not allowed: the table has denied "
                             "columns, so the list would name the wrong ones; alias the "
                             "columns in the select list instead",
                             ref->name);
    }
    for (size_t c = 0; c < w->ncols; c++) {
        const struct rw_col *col = &w->cols[c];
        for (size_t r = 0; r < w->nrefs; r++) {
            const struct rw_ref *ref = &w->refs[r];
            if (ref->shadow < 0)
                continue;
            const struct pgparse_shadow *s = &w->sh[ref->shadow];
            if (col->qual && strcasecmp(col->qual, ref->alias ? ref->alias : ref->name) != 0)
                continue;
            for (size_t d = 0; d < s->ndenied; d++)
                if (strcasecmp(s->denied[d], col->name) == 0)
                    return rw_refuse(w, "E-POLICY-COLUMN-DENIED",
                                     "column '%s' of '%s' is denied to this principal; name "
                                     "only the columns you may read (SELECT * leaves it out)",
                                     col->name, s->name);
        }
    }
    return DC_OK;
}

/* Builds the rewritten text; spans[2k], spans[2k+1] bound each inserted
 * subquery. */
static int rw_splice(struct rw *w, const char *sql, struct rw_toks *sr, int **spans)
{
    struct sbuf b;
    int prev = 0, k = 0;
    sbuf_init(&b);
    qsort(w->refs, w->nrefs, sizeof(*w->refs), rw_ref_cmp);
    *spans = calloc(2 * (w->nrefs + 1), sizeof(**spans));
    if (!*spans)
        return rw_oom(w);
    for (size_t r = 0; r < w->nrefs; r++) {
        const struct rw_ref *ref = &w->refs[r];
        int a = 0, e = 0;
        if (ref->shadow < 0)
            continue;
        if (rw_span(w, sr, ref, (int)strlen(sql), &a, &e) != DC_OK)
            goto cleanup;
        if (a < prev) {
            rw_refuse(w, "E-POLICY-REWRITE", "two references to '%s' overlap", ref->name);
            goto cleanup;
        }
        sbuf_add(&b, sql + prev, (size_t)(a - prev));
        (*spans)[2 * k] = (int)b.len;
        sbuf_adds(&b, "(");
        sbuf_adds(&b, w->sh[ref->shadow].query);
        sbuf_adds(&b, "\n)");
        (*spans)[2 * k + 1] = (int)b.len;
        k++;
        if (!ref->alias) {
            sbuf_adds(&b, " AS ");
            rw_quote(&b, ref->name);
        }
        prev = e;
        w->out->nrewritten++;
    }
    sbuf_adds(&b, sql + prev);
    if (b.oom) {
        rw_oom(w);
        goto cleanup;
    }
    w->out->sql = sbuf_detach(&b);
    if (!w->out->sql)
        rw_oom(w);
cleanup:
    sbuf_free(&b);
    return w->rc;
}

/* The rewritten text, parsed again: every reference to a shadowed table
 * must lie inside a subquery the rewrite inserted. */
static int rw_verify(struct rw *w, const int *spans, size_t nspans)
{
    struct rw v;
    json_t *root = NULL;
    memset(&v, 0, sizeof(v));
    v.sh = w->sh;
    v.nsh = w->nsh;
    v.out = w->out;
    v.err = w->err;
    v.errlen = w->errlen;
    v.verify = 1;
    if (rw_parse(&v, w->out->sql, &root) == DC_OK) {
        for (size_t r = 0; r < v.nrefs; r++) {
            const struct rw_ref *ref = &v.refs[r];
            int inside = 0;
            if (ref->shadow < 0)
                continue;
            for (size_t k = 0; k < nspans; k++)
                inside |= ref->loc >= spans[2 * k] && ref->loc < spans[2 * k + 1];
            if (!inside) {
                rw_refuse(&v, "E-POLICY-DIRECT-READ",
                          "'%s' would still be read directly after the policy rewrite; the "
                          "statement is refused",
                          ref->name);
                break;
            }
        }
    }
    free(v.refs);
    free(v.cols);
    json_decref(root);
    w->rc = v.rc;
    return w->rc;
}

int pgparse_rewrite(const char *sql, const struct pgparse_shadow *sh, size_t nsh,
                    struct pgparse_rewrite *out, char *err, size_t errlen)
{
    struct rw w;
    json_t *root = NULL;
    int *spans = NULL;
    PgQueryScanResult scan = {{0, NULL}, NULL, NULL};
    PgQuery__ScanResult *sr = NULL;
    struct rw_toks toks = {NULL, 0};
    if (err && errlen)
        err[0] = '\0';
    if (!out || !sql || (nsh && !sh))
        return DC_EINVAL;
    memset(&w, 0, sizeof(w));
    w.sh = sh;
    w.nsh = nsh;
    w.out = out;
    w.err = err;
    w.errlen = errlen;
    out->code[0] = '\0';
    if (rw_parse(&w, sql, &root) != DC_OK || rw_judge(&w) != DC_OK)
        goto cleanup;
    int any = 0;
    for (size_t r = 0; r < w.nrefs; r++)
        any |= w.refs[r].shadow >= 0;
    if (!any) {
        if (!(out->sql = strdup(sql)))
            rw_oom(&w);
        goto cleanup;
    }
    scan = pg_query_scan(sql);
    if (scan.error || !(sr = pg_query__scan_result__unpack(NULL, scan.pbuf.len,
                                                            (const uint8_t *)scan.pbuf.data))) {
        rw_refuse(&w, "E-GATE-PARSE", "the statement could not be scanned: %s",
                  scan.error && scan.error->message ? scan.error->message : "no tokens");
        goto cleanup;
    }
    toks.t = calloc(sr->n_tokens ? sr->n_tokens : 1, sizeof(*toks.t));
    if (!toks.t) {
        rw_oom(&w);
        goto cleanup;
    }
    for (size_t i = 0; i < sr->n_tokens; i++)
        if (sr->tokens[i]->token != PG_QUERY__TOKEN__SQL_COMMENT &&
            sr->tokens[i]->token != PG_QUERY__TOKEN__C_COMMENT)
            toks.t[toks.n++] = sr->tokens[i];
    if (rw_splice(&w, sql, &toks, &spans) != DC_OK)
        goto cleanup;
    rw_verify(&w, spans, out->nrewritten);
cleanup:
    if (sr)
        pg_query__scan_result__free_unpacked(sr, NULL);
    pg_query_free_scan_result(scan);
    free(toks.t);
    free(spans);
    free(w.refs);
    free(w.cols);
    json_decref(root);
    if (w.rc != DC_OK) {
        free(out->sql);
        out->sql = NULL;
    }
    return w.rc;
}

void pgparse_rewrite_clear(struct pgparse_rewrite *rw)
{
    if (!rw)
        return;
    char **lists[] = {rw->ctes, rw->functions, rw->operators, rw->types};
    size_t counts[] = {rw->nctes, rw->nfunctions, rw->noperators, rw->ntypes};
    for (size_t l = 0; l < 4; l++) {
        for (size_t i = 0; i < counts[l]; i++)
            free(lists[l][i]);
        free(lists[l]);
    }
    free(rw->sql);
    memset(rw, 0, sizeof(*rw));
}
