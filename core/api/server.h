/*
 * api/server - `datachat serve`: libmicrohttpd driven by the core event
 * loop (its epoll fd is one of the loop's fds), so every MHD callback,
 * route handler and metric update runs on the loop thread; blocking work
 * (questions, tool calls) runs on the worker pool while its connection is
 * suspended. It owns the daemon, the loop, the pool, bearer-token auth
 * (SHA-256, constant-time), per-principal rate and concurrency limits and
 * graceful shutdown. It never logs a token or a request body.
 */
#ifndef DC_API_SERVER_H
#define DC_API_SERVER_H

#include <stddef.h>

struct runtime;
struct router;
struct api_server;

struct api_server_opts {
    const char *listen;     /* HOST:PORT (port 0: any free port); NULL: config, else 127.0.0.1:8000 */
    int dev;                /* unauthenticated use, loopback addresses only */
    const char *principal;  /* --dev principal; NULL: the config's default */
    int workers;            /* pool threads; 0: 4 */
};

/* Checks the options against the config (tokens, --dev on loopback) and
 * builds the route table with the built-in routes; binds nothing yet.
 * DC_EINVAL with err starting with an E-SERVE-* code for bad options. */
int server_new(struct runtime *rt, const struct api_server_opts *o, struct api_server **out,
               char *err, size_t errlen);
void server_free(struct api_server *s);

/* The route table, for adding routes between server_new and server_start. */
struct router *server_router(struct api_server *s);

/* Binds and starts listening; server_port() then tells the bound port. */
int server_start(struct api_server *s, char *err, size_t errlen);
int server_port(const struct api_server *s);

/* Serves until SIGINT or SIGTERM, then stops accepting, lets requests in
 * flight finish (up to a deadline) and returns. */
int server_run(struct api_server *s);

/* The /metrics exposition text (malloc'd), NULL when out of memory. */
char *server_metrics_text(struct api_server *s, size_t *len);

#endif
