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
};

/* Fills h; self (may be NULL in tests) must outlive h. */
void hostapi_init(struct dc_host *h, struct host_self *self);

#endif
