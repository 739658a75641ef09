#include "pgparse.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

/* The unpacked parse tree lives in an arena: protobuf-c would otherwise
 * make one malloc per node and walk every field of every node again to free
 * them (the Node message has over 200 members). The first block is on the
 * caller's stack, so a typical question allocates nothing for its tree. */
#define PGP_ARENA_FIRST 16384
#define PGP_ARENA_BLOCK 65536

/* protobuf-c recurses once per level of the tree without a depth limit:
 * unpacking takes about 1 KiB of stack per level (a 10 KiB chain like
 * 1+1+...+1 overflows an 8 MiB stack), libpg_query's packing less. A tree
 * packed in n bytes is at most n/2 levels deep (a tag and a length per
 * level), and a text of n bytes gives at most about n levels (20000 where
 * the grammar nests prefix operators). Below both sizes the tree is handled
 * as it is; above either, jansson first decodes libpg_query's JSON output
 * of it, which refuses more than 2048 levels. Only long statements pay for
 * that measurement. */
#define PGP_PACKED_SAFE 4096
#define PGP_TEXT_SAFE 16384

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

/* The system catalog, in one table: a relation is refused when its schema
 * (qualified) or its name (unqualified: found through search_path, which
 * puts pg_catalog first) matches a pattern, without regard to case.
 * docs/SECURITY.md says the same; keep the two in step. */
enum { PGP_CAT_SCHEMA, PGP_CAT_BARE_NAME };
static const struct pgp_catalog_rule {
    int part;
    const char *pattern;
} pgp_catalog_rules[] = {
    {PGP_CAT_SCHEMA, "pg_*"}, /* pg_catalog, pg_toast, pg_temp_N */
    {PGP_CAT_SCHEMA, "information_schema"},
    {PGP_CAT_BARE_NAME, "pg_*"},
};

/* One RangeVar of the tree, for the rewrite. Strings are borrowed from the
 * unpacked tree. */
struct rw_ref {
    int loc;
    const char *catalog, *schema, *name, *alias;
    int inh, alias_cols;
    int from_item; /* an item of a FROM list or a side of a JOIN, nothing else */
    int shadow;    /* index into the shadows, -1 when none */
};

/* One ColumnRef: its last name and the one before (table or alias). */
struct rw_col {
    const char *qual, *name;
};

/* The one walk over the parse tree. It judges the statement (check) and
 * gathers what the policy rewrite needs (collect); pgparse_check and
 * pgparse_rewrite differ only in which of the two they ask for. */
struct pgp_walk {
    char *code; /* where a refusal's stable code goes (40 bytes) */
    char *err;
    size_t errlen;
    int rc;
    /* check: the validation rules, tables and parameters into info */
    int check;
    struct pgparse_info *info;
    /* collect: relation references and columns; names too unless verify */
    int collect;
    int verify; /* walking the rewritten text: references only */
    const struct pgparse_shadow *sh;
    size_t nsh;
    struct pgparse_rewrite *rw;
    struct rw_ref *refs;
    size_t nrefs;
    struct rw_col *cols;
    size_t ncols;
    /* RangeVars the tree places directly in a FROM list or a JOIN (not in
     * TABLESAMPLE, INTO, FOR UPDATE OF): only there may the splice proof
     * replace one (docs/SECURITY.md). */
    const PgQuery__RangeVar **fromrv;
    size_t nfromrv;
};

static int pgp_refuse(struct pgp_walk *w, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Keeps the first refusal: later ones are usually its consequences. */
static int pgp_refuse(struct pgp_walk *w, const char *code, const char *fmt, ...)
{
    if (w->rc != DC_OK)
        return w->rc;
    w->rc = DC_EDENIED;
    snprintf(w->code, 40, "%s", code);
    if (w->err && w->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->err, w->errlen, fmt, ap);
        va_end(ap);
    }
    return w->rc;
}

static int pgp_oom(struct pgp_walk *w)
{
    if (w->rc != DC_OK)
        return w->rc;
    w->rc = DC_ENOMEM;
    snprintf(w->code, 40, "E-GATE-INTERNAL");
    if (w->err && w->errlen)
        snprintf(w->err, w->errlen, "out of memory while %s",
                 w->check ? "checking the statement" : "applying the access policy");
    return w->rc;
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

const char *pgparse_deny_entry(size_t i, const char **why)
{
    if (i >= sizeof(pgp_deny_list) / sizeof(pgp_deny_list[0]))
        return NULL;
    if (why)
        *why = pgp_deny_list[i].why;
    return pgp_deny_list[i].name;
}

const char *pgparse_catalog_rule(size_t i, int *schema)
{
    if (i >= sizeof(pgp_catalog_rules) / sizeof(pgp_catalog_rules[0]))
        return NULL;
    if (schema)
        *schema = pgp_catalog_rules[i].part == PGP_CAT_SCHEMA;
    return pgp_catalog_rules[i].pattern;
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


static int pgp_refuse_stmt(struct pgp_walk *w, const ProtobufCMessage *m, const char *where)
{
    const char *node = m->descriptor->short_name;
    /* SET TRANSACTION ... parses as a SET of the pseudo-variable "transaction". */
    if (m->descriptor == &pg_query__variable_set_stmt__descriptor) {
        const char *var = ((const PgQuery__VariableSetStmt *)m)->name;
        if (var && (strncasecmp(var, "transaction", 11) == 0 ||
                    strcasecmp(var, "session characteristics") == 0))
            return pgp_refuse(w, "E-GATE-TXN",
                              "SET TRANSACTION%s is not allowed; every query runs in the gate's "
                              "own read-only transaction",
                              where);
    }
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

static int pgp_is_stmt(const ProtobufCMessageDescriptor *d)
{
    size_t n = strlen(d->short_name);
    return n > 4 && strcmp(d->short_name + n - 4, "Stmt") == 0;
}

/* protobuf-c gives "" for a string the parser left empty; the rules treat
 * it as absent, as they always have. */
static const char *pgp_str(const char *s)
{
    return s && *s ? s : NULL;
}

/* The text of a String node, NULL for anything else. */
static const char *pgp_sval(const PgQuery__Node *n)
{
    if (!n || n->node_case != PG_QUERY__NODE__NODE_STRING || !n->string)
        return NULL;
    return pgp_str(n->string->sval);
}

static char *pgp_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int pgp_add_table(struct pgp_walk *w, const char *schema, const char *name)
{
    struct pgparse_info *o = w->info;
    for (size_t i = 0; i < o->ntables; i++) {
        const struct pgparse_table *t = &o->tables[i];
        if (strcmp(t->name, name) == 0 &&
            ((!t->schema && !schema) || (t->schema && schema && strcmp(t->schema, schema) == 0)))
            return DC_OK;
    }
    struct pgparse_table *tt = realloc(o->tables, (o->ntables + 1) * sizeof(*tt));
    if (!tt)
        return pgp_oom(w);
    o->tables = tt;
    struct pgparse_table *t = &tt[o->ntables];
    memset(t, 0, sizeof(*t));
    size_t flen = strlen(name) + (schema ? strlen(schema) + 1 : 0) + 1;
    t->schema = pgp_strdup(schema);
    t->name = pgp_strdup(name);
    t->full = malloc(flen);
    o->ntables++; /* counted now so that pgparse_info_clear frees a partial entry */
    if ((schema && !t->schema) || !t->name || !t->full)
        return pgp_oom(w);
    if (schema)
        snprintf(t->full, flen, "%s.%s", schema, name);
    else
        snprintf(t->full, flen, "%s", name);
    return DC_OK;
}

/* A RangeVar: the system catalog is refused, anything else reported. */
static int pgp_check_relation(struct pgp_walk *w, const PgQuery__RangeVar *rv)
{
    const char *name = pgp_str(rv->relname);
    const char *schema = pgp_str(rv->schemaname);
    if (!name)
        return DC_OK;
    for (size_t i = 0; i < sizeof(pgp_catalog_rules) / sizeof(pgp_catalog_rules[0]); i++) {
        const struct pgp_catalog_rule *c = &pgp_catalog_rules[i];
        if (c->part == PGP_CAT_SCHEMA && schema && pgp_name_matches(c->pattern, schema))
            return pgp_refuse(w, "E-GATE-CATALOG",
                              "reading the system catalog (%s.%s) is not allowed; ask a catalog "
                              "question (\"which tables are there?\") instead",
                              schema, name);
        if (c->part == PGP_CAT_BARE_NAME && !schema && pgp_name_matches(c->pattern, name))
            return pgp_refuse(w, "E-GATE-CATALOG",
                              "reading '%s' is not allowed: names starting with pg_ are the "
                              "system catalog's; ask a catalog question instead",
                              name);
    }
    return pgp_add_table(w, schema, name);
}

/* FuncCall.funcname: String nodes, the last one the function. */
static int pgp_check_funcname(struct pgp_walk *w, const PgQuery__FuncCall *fc)
{
    if (fc->n_funcname == 0)
        return DC_OK;
    const char *fn = pgp_sval(fc->funcname[fc->n_funcname - 1]);
    if (!fn)
        return pgp_refuse(w, "E-GATE-FUNC-DENIED",
                          "a function call whose name the gate cannot read is not allowed");
    const char *why = NULL;
    if (pgparse_denied_function(fn, &why))
        return pgp_refuse(w, "E-GATE-FUNC-DENIED", "function %s() is not allowed: %s", fn, why);
    return DC_OK;
}

/* ---- what the policy rewrite gathers from the walk ----------------------- */

static int rw_push(struct pgp_walk *w, char ***v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return DC_OK;
    char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (!nv)
        return pgp_oom(w);
    *v = nv;
    if (!(nv[*n] = strdup(s)))
        return pgp_oom(w);
    (*n)++;
    return DC_OK;
}

static int rw_match(const struct pgparse_shadow *s, const struct rw_ref *r)
{
    return strcasecmp(r->name, s->name) == 0 &&
           (!r->schema || !s->schema || strcasecmp(r->schema, s->schema) == 0);
}

/* Records n when it is a RangeVar: the caller found it in a FROM list or
 * on a side of a JOIN. */
static int rw_mark_from(struct pgp_walk *w, const PgQuery__Node *n)
{
    if (!n || n->node_case != PG_QUERY__NODE__NODE_RANGE_VAR || !n->range_var)
        return DC_OK;
    const PgQuery__RangeVar **v = realloc(w->fromrv, (w->nfromrv + 1) * sizeof(*v));
    if (!v)
        return pgp_oom(w);
    w->fromrv = v;
    v[w->nfromrv++] = n->range_var;
    return DC_OK;
}

static int rw_add_ref(struct pgp_walk *w, const PgQuery__RangeVar *rv)
{
    if (!pgp_str(rv->relname))
        return DC_OK;
    struct rw_ref *nr = realloc(w->refs, (w->nrefs + 1) * sizeof(*nr));
    if (!nr)
        return pgp_oom(w);
    w->refs = nr;
    struct rw_ref *r = &nr[w->nrefs++];
    memset(r, 0, sizeof(*r));
    r->loc = rv->location;
    r->catalog = pgp_str(rv->catalogname);
    r->schema = pgp_str(rv->schemaname);
    r->name = pgp_str(rv->relname);
    r->inh = rv->inh != 0;
    r->alias = rv->alias ? pgp_str(rv->alias->aliasname) : NULL;
    r->alias_cols = rv->alias && rv->alias->n_colnames > 0;
    for (size_t i = 0; i < w->nfromrv && !r->from_item; i++)
        r->from_item = w->fromrv[i] == rv;
    r->shadow = -1;
    for (size_t i = 0; i < w->nsh; i++)
        if (rw_match(&w->sh[i], r)) {
            r->shadow = (int)i;
            break;
        }
    return DC_OK;
}

static int rw_add_col(struct pgp_walk *w, const PgQuery__ColumnRef *cr)
{
    size_t n = cr->n_fields;
    const char *name = n ? pgp_sval(cr->fields[n - 1]) : NULL;
    if (!name)
        return DC_OK; /* t.* or * */
    struct rw_col *nc = realloc(w->cols, (w->ncols + 1) * sizeof(*nc));
    if (!nc)
        return pgp_oom(w);
    w->cols = nc;
    nc[w->ncols].name = name;
    nc[w->ncols].qual = n >= 2 ? pgp_sval(cr->fields[n - 2]) : NULL;
    w->ncols++;
    return DC_OK;
}

/* A qualified name list (function, operator, type): schema-qualified
 * functions and operators outside pg_catalog are refused outright; the
 * bare name goes to *v for the caller's catalog check. */
static int rw_add_name(struct pgp_walk *w, PgQuery__Node *const *names, size_t k,
                       const char *what, char ***v, size_t *n)
{
    if (k == 0)
        return DC_OK;
    const char *last = pgp_sval(names[k - 1]);
    const char *schema = k >= 2 ? pgp_sval(names[k - 2]) : NULL;
    if (!last)
        return pgp_refuse(w, "E-POLICY-FUNCTION",
                          "a %s whose name the gate cannot read is not allowed for principals "
                          "with access policies",
                          what);
    if (schema && strcmp(schema, "pg_catalog") == 0)
        return DC_OK;
    if (schema && strcmp(what, "type") != 0)
        return pgp_refuse(w, "E-POLICY-FUNCTION",
                          "%s %s.%s is outside pg_catalog; principals with access policies may "
                          "only use the built-in ones (a user-defined %s can read tables behind "
                          "the gate's back)",
                          what, schema, last, what);
    return rw_push(w, v, n, last);
}

/* ---- the walk ------------------------------------------------------------- */

/* The rules for one node, applied when the walk enters it (before its
 * children, so the first refusal is the outermost one in text order). */
static int pgp_enter(struct pgp_walk *w, const ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    struct pgparse_rewrite *o = w->rw;
    if (w->check) {
        /* The statement itself (depth 0) was judged by pgp_check_tree. */
        if (depth > 0 && d != &pg_query__select_stmt__descriptor && pgp_is_stmt(d))
            return pgp_refuse_stmt(w, m, " inside the query");
        if (d == &pg_query__into_clause__descriptor)
            return pgp_refuse(w, "E-GATE-INTO",
                              "SELECT ... INTO creates a table; only reading queries may run");
        if (d == &pg_query__locking_clause__descriptor)
            return pgp_refuse(w, "E-GATE-LOCK",
                              "locking clauses (FOR UPDATE/NO KEY UPDATE/SHARE/KEY SHARE) are "
                              "not allowed; drop the FOR ... clause");
        if (d == &pg_query__range_var__descriptor &&
            pgp_check_relation(w, (const PgQuery__RangeVar *)m) != DC_OK)
            return w->rc;
        if (d == &pg_query__func_call__descriptor &&
            pgp_check_funcname(w, (const PgQuery__FuncCall *)m) != DC_OK)
            return w->rc;
        if (d == &pg_query__param_ref__descriptor) {
            int32_t num = ((const PgQuery__ParamRef *)m)->number;
            if (num > w->info->nparams && num <= 65535)
                w->info->nparams = (int)num;
        }
    }
    if (!w->collect)
        return DC_OK;
    if (d == &pg_query__select_stmt__descriptor) {
        const PgQuery__SelectStmt *s = (const PgQuery__SelectStmt *)m;
        for (size_t i = 0; i < s->n_from_clause; i++)
            if (rw_mark_from(w, s->from_clause[i]) != DC_OK)
                return w->rc;
        return DC_OK;
    }
    if (d == &pg_query__join_expr__descriptor) {
        const PgQuery__JoinExpr *j = (const PgQuery__JoinExpr *)m;
        if (rw_mark_from(w, j->larg) != DC_OK)
            return w->rc;
        return rw_mark_from(w, j->rarg);
    }
    if (d == &pg_query__range_var__descriptor)
        return rw_add_ref(w, (const PgQuery__RangeVar *)m);
    if (w->verify)
        return DC_OK;
    if (d == &pg_query__column_ref__descriptor)
        return rw_add_col(w, (const PgQuery__ColumnRef *)m);
    if (d == &pg_query__common_table_expr__descriptor) {
        const char *cte = pgp_str(((const PgQuery__CommonTableExpr *)m)->ctename);
        return cte ? rw_push(w, &o->ctes, &o->nctes, cte) : DC_OK;
    }
    if (d == &pg_query__func_call__descriptor) {
        const PgQuery__FuncCall *fc = (const PgQuery__FuncCall *)m;
        return rw_add_name(w, fc->funcname, fc->n_funcname, "function", &o->functions,
                           &o->nfunctions);
    }
    if (d == &pg_query__a__expr__descriptor) {
        const PgQuery__AExpr *e = (const PgQuery__AExpr *)m;
        return rw_add_name(w, e->name, e->n_name, "operator", &o->operators, &o->noperators);
    }
    if (d == &pg_query__sub_link__descriptor) {
        const PgQuery__SubLink *s = (const PgQuery__SubLink *)m;
        return rw_add_name(w, s->oper_name, s->n_oper_name, "operator", &o->operators,
                           &o->noperators);
    }
    if (d == &pg_query__type_name__descriptor) {
        const PgQuery__TypeName *t = (const PgQuery__TypeName *)m;
        return rw_add_name(w, t->names, t->n_names, "type", &o->types, &o->ntypes);
    }
    return DC_OK;
}

/* Visits every message of the tree through its descriptor, whatever its
 * type, so a node the rules do not name still has its children visited. */
static int pgp_visit(struct pgp_walk *w, const ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    if (depth > PGP_MAX_DEPTH)
        return pgp_refuse(w, "E-GATE-PARSE", "the statement is nested too deeply");
    if (d == &pg_query__node__descriptor) {
        /* A Node holds exactly one member: look it up rather than scan the
         * two hundred others. */
        const PgQuery__Node *n = (const PgQuery__Node *)m;
        if (n->node_case == PG_QUERY__NODE__NODE__NOT_SET)
            return DC_OK;
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field(d, (unsigned)n->node_case);
        if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE)
            return pgp_refuse(w, "E-GATE-PARSE", "the parser returned an unexpected tree");
        const ProtobufCMessage *child = *(const ProtobufCMessage *const *)(base + f->offset);
        return child ? pgp_visit(w, child, depth + 1) : DC_OK;
    }
    if (pgp_enter(w, m, depth) != DC_OK)
        return w->rc;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const ProtobufCMessage *const *v =
                *(const ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t k = 0; k < n; k++)
                if (v[k] && pgp_visit(w, v[k], depth + 1) != DC_OK)
                    return w->rc;
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue;
        const ProtobufCMessage *child = *(const ProtobufCMessage *const *)(base + f->offset);
        if (child && pgp_visit(w, child, depth + 1) != DC_OK)
            return w->rc;
    }
    return DC_OK;
}

/* ---- parsing into an arena ------------------------------------------------ */

struct pgp_block {
    struct pgp_block *next;
    max_align_t align; /* the data that follows is aligned for anything */
};

struct pgp_tree {
    PgQueryProtobufParseResult pr;
    PgQuery__ParseResult *root;
    struct pgp_block *blocks;
    unsigned char *buf;
    size_t used, cap;
    _Alignas(max_align_t) unsigned char first[PGP_ARENA_FIRST];
};

static void *pgp_arena_alloc(void *data, size_t n)
{
    struct pgp_tree *t = data;
    size_t a = _Alignof(max_align_t);
    if (n > SIZE_MAX / 2)
        return NULL;
    n = (n + a - 1) & ~(a - 1);
    if (n > t->cap - t->used) {
        size_t cap = n > PGP_ARENA_BLOCK ? n : PGP_ARENA_BLOCK;
        struct pgp_block *b = malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->next = t->blocks;
        t->blocks = b;
        t->buf = (unsigned char *)(b + 1);
        t->cap = cap;
        t->used = 0;
    }
    void *p = t->buf + t->used;
    t->used += n;
    return p;
}

static void pgp_arena_free(void *data, void *p)
{
    (void)data; /* the whole arena goes at once in pgp_tree_free */
    (void)p;
}

static void pgp_tree_init(struct pgp_tree *t)
{
    t->pr.parse_tree.len = 0;
    t->pr.parse_tree.data = NULL;
    t->pr.stderr_buffer = NULL;
    t->pr.error = NULL;
    t->root = NULL;
    t->blocks = NULL;
    t->buf = t->first;
    t->used = 0;
    t->cap = sizeof(t->first);
}

/* DC_ELIMIT when the tree of sql is deeper than jansson decodes. A syntax
 * error is left to the protobuf parse to report. */
static int pgp_depth_probe(const char *sql)
{
    json_error_t jerr;
    json_t *probe = NULL;
    PgQueryParseResult jr = pg_query_parse(sql);
    int rc = DC_OK;
    if (!jr.error && jr.parse_tree && !(probe = json_loads(jr.parse_tree, 0, &jerr)))
        rc = DC_ELIMIT;
    json_decref(probe);
    pg_query_free_parse_result(jr);
    return rc;
}

/* Parses sql; DC_OK with t->root, DC_EDENIED with t->pr.error set (a
 * syntax error), DC_ELIMIT when the tree is too deep to unpack safely,
 * DC_ENOMEM when it could not be unpacked. */
static int pgp_tree_parse(struct pgp_tree *t, const char *sql)
{
    int probed = strlen(sql) > PGP_TEXT_SAFE;
    if (probed && pgp_depth_probe(sql) != DC_OK)
        return DC_ELIMIT;
    t->pr = pg_query_parse_protobuf(sql);
    if (t->pr.error)
        return DC_EDENIED;
    if (!probed && t->pr.parse_tree.len > PGP_PACKED_SAFE && pgp_depth_probe(sql) != DC_OK)
        return DC_ELIMIT;
    ProtobufCAllocator al = {pgp_arena_alloc, pgp_arena_free, t};
    t->root = pg_query__parse_result__unpack(&al, t->pr.parse_tree.len,
                                             (const uint8_t *)t->pr.parse_tree.data);
    return t->root ? DC_OK : DC_ENOMEM;
}

static void pgp_tree_free(struct pgp_tree *t)
{
    pg_query_free_protobuf_parse_result(t->pr);
    while (t->blocks) {
        struct pgp_block *b = t->blocks;
        t->blocks = b->next;
        free(b);
    }
    t->root = NULL;
}

/* Walks every statement of the tree (the rewrite's view: it is handed
 * text pgparse_check accepted, or its own output). */
static int pgp_walk_all(struct pgp_walk *w, const PgQuery__ParseResult *root)
{
    for (size_t i = 0; i < root->n_stmts; i++)
        if (root->stmts[i] && pgp_visit(w, &root->stmts[i]->base, 0) != DC_OK)
            return w->rc;
    return DC_OK;
}

/* The one node of a Node wrapper, NULL when none. */
static const ProtobufCMessage *pgp_node(const PgQuery__Node *n)
{
    if (!n || n->node_case == PG_QUERY__NODE__NODE__NOT_SET)
        return NULL;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&pg_query__node__descriptor,
                                                (unsigned)n->node_case);
    if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return NULL;
    return *(const ProtobufCMessage *const *)((const char *)n + f->offset);
}

static int pgp_check_tree(struct pgp_walk *w, const PgQuery__ParseResult *root)
{
    if (root->n_stmts == 0)
        return pgp_refuse(w, "E-GATE-EMPTY",
                          "the SQL text holds only comments or semicolons; send one SELECT "
                          "statement");
    if (root->n_stmts > 1)
        return pgp_refuse(w, "E-GATE-MULTI",
                          "the text holds %zu statements; send exactly one SELECT",
                          root->n_stmts);
    const ProtobufCMessage *body = root->stmts[0] ? pgp_node(root->stmts[0]->stmt) : NULL;
    if (!body)
        return pgp_refuse(w, "E-GATE-PARSE", "the parser returned an unexpected tree");
    if (body->descriptor == &pg_query__explain_stmt__descriptor) {
        const ProtobufCMessage *inner = pgp_node(((const PgQuery__ExplainStmt *)body)->query);
        w->info->explain = 1;
        if (!inner)
            return pgp_refuse(w, "E-GATE-PARSE", "EXPLAIN without a statement");
        if (inner->descriptor != &pg_query__select_stmt__descriptor)
            return pgp_refuse_stmt(w, inner, " (under EXPLAIN)");
        /* EXPLAIN ANALYZE of a SELECT runs it, which is what a query does anyway. */
    } else if (body->descriptor != &pg_query__select_stmt__descriptor) {
        return pgp_refuse_stmt(w, body, "");
    }
    return pgp_visit(w, body, 0);
}

/* Validates sql into w->info on a tree parsed into t (freed by the
 * caller): the rules of pgparse_check, plus whatever w collects. */
static int pgp_check_text(struct pgp_walk *w, const char *sql, struct pgp_tree *t)
{
    if (!sql)
        return pgp_refuse(w, "E-GATE-EMPTY", "no SQL was given");
    /* libpg_query takes malformed UTF-8 that the server would refuse. */
    if (!util_utf8_valid(sql, strlen(sql)))
        return pgp_refuse(w, "E-GATE-ENCODING", "the statement is not valid UTF-8");
    int prc = pgp_tree_parse(t, sql);
    if (prc == DC_EDENIED) {
        const PgQueryError *e = t->pr.error;
        const char *msg = e->message ? e->message : "syntax error";
        if (e->cursorpos > 0)
            return pgp_refuse(w, "E-GATE-PARSE",
                              "the statement could not be parsed: %s (at character %d)", msg,
                              e->cursorpos);
        return pgp_refuse(w, "E-GATE-PARSE", "the statement could not be parsed: %s", msg);
    }
    if (prc == DC_ELIMIT)
        return pgp_refuse(w, "E-GATE-PARSE",
                          "the statement's parse tree is nested too deeply (more than 2048 "
                          "levels); split the expression or the subqueries");
    if (prc != DC_OK)
        return pgp_oom(w);
    return pgp_check_tree(w, t->root);
}

static void pgp_fingerprint(const char *sql, struct pgparse_info *out)
{
    if (!out->want_fingerprint)
        return;
    PgQueryFingerprintResult fr = pg_query_fingerprint(sql);
    if (!fr.error && fr.fingerprint_str)
        snprintf(out->fingerprint, sizeof(out->fingerprint), "%s", fr.fingerprint_str);
    pg_query_free_fingerprint_result(fr);
}

int pgparse_check(const char *sql, struct pgparse_info *out, char *err, size_t errlen)
{
    struct pgp_walk w;
    struct pgp_tree t;
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return DC_EINVAL;
    memset(&w, 0, sizeof(w));
    w.code = out->code;
    w.err = err;
    w.errlen = errlen;
    w.check = 1;
    w.info = out;
    out->code[0] = '\0';
    out->fingerprint[0] = '\0';
    pgp_tree_init(&t);
    if (pgp_check_text(&w, sql, &t) == DC_OK)
        pgp_fingerprint(sql, out);
    pgp_tree_free(&t);
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

/* Parses text and walks it for the rewrite; t keeps the strings alive. */
static int rw_parse(struct pgp_walk *w, const char *sql, struct pgp_tree *t)
{
    int prc = pgp_tree_parse(t, sql);
    if (prc == DC_EDENIED)
        return pgp_refuse(w, "E-POLICY-REWRITE",
                          "the statement could not be rewritten for the access policy (the "
                          "result does not parse: %s); write the table as a plain FROM item "
                          "(FROM employees or FROM employees AS e)",
                          t->pr.error->message ? t->pr.error->message : "syntax error");
    if (prc == DC_ELIMIT)
        return pgp_refuse(w, "E-GATE-PARSE", "the statement is nested too deeply");
    if (prc != DC_OK)
        return pgp_oom(w);
    return pgp_walk_all(w, t->root);
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

static int rw_span(struct pgp_walk *w, struct rw_toks *sr, const struct rw_ref *r,
                   int textlen, int *a, int *b, size_t *ta, size_t *tb)
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
    *ta = first;
    *tb = i;
    /* The scanner reports a U&"..." token one byte long: it ends where the
     * next token (or the text) begins. */
    if (sr->t[i]->token == PG_QUERY__TOKEN__UIDENT)
        *b = i + 1 < sr->n ? sr->t[i + 1]->start : textlen;
    if (!r->inh) {
        /* ONLY t or ONLY (t): the subquery replaces the whole item. */
        if (first >= 1 && sr->t[first - 1]->token == PG_QUERY__TOKEN__ONLY) {
            *a = sr->t[first - 1]->start;
            *ta = first - 1;
        } else if (first >= 2 && sr->t[first - 1]->token == PG_QUERY__TOKEN__ASCII_40 &&
                   sr->t[first - 2]->token == PG_QUERY__TOKEN__ONLY &&
                   i + 1 < sr->n && sr->t[i + 1]->token == PG_QUERY__TOKEN__ASCII_41) {
            *a = sr->t[first - 2]->start;
            *b = sr->t[i + 1]->end;
            *ta = first - 2;
            *tb = i + 1;
        } else {
            goto unplaced;
        }
    }
    return DC_OK;
unplaced:
    return pgp_refuse(w, "E-POLICY-REWRITE",
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
static int rw_judge(struct pgp_walk *w)
{
    struct pgparse_rewrite *o = w->rw;
    for (size_t c = 0; c < o->nctes; c++)
        for (size_t i = 0; i < w->nsh; i++)
            if (strcasecmp(o->ctes[c], w->sh[i].name) == 0)
                return pgp_refuse(w, "E-POLICY-DIRECT-READ",
                                 "the WITH query '%s' has the name of a table with a row "
                                 "filter, masks or denied columns, so the gate cannot tell "
                                 "which one each reference means; rename the WITH query",
                                 o->ctes[c]);
    for (size_t r = 0; r < w->nrefs; r++) {
        const struct rw_ref *ref = &w->refs[r];
        if (ref->shadow >= 0 && ref->alias_cols && w->sh[ref->shadow].ndenied)
            return pgp_refuse(w, "E-POLICY-REWRITE",
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
                    return pgp_refuse(w, "E-POLICY-COLUMN-DENIED",
                                     "column '%s' of '%s' is denied to this principal; name "
                                     "only the columns you may read (SELECT * leaves it out)",
                                     col->name, s->name);
        }
    }
    return DC_OK;
}

/* The checked fragment of shadow i, NULL when none was given. */
static const struct pgparse_fragment *rw_frag(const struct pgp_walk *w, size_t i)
{
    return w->rw->frags ? w->rw->frags[i] : NULL;
}

/* The text that stands in for shadow i. */
static const char *rw_query(const struct pgp_walk *w, size_t i)
{
    const struct pgparse_fragment *f = rw_frag(w, i);
    return f ? pgparse_fragment_text(f) : w->sh[i].query;
}

/* Whether the replaced tokens [ta, tb] of ref are, in the grammar, the
 * relation_expr of "table_ref: relation_expr opt_alias_clause", so that
 * "(query) alias" derives the same table_ref: the tree puts the RangeVar
 * directly in a FROM list or a JOIN (not under TABLESAMPLE), the token
 * before it opens a FROM item (not TABLE t), and no '*' (t *) follows. */
static int rw_provable(const struct rw_toks *sr, const struct rw_ref *ref, size_t ta, size_t tb)
{
    if (!ref->from_item || ta == 0)
        return 0;
    int before = sr->t[ta - 1]->token;
    if (before != PG_QUERY__TOKEN__FROM && before != PG_QUERY__TOKEN__ASCII_44 &&
        before != PG_QUERY__TOKEN__JOIN && before != PG_QUERY__TOKEN__ASCII_40)
        return 0;
    return tb + 1 >= sr->n || sr->t[tb + 1]->token != PG_QUERY__TOKEN__ASCII_42;
}

/* Builds the rewritten text; spans[2k], spans[2k+1] bound each inserted
 * subquery. *provable: every replacement meets rw_provable. */
static int rw_splice(struct pgp_walk *w, const char *sql, struct rw_toks *sr, int **spans,
                     int *provable)
{
    struct sbuf b;
    int prev = 0, k = 0;
    *provable = 1;
    sbuf_init(&b);
    qsort(w->refs, w->nrefs, sizeof(*w->refs), rw_ref_cmp);
    *spans = calloc(2 * (w->nrefs + 1), sizeof(**spans));
    if (!*spans)
        return pgp_oom(w);
    for (size_t r = 0; r < w->nrefs; r++) {
        const struct rw_ref *ref = &w->refs[r];
        int a = 0, e = 0;
        size_t ta = 0, tb = 0;
        if (ref->shadow < 0)
            continue;
        if (rw_span(w, sr, ref, (int)strlen(sql), &a, &e, &ta, &tb) != DC_OK)
            goto cleanup;
        *provable &= rw_provable(sr, ref, ta, tb);
        if (a < prev) {
            pgp_refuse(w, "E-POLICY-REWRITE", "two references to '%s' overlap", ref->name);
            goto cleanup;
        }
        sbuf_add(&b, sql + prev, (size_t)(a - prev));
        (*spans)[2 * k] = (int)b.len;
        sbuf_adds(&b, "(");
        sbuf_adds(&b, rw_query(w, (size_t)ref->shadow));
        sbuf_adds(&b, "\n)");
        (*spans)[2 * k + 1] = (int)b.len;
        k++;
        if (!ref->alias) {
            sbuf_adds(&b, " AS ");
            rw_quote(&b, ref->name);
        }
        prev = e;
        w->rw->nrewritten++;
    }
    sbuf_adds(&b, sql + prev);
    if (b.oom) {
        pgp_oom(w);
        goto cleanup;
    }
    w->rw->sql = sbuf_detach(&b);
    if (!w->rw->sql)
        pgp_oom(w);
cleanup:
    sbuf_free(&b);
    return w->rc;
}

/* The rewritten text, parsed once more and judged in one walk: it must
 * still be exactly one reading SELECT under every rule of pgparse_check,
 * and every reference to a shadowed table must lie inside a subquery the
 * rewrite inserted. Taken when the splice proof does not apply (and, in
 * paranoid mode, after it): the text it starts from was parsed, checked
 * and collected by a single walk. */
static int rw_verify(struct pgp_walk *w, const int *spans, size_t nspans)
{
    struct pgp_walk v;
    struct pgp_tree t;
    struct pgparse_info scratch;
    char code[40] = "", why[400] = "";
    memset(&v, 0, sizeof(v));
    memset(&scratch, 0, sizeof(scratch));
    v.code = code;
    v.err = why;
    v.errlen = sizeof(why);
    v.check = 1;
    v.info = &scratch;
    v.collect = 1;
    v.verify = 1;
    v.sh = w->sh;
    v.nsh = w->nsh;
    v.rw = w->rw;
    pgp_tree_init(&t);
    w->rw->reparsed = 1;
    if (pgp_check_text(&v, w->rw->sql, &t) == DC_OK) {
        for (size_t r = 0; r < v.nrefs; r++) {
            const struct rw_ref *ref = &v.refs[r];
            int inside = 0;
            if (ref->shadow < 0)
                continue;
            for (size_t k = 0; k < nspans; k++)
                inside |= ref->loc >= spans[2 * k] && ref->loc < spans[2 * k + 1];
            if (!inside) {
                pgp_refuse(w, "E-POLICY-DIRECT-READ",
                           "'%s' would still be read directly after the policy rewrite; the "
                           "statement is refused",
                           ref->name);
                break;
            }
        }
    } else if (v.rc == DC_ENOMEM) {
        pgp_oom(w);
    } else {
        pgp_refuse(w, "E-POLICY-REWRITE",
                   "the statement rewritten for the access policy was refused (%s: %s)", code,
                   why);
    }
    free(v.refs);
    free(v.cols);
    free(v.fromrv);
    pgparse_info_clear(&scratch);
    pgp_tree_free(&t);
    return w->rc;
}

/* ---- shadow queries checked once ---------------------------------------- */

struct pgparse_fragment {
    char *text;
};

/* Judges query as the splice uses it. "SELECT * FROM (query\n) AS "_""
 * must pass every rule of pgparse_check and hold one FROM item, a
 * subquery with that alias, and nothing else: then "(query\n)" is one
 * select_with_parens of its own, whatever text surrounds it (its tokens,
 * comments and quotes all close inside it; the newline ends a trailing
 * -- comment). Refusals go to w. */
static int pgp_fragment_judge(struct pgp_walk *w, const char *query)
{
    struct sbuf b;
    struct pgp_tree t;
    struct pgparse_info scratch;
    memset(&scratch, 0, sizeof(scratch));
    sbuf_init(&b);
    pgp_tree_init(&t);
    sbuf_adds(&b, "SELECT * FROM (");
    sbuf_adds(&b, query);
    sbuf_adds(&b, "\n) AS \"_\"");
    if (b.oom) {
        pgp_oom(w);
        goto cleanup;
    }
    w->check = 1;
    w->info = &scratch;
    if (pgp_check_text(w, b.p, &t) != DC_OK)
        goto cleanup;
    const PgQuery__Node *top = t.root->stmts[0]->stmt;
    const PgQuery__SelectStmt *sel =
        top->node_case == PG_QUERY__NODE__NODE_SELECT_STMT ? top->select_stmt : NULL;
    const PgQuery__Node *item = sel && sel->n_from_clause == 1 ? sel->from_clause[0] : NULL;
    const PgQuery__RangeSubselect *sub =
        item && item->node_case == PG_QUERY__NODE__NODE_RANGE_SUBSELECT ? item->range_subselect
                                                                         : NULL;
    int one = sub && !sub->lateral && sub->alias && sub->alias->aliasname &&
              strcmp(sub->alias->aliasname, "_") == 0 && sub->alias->n_colnames == 0 &&
              sel->op == PG_QUERY__SET_OPERATION__SETOP_NONE && sel->n_target_list == 1 &&
              !sel->where_clause && sel->n_group_clause == 0 && !sel->having_clause &&
              sel->n_window_clause == 0 && sel->n_values_lists == 0 && sel->n_sort_clause == 0 &&
              !sel->limit_offset && !sel->limit_count && sel->n_locking_clause == 0 &&
              !sel->with_clause && !sel->into_clause && sel->n_distinct_clause == 0;
    if (!one)
        pgp_refuse(w, "E-POLICY-REWRITE",
                   "the query that stands in for the table is not one parenthesised SELECT");
cleanup:
    w->info = NULL;
    pgparse_info_clear(&scratch);
    pgp_tree_free(&t);
    sbuf_free(&b);
    return w->rc;
}

int pgparse_fragment_new(const char *query, struct pgparse_fragment **out, char *code,
                         char *err, size_t errlen)
{
    struct pgp_walk w;
    char local[40];
    if (err && errlen)
        err[0] = '\0';
    if (!out || !query)
        return DC_EINVAL;
    *out = NULL;
    memset(&w, 0, sizeof(w));
    w.code = code ? code : local;
    w.code[0] = '\0';
    w.err = err;
    w.errlen = errlen;
    if (pgp_fragment_judge(&w, query) != DC_OK)
        return w.rc;
    struct pgparse_fragment *f = calloc(1, sizeof(*f));
    if (!f || !(f->text = strdup(query))) {
        free(f);
        return pgp_oom(&w);
    }
    *out = f;
    return DC_OK;
}

const char *pgparse_fragment_text(const struct pgparse_fragment *f)
{
    return f ? f->text : NULL;
}

void pgparse_fragment_free(struct pgparse_fragment *f)
{
    if (!f)
        return;
    free(f->text);
    free(f);
}

/* The splice proof's other half: every shadow query the splice inserted
 * and nobody checked beforehand (no fragment) is judged here, once per
 * call, on its own short text instead of the whole rewritten statement. */
static int rw_fragments(struct pgp_walk *w)
{
    unsigned char *done = calloc(w->nsh ? w->nsh : 1, 1);
    if (!done)
        return pgp_oom(w);
    for (size_t r = 0; r < w->nrefs && w->rc == DC_OK; r++) {
        int i = w->refs[r].shadow;
        if (i < 0 || done[i] || rw_frag(w, (size_t)i))
            continue;
        done[i] = 1;
        struct pgp_walk v;
        char code[40] = "", why[400] = "";
        memset(&v, 0, sizeof(v));
        v.code = code;
        v.err = why;
        v.errlen = sizeof(why);
        if (pgp_fragment_judge(&v, w->sh[i].query) == DC_ENOMEM)
            pgp_oom(w);
        else if (v.rc != DC_OK)
            pgp_refuse(w, "E-POLICY-REWRITE",
                       "the statement rewritten for the access policy was refused (%s: %s)",
                       code, why);
    }
    free(done);
    return w->rc;
}

/* The rewrite; with info, the first parse is also pgparse_check's. */
static int pgp_rewrite(const char *sql, const struct pgparse_shadow *sh, size_t nsh,
                       struct pgparse_info *info, struct pgparse_rewrite *out, char *err,
                       size_t errlen)
{
    struct pgp_walk w;
    struct pgp_tree t;
    int *spans = NULL;
    PgQueryScanResult scan = {{0, NULL}, NULL, NULL};
    PgQuery__ScanResult *sr = NULL;
    struct rw_toks toks = {NULL, 0};
    if (err && errlen)
        err[0] = '\0';
    if (!out || (!info && !sql) || (nsh && !sh))
        return DC_EINVAL;
    for (size_t i = 0; i < nsh; i++)
        if (!sh[i].name || (!sh[i].query && !(out->frags && out->frags[i])))
            return DC_EINVAL;
    memset(&w, 0, sizeof(w));
    w.code = out->code;
    w.err = err;
    w.errlen = errlen;
    w.collect = 1;
    w.sh = sh;
    w.nsh = nsh;
    w.rw = out;
    out->code[0] = '\0';
    pgp_tree_init(&t);
    ProtobufCAllocator al = {pgp_arena_alloc, pgp_arena_free, &t};
    if (info) {
        w.check = 1;
        w.info = info;
        info->code[0] = '\0';
        info->fingerprint[0] = '\0';
        if (pgp_check_text(&w, sql, &t) != DC_OK)
            goto cleanup;
        w.check = 0; /* the verification's walk judges the rewritten text */
        pgp_fingerprint(sql, info);
    } else if (rw_parse(&w, sql, &t) != DC_OK) {
        goto cleanup;
    }
    if (rw_judge(&w) != DC_OK)
        goto cleanup;
    int any = 0;
    for (size_t r = 0; r < w.nrefs; r++)
        any |= w.refs[r].shadow >= 0;
    if (!any) {
        if (!(out->sql = strdup(sql)))
            pgp_oom(&w);
        goto cleanup;
    }
    scan = pg_query_scan(sql);
    if (scan.error || !(sr = pg_query__scan_result__unpack(&al, scan.pbuf.len,
                                                            (const uint8_t *)scan.pbuf.data))) {
        pgp_refuse(&w, "E-GATE-PARSE", "the statement could not be scanned: %s",
                   scan.error && scan.error->message ? scan.error->message : "no tokens");
        goto cleanup;
    }
    toks.t = calloc(sr->n_tokens ? sr->n_tokens : 1, sizeof(*toks.t));
    if (!toks.t) {
        pgp_oom(&w);
        goto cleanup;
    }
    for (size_t i = 0; i < sr->n_tokens; i++)
        if (sr->tokens[i]->token != PG_QUERY__TOKEN__SQL_COMMENT &&
            sr->tokens[i]->token != PG_QUERY__TOKEN__C_COMMENT)
            toks.t[toks.n++] = sr->tokens[i];
    int provable = 0;
    if (rw_splice(&w, sql, &toks, &spans, &provable) != DC_OK)
        goto cleanup;
    if (!provable || out->verify == PGPARSE_VERIFY_REPARSE) {
        rw_verify(&w, spans, out->nrewritten);
    } else if (rw_fragments(&w) == DC_OK && out->verify == PGPARSE_VERIFY_BOTH &&
               rw_verify(&w, spans, out->nrewritten) == DC_EDENIED) {
        /* The proof accepted what the full judgement refuses: a bug. */
        char why[400];
        snprintf(why, sizeof(why), "%s", err ? err : "");
        snprintf(out->code, sizeof(out->code), "E-GATE-INTERNAL");
        if (err && errlen)
            snprintf(err, errlen,
                     "the rewrite's splice proof and the full re-parse disagree (a bug; "
                     "please report the statement): %s",
                     why);
    }
cleanup:
    pg_query_free_scan_result(scan);
    free(toks.t);
    free(spans);
    free(w.refs);
    free(w.cols);
    free(w.fromrv);
    pgp_tree_free(&t);
    if (w.rc != DC_OK) {
        free(out->sql);
        out->sql = NULL;
        if (info && !info->code[0])
            snprintf(info->code, sizeof(info->code), "%s", out->code);
    }
    return w.rc;
}

int pgparse_rewrite(const char *sql, const struct pgparse_shadow *sh, size_t nsh,
                    struct pgparse_rewrite *out, char *err, size_t errlen)
{
    if (!sql)
        return DC_EINVAL;
    return pgp_rewrite(sql, sh, nsh, NULL, out, err, errlen);
}

int pgparse_check_rewrite(const char *sql, const struct pgparse_shadow *sh, size_t nsh,
                          struct pgparse_info *info, struct pgparse_rewrite *out, char *err,
                          size_t errlen)
{
    if (!info)
        return DC_EINVAL;
    return pgp_rewrite(sql, sh, nsh, info, out, err, errlen);
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
    int verify = rw->verify;
    const struct pgparse_fragment *const *frags = rw->frags;
    memset(rw, 0, sizeof(*rw));
    rw->verify = verify;
    rw->frags = frags;
}
