/*
 * ipc - the message codec between the core and a sandbox worker
 * (core/sandbox.c, core/worker/). One SOCK_SEQPACKET packet is one JSON
 * object of at most IPC_MAX_MSG bytes carrying {"v":1,"type":...}; the
 * decoder checks the version, the type, and every member's presence and
 * type (unknown members are refused) before anything reads the message.
 * It owns encoding and strict decoding only. It never trusts a message it
 * has not decoded, and never decides what to do with a bad one: callers
 * kill the peer (the core) or exit (the worker).
 */
#ifndef DC_IPC_H
#define DC_IPC_H

#include <stddef.h>

#include <datachat/value.h>
#include <jansson.h>

#define IPC_VERSION 1
#define IPC_MAX_MSG (256u << 10) /* bytes in one packet; fits default socket buffers */

enum ipc_type {
    IPC_HELLO = 1,  /* core -> worker: plugin, tool, with, mem_mb, cpu_s[, lua, lua_lib,
                     * mode] (lua: plugin is a Lua script run by core/luart.c,
                     * cited by this name; lua_lib: its helper library; mode:
                     * "tool" (default), "stage" or "describe", see below) */
    IPC_READY = 2,  /* worker -> core: name (the plugin's)[, outcomes, options,
                     * defines] (a Lua script's declarations) */
    IPC_CALL = 3,   /* core -> worker: tool, args (object), ctx (string map) */
    IPC_QUERY = 4,  /* worker -> core: id, db (string|null), sql, params */
    IPC_ROWS = 5,   /* core -> worker: id, cols, rows, truncated | id, error */
    IPC_RESULT = 6, /* worker -> core: result (JSON text | null) */
    IPC_ERROR = 7,  /* worker -> core: code, message */
    IPC_LOG = 8,    /* worker -> core: level (enum dc_log_level), message */
    IPC_HTTP = 9,   /* worker -> core: id, method, url, body (string|null)[, headers] */
    IPC_HTTP_REPLY = 10, /* core -> worker: id, status, body | id, error */
    IPC_GET = 11,   /* worker -> core: id, key (a stage reads the request's context) */
    IPC_VALUE = 12, /* core -> worker: id, value (string|null) | id, error */
    IPC_EMIT = 13,  /* worker -> core: key, value (string|null); dc.emit, no reply */
    IPC_TRACE = 14, /* worker -> core: message; dc.trace, no reply */
    IPC_STAGE = 15, /* core -> worker: stage, ctx (string map); runs run(ctx) */
    IPC_OUTCOME = 16 /* worker -> core: outcome (the label run(ctx) returned) */
};

/* The worker's modes (hello "mode"): "tool" serves calls; "stage" serves a
 * Lua stage's runs; "describe" runs a Lua script's top level under the
 * filter, answers ready with its declarations and takes no calls (the
 * config check of a sandboxed script, so its code never runs in the core). */
#define IPC_MODE_TOOL "tool"
#define IPC_MODE_STAGE "stage"
#define IPC_MODE_DESCRIBE "describe"

/* Which side may send a type: a worker that sends "call" is as malformed as
 * one that sends bad JSON. */
enum ipc_dir { IPC_TO_WORKER = 1, IPC_TO_CORE = 2 };

/* Decodes and checks one packet sent toward `dir`. On success *out is the
 * message (caller decrefs) and *type its enum ipc_type. DC_EINVAL with the
 * reason in err for anything malformed; DC_ELIMIT when n > IPC_MAX_MSG. */
int ipc_decode(const void *buf, size_t n, int dir, json_t **out, int *type, char *err,
               size_t errlen);

/* A new message {"v":1,"type":name}; NULL on OOM. */
json_t *ipc_msg_new(int type);
const char *ipc_type_name(int type);

/* A cell or parameter as JSON: null, integer, real, true/false, a string for
 * DC_TEXT, and [type, text] for the other text-like types (blobs as hex). */
json_t *ipc_value_json(const struct dc_value *v);
/* The reverse; text points into j (or into *owned for blobs, caller frees). */
int ipc_value_from(const json_t *j, struct dc_value *out, char **owned);

struct dc_result;
/* Adds cols/rows/truncated of r to the rows message m. */
int ipc_rows_put(json_t *m, const struct dc_result *r);
/* A new result from a decoded rows message (without "error"). */
int ipc_rows_get(const json_t *m, struct dc_result **out, char *err, size_t errlen);

/* Sends m as one packet (never raising SIGPIPE). DC_ELIMIT when the text is
 * over IPC_MAX_MSG, DC_EIO when the peer is gone. */
int ipc_send(int fd, const json_t *m, char *err, size_t errlen);
/* Receives one packet into buf (cap >= IPC_MAX_MSG + 1), waiting at most
 * timeout_ms (< 0: forever). DC_ETIMEOUT, DC_ELIMIT (oversized, *n holds
 * the real size), DC_EIO (peer closed or error). */
int ipc_recv(int fd, char *buf, size_t cap, int timeout_ms, size_t *n, char *err,
             size_t errlen);

#endif
