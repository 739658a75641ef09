/*
 * hostapi - fills the struct dc_host table handed to each plugin instance.
 * It owns nothing: every entry forwards to the module that owns the object
 * (result, schema, config options, ctx). The table is append-only; entries
 * are never reordered or removed within ABI major 1.
 */
#ifndef DC_HOSTAPI_H
#define DC_HOSTAPI_H

#include <datachat/host.h>

/* Where a plugin's log lines go. sink NULL: stderr at min_level and above. */
typedef void (*hostapi_log_sink)(void *arg, int level, const char *plugin, const char *msg);

/* The host's view of one plugin instance; h->self points at it. */
struct host_self {
    const char *plugin_name;
    hostapi_log_sink sink;
    void *sink_arg;
    int min_level;
    /* ABI 1.3: DC_CAP_* groups whose entries are stubs (~ of what the
     * plugin declared, dc_plugin_ref.caps); 0 = the whole table. */
    uint64_t denied;
    /* ABI 1.4: the plugin's HTTP path (http_request); NULL: it has none
     * (only tools get one: core/tools.c in the core, the worker's forward
     * to the core in a sandbox). On DC_OK *resp is malloc'ed; else err
     * holds "E-CODE: reason". */
    int (*http)(void *arg, struct dc_ctx *c, const char *method, const char *url,
                const char *const *headers, const char *body, long *status, char **resp,
                char *err, size_t errlen);
    void *http_arg;
};

/* Fills h; self (may be NULL in tests) must outlive h. */
void hostapi_init(struct dc_host *h, struct host_self *self);

#endif
