#include "runtime.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <datachat/host.h>

#include "audit.h"
#include "ctx.h"
#include "datapoint.h"
#include "db.h"
#include "gate.h"
#include "hostapi.h"
#include "llm.h"
#include "pipeline.h"
#include "policy.h"
#include "pluginlock.h"
#include "registry.h"
#include "result.h"
#include "retrieval.h"
#include "session.h"
#include "store.h"
#include "tools.h"
#include "util.h"

/* Per-database host identity; lives as long as the runtime. */
struct db_slot {
    struct host_self self;
};

static int is_dir(const char *p)
{
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p)
{
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Plugins shipped with this executable: <exe dir>/plugins in a build tree,
 * <exe dir>/../lib/datachat/plugins or the configured install dir. */
static char *builtin_plugin_dir(const char *exe_path)
{
    char self[PATH_MAX];
    const char *exe = exe_path;
    if (!exe) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
            self[n] = '\0';
            exe = self;
        }
    }
    if (exe) {
        char *dir = util_dirname(exe);
        char *cand = util_join_path(dir, "plugins");
        if (is_dir(cand)) {
            free(dir);
            return cand;
        }
        free(cand);
        cand = util_join_path(dir, "../lib/datachat/plugins");
        free(dir);
        if (is_dir(cand))
            return cand;
        free(cand);
    }
    return is_dir(DC_PLUGIN_INSTALL_DIR) ? strdup(DC_PLUGIN_INSTALL_DIR) : NULL;
}

static const struct dc_plugin_descriptor *lookup_plugin(void *arg, int kind, const char *name)
{
    const struct dc_plugin_ref *p = registry_resolve(arg, kind, name);
    return p ? p->desc : NULL;
}

static int looks_like_url(const char *s)
{
    return strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0;
}

/* A name for a database given by path: its file name without extension,
 * made a valid config name. */
static char *adhoc_name(const struct dc_config *cfg, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char name[64];
    size_t n = 0;
    for (const char *p = base; *p && *p != '.' && n < sizeof(name) - 1; p++)
        name[n++] = (isalnum((unsigned char)*p) || *p == '_' || *p == '-') ? *p : '_';
    name[n] = '\0';
    if (n == 0)
        snprintf(name, sizeof(name), "file");
    /* Never shadow a configured database with a file of the same stem. */
    char cand[80];
    snprintf(cand, sizeof(cand), "%s", name);
    for (int i = 2; config_find_db(cfg, cand) && i < 1000; i++)
        snprintf(cand, sizeof(cand), "%s-%d", name, i);
    return strdup(cand);
}

static int select_db(struct runtime *rt, const char *db, char *err, size_t errlen)
{
    if (config_find_db(rt->cfg, db)) {
        rt->db_name = strdup(db);
        return rt->db_name ? DC_OK : util_err(err, errlen, DC_ENOMEM, "out of memory");
    }
    if (looks_like_url(db)) {
        /* user:password@ in the URL would leak through ps, shell history and logs. */
        const char *at = strchr(db, '@');
        const char *colon = strchr(db + (strncmp(db, "postgres://", 11) == 0 ? 11 : 13), ':');
        if (at && colon && colon < at)
            return util_err(err, errlen, DC_EINVAL,
                            "--db: the URL holds a password; remove it and use PGPASSWORD or a "
                            "~/.pgpass file instead");
        rt->db_name = strdup("url");
        const char *kv[] = {"dsn", db};
        if (!rt->db_name)
            return util_err(err, errlen, DC_ENOMEM, "out of memory");
        return config_add_database(rt->cfg, rt->db_name, "postgres", kv, 2, err, errlen);
    }
    if (!strchr(db, '/') && !is_file(db))
        return util_err(err, errlen, DC_ENOTFOUND,
                        "--db %s: no database of that name is configured, and no such file "
                        "exists (give a configured name, a SQLite file path or a "
                        "postgresql:// URL)",
                        db);
    char abs[PATH_MAX];
    if (!realpath(db, abs))
        return util_err(err, errlen, DC_ENOTFOUND, "--db %s: %s", db, strerror(errno));
    if (!is_file(abs))
        return util_err(err, errlen, DC_EINVAL, "--db %s: not a regular file", db);
    rt->db_name = adhoc_name(rt->cfg, abs);
    if (!rt->db_name)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    const char *kv[] = {"path", abs};
    return config_add_database(rt->cfg, rt->db_name, "sqlite", kv, 2, err, errlen);
}

/* Policy files are part of the configuration: loaded (and their errors
 * reported with file:line:col, all of them) in the load phase, so `config
 * check` validates them too. */
static int load_policies(struct runtime *rt, char *err, size_t errlen)
{
    if (!rt->cfg->policies)
        return DC_OK;
    int rc = policy_load_glob(rt->cfg->policies, &rt->policies, &rt->diags);
    if (rc != DC_OK)
        return util_err(err, errlen, DC_EINVAL, "%s: the access policies are invalid",
                        rt->cfg->policies);
    for (size_t i = 0; i < rt->policies->np; i++) {
        const struct policy_principal *p = &rt->policies->p[i];
        for (size_t j = 0; j < p->ndbs; j++)
            if (!config_find_db(rt->cfg, p->dbs[j].name))
                return util_err(err, errlen, DC_EINVAL,
                                "%s:%d:%d: E-POLICY-UNKNOWN-DB: principal '%s' has rules for "
                                "database '%s', which the config does not define (hint: use a "
                                "name from the config's databases:)",
                                p->file, p->dbs[j].line, p->dbs[j].col, p->name, p->dbs[j].name);
    }
    return DC_OK;
}

int runtime_load(const struct runtime_opts *o, struct runtime **out, char *err, size_t errlen)
{
    int rc;
    struct runtime *rt = calloc(1, sizeof(*rt));
    if (!rt)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    pthread_mutex_init(&rt->dps_lock, NULL);
    pthread_mutex_init(&rt->index_lock, NULL);
    pthread_mutex_init(&rt->store_lock, NULL);
    *out = rt;

    const char *path = o->config_path;
    if (!path) {
        const char *env = getenv("DATACHAT_CONFIG");
        if (env && *env)
            path = env;
        else if (is_file("config/datachat.yaml"))
            path = "config/datachat.yaml";
    }
    if (path) {
        rc = config_load(path, &rt->cfg, &rt->diags);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)))
            return util_err(err, errlen, DC_EIO, "cannot read the current directory: %s",
                            strerror(errno));
        rt->builtin_config = 1;
        rc = config_default(cwd, &rt->cfg, &rt->diags);
    }
    if (rc != DC_OK)
        return util_err(err, errlen, DC_EINVAL, "%s: configuration is invalid",
                        path ? path : "built-in configuration");

    if (o->db) {
        rc = select_db(rt, o->db, err, errlen);
        if (rc != DC_OK)
            return rc;
    }

    rc = registry_new(&rt->reg);
    if (rc != DC_OK)
        return util_err(err, errlen, rc, "cannot create the plugin registry");
    rt->plugin_dir_builtin = builtin_plugin_dir(o->exe_path);
    if (rt->plugin_dir_builtin && registry_add_dir(rt->reg, rt->plugin_dir_builtin) != DC_OK)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    for (size_t i = 0; i < rt->cfg->nplugin_dirs; i++)
        if (registry_add_dir(rt->reg, rt->cfg->plugin_dirs[i]) != DC_OK)
            return util_err(err, errlen, DC_ENOMEM, "out of memory");
    /* Plugins installed with `plugins install` are pinned by the lock file
     * next to the config; it must be read before anything is loaded. */
    if (!rt->builtin_config) {
        struct pluginlock *lock = NULL;
        char *lock_path = pluginlock_path_for(rt->cfg->path);
        if (!lock_path)
            return util_err(err, errlen, DC_ENOMEM, "out of memory");
        rc = pluginlock_load(lock_path, &lock, err, errlen);
        free(lock_path);
        if (rc != DC_OK)
            return rc == DC_ENOMEM ? rc : DC_EINVAL;
        registry_set_lock(rt->reg, lock);
    }

    rc = config_resolve(rt->cfg, lookup_plugin, rt->reg, &rt->diags);
    if (rc != DC_OK)
        return util_err(err, errlen, DC_EINVAL, "%s: configuration does not match the plugins",
                        rt->cfg->path);
    return load_policies(rt, err, errlen);
}

static const struct dc_schema *backend_schema(void *arg, struct dc_ctx *c, const char *db)
{
    struct runtime *rt = arg;
    struct db *d = runtime_find_db(rt, db);
    if (!d) {
        ctx_fail(c, "E-DB-UNKNOWN", "no database named '%s' is configured", db ? db : "(none)");
        return NULL;
    }
    char err[512] = "";
    /* The catalog as the request's principal may see it: tables and
     * columns its policy denies are not there to be named. */
    const struct dc_schema *s = gate_schema(rt->gate, ctx_get(c, "principal"), d, err, sizeof(err));
    if (!s)
        ctx_fail(c, strncmp(err, "E-POLICY-", 9) == 0 ? "E-POLICY-NO-PRINCIPAL" : "E-DB-OPEN", "%s",
                 err);
    return s;
}

static int backend_query(void *arg, struct dc_ctx *c, const char *db, const char *sql,
                         const struct dc_value *params, size_t nparams, struct dc_result **out)
{
    struct runtime *rt = arg;
    struct db *d = runtime_find_db(rt, db);
    if (!d) {
        ctx_fail(c, "E-DB-UNKNOWN", "no database named '%s' is configured", db ? db : "(none)");
        return DC_ENOTFOUND;
    }
    char *cached_run = NULL;
    if (session_result_get(rt, c, d->name, sql, params, nparams, out, &cached_run) == DC_OK) {
        if (cached_run)
            ctx_set(c, "sql.run", cached_run);
        free(cached_run);
        return DC_OK;
    }
    if (ctx_error_code(c) && strcmp(ctx_error_code(c), "E-AUDIT-WRITE") == 0)
        return DC_EIO;
    struct gate_decision dec;
    memset(&dec, 0, sizeof(dec));
    int rc = gate_run(rt->gate, ctx_get(c, "principal"), d, sql, params, nparams,
                      ctx_get(c, "question"), out, &dec);
    if (rc == DC_OK)
        session_result_put(rt, c, d->name, sql, params, nparams, *out, dec.sql_run);
    if (rc == DC_OK) {
        ctx_trace_note(c, "gate: accepted on %s, %lld rows%s in %lld us", d->name,
                       (long long)dec.rows, dec.truncated ? " (truncated at the row cap)" : "",
                       (long long)dec.duration_us);
        if (dec.sql_run)
            ctx_set(c, "sql.run", dec.sql_run);
    } else {
        ctx_trace_note(c, "gate: %s %s", dec.code[0] ? dec.code : "error", dec.reason);
        ctx_fail(c, dec.code[0] ? dec.code : "E-GATE", "%s",
                 dec.reason[0] ? dec.reason : "the statement was not run");
        if (rc == DC_EDENIED) {
            ctx_set(c, "refused", dec.code[0] ? dec.code : "E-GATE");
            ctx_set(c, "refused.audited", "1"); /* the gate wrote the record */
        }
    }
    /* What the principal's policy did, so `datachat sql --as P` shows it. */
    for (size_t i = 0; i < dec.npolicies; i++)
        ctx_trace_note(c, "policy: %s", dec.policies[i]);
    if (dec.npolicies && dec.limits[0])
        ctx_trace_note(c, "limits: %s", dec.limits);
    gate_decision_clear(&dec);
    return rc;
}

/* A stage that asks a model is resolving what an earlier stage could not
 * ground: that stage's E-UNSURE stops being the request's error, so the
 * model's own failure (if any) is the one reported. */
static int backend_llm(void *arg, struct dc_ctx *c, const char *instance,
                       const char *request_json)
{
    struct runtime *rt = arg;
    ctx_clear_error(c, "E-UNSURE");
    int rc = llms_complete(rt->llms, instance, c, request_json);
    session_llm_usage(rt, c, instance, rc); /* the store's llm_usage table */
    return rc;
}

static int backend_check(void *arg, struct dc_ctx *c, const char *db, const char *sql, char *err,
                         size_t errlen)
{
    struct runtime *rt = arg;
    struct db *d = runtime_find_db(rt, db);
    if (!d)
        return util_err(err, errlen, DC_ENOTFOUND, "E-DB-UNKNOWN: no database named '%s' is "
                                                   "configured", db ? db : "(none)");
    struct gate_decision dec;
    memset(&dec, 0, sizeof(dec));
    int rc = gate_explain(rt->gate, ctx_get(c, "principal"), d, sql, &dec);
    if (rc != DC_OK)
        util_err(err, errlen, rc, "%s: %s", dec.code[0] ? dec.code : "E-GATE",
                 dec.reason[0] ? dec.reason : "the statement would not run");
    gate_decision_clear(&dec);
    return rc;
}

/* DataPoints load on first use, once per runtime. A broken DataPoint fails
 * every request that reads them (with the DataPoint's own error code):
 * answering with half the business definitions missing would be a silent
 * wrong answer. */
static const struct dp_set *load_dps(struct runtime *rt)
{
    pthread_mutex_lock(&rt->dps_lock);
    if (!rt->dps_tried) {
        struct dp_diags dg = {0};
        rt->dps_tried = 1;
        if (dp_set_load_config(rt->cfg, &rt->dps, &dg) != DC_OK) {
            char first[1600] = "";
            if (dg.n) {
                dp_diag_format(&dg.d[0], first, sizeof(first));
                snprintf(rt->dps_code, sizeof(rt->dps_code), "%s", dg.d[0].code);
            } else {
                snprintf(rt->dps_code, sizeof(rt->dps_code), "E-DP-LOAD");
            }
            util_err(rt->dps_err, sizeof(rt->dps_err), DC_EINVAL,
                     "%s%s%zu DataPoint error%s; run `datachat dp lint` for all", first,
                     first[0] ? "; " : "", dg.n + dg.dropped, dg.n + dg.dropped == 1 ? "" : "s");
            dp_set_free(rt->dps);
            rt->dps = NULL;
        }
        dp_diags_free(&dg);
    }
    pthread_mutex_unlock(&rt->dps_lock);
    return rt->dps;
}

static const struct dp_set *runtime_dps(void *arg, struct dc_ctx *c)
{
    struct runtime *rt = arg;
    load_dps(rt);
    if (!rt->dps && rt->dps_code[0])
        ctx_fail(c, rt->dps_code, "%s", rt->dps_err);
    return rt->dps;
}

/* Policies are checked whole at start (syntax, keys, roles, database
 * names); their tables, columns and expressions are checked against each
 * database by the gate when it first opens it. */
/* Catalogs are cached beside a file-based state store: <store dir>/cache/. */
static int set_catalog_cache(struct runtime *rt, struct db *d)
{
    const char *url = rt->cfg->store_url;
    if (!url || strncmp(url, "sqlite:", 7) != 0)
        return DC_OK;
    char *dir = util_dirname(url + 7);
    struct sbuf b;
    sbuf_init(&b);
    sbuf_addf(&b, "%s/cache/catalog-%s.json", dir ? dir : ".", d->name);
    char *path = sbuf_detach(&b);
    int rc = dir && path ? db_set_catalog_cache(d, path) : DC_ENOMEM;
    free(path);
    free(dir);
    return rc;
}

int runtime_start(struct runtime *rt, const struct runtime_opts *o, char *err, size_t errlen)
{
    int rc;
    const char *apath = o->audit_path ? o->audit_path : rt->cfg->audit_path;
    rc = audit_open(apath, rt->cfg->audit_fsync == CFG_FSYNC_NEVER ? AUDIT_FSYNC_NEVER
                                                                    : AUDIT_FSYNC_ALWAYS,
                    &rt->audit, err, errlen);
    if (rc != DC_OK)
        return rc;
    struct gate_limits lim = {.max_rows = rt->cfg->max_rows,
                              .timeout_ms = rt->cfg->timeout_ms,
                              .max_bytes = 64ll << 20};
    rc = gate_new(rt->audit, &lim, &rt->gate);
    if (rc != DC_OK)
        return util_err(err, errlen, rc, "cannot create the gate");
    if (rt->policies)
        gate_set_policies(rt->gate, rt->policies);

    rt->dbs = calloc(rt->cfg->ndbs ? rt->cfg->ndbs : 1, sizeof(*rt->dbs));
    if (!rt->dbs)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    for (size_t i = 0; i < rt->cfg->ndbs; i++) {
        const struct cfg_database *cd = &rt->cfg->dbs[i];
        const struct dc_plugin_ref *p = registry_find(rt->reg, DC_KIND_CONNECTOR, cd->connector);
        if (!p)
            return util_err(err, errlen, DC_ENOTFOUND,
                            "%s:%d:%d: database '%s' uses connector '%s', which is not loaded",
                            rt->cfg->path, cd->line, cd->col, cd->name, cd->connector);
        struct dc_host h;
        hostapi_init(&h, NULL);
        rc = db_init(&rt->dbs[i], cd->name, p, &cd->opts, &h);
        if (rc != DC_OK)
            return util_err(err, errlen, rc, "database '%s': cannot initialise", cd->name);
        rt->ndbs++;
        rc = set_catalog_cache(rt, &rt->dbs[i]);
        if (rc != DC_OK)
            return util_err(err, errlen, rc, "out of memory");
    }
    if (!o->without_tools) {
        rc = tools_new(rt->cfg, rt->reg, &rt->tools, err, errlen);
        if (rc != DC_OK)
            return rc;
        tools_set_audit(rt->tools, rt->audit);
    }
    rc = llms_new(rt->cfg, rt->reg, NULL, NULL, o->log_level, &rt->llms, err, errlen);
    if (rc != DC_OK)
        return rc;
    rc = pipeline_new(rt->cfg, rt->reg, NULL, NULL, o->log_level, &rt->pipe, err, errlen);
    if (rc == DC_OK)
        pipeline_set_audit(rt->pipe, rt->audit);
    return rc;
}

/* One retrieval index: a database as one principal's policy shows it (the
 * catalog pointer identifies the view; both live as long as the runtime). */
struct runtime_index {
    const struct db *db;
    const struct dc_schema *schema;
    struct retrieval *r;
};

/* <store dir>/cache/retrieval-<db>[-<principal digest>].db beside the
 * catalog cache; NULL (memory only) without a file-based store. A
 * principal's filtered catalog gets a file of its own, so that two
 * principals never overwrite each other's index. */
static char *index_path(struct runtime *rt, const struct db *d, const char *principal)
{
    const char *url = rt->cfg->store_url;
    if (!url || strncmp(url, "sqlite:", 7) != 0)
        return NULL;
    char *dir = util_dirname(url + 7);
    char who[65] = "";
    if (rt->policies && principal)
        util_sha256_hex(principal, strlen(principal), who);
    struct sbuf b;
    sbuf_init(&b);
    sbuf_addf(&b, "%s/cache/retrieval-%s%s%.12s.db", dir ? dir : ".", d->name, who[0] ? "-" : "",
              who);
    free(dir);
    return sbuf_detach(&b);
}

static const struct dp_set *index_dps(void *arg)
{
    return load_dps(arg);
}

/* The index for the request's view of db, opened or built on first use. */
static struct retrieval *runtime_index(struct runtime *rt, struct dc_ctx *c, struct db *d)
{
    const struct dc_schema *s = ctx_schema(c, d->name);
    if (!s)
        return NULL;
    struct retrieval *ret = NULL;
    pthread_mutex_lock(&rt->index_lock);
    for (size_t i = 0; i < rt->nindexes && !ret; i++)
        if (rt->indexes[i].db == d && rt->indexes[i].schema == s)
            ret = rt->indexes[i].r;
    if (ret)
        goto cleanup;
    struct runtime_index *grown = realloc(rt->indexes, (rt->nindexes + 1) * sizeof(*grown));
    if (!grown)
        goto cleanup;
    rt->indexes = grown;
    /* DataPoints that fail to load leave them out of the index; the stages
     * that read DataPoints report the error. While their files are
     * unchanged (by stat) the index file stands for them and they are not
     * parsed at all. */
    char fp[65] = "";
    struct retrieval_src src = {NULL, s, d->name, NULL, index_dps, rt};
    if (dp_config_fingerprint(rt->cfg, fp) == DC_OK)
        src.dp_fingerprint = fp;
    else
        src.dps = load_dps(rt);
    char *path = index_path(rt, d, ctx_get(c, "principal"));
    char err[512] = "";
    int64_t t0 = util_now_us();
    if (retrieval_open(&src, path, &ret, err, sizeof(err)) == DC_OK) {
        rt->indexes[rt->nindexes++] = (struct runtime_index){d, s, ret};
        ctx_trace_note(c, "index of %s: %zu documents, %s in %lld us", d->name,
                       retrieval_ndocs(ret), retrieval_origin(ret),
                       (long long)(util_now_us() - t0));
    } else {
        ctx_trace_note(c, "no retrieval index for %s: %s", d->name, err);
    }
    free(path);
cleanup:
    pthread_mutex_unlock(&rt->index_lock);
    return ret;
}

static int runtime_retrieve(void *arg, struct dc_ctx *c, const char *db, const char *query,
                            size_t k, struct dc_retrieval_hit *hits, size_t *n)
{
    struct runtime *rt = arg;
    struct db *d = runtime_find_db(rt, db);
    *n = 0;
    if (!d)
        return DC_ENOTFOUND;
    /* Nothing to look up ("list tables"): no index is opened, let alone
     * built, for a question that could match nothing. */
    if (!query || !retrieval_has_terms(query, strlen(query)))
        return DC_OK;
    struct retrieval *r = runtime_index(rt, c, d);
    if (!r)
        return DC_EIO;
    struct retrieval_hit got[RETRIEVAL_MAX_K];
    if (k > RETRIEVAL_MAX_K)
        k = RETRIEVAL_MAX_K;
    char err[512] = "";
    int rc = retrieval_search(r, query, k, got, n, err, sizeof(err));
    if (rc != DC_OK) {
        ctx_trace_note(c, "retrieval failed: %s", err);
        return rc;
    }
    for (size_t i = 0; i < *n; i++)
        hits[i] = (struct dc_retrieval_hit){sizeof(hits[i]), got[i].id,
                                            retrieval_kind_name(got[i].kind), got[i].score};
    return DC_OK;
}

#define RUNTIME_TRACE_HITS 5

/* Every answer shows what the question was matched with: a trace step
 * "retrieval" with the best documents and their scores, also left on the
 * blackboard as "retrieval.hits" (one "id score" per line) for stages. A
 * failure here is noted and never fails the question. */
static void trace_retrieval(struct dc_ctx *c, const char *question)
{
    struct dc_retrieval_hit hits[RUNTIME_TRACE_HITS];
    size_t n = 0;
    if (ctx_trace_begin(c, "retrieval", "core") != DC_OK)
        return;
    int64_t t0 = util_now_us();
    int rc = ctx_retrieve(c, question, RUNTIME_TRACE_HITS, hits, &n);
    struct sbuf note, kv;
    sbuf_init(&note);
    sbuf_init(&kv);
    for (size_t i = 0; i < n; i++) {
        sbuf_addf(&note, "%s%s %.2f", i ? ", " : "", hits[i].id, hits[i].score);
        sbuf_addf(&kv, "%s %.2f\n", hits[i].id, hits[i].score);
    }
    if (rc == DC_OK && n)
        ctx_trace_note(c, "top %zu: %s", n, note.p);
    else if (rc == DC_OK)
        ctx_trace_note(c, "no document matched");
    if (n && !kv.oom)
        ctx_set(c, "retrieval.hits", kv.p);
    sbuf_free(&note);
    sbuf_free(&kv);
    ctx_trace_end(c, rc == DC_OK ? "ok" : "error", util_now_us() - t0);
}

void runtime_free(struct runtime *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < rt->nindexes; i++)
        retrieval_close(rt->indexes[i].r);
    free(rt->indexes);
    pthread_mutex_destroy(&rt->index_lock);
    pipeline_free(rt->pipe);
    store_close(rt->store);
    pthread_mutex_destroy(&rt->store_lock);
    llms_free(rt->llms);
    dp_set_free(rt->dps);
    pthread_mutex_destroy(&rt->dps_lock);
    tools_free(rt->tools);
    for (size_t i = rt->ndbs; i-- > 0;)
        db_fini(&rt->dbs[i]);
    free(rt->dbs);
    gate_free(rt->gate);
    policy_set_free(rt->policies);
    audit_close(rt->audit);
    registry_free(rt->reg);
    config_free(rt->cfg);
    free(rt->plugin_dir_builtin);
    free(rt->db_name);
    free(rt);
}

struct db *runtime_find_db(struct runtime *rt, const char *name)
{
    if (!rt || !name)
        return NULL;
    for (size_t i = 0; i < rt->ndbs; i++)
        if (strcmp(rt->dbs[i].name, name) == 0)
            return &rt->dbs[i];
    return NULL;
}

/* A request refused before any SQL (empty, oversized, or refused by a stage)
 * still leaves an audit record: refusals are what an auditor looks for. */
static int audit_refusal(struct runtime *rt, struct dc_ctx *c, const char *code,
                         const char *reason)
{
    char err[256] = "";
    const char *q = ctx_get(c, "question");
    char clipped[1024];
    if (q && strlen(q) >= sizeof(clipped)) {
        snprintf(clipped, sizeof(clipped), "%.1000s...", q);
        q = clipped;
    }
    struct audit_record r = {.event = "refusal",
                             .principal = ctx_get(c, "principal"),
                             .database = ctx_get(c, "database"),
                             .rows = -1,
                             .duration_us = -1,
                             .outcome = "refused",
                             .code = code,
                             .reason = reason,
                             .question = q};
    int rc = audit_append(rt->audit, &r, err, sizeof(err));
    if (rc != DC_OK)
        ctx_fail(c, "E-AUDIT-WRITE", "%s", err);
    return rc;
}

/* A context wired to this runtime's gate, with the request's identity. */
static struct dc_ctx *request_ctx(struct runtime *rt, const char *db, const char *principal)
{
    struct ctx_backend be = {.arg = rt, .schema = backend_schema, .query = backend_query};
    struct ctx_model model = {.arg = rt, .llm = backend_llm, .check = backend_check};
    struct dc_ctx *c = ctx_new(&be);
    if (!c)
        return NULL;
    ctx_set_model(c, &model);
    ctx_set_dps_loader(c, runtime_dps, rt);
    ctx_set_retriever(c, runtime_retrieve, rt);
    if (!principal)
        principal = rt->cfg->default_principal ? rt->cfg->default_principal : "local";
    /* Stages that write SQL pick their dialect (and a metric its backend
     * variant) from the connector that will run it. */
    const struct db *d = db ? runtime_find_db(rt, db) : (rt->ndbs ? &rt->dbs[0] : NULL);
    const char *dialect = d && d->vt ? d->vt->dialect : NULL;
    if (ctx_set(c, "principal", principal) != DC_OK || (db && ctx_set(c, "database", db) != DC_OK) ||
        (dialect && ctx_set(c, "database.dialect", dialect) != DC_OK) ||
        (rt->today && ctx_set(c, "today", rt->today) != DC_OK)) {
        ctx_free(c);
        return NULL;
    }
    return c;
}

int runtime_call_tool(struct runtime *rt, const char *tool, const char *args_json,
                      const char *approval_token, const char *db_name, const char *principal,
                      struct dc_ctx **out)
{
    const char *db = db_name ? db_name : rt->cfg->default_database;
    struct dc_ctx *c = request_ctx(rt, db, principal);
    *out = c;
    if (!c)
        return DC_ENOMEM;
    if (!rt->tools) {
        ctx_fail(c, "E-TOOL-UNAVAILABLE", "this command started without its tools");
        return DC_EUNSUPPORTED;
    }
    if (db && !runtime_find_db(rt, db)) {
        ctx_fail(c, "E-DB-UNKNOWN", "no database named '%s' is configured", db);
        return DC_ENOTFOUND;
    }
    return tools_call(rt->tools, tool, args_json, approval_token, c);
}

int runtime_ask(struct runtime *rt, const char *question, const char *db_name,
                const char *principal, const char *format, struct dc_ctx **out)
{
    return runtime_ask_session(rt, question, db_name, principal, format, NULL, out);
}

int runtime_ask_session(struct runtime *rt, const char *question, const char *db_name,
                        const char *principal, const char *format, const char *session,
                        struct dc_ctx **out)
{
    return runtime_ask_confirmed(rt, question, db_name, principal, format, session, 0, out);
}

int runtime_ask_confirmed(struct runtime *rt, const char *question, const char *db_name,
                          const char *principal, const char *format, const char *session,
                          int yes, struct dc_ctx **out)
{
    return runtime_ask_observed(rt, question, db_name, principal, format, session, yes, NULL,
                                NULL, out);
}

int runtime_ask_observed(struct runtime *rt, const char *question, const char *db_name,
                         const char *principal, const char *format, const char *session,
                         int yes, void (*step)(void *arg, struct dc_ctx *ctx), void *arg,
                         struct dc_ctx **out)
{
    const char *db = db_name ? db_name : rt->cfg->default_database;
    struct dc_ctx *c = request_ctx(rt, db, principal);
    *out = c;
    if (!c)
        return DC_ENOMEM;
    if (ctx_set(c, "question", question ? question : "") != DC_OK ||
        ctx_set(c, "format", format ? format : "text") != DC_OK ||
        (yes && ctx_set(c, "yes", "1") != DC_OK))
        return DC_ENOMEM;

    size_t qlen = question ? strlen(question) : 0;
    size_t qn = 0;
    while (question && qn < qlen && strchr(" \t\r\n", question[qn]))
        qn++;
    if (qn == qlen) {
        ctx_fail(c, "E-QUERY-EMPTY", "the question is empty; ask something, e.g. "
                                     "\"list tables\"");
        return DC_EINVAL;
    }
    if (qlen > rt->cfg->max_question_bytes) {
        ctx_fail(c, "E-QUERY-TOO-LONG",
                 "the question is %zu bytes, over the limit of %zu (limits.max_question_bytes)",
                 qlen, rt->cfg->max_question_bytes);
        audit_refusal(rt, c, "E-QUERY-TOO-LONG", "question over the size limit");
        return DC_ELIMIT;
    }
    if (!db || !runtime_find_db(rt, db)) {
        ctx_fail(c, "E-DB-UNKNOWN", "no database named '%s' is configured%s", db ? db : "",
                 rt->ndbs ? "; see `datachat doctor` for the configured ones" : "");
        return DC_ENOTFOUND;
    }
    struct session_req sr;
    int rc = session_begin(rt, c, session, &sr);
    if (rc != DC_OK)
        return rc;
    trace_retrieval(c, ctx_get(c, "question"));
    rc = pipeline_run_observed(rt->pipe, c, step, arg);
    rc = session_end(rt, c, &sr, rc);
    const char *refused = ctx_get(c, "refused");
    if (refused && !ctx_get(c, "refused.audited")) {
        /* The gate audits its own refusals; this covers stage refusals. */
        const char *why = ctx_get(c, "answer");
        int arc = audit_refusal(rt, c, refused, why ? why : "refused");
        if (arc != DC_OK && rc == DC_OK)
            rc = arc;
    }
    return rc;
}

int runtime_sql(struct runtime *rt, const char *sql, const char *db_name,
                const char *principal, struct dc_ctx **out)
{
    const char *db = db_name ? db_name : rt->cfg->default_database;
    struct dc_ctx *c = request_ctx(rt, db, principal);
    *out = c;
    if (!c)
        return DC_ENOMEM;
    if (ctx_set(c, "sql", sql ? sql : "") != DC_OK)
        return DC_ENOMEM;
    if (!db || !runtime_find_db(rt, db)) {
        ctx_fail(c, "E-DB-UNKNOWN", "no database named '%s' is configured", db ? db : "");
        return DC_ENOTFOUND;
    }
    if (ctx_trace_begin(c, "sql", "gate") != DC_OK)
        return DC_ENOMEM;
    int64_t t0 = util_now_us();
    struct dc_result *r = NULL;
    int rc = ctx_query(c, db, sql ? sql : "", NULL, 0, &r);
    ctx_trace_end(c, rc == DC_OK ? "ok" : ctx_get(c, "refused") ? "refused" : NULL,
                  util_now_us() - t0);
    if (rc == DC_OK)
        ctx_set_result(c, r);
    return rc;
}

int runtime_explain(struct runtime *rt, const char *sql, const char *db_name,
                    const char *principal, struct gate_decision *dec, char *err, size_t errlen)
{
    const char *db = db_name ? db_name : rt->cfg->default_database;
    struct db *d = runtime_find_db(rt, db);
    if (!d)
        return util_err(err, errlen, DC_ENOTFOUND, "no database named '%s' is configured",
                        db ? db : "");
    if (!principal)
        principal = rt->cfg->default_principal ? rt->cfg->default_principal : "local";
    return gate_explain(rt->gate, principal, d, sql ? sql : "", dec);
}
