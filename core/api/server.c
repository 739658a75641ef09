#include "api/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <datachat/value.h>

#include "api/jobs.h"
#include "api/metrics.h"
#include "api/router.h"
#include "api/routes.h"
#include "api/stream.h"
#include "loop.h"
#include "netlib.h"
#include "runtime.h"
#include "sha256.h"
#include "util.h"

#define DEFAULT_LISTEN "127.0.0.1:8000"
#define DRAIN_MS 10000
#define TICK_MS 200

struct rate {
    char *principal;
    int64_t window;  /* minute number of the current window */
    int64_t count;
};

struct api_server {
    struct runtime *rt;
    struct router *router;
    struct api_metrics *metrics;
    struct loop *loop;
    struct pool *pool;
    struct api_jobs *jobs; /* background profiling jobs, run on pool */
    struct MHD_Daemon *mhd;
    const struct netlib_mhd *lib; /* libmicrohttpd, loaded by server_start */
    int workers;
    int dev;
    char *principal;  /* --dev default */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int port;
    int64_t inflight; /* requests from headers to completion */
    int64_t active;   /* of those, counted against concurrent_requests */
    int draining;
    int64_t drain_deadline_us;
    int epoll_fd;     /* the daemon's, watched by the loop; -1 when not */
    int kick_armed;   /* a 1 ms timer will run the daemon again */
    struct rate *rates;
    size_t nrates;
    struct sock *socks; /* every open connection */
};

/* One TCP connection from accept to close (MHD's socket context). MHD's
 * idle timeout restarts on every byte, so a client dribbling one byte at a
 * time would hold a connection forever; the sweep in on_tick closes one
 * whose request has not fully arrived within server.limits.request_timeout_s
 * of its accept (or of the previous response, on a kept-alive connection). */
struct sock {
    struct sock *prev, *next;
    int fd;
    int64_t since_us; /* when the request now arriving could start */
    int receiving;    /* 0 from dispatch to completion: no deadline then */
};

enum { C_NEW = 0, C_RUNNING, C_READY, C_SENT };

struct conn {
    struct api_server *srv;
    struct MHD_Connection *mc;
    struct api_req rq;
    struct sbuf body;
    int too_big;
    int state;
    int counted_active;
    char allow[64];
    char method[16];
    char *path;
};

/* ------------------------------------------------------------------------
 * Addresses.
 */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sl,
                        char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof(host) || !colon[1])
        return util_err(err, errlen, DC_EINVAL,
                        "E-SERVE-LISTEN: '%s' is not HOST:PORT (e.g. 127.0.0.1:8000)", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    if (host[0] == '[') {
        size_t n = strlen(host);
        if (n < 3 || host[n - 1] != ']')
            return util_err(err, errlen, DC_EINVAL,
                            "E-SERVE-LISTEN: '%s': write an IPv6 host as [::1]:PORT", listen);
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return util_err(err, errlen, DC_EINVAL,
                        "E-SERVE-LISTEN: port '%s' must be a number from 0 to 65535", colon + 1);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(host, colon + 1, &hints, &res);
    if (g != 0 || !res)
        return util_err(err, errlen, DC_EINVAL, "E-SERVE-LISTEN: cannot resolve '%s': %s", host,
                        gai_strerror(g));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
    freeaddrinfo(res);
    return DC_OK;
}

static int is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Auth and limits.
 */

/* Every configured hash is compared in full whatever matched, so the time
 * taken says nothing about which token (or how much of one) was right. */
static const char *token_principal(const struct dc_config *cfg, const char *tok, size_t len)
{
    unsigned char d[32];
    struct sha256 h;
    sha256_init(&h);
    sha256_update(&h, tok, len);
    sha256_final(&h, d);
    size_t hit = 0;
    unsigned found = 0;
    for (size_t i = 0; i < cfg->server.ntokens; i++) {
        unsigned diff = 0;
        for (size_t k = 0; k < 32; k++)
            diff |= (unsigned)(d[k] ^ cfg->server.tokens[i].sha256[k]);
        unsigned eq = ((diff | (0u - diff)) >> 31) ^ 1u; /* 1 when diff == 0 */
        unsigned take = eq & (found ^ 1u);
        hit = take ? i : hit;
        found |= eq;
    }
    return found ? cfg->server.tokens[hit].principal : NULL;
}

static int rate_allow(struct api_server *s, const char *principal, int64_t *retry_s)
{
    int64_t now_s = util_now_us() / 1000000, window = now_s / 60;
    struct rate *r = NULL;
    for (size_t i = 0; i < s->nrates; i++)
        if (strcmp(s->rates[i].principal, principal) == 0)
            r = &s->rates[i];
    if (!r) {
        struct rate *nr = realloc(s->rates, (s->nrates + 1) * sizeof(*nr));
        if (!nr)
            return 0;
        s->rates = nr;
        r = &s->rates[s->nrates];
        r->principal = strdup(principal);
        if (!r->principal)
            return 0;
        r->window = window;
        r->count = 0;
        s->nrates++;
    }
    if (r->window != window) {
        r->window = window;
        r->count = 0;
    }
    if (r->count >= s->rt->cfg->server.requests_per_minute) {
        *retry_s = 60 - now_s % 60;
        return 0;
    }
    r->count++;
    return 1;
}

/* ------------------------------------------------------------------------
 * Requests.
 */
static void on_kick(struct loop *l, uint64_t id, void *arg);

/* MHD's epoll is edge-triggered and each MHD_run moves at most a buffer
 * per connection; a zero timeout means it has more to do right away. Run
 * it again while that holds, then yield to the loop through a 1 ms timer
 * so pool completions and signals are not starved by one fast client. */
static void mhd_pump(struct api_server *s)
{
    if (!s->mhd)
        return;
    for (int i = 0; i < 64; i++) {
        s->lib->run(s->mhd);
        MHD_UNSIGNED_LONG_LONG t;
        if (s->lib->get_timeout(s->mhd, &t) != MHD_YES || t > 0)
            return;
    }
    uint64_t id;
    if (!s->kick_armed && loop_add_timer(s->loop, 1, 0, on_kick, s, &id) == DC_OK)
        s->kick_armed = 1;
}

static void on_kick(struct loop *l, uint64_t id, void *arg)
{
    struct api_server *s = arg;
    s->kick_armed = 0;
    mhd_pump(s);
}

/* A streamed reply: MHD asks for bytes when it can send; with none pending
 * the stream parks the connection (suspend, allowed from the reader) and
 * the producer's next push resumes it. MHD's resume wakes the daemon's
 * epoll fd, which the loop watches; the tick pumps it in any case. */
static void stream_park(void *arg)
{
    struct conn *c = arg;
    c->srv->lib->suspend_connection(c->mc);
}

static void stream_wake(void *arg)
{
    struct conn *c = arg;
    c->srv->lib->resume_connection(c->mc);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    ssize_t n = api_stream_take(cls, buf, max);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void stream_release(void *cls)
{
    api_stream_detach(cls);
    api_stream_unref(cls);
}

static struct MHD_Response *stream_response(struct conn *c)
{
    struct api_stream *st = c->rq.stream;
    api_stream_ref(st); /* the response's, dropped by stream_release */
    struct MHD_Response *r = c->srv->lib->create_response_from_callback(
        MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_release);
    if (!r) {
        api_stream_unref(st);
        return NULL;
    }
    api_stream_attach(st, stream_park, stream_wake, c);
    return r;
}

static void queue_reply(struct conn *c)
{
    struct api_req *rq = &c->rq;
    const struct netlib_mhd *m = c->srv->lib;
    if (rq->stream) {
        struct MHD_Response *r = stream_response(c);
        if (!r)
            return; /* MHD closes the connection; completion still runs */
        m->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                rq->content_type ? rq->content_type : "text/event-stream");
        m->add_response_header(r, "Cache-Control", "no-store");
        m->queue_response(c->mc, (unsigned)rq->status, r);
        m->destroy_response(r);
        c->state = C_SENT;
        return;
    }
    if (!rq->resp) {
        struct api_error e;
        api_error_set(&e, 500, "E-API-INTERNAL", NULL, "the handler produced no reply");
        api_reply_error(rq, &e);
    }
    struct MHD_Response *r = m->create_response_from_buffer(
        rq->resp_len, rq->resp ? rq->resp : (void *)"", rq->resp ? MHD_RESPMEM_MUST_FREE
                                                               : MHD_RESPMEM_PERSISTENT);
    if (!r)
        return; /* MHD closes the connection; completion still runs */
    rq->resp = NULL; /* MHD frees it now */
    m->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            rq->content_type ? rq->content_type : "application/json");
    m->add_response_header(r, "Cache-Control", "no-store");
    if (rq->status == 405 && c->allow[0])
        m->add_response_header(r, MHD_HTTP_HEADER_ALLOW, c->allow);
    if (rq->status == 401)
        m->add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"datachat\"");
    if (rq->status == 429)
        m->add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "60");
    m->queue_response(c->mc, (unsigned)rq->status, r);
    m->destroy_response(r);
    c->state = C_SENT;
}

static void fail(struct conn *c, int status, const char *code, const char *field, const char *msg)
{
    struct api_error e;
    api_error_set(&e, status, code, field, "%s", msg);
    api_reply_error(&c->rq, &e);
    c->state = C_READY;
}

static void work_tramp(void *arg)
{
    struct conn *c = arg;
    c->rq.work(&c->rq);
}

static void done_tramp(struct loop *l, void *arg)
{
    struct conn *c = arg;
    c->state = C_READY;
    c->srv->lib->resume_connection(c->mc);
    mhd_pump(c->srv);
}

static struct sock *conn_sock(struct api_server *s, struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci =
        s->lib->get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Everything after the body arrived: route, auth, limits, body, handler. */
static void dispatch(struct conn *c)
{
    struct api_server *s = c->srv;
    struct api_req *rq = &c->rq;
    struct sock *sk = conn_sock(s, c->mc);
    if (sk)
        sk->receiving = 0;
    const struct dc_config *cfg = s->rt->cfg;
    struct api_error e;
    const struct api_route *route;
    if (router_match(s->router, c->method, c->path, &route, &rq->params, &e, c->allow,
                     sizeof(c->allow)) != DC_OK) {
        api_reply_error(rq, &e);
        c->state = C_READY;
        return;
    }
    rq->route = route;
    if (c->too_big) {
        char msg[160];
        snprintf(msg, sizeof(msg), "the body is over the limit of %zu bytes "
                                   "(server.limits.body_bytes)",
                 cfg->server.body_bytes);
        fail(c, 413, "E-API-TOO-LARGE", NULL, msg);
        return;
    }
    if (route->auth) {
        const char *h = c->srv->lib->lookup_connection_value(c->mc, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_AUTHORIZATION);
        const char *tok;
        size_t tlen;
        if (h && !api_bearer(h, &tok, &tlen)) {
            fail(c, 401, "E-API-AUTH", "Authorization",
                 "the Authorization header is not a bearer token; send Authorization: Bearer "
                 "TOKEN");
            return;
        }
        if (h) {
            rq->principal = token_principal(cfg, tok, tlen);
            if (!rq->principal) {
                fail(c, 401, "E-API-AUTH", "Authorization",
                     "the bearer token is not one of server.tokens");
                return;
            }
        } else if (s->dev) {
            rq->principal = s->principal;
        } else {
            fail(c, 401, "E-API-AUTH", "Authorization",
                 "this route needs a bearer token; send Authorization: Bearer TOKEN");
            return;
        }
        int64_t retry;
        if (!rate_allow(s, rq->principal, &retry)) {
            fail(c, 429, "E-API-RATE", NULL,
                 "over server.limits.requests_per_minute for this principal; retry later");
            return;
        }
        if (s->active >= cfg->server.concurrent_requests) {
            fail(c, 503, "E-API-BUSY", NULL,
                 "the server is answering server.limits.concurrent_requests requests already; "
                 "retry shortly");
            return;
        }
        s->active++;
        c->counted_active = 1;
    }
    if (route->body == api_raw_body) {
        rq->raw_body = c->body.p ? c->body.p : "";
        rq->raw_len = c->body.len;
        rq->origin = c->srv->lib->lookup_connection_value(c->mc, MHD_HEADER_KIND, "Origin");
    } else if (route->body) {
        if (api_body_parse(c->body.p ? c->body.p : "", c->body.len, route->body, &rq->body,
                           &e) != DC_OK) {
            api_reply_error(rq, &e);
            c->state = C_READY;
            return;
        }
    } else if (c->body.len) {
        fail(c, 400, "E-API-BODY", NULL, "this route takes no request body");
        return;
    }
    int hr = route->handler(rq);
    if (rq->spawn) {
        void (*fn)(void *) = rq->spawn;
        rq->spawn = NULL;
        if (pool_submit(s->pool, fn, NULL, rq->spawn_arg) != DC_OK) {
            rq->spawn_free(rq->spawn_arg);
            api_req_clear(rq);
            fail(c, 503, "E-API-BUSY", NULL, "the worker queue is full; retry shortly");
            return;
        }
    }
    if (hr == API_ASYNC && rq->work) {
        c->state = C_RUNNING;
        c->srv->lib->suspend_connection(c->mc);
        if (pool_submit(s->pool, work_tramp, done_tramp, c) != DC_OK) {
            c->srv->lib->resume_connection(c->mc);
            fail(c, 503, "E-API-BUSY", NULL, "the worker queue is full; retry shortly");
        }
        return;
    }
    c->state = C_READY;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct api_server *s = cls;
    struct conn *c = *con_cls;
    if (!c) {
        c = calloc(1, sizeof(*c));
        if (!c)
            return MHD_NO;
        c->srv = s;
        c->mc = mc;
        sbuf_init(&c->body);
        snprintf(c->method, sizeof(c->method), "%s", method);
        c->path = strdup(url);
        c->rq.method = c->method;
        c->rq.rt = s->rt;
        c->rq.server = s;
        c->rq.t0_us = util_now_us();
        *con_cls = c;
        s->inflight++;
        if (!c->path)
            return MHD_NO;
        c->rq.path = c->path;
        const char *cl = s->lib->lookup_connection_value(mc, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            unsigned long long n = strtoull(cl, &end, 10);
            if (*end == '\0' && n > s->rt->cfg->server.body_bytes) {
                /* Answer before the body is sent (no 100 Continue goes out). */
                c->too_big = 1;
                dispatch(c);
                queue_reply(c);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (c->state == C_NEW && !c->too_big) {
            if (c->body.len + *upload_data_size > s->rt->cfg->server.body_bytes) {
                c->too_big = 1;
                sbuf_free(&c->body);
                sbuf_init(&c->body);
            } else if (sbuf_add(&c->body, upload_data, *upload_data_size) != DC_OK) {
                return MHD_NO;
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (c->state == C_NEW)
        dispatch(c);
    if (c->state == C_READY)
        queue_reply(c);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct api_server *s = cls;
    struct conn *c = *con_cls;
    if (!c)
        return;
    *con_cls = NULL;
    if (c->rq.status)
        metrics_observe(s->metrics, c->method, c->rq.route ? c->rq.route->path : NULL,
                        c->rq.status, util_now_us() - c->rq.t0_us, c->rq.refused, c->rq.audited);
    s->inflight--;
    if (c->counted_active)
        s->active--;
    api_stream_detach(c->rq.stream); /* its producer may still be running */
    struct sock *sk = conn_sock(s, mc);
    if (sk) { /* a kept-alive connection's next request has its own deadline */
        sk->since_us = util_now_us();
        sk->receiving = 1;
    }
    json_decref(c->rq.body);
    api_req_clear(&c->rq);
    sbuf_free(&c->body);
    free(c->path);
    free(c);
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct api_server *s = cls;
    struct sock *sk = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (!sk)
            return;
        if (sk->prev)
            sk->prev->next = sk->next;
        else
            s->socks = sk->next;
        if (sk->next)
            sk->next->prev = sk->prev;
        free(sk);
        *socket_context = NULL;
        return;
    }
    const union MHD_ConnectionInfo *ci =
        s->lib->get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    sk = ci ? calloc(1, sizeof(*sk)) : NULL;
    if (!sk)
        return; /* without a context the connection only has the idle timeout */
    sk->fd = ci->connect_fd;
    sk->since_us = util_now_us();
    sk->receiving = 1;
    sk->next = s->socks;
    if (s->socks)
        s->socks->prev = sk;
    s->socks = sk;
    *socket_context = sk;
}

/* Shutting the socket down makes MHD see the end of the stream on its next
 * run and close the connection through its usual path (no reply: the
 * request line may not even be complete). */
static void sweep_slow(struct api_server *s)
{
    int64_t now = util_now_us();
    int64_t limit = s->rt->cfg->server.request_timeout_s * 1000000;
    for (struct sock *sk = s->socks; sk; sk = sk->next) {
        if (sk->receiving && now - sk->since_us > limit) {
            sk->receiving = 0;
            shutdown(sk->fd, SHUT_RDWR);
        }
    }
}

/* ------------------------------------------------------------------------
 * Loop glue.
 */
static void on_mhd_fd(struct loop *l, int fd, int events, void *arg)
{
    mhd_pump(arg);
}

static void on_tick(struct loop *l, uint64_t id, void *arg)
{
    struct api_server *s = arg;
    sweep_slow(s);
    mhd_pump(s);
    if (s->draining && (s->inflight == 0 || util_now_us() > s->drain_deadline_us))
        loop_stop(l);
}

static void on_signal(struct loop *l, int signo, void *arg)
{
    struct api_server *s = arg;
    if (s->draining) {
        loop_stop(l); /* a second signal: stop now */
        return;
    }
    s->draining = 1;
    s->drain_deadline_us = util_now_us() + (int64_t)DRAIN_MS * 1000;
    MHD_socket ls = s->lib->quiesce_daemon(s->mhd);
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    if (s->inflight == 0)
        loop_stop(l);
}

/* ------------------------------------------------------------------------
 * Lifetime.
 */
int server_new(struct runtime *rt, const struct api_server_opts *o, struct api_server **out,
               char *err, size_t errlen)
{
    int rc;
    *out = NULL;
    struct api_server *s = calloc(1, sizeof(*s));
    if (!s)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    s->rt = rt;
    s->epoll_fd = -1;
    s->dev = o->dev;
    s->workers = o->workers > 0 ? o->workers : 4;
    const char *listen = o->listen ? o->listen
                         : rt->cfg->server.listen ? rt->cfg->server.listen
                                                  : DEFAULT_LISTEN;
    rc = parse_listen(listen, &s->addr, &s->addrlen, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    if (o->dev && !is_loopback(&s->addr)) {
        rc = util_err(err, errlen, DC_EINVAL,
                      "E-SERVE-DEV-NONLOCAL: --dev serves without authentication and is only "
                      "allowed on a loopback address (127.0.0.1, ::1), not '%s'",
                      listen);
        goto cleanup;
    }
    if (!o->dev && rt->cfg->server.ntokens == 0) {
        rc = util_err(err, errlen, DC_EINVAL,
                      "E-SERVE-NO-TOKENS: no bearer tokens are configured; add server.tokens "
                      "(see docs/CONFIG.md) or use --dev on a loopback address");
        goto cleanup;
    }
    const char *p = o->principal ? o->principal
                    : rt->cfg->default_principal ? rt->cfg->default_principal
                                                 : "local";
    s->principal = strdup(p);
    if (!s->principal || router_new(&s->router) != DC_OK || metrics_new(&s->metrics) != DC_OK) {
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = routes_add_builtin(s->router);
    if (rc == DC_OK)
        rc = routes_add_mcp(s->router);
    if (rc == DC_OK)
        rc = jobs_new(rt, &s->jobs);
    if (rc == DC_OK)
        rc = jobs_add_routes(s->router, s->jobs);
    if (rc != DC_OK) {
        util_err(err, errlen, rc, "cannot build the route table");
        goto cleanup;
    }
    *out = s;
    s = NULL;
cleanup:
    server_free(s);
    return rc;
}

struct router *server_router(struct api_server *s)
{
    return s->router;
}

int server_port(const struct api_server *s)
{
    return s->port;
}

int server_start(struct api_server *s, char *err, size_t errlen)
{
    int rc = DC_OK;
    /* Signals before the pool, so its threads inherit the blocked mask. */
    if (loop_new(&s->loop) != DC_OK || loop_handle_signals(s->loop, on_signal, s) != DC_OK ||
        pool_new(s->loop, s->workers, &s->pool) != DC_OK)
        return util_err(err, errlen, DC_EIO, "cannot start the event loop and worker pool");
    jobs_set_pool(s->jobs, s->pool);
    s->lib = netlib_mhd(err, errlen);
    if (!s->lib)
        return DC_EIO;
    const struct dc_config *cfg = s->rt->cfg;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    if (s->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->mhd = s->lib->start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&s->addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, s, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->server.timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)cfg->server.header_bytes, MHD_OPTION_CONNECTION_LIMIT, 4096u,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    if (!s->mhd) {
        char host[128] = "?";
        getnameinfo((struct sockaddr *)&s->addr, s->addrlen, host, sizeof(host), NULL, 0,
                    NI_NUMERICHOST);
        return util_err(err, errlen, DC_EIO,
                        "E-SERVE-BIND: cannot listen on %s port %d (in use, or not an address "
                        "of this machine)",
                        host, ntohs(((struct sockaddr_in *)&s->addr)->sin_port));
    }
    const union MHD_DaemonInfo *pi = s->lib->get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    const union MHD_DaemonInfo *ei = s->lib->get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    if (!pi || !ei)
        return util_err(err, errlen, DC_EIO, "cannot query the HTTP daemon");
    s->port = pi->port;
    rc = loop_add_fd(s->loop, ei->epoll_fd, LOOP_READ, on_mhd_fd, s);
    if (rc == DC_OK)
        s->epoll_fd = ei->epoll_fd;
    uint64_t tid;
    if (rc == DC_OK)
        rc = loop_add_timer(s->loop, TICK_MS, 1, on_tick, s, &tid);
    if (rc != DC_OK)
        return util_err(err, errlen, rc, "cannot watch the HTTP daemon");
    return DC_OK;
}

int server_run(struct api_server *s)
{
    int rc = loop_run(s->loop);
    /* Work still running finishes and its connections are resumed, so the
     * daemon stops with none suspended; a profile stops at its next table. */
    jobs_stop(s->jobs);
    pool_free(s->pool);
    s->pool = NULL;
    mhd_pump(s);
    return rc;
}

char *server_metrics_text(struct api_server *s, size_t *len)
{
    metrics_set_inflight(s->metrics, s->inflight);
    return metrics_render(s->metrics, len);
}

void server_free(struct api_server *s)
{
    if (!s)
        return;
    jobs_stop(s->jobs);
    pool_free(s->pool);
    jobs_free(s->jobs); /* after the pool: no worker still runs a job */
    if (s->epoll_fd >= 0)
        loop_del_fd(s->loop, s->epoll_fd);
    if (s->mhd) {
        s->lib->run(s->mhd);
        s->lib->stop_daemon(s->mhd);
    }
    loop_free(s->loop);
    metrics_free(s->metrics);
    router_free(s->router);
    for (size_t i = 0; i < s->nrates; i++)
        free(s->rates[i].principal);
    free(s->rates);
    free(s->principal);
    free(s);
}
