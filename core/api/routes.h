/*
 * api/routes - the built-in routes of the HTTP API: chat (JSON or SSE),
 * tools, databases, DataPoints, health, readiness, metrics and the OpenAPI
 * document. Each handler validates what the router's field table cannot
 * (names, sizes), runs blocking work on the worker pool and answers through
 * the router's reply helpers. It never reads sockets or headers itself.
 */
#ifndef DC_API_ROUTES_H
#define DC_API_ROUTES_H

struct router;

/* Adds every built-in route to r. */
int routes_add_builtin(struct router *r);
/* Adds POST /mcp, the MCP server over streamable HTTP (api/mcp_route.c). */
int routes_add_mcp(struct router *r);

/* How many rows a chat answer carries at most (the rest: "truncated"). */
#define API_MAX_ANSWER_ROWS 1000

#endif
