/*
 * api/router - the HTTP API's route table and the request a handler sees.
 * A route is one row: method, path pattern, whether it needs a bearer
 * token, the body fields it takes, its OpenAPI summary and its handler.
 * Other modules add rows with router_add (tool approvals, MCP), and the
 * OpenAPI document is generated from the same rows, so no route can go
 * undocumented. It owns the table, matching (404/405) and the reply
 * helpers; it never touches sockets, threads or the runtime itself.
 */
#ifndef DC_API_ROUTER_H
#define DC_API_ROUTER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "api/http.h"

struct api_req;
struct runtime;

/* A handler answers now (API_DONE, after an api_reply_*) or hands blocking
 * work to the worker pool (API_ASYNC, after api_req_defer); the connection
 * is suspended until that work has replied. */
enum { API_DONE = 0, API_ASYNC = 1 };
typedef int (*api_handler_fn)(struct api_req *rq);
typedef void (*api_work_fn)(struct api_req *rq); /* on a worker thread */

struct api_route {
    const char *method;             /* "GET", "POST", ... */
    const char *path;               /* "/api/v1/chat", "/api/v1/approvals/{id}" */
    int auth;                       /* 1: needs a bearer token (or --dev) */
    const struct api_field *body;   /* NULL: the route takes no body */
    const char *summary;            /* one line for the OpenAPI document */
    const char *response_type;      /* "application/json", "text/plain", ... */
    api_handler_fn handler;
    void *arg;                      /* the handler's own state (rq->route->arg) */
};

/* As a route's body table: the handler reads the body text itself
 * (rq->raw_body, e.g. JSON-RPC batches); nothing is parsed for it. */
extern const struct api_field api_raw_body[];

/* One request, from the router's match to its reply. */
struct api_req {
    const struct api_route *route;
    struct api_params params;
    const char *method;
    const char *path;
    const char *principal;   /* who the token says is asking (or the --dev default) */
    json_t *body;            /* the checked body object; NULL when the route takes none */
    const char *raw_body;    /* raw_body routes: the body text ("" when empty), raw_len bytes */
    size_t raw_len;
    const char *origin;      /* raw_body routes: the Origin header, NULL when absent */
    struct runtime *rt;
    void *server;            /* struct api_server, for handlers that report on it */
    int64_t t0_us;

    /* The reply. */
    int status;
    char *resp;              /* malloc'd */
    size_t resp_len;
    const char *content_type;
    int refused;             /* the gate or policy refused: counted in /metrics */
    int audited;             /* the request reached the audit log */

    api_work_fn work;        /* set by api_req_defer */

    /* A reply sent while it is made (api_reply_stream), and the work that
     * makes it (api_req_spawn); both NULL for ordinary replies. */
    struct api_stream *stream;
    void (*spawn)(void *arg);
    void (*spawn_free)(void *arg);
    void *spawn_arg;
};

struct router;

int router_new(struct router **out);
void router_free(struct router *r);
/* The row is copied; its strings and body table must outlive the router.
 * DC_EINVAL when the same method and path is already taken. */
int router_add(struct router *r, const struct api_route *route);
size_t router_count(const struct router *r);
const struct api_route *router_at(const struct router *r, size_t i);

/* Finds the route for method and path (query string already cut off).
 * DC_OK with *out and params; DC_ENOTFOUND with e at 404 (no such path) or
 * 405 (the path exists, not with this method; allow lists the methods). */
int router_match(const struct router *r, const char *method, const char *path,
                 const struct api_route **out, struct api_params *params, struct api_error *e,
                 char *allow, size_t allowlen);

/* The OpenAPI 3.1 document of every route (caller decrefs). */
json_t *router_openapi(const struct router *r, const char *version);

/* Reply helpers: each replaces any earlier reply. obj is stolen. */
int api_reply_json(struct api_req *rq, int status, json_t *obj);
int api_reply_error(struct api_req *rq, const struct api_error *e);
int api_reply_text(struct api_req *rq, int status, const char *content_type, char *text,
                   size_t len); /* text is taken over (malloc'd) */
void api_req_defer(struct api_req *rq, api_work_fn work);
void api_req_clear(struct api_req *rq);
/* The reply is st's bytes as they come (the request takes a reference):
 * the status and headers go out at once, the body as the producer pushes. */
int api_reply_stream(struct api_req *rq, int status, const char *content_type,
                     struct api_stream *st);
/* Runs fn(arg) on the worker pool once the handler returns, not bound to
 * the connection (which may close first), so arg must own all fn reads
 * and fn frees it; when fn cannot be started, free_fn(arg) is called and
 * the client gets 503 instead. */
void api_req_spawn(struct api_req *rq, void (*fn)(void *arg), void (*free_fn)(void *arg),
                   void *arg);

#endif
