/* POST /mcp: the MCP server over streamable HTTP. Each POST carries one
 * JSON-RPC message (or batch) and gets its reply as application/json;
 * notifications and responses get 202 with no body. The server keeps no
 * MCP session: every request is answered under the bearer token's
 * principal, so GET (a server-to-client stream) is not offered (405). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <datachat/value.h>

#include "api/router.h"
#include "api/routes.h"
#include "mcp.h"
#include "runtime.h"

/* Browsers send Origin; a page from another site must not reach a server
 * on loopback through the user's browser (DNS rebinding). Only loopback
 * origins are accepted; clients that are not browsers send none. */
static int origin_ok(const char *origin)
{
    if (!origin)
        return 1;
    const char *p = NULL;
    if (strncasecmp(origin, "http://", 7) == 0)
        p = origin + 7;
    else if (strncasecmp(origin, "https://", 8) == 0)
        p = origin + 8;
    if (!p)
        return 0;
    static const char *const hosts[] = {"localhost", "127.0.0.1", "[::1]", NULL};
    for (size_t i = 0; hosts[i]; i++) {
        size_t n = strlen(hosts[i]);
        if (strncasecmp(p, hosts[i], n) == 0 && (p[n] == '\0' || p[n] == ':' || p[n] == '/'))
            return 1;
    }
    return 0;
}

static void mcp_work(struct api_req *rq)
{
    struct mcp *m = NULL;
    char *reply = NULL;
    struct api_error e;
    if (mcp_new(rq->rt, NULL, rq->principal, &m) != DC_OK ||
        mcp_handle(m, rq->raw_body, rq->raw_len, &reply) != DC_OK) {
        api_error_set(&e, 500, "E-API-NOMEM", NULL, "out of memory");
        api_reply_error(rq, &e);
    } else if (!reply) {
        api_reply_text(rq, 202, "application/json", strdup(""), 0);
    } else {
        api_reply_text(rq, 200, "application/json", reply, strlen(reply));
        reply = NULL;
    }
    free(reply);
    mcp_free(m);
}

static int mcp_handler(struct api_req *rq)
{
    struct api_error e;
    if (!origin_ok(rq->origin)) {
        api_error_set(&e, 403, "E-API-ORIGIN", "Origin",
                      "requests from browser pages are accepted only from loopback origins");
        api_reply_error(rq, &e);
        return API_DONE;
    }
    if (rq->raw_len == 0) {
        api_error_set(&e, 400, "E-API-BODY", NULL,
                      "POST /mcp takes one JSON-RPC message (or a batch) as its body");
        api_reply_error(rq, &e);
        return API_DONE;
    }
    api_req_defer(rq, mcp_work);
    return API_ASYNC;
}

static const struct api_route mcp_route = {
    "POST", "/mcp", 1, api_raw_body,
    "MCP (Model Context Protocol) over streamable HTTP: JSON-RPC 2.0 initialize, ping, "
    "tools/list and tools/call (the configured tools plus `ask`)",
    "application/json", mcp_handler, NULL};

int routes_add_mcp(struct router *r)
{
    return router_add(r, &mcp_route);
}
