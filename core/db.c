#include "db.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "catcache.h"
#include "registry.h"
#include "schema.h"
#include "util.h"

int db_init(struct db *d, const char *name, const struct dc_plugin_ref *plugin,
            const struct dc_opts *opts, const struct dc_host *host)
{
    if (!d)
        return DC_EINVAL;
    memset(d, 0, sizeof(*d));
    if (!name || !plugin || !host || plugin->kind != DC_KIND_CONNECTOR || !plugin->vtable)
        return DC_EINVAL;
    const struct dc_connector_vtable *vt = plugin->vtable;
    /* ABI 1.0 connectors end at introspect; later entries are optional. */
    if (vt->struct_size < offsetof(struct dc_connector_vtable, introspect) + sizeof(vt->introspect) ||
        !vt->open || !vt->close ||
        !vt->prepare || !vt->execute || !vt->finalize || !vt->introspect)
        return DC_EABI;
    d->name = strdup(name);
    if (!d->name)
        return DC_ENOMEM;
    if (pthread_mutex_init(&d->lock, NULL) != 0) {
        free(d->name);
        d->name = NULL;
        return DC_ERR;
    }
    d->plugin = plugin;
    d->vt = vt;
    d->opts = opts;
    d->host = *host;
    return DC_OK;
}

void db_fini(struct db *d)
{
    if (!d || !d->name)
        return;
    for (size_t i = 0; i < d->nsessions; i++) {
        struct db_session *s = d->sessions[i];
        if (s->conn)
            d->vt->close(s->conn);
        if (s->probe)
            d->vt->close(s->probe);
        schema_free(s->schema);
        free(s->principal);
        free(s);
    }
    free(d->sessions);
    free(d->policy_error);
    if (d->conn)
        d->vt->close(d->conn);
    schema_free(d->schema);
    pthread_mutex_destroy(&d->lock);
    free(d->name);
    free(d->catalog_cache);
    memset(d, 0, sizeof(*d));
}

/* Caller holds d->lock. The plugin keeps &d->host for the connection's
 * life, which is why a struct db must not move after db_init. */
static int db_open_locked(struct db *d, char *err, size_t errlen)
{
    if (d->conn)
        return DC_OK;
    char perr[512] = "";
    int rc = d->vt->open(&d->host, d->opts, &d->conn, perr, sizeof(perr));
    if (rc != DC_OK) {
        d->conn = NULL;
        return util_err(err, errlen, rc < 0 ? rc : DC_ERR, "database '%s': %s", d->name,
                        perr[0] ? perr : "the connector could not open it");
    }
    if (!d->conn)
        return util_err(err, errlen, DC_EABI,
                        "database '%s': the connector reported success without a connection",
                        d->name);
    return DC_OK;
}

int db_open(struct db *d, char *err, size_t errlen)
{
    if (!d || !d->vt)
        return util_err(err, errlen, DC_EINVAL, "db_open: database not initialised");
    pthread_mutex_lock(&d->lock);
    int rc = db_open_locked(d, err, errlen);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int db_concurrent(const struct db *d)
{
    if (!d || !d->vt)
        return 0;
    return d->vt->struct_size >= offsetof(struct dc_connector_vtable, concurrent) +
                                     sizeof(d->vt->concurrent) &&
           d->vt->concurrent;
}

const struct dc_schema *db_schema(struct db *d, char *err, size_t errlen)
{
    struct dc_schema *s = NULL;
    if (!d || !d->vt) {
        util_err(err, errlen, DC_EINVAL, "db_schema: database not initialised");
        return NULL;
    }
    pthread_mutex_lock(&d->lock);
    if (d->schema)
        goto cleanup;
    char fp[512] = "";
    int have_fp = d->catalog_cache &&
                  d->vt->struct_size >= offsetof(struct dc_connector_vtable, fingerprint) +
                                            sizeof(d->vt->fingerprint) &&
                  d->vt->fingerprint &&
                  d->vt->fingerprint(&d->host, d->opts, fp, sizeof(fp)) == DC_OK && fp[0];
    if (have_fp) {
        d->schema = catcache_load(d->catalog_cache, fp);
        if (d->schema)
            goto cleanup;
    }
    if (db_open_locked(d, err, errlen) != DC_OK)
        goto cleanup;
    s = schema_new();
    if (!s) {
        util_err(err, errlen, DC_ENOMEM, "database '%s': out of memory", d->name);
        goto cleanup;
    }
    char perr[512] = "";
    int rc = d->vt->introspect(d->conn, s, perr, sizeof(perr));
    if (rc != DC_OK) {
        util_err(err, errlen, rc, "database '%s': cannot read the catalog: %s", d->name,
                 perr[0] ? perr : "the connector gave no reason");
        schema_free(s);
        goto cleanup;
    }
    d->schema = s;
    /* A cache that cannot be written only costs the next process an
     * introspection; the answer does not depend on it. */
    if (have_fp)
        catcache_save(d->catalog_cache, fp, s, NULL, 0);
cleanup:;
    const struct dc_schema *ret = d->schema;
    pthread_mutex_unlock(&d->lock);
    return ret;
}

int db_set_catalog_cache(struct db *d, const char *path)
{
    char *p = path ? strdup(path) : NULL;
    if (path && !p)
        return DC_ENOMEM;
    free(d->catalog_cache);
    d->catalog_cache = p;
    return DC_OK;
}

struct db_session *db_session_get(struct db *d, const char *principal)
{
    for (size_t i = 0; i < d->nsessions; i++)
        if (strcmp(d->sessions[i]->principal, principal) == 0)
            return d->sessions[i];
    struct db_session **v = realloc(d->sessions, (d->nsessions + 1) * sizeof(*v));
    if (!v)
        return NULL;
    d->sessions = v;
    struct db_session *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->principal = strdup(principal);
    if (!s->principal) {
        free(s);
        return NULL;
    }
    d->sessions[d->nsessions++] = s;
    return s;
}

static int db_session_conn(struct db *d, void **conn, char *const *stmts, size_t n,
                           const char *what, char *err, size_t errlen)
{
    char perr[512] = "";
    int rc = d->vt->open(&d->host, d->opts, conn, perr, sizeof(perr));
    if (rc != DC_OK || !*conn) {
        *conn = NULL;
        return util_err(err, errlen, rc < 0 ? rc : DC_ERR, "database '%s': %s", d->name,
                        perr[0] ? perr : "the connector could not open it");
    }
    if (n == 0)
        return DC_OK;
    rc = d->vt->session(*conn, (const char *const *)stmts, n, perr, sizeof(perr));
    if (rc != DC_OK) {
        d->vt->close(*conn);
        *conn = NULL;
        return util_err(err, errlen, rc < 0 ? rc : DC_ERR,
                        "database '%s': cannot set up the %s connection for a policy: %s",
                        d->name, what, perr[0] ? perr : "the connector gave no reason");
    }
    return DC_OK;
}

int db_session_open(struct db *d, struct db_session *s, char *const *run, size_t nrun,
                    char *const *probe, size_t nprobe, char *err, size_t errlen)
{
    if (s->ready)
        return DC_OK;
    if ((nrun || nprobe) &&
        (d->vt->struct_size < offsetof(struct dc_connector_vtable, session) + sizeof(d->vt->session) ||
         !d->vt->session))
        return util_err(err, errlen, DC_EUNSUPPORTED,
                        "database '%s': its connector cannot set up per-principal views, so row "
                        "filters, masks and denied columns cannot be enforced on it",
                        d->name);
    int rc = db_session_conn(d, &s->conn, run, nrun, "query", err, errlen);
    if (rc == DC_OK)
        rc = db_session_conn(d, &s->probe, probe, nprobe, "probe", err, errlen);
    if (rc != DC_OK) {
        if (s->conn)
            d->vt->close(s->conn);
        s->conn = NULL;
        return rc;
    }
    s->ready = 1;
    return DC_OK;
}
