/*
 * db - a configured database bound to its connector plugin.
 * It owns the connector's connection handles (opened lazily, read-only):
 * one shared handle (which a pooling connector such as postgres fills with
 * several connections), plus one session per principal whose policy needs
 * per-connection state (shadow views), and the cached catalog. It never
 * executes SQL itself: only the gate calls the connector's prepare/execute
 * and hands db_session_open the set-up statements it generated.
 */
#ifndef DC_DB_H
#define DC_DB_H

#include <pthread.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

/* One principal's connections on a database (see core/policy.h). */
struct db_session {
    char *principal;
    void *conn;               /* runs the principal's statements through its views */
    void *probe;              /* stub views: compiling there shows direct reads */
    struct dc_schema *schema; /* the catalog as the principal sees it, NULL until built */
    int ready;                /* connections open and views installed */
};

struct db {
    char *name;
    const struct dc_plugin_ref *plugin;
    const struct dc_connector_vtable *vt;
    const struct dc_opts *opts;
    struct dc_host host;        /* this connector instance's host table */
    void *conn;                 /* NULL until opened */
    struct dc_schema *schema;   /* NULL until introspected */
    pthread_mutex_t lock;       /* one statement at a time per database */
    struct db_session **sessions;
    size_t nsessions;
    int policy_checked;         /* the policies were checked against this database */
    char *policy_error;         /* what that check found, NULL when it passed */
    char *catalog_cache;        /* catcache file for this database, NULL for none */
};

/* Binds (does not open). host is copied; plugin and opts must outlive d. */
int db_init(struct db *d, const char *name, const struct dc_plugin_ref *plugin,
            const struct dc_opts *opts, const struct dc_host *host);
void db_fini(struct db *d);
/* Opens the connection if needed. */
int db_open(struct db *d, char *err, size_t errlen);
/* Non-zero when the connector's handles serve several threads at once (it
 * pools connections: struct dc_connector_vtable.concurrent), so a caller
 * needs d->lock only around the session table, not from prepare to
 * finalize. 0 for connectors that predate the flag. */
int db_concurrent(const struct db *d);
/* Keeps the catalog in this file between processes (see catcache.h). */
int db_set_catalog_cache(struct db *d, const char *path);
/* The catalog, introspected once and cached (in memory, and in the catalog
 * cache file when set and the connector can fingerprint the database).
 * NULL with err on failure. */
const struct dc_schema *db_schema(struct db *d, char *err, size_t errlen);

/* The session of principal, created (not opened) on first use; NULL when
 * out of memory. Caller holds d->lock. */
struct db_session *db_session_get(struct db *d, const char *principal);
/* Opens the session's two connections and runs the set-up statements on
 * each (run on conn, probe on probe) through the connector's session
 * entry. On failure the session stays closed. Caller holds d->lock. */
int db_session_open(struct db *d, struct db_session *s, char *const *run, size_t nrun,
                    char *const *probe, size_t nprobe, char *err, size_t errlen);

#endif
