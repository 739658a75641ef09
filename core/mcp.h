/*
 * mcp - the Model Context Protocol server's message layer: JSON-RPC 2.0
 * requests (initialize, ping, tools/list, tools/call) answered from the
 * runtime's configured tools plus an `ask` tool that runs the question
 * pipeline. Both transports use it: `datachat mcp` (one message per line on
 * stdin/stdout) and POST /mcp on the HTTP server. Every call runs under one
 * principal, so the gate, policies and audit apply as on any other path.
 * It owns no I/O: it takes one message's text and returns the reply's text.
 */
#ifndef DC_MCP_H
#define DC_MCP_H

#include <stddef.h>

struct runtime;
struct mcp;

/* Largest message either transport accepts. */
#define MCP_MAX_MESSAGE (4u << 20)

/* db_name and principal may be NULL (the config's defaults); both are
 * copied. */
int mcp_new(struct runtime *rt, const char *db_name, const char *principal, struct mcp **out);
void mcp_free(struct mcp *m);

/* Handles one message: a request, a notification, a response, or a batch
 * of them. On DC_OK *reply is the malloc'd reply text (one line of JSON)
 * or NULL when nothing is to be sent back (only notifications/responses).
 * Malformed input gets a JSON-RPC error reply, never a failure; only out
 * of memory returns an error code. */
int mcp_handle(struct mcp *m, const char *text, size_t len, char **reply);

/* The JSON-RPC error reply for a message that could not be read at all
 * (e.g. a line over MCP_MAX_MESSAGE). malloc'd, NULL when out of memory. */
char *mcp_error_reply(int code, const char *message);

#endif
