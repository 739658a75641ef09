/*
 * db - a configured database bound to its connector plugin.
 * It owns the connector's connection handle (opened lazily, read-only) and
 * the cached catalog. It never executes SQL itself: only the gate calls the
 * connector's prepare/execute.
 */
#ifndef DC_DB_H
#define DC_DB_H

#include <pthread.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

struct db {
    char *name;
    const struct dc_plugin_ref *plugin;
    const struct dc_connector_vtable *vt;
    const struct dc_opts *opts;
    struct dc_host host;        /* this connector instance's host table */
    void *conn;                 /* NULL until opened */
    struct dc_schema *schema;   /* NULL until introspected */
    pthread_mutex_t lock;       /* one statement at a time per connection */
};

/* Binds (does not open). host is copied; plugin and opts must outlive d. */
int db_init(struct db *d, const char *name, const struct dc_plugin_ref *plugin,
            const struct dc_opts *opts, const struct dc_host *host);
void db_fini(struct db *d);
/* Opens the connection if needed. */
int db_open(struct db *d, char *err, size_t errlen);
/* The catalog, introspected once and cached. NULL with err on failure. */
const struct dc_schema *db_schema(struct db *d, char *err, size_t errlen);

#endif
