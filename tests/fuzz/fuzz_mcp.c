/* Fuzz target: the MCP server's message layer (core/mcp.c) on arbitrary
 * bytes, with a runtime that has no tools and is not started (so tools/call
 * answers an error instead of running anything). It must never crash or
 * leak, and every reply must be JSON-RPC: an object (or a non-empty array
 * of objects) with jsonrpc "2.0" and exactly one of result and error. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/value.h>

#include "mcp.h"
#include "runtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_one(json_t *o)
{
    if (!json_is_object(o))
        abort();
    json_t *v = json_object_get(o, "jsonrpc");
    if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0)
        abort();
    int has_result = json_object_get(o, "result") != NULL;
    int has_error = json_object_get(o, "error") != NULL;
    if (has_result == has_error || !json_object_get(o, "id"))
        abort();
    if (has_error && !json_is_integer(json_object_get(json_object_get(o, "error"), "code")))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct runtime rt;
    memset(&rt, 0, sizeof(rt));
    struct mcp *m = NULL;
    if (mcp_new(&rt, NULL, "fuzz", &m) != DC_OK)
        return 0;
    char *reply = NULL;
    if (mcp_handle(m, (const char *)data, size, &reply) == DC_OK && reply) {
        json_t *j = json_loads(reply, 0, NULL);
        if (!j)
            abort();
        if (json_is_array(j)) {
            if (json_array_size(j) == 0)
                abort();
            size_t i;
            json_t *one;
            json_array_foreach(j, i, one) check_one(one);
        } else {
            check_one(j);
        }
        json_decref(j);
    }
    free(reply);
    mcp_free(m);
    return 0;
}
