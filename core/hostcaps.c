#include "hostcaps.h"

#include <stdio.h>
#include <string.h>

/* The stubs keep the real entries' contracts for failure: an error code,
 * NULL or 0, and every out-parameter cleared, so a plugin that checks what
 * it gets back never reads garbage. */
/* For the entries that also report through an error buffer. */
static void stub_err(char *err, size_t errlen, const char *entry, const char *cap)
{
    if (err && errlen)
        snprintf(err, errlen, "E-PLUGIN-CAPABILITY: %s needs the host capability \"%s\", "
                              "which the plugin does not declare", entry, cap);
}

static int stub_ctx_query(struct dc_ctx *c, const char *db, const char *sql,
                          const struct dc_value *params, size_t nparams, struct dc_result **out)
{
    (void)db;
    (void)sql;
    (void)params;
    (void)nparams;
    if (out)
        *out = NULL;
    hostcaps_fail(c, "db.query", "ctx_query");
    return DC_EDENIED;
}

static const struct dc_schema *stub_ctx_schema(struct dc_ctx *c, const char *db)
{
    (void)db;
    hostcaps_fail(c, "db.schema", "ctx_schema");
    return NULL;
}

static size_t stub_dp_count(struct dc_ctx *c)
{
    hostcaps_fail(c, "datapoints", "dp_count");
    return 0;
}

static const struct dc_datapoint_info *stub_dp_at(struct dc_ctx *c, size_t i)
{
    (void)i;
    hostcaps_fail(c, "datapoints", "dp_at");
    return NULL;
}

static const struct dc_datapoint_info *stub_dp_find(struct dc_ctx *c, const char *id)
{
    (void)id;
    hostcaps_fail(c, "datapoints", "dp_find");
    return NULL;
}

static int stub_dp_render(struct dc_ctx *c, const char *id, const char *backend,
                          const char *const *names, const char *const *values, size_t nargs,
                          struct dc_dp_rendered **out, char *err, size_t errlen)
{
    (void)id;
    (void)backend;
    (void)names;
    (void)values;
    (void)nargs;
    if (out)
        *out = NULL;
    stub_err(err, errlen, "dp_render", "datapoints");
    hostcaps_fail(c, "datapoints", "dp_render");
    return DC_EDENIED;
}

static int stub_retrieve(struct dc_ctx *c, const char *query, size_t k,
                         struct dc_retrieval_hit *hits, size_t *n)
{
    (void)query;
    (void)k;
    (void)hits;
    if (n)
        *n = 0;
    hostcaps_fail(c, "retrieve", "retrieve");
    return DC_EDENIED;
}

static int stub_sql_check(struct dc_ctx *c, const char *db, const char *sql, char *err,
                          size_t errlen)
{
    (void)db;
    (void)sql;
    stub_err(err, errlen, "sql_check", "db.query");
    hostcaps_fail(c, "db.query", "sql_check");
    return DC_EDENIED;
}

static int stub_dp_validate(struct dc_ctx *c, const char *text, size_t len, const char *name,
                            char *err, size_t errlen)
{
    (void)text;
    (void)len;
    (void)name;
    stub_err(err, errlen, "dp_validate", "datapoints");
    hostcaps_fail(c, "datapoints", "dp_validate");
    return DC_EDENIED;
}

static int stub_llm_complete(struct dc_ctx *c, const char *instance, const char *request_json,
                             const char **reply, char *err, size_t errlen)
{
    (void)instance;
    (void)request_json;
    if (reply)
        *reply = NULL;
    stub_err(err, errlen, "llm_complete", "llm");
    hostcaps_fail(c, "llm", "llm_complete");
    return DC_EDENIED;
}

void hostcaps_restrict(struct dc_host *h, uint64_t caps)
{
    if (!h || caps == DC_CAP_UNDECLARED)
        return;
    if (!(caps & DC_CAP_DB_QUERY)) {
        h->ctx_query = stub_ctx_query;
        h->sql_check = stub_sql_check;
    }
    if (!(caps & DC_CAP_DB_SCHEMA))
        h->ctx_schema = stub_ctx_schema;
    if (!(caps & DC_CAP_DATAPOINTS)) {
        h->dp_count = stub_dp_count;
        h->dp_at = stub_dp_at;
        h->dp_find = stub_dp_find;
        h->dp_render = stub_dp_render;
        h->dp_validate = stub_dp_validate;
    }
    if (!(caps & DC_CAP_RETRIEVE))
        h->retrieve = stub_retrieve;
    if (!(caps & DC_CAP_LLM))
        h->llm_complete = stub_llm_complete;
}

const char *hostcaps_format(uint64_t caps, char *out, size_t outlen)
{
    if (!out || !outlen)
        return out;
    out[0] = '\0';
    if (caps == DC_CAP_UNDECLARED) {
        snprintf(out, outlen, "undeclared (all)");
        return out;
    }
    if (caps == DC_CAP_NONE) {
        snprintf(out, outlen, "none");
        return out;
    }
    size_t used = 0;
    for (int bit = 0; bit < 64; bit++) {
        uint64_t cap = (uint64_t)1 << bit;
        if (!(caps & cap))
            continue;
        const char *name = dc_cap_name(cap);
        char unknown[32];
        if (!name) {
            snprintf(unknown, sizeof(unknown), "0x%llx", (unsigned long long)cap);
            name = unknown;
        }
        int w = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", name);
        if (w < 0 || (size_t)w >= outlen - used)
            break; /* cut short: out stays terminated */
        used += (size_t)w;
    }
    return out;
}
