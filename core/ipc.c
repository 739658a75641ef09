#include "ipc.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "result.h"
#include "util.h"

#define IPC_MAX_COLS 4096
#define IPC_MAX_PARAMS 1024
#define IPC_MAX_LIST 256 /* outcome labels, declared options, defined functions */

enum kind { K_STR, K_STR_NULL, K_INT, K_BOOL, K_OBJ, K_STRMAP, K_WITH, K_PARAMS, K_COLS,
            K_ROWS, K_ERROBJ, K_STRLIST, K_OPTDECL };

struct member {
    const char *key;
    int kind;
    int required;
};

struct spec {
    int type;
    const char *name;
    int dir;
    struct member m[9];
};

static const struct spec specs[] = {
    {IPC_HELLO, "hello", IPC_TO_WORKER,
     {{"plugin", K_STR, 1}, {"tool", K_STR, 1}, {"with", K_WITH, 1}, {"mem_mb", K_INT, 1},
      {"cpu_s", K_INT, 1}, {"lua", K_STR, 0}, {"lua_lib", K_STR_NULL, 0}, {"mode", K_STR, 0},
      {NULL, 0, 0}}},
    {IPC_READY, "ready", IPC_TO_CORE,
     {{"name", K_STR, 1}, {"outcomes", K_STRLIST, 0}, {"options", K_OPTDECL, 0},
      {"defines", K_STRLIST, 0}, {NULL, 0, 0}}},
    {IPC_CALL, "call", IPC_TO_WORKER,
     {{"tool", K_STR, 1}, {"args", K_OBJ, 1}, {"ctx", K_STRMAP, 1}, {NULL, 0, 0}}},
    {IPC_QUERY, "query", IPC_TO_CORE,
     {{"id", K_INT, 1}, {"db", K_STR_NULL, 1}, {"sql", K_STR, 1}, {"params", K_PARAMS, 1},
      {NULL, 0, 0}}},
    {IPC_ROWS, "rows", IPC_TO_WORKER,
     {{"id", K_INT, 1}, {"cols", K_COLS, 0}, {"rows", K_ROWS, 0}, {"truncated", K_BOOL, 0},
      {"error", K_ERROBJ, 0}, {NULL, 0, 0}}},
    {IPC_RESULT, "result", IPC_TO_CORE, {{"result", K_STR_NULL, 1}, {NULL, 0, 0}}},
    {IPC_ERROR, "error", IPC_TO_CORE,
     {{"code", K_STR, 1}, {"message", K_STR, 1}, {NULL, 0, 0}}},
    {IPC_LOG, "log", IPC_TO_CORE, {{"level", K_INT, 1}, {"message", K_STR, 1}, {NULL, 0, 0}}},
    {IPC_HTTP, "http", IPC_TO_CORE,
     {{"id", K_INT, 1}, {"method", K_STR, 1}, {"url", K_STR, 1}, {"body", K_STR_NULL, 1},
      {"headers", K_STRLIST, 0}, {NULL, 0, 0}}},
    {IPC_HTTP_REPLY, "http_reply", IPC_TO_WORKER,
     {{"id", K_INT, 1}, {"status", K_INT, 0}, {"body", K_STR, 0}, {"error", K_ERROBJ, 0},
      {NULL, 0, 0}}},
    {IPC_GET, "get", IPC_TO_CORE, {{"id", K_INT, 1}, {"key", K_STR, 1}, {NULL, 0, 0}}},
    {IPC_VALUE, "value", IPC_TO_WORKER,
     {{"id", K_INT, 1}, {"value", K_STR_NULL, 0}, {"error", K_ERROBJ, 0}, {NULL, 0, 0}}},
    {IPC_EMIT, "emit", IPC_TO_CORE, {{"key", K_STR, 1}, {"value", K_STR_NULL, 1}, {NULL, 0, 0}}},
    {IPC_TRACE, "trace", IPC_TO_CORE, {{"message", K_STR, 1}, {NULL, 0, 0}}},
    {IPC_STAGE, "stage", IPC_TO_WORKER, {{"stage", K_STR, 1}, {"ctx", K_STRMAP, 1}, {NULL, 0, 0}}},
    {IPC_OUTCOME, "outcome", IPC_TO_CORE, {{"outcome", K_STR, 1}, {NULL, 0, 0}}},
};

static const struct spec *spec_for_name(const char *name)
{
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
        if (strcmp(specs[i].name, name) == 0)
            return &specs[i];
    return NULL;
}

static const struct spec *spec_for_type(int type)
{
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
        if (specs[i].type == type)
            return &specs[i];
    return NULL;
}

const char *ipc_type_name(int type)
{
    const struct spec *s = spec_for_type(type);
    return s ? s->name : "unknown";
}

static int is_hex(const char *s, size_t n)
{
    if (n % 2)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdefABCDEF", s[i]) || s[i] == '\0')
            return 0;
    return 1;
}

/* The tagged form [type, text] exists only for string-carried types. */
static int tagged_type_ok(json_int_t t)
{
    return t == DC_BLOB || t == DC_DATE || t == DC_TIMESTAMP || t == DC_NUMERIC || t == DC_JSON;
}

static int cell_ok(const json_t *c)
{
    if (json_is_null(c) || json_is_integer(c) || json_is_real(c) || json_is_boolean(c) ||
        json_is_string(c))
        return 1;
    if (!json_is_array(c) || json_array_size(c) != 2)
        return 0;
    const json_t *t = json_array_get(c, 0), *s = json_array_get(c, 1);
    if (!json_is_integer(t) || !json_is_string(s) || !tagged_type_ok(json_integer_value(t)))
        return 0;
    if (json_integer_value(t) == DC_BLOB)
        return is_hex(json_string_value(s), json_string_length(s));
    return 1;
}

static int member_ok(const json_t *v, int kind, size_t ncols, const char **why)
{
    size_t i;
    const json_t *x;
    const char *k;
    switch (kind) {
    case K_STR:
        *why = "must be a string";
        return json_is_string(v);
    case K_STR_NULL:
        *why = "must be a string or null";
        return json_is_string(v) || json_is_null(v);
    case K_INT:
        *why = "must be a non-negative integer";
        return json_is_integer(v) && json_integer_value(v) >= 0;
    case K_BOOL:
        *why = "must be true or false";
        return json_is_boolean(v);
    case K_OBJ:
        *why = "must be an object";
        return json_is_object(v);
    case K_STRMAP:
        *why = "must be an object of strings";
        if (!json_is_object(v))
            return 0;
        json_object_foreach((json_t *)v, k, x)
            if (!json_is_string(x))
                return 0;
        return 1;
    case K_WITH:
        *why = "must be an object of strings or lists of strings";
        if (!json_is_object(v))
            return 0;
        json_object_foreach((json_t *)v, k, x) {
            if (json_is_string(x))
                continue;
            if (!json_is_array(x))
                return 0;
            const json_t *y;
            json_array_foreach(x, i, y)
                if (!json_is_string(y))
                    return 0;
        }
        return 1;
    case K_PARAMS:
        *why = "must be a list of at most 1024 values";
        if (!json_is_array(v) || json_array_size(v) > IPC_MAX_PARAMS)
            return 0;
        json_array_foreach(v, i, x)
            if (!cell_ok(x))
                return 0;
        return 1;
    case K_COLS:
        *why = "must be a list of at most 4096 [name, type] pairs";
        if (!json_is_array(v) || json_array_size(v) > IPC_MAX_COLS)
            return 0;
        json_array_foreach(v, i, x) {
            const json_t *t = json_array_get(x, 1);
            if (!json_is_array(x) || json_array_size(x) != 2 ||
                !json_is_string(json_array_get(x, 0)) || !json_is_integer(t) ||
                json_integer_value(t) < DC_NULL || json_integer_value(t) > DC_JSON)
                return 0;
        }
        return 1;
    case K_ROWS:
        *why = "must be a list of rows as wide as cols";
        if (!json_is_array(v))
            return 0;
        json_array_foreach(v, i, x) {
            if (!json_is_array(x) || json_array_size(x) != ncols)
                return 0;
            size_t j;
            const json_t *c;
            json_array_foreach(x, j, c)
                if (!cell_ok(c))
                    return 0;
        }
        return 1;
    case K_ERROBJ:
        *why = "must be {code, message} strings";
        return json_is_object(v) && json_object_size(v) == 2 &&
               json_is_string(json_object_get(v, "code")) &&
               json_is_string(json_object_get(v, "message"));
    case K_STRLIST:
        *why = "must be a list of at most 256 strings";
        if (!json_is_array(v) || json_array_size(v) > IPC_MAX_LIST)
            return 0;
        json_array_foreach(v, i, x)
            if (!json_is_string(x))
                return 0;
        return 1;
    case K_OPTDECL:
        *why = "must be a list of at most 256 {name, type, required, default, help}";
        if (!json_is_array(v) || json_array_size(v) > IPC_MAX_LIST)
            return 0;
        json_array_foreach(v, i, x) {
            const json_t *t = json_object_get(x, "type"), *d = json_object_get(x, "default"),
                         *h = json_object_get(x, "help");
            if (!json_is_object(x) || json_object_size(x) != 5 ||
                !json_is_string(json_object_get(x, "name")) || !json_is_integer(t) ||
                json_integer_value(t) < 0 || json_integer_value(t) > 64 ||
                !json_is_boolean(json_object_get(x, "required")) ||
                !(json_is_string(d) || json_is_null(d)) || !(json_is_string(h) || json_is_null(h)))
                return 0;
        }
        return 1;
    default:
        *why = "has an unknown kind";
        return 0;
    }
}

static int check_spec(const json_t *o, const struct spec *s, char *err, size_t errlen)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        if (strcmp(key, "v") == 0 || strcmp(key, "type") == 0)
            continue;
        int known = 0;
        for (const struct member *m = s->m; m->key; m++)
            known |= strcmp(m->key, key) == 0;
        if (!known)
            return util_err(err, errlen, DC_EINVAL, "%s message: unknown member '%.64s'",
                            s->name, key);
    }
    const json_t *cols = json_object_get(o, "cols");
    size_t ncols = json_is_array(cols) ? json_array_size(cols) : 0;
    for (const struct member *m = s->m; m->key; m++) {
        v = json_object_get(o, m->key);
        if (!v) {
            if (m->required)
                return util_err(err, errlen, DC_EINVAL, "%s message: '%s' is missing", s->name,
                                m->key);
            continue;
        }
        const char *why = "";
        if (!member_ok(v, m->kind, ncols, &why))
            return util_err(err, errlen, DC_EINVAL, "%s message: '%s' %s", s->name, m->key, why);
    }
    if (s->type == IPC_ROWS) {
        int has_err = json_object_get(o, "error") != NULL;
        int has_rows = cols || json_object_get(o, "rows") || json_object_get(o, "truncated");
        if (has_err == has_rows || (!has_err && (!cols || !json_object_get(o, "rows") ||
                                                 !json_object_get(o, "truncated"))))
            return util_err(err, errlen, DC_EINVAL,
                            "rows message: needs either error or all of cols, rows, truncated");
    }
    if (s->type == IPC_VALUE &&
        (json_object_get(o, "error") != NULL) == (json_object_get(o, "value") != NULL))
        return util_err(err, errlen, DC_EINVAL, "value message: needs either value or error");
    if (s->type == IPC_HTTP_REPLY) {
        int has_err = json_object_get(o, "error") != NULL;
        int has_status = json_object_get(o, "status") != NULL;
        if (has_err == has_status || has_status != (json_object_get(o, "body") != NULL))
            return util_err(err, errlen, DC_EINVAL,
                            "http_reply message: needs either error or both status and body");
    }
    return DC_OK;
}

int ipc_decode(const void *buf, size_t n, int dir, json_t **out, int *type, char *err,
               size_t errlen)
{
    *out = NULL;
    *type = 0;
    if (n > IPC_MAX_MSG)
        return util_err(err, errlen, DC_ELIMIT, "message of %zu bytes is over the %u-byte limit",
                        n, IPC_MAX_MSG);
    json_error_t jerr;
    json_t *o = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &jerr);
    int rc = DC_OK;
    if (!o) {
        rc = util_err(err, errlen, DC_EINVAL, "message is not JSON: %s", jerr.text);
        goto cleanup;
    }
    if (!json_is_object(o)) {
        rc = util_err(err, errlen, DC_EINVAL, "message is not a JSON object");
        goto cleanup;
    }
    const json_t *v = json_object_get(o, "v");
    if (!json_is_integer(v) || json_integer_value(v) != IPC_VERSION) {
        rc = util_err(err, errlen, DC_EINVAL, "message version must be {\"v\":%d}", IPC_VERSION);
        goto cleanup;
    }
    const json_t *t = json_object_get(o, "type");
    const struct spec *s = json_is_string(t) ? spec_for_name(json_string_value(t)) : NULL;
    if (!s) {
        rc = util_err(err, errlen, DC_EINVAL, "message has no known type");
        goto cleanup;
    }
    if (s->dir != dir) {
        rc = util_err(err, errlen, DC_EINVAL, "a %s message may not be sent this way", s->name);
        goto cleanup;
    }
    rc = check_spec(o, s, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    *type = s->type;
    *out = o;
    o = NULL;
cleanup:
    json_decref(o);
    return rc;
}

json_t *ipc_msg_new(int type)
{
    const struct spec *s = spec_for_type(type);
    if (!s)
        return NULL;
    return json_pack("{s:i, s:s}", "v", IPC_VERSION, "type", s->name);
}

json_t *ipc_value_json(const struct dc_value *v)
{
    static const char hex[] = "0123456789abcdef";
    switch (v->type) {
    case DC_NULL: return json_null();
    case DC_INT: return json_integer(v->v.i);
    case DC_REAL: return json_real(v->v.d);
    case DC_BOOL: return json_boolean(v->v.i != 0);
    case DC_TEXT: return json_stringn(v->v.s.p ? v->v.s.p : "", v->v.s.n);
    case DC_BLOB: {
        char *h = malloc(v->v.s.n * 2 + 1);
        if (!h)
            return NULL;
        for (size_t i = 0; i < v->v.s.n; i++) {
            h[2 * i] = hex[(unsigned char)v->v.s.p[i] >> 4];
            h[2 * i + 1] = hex[(unsigned char)v->v.s.p[i] & 15];
        }
        h[v->v.s.n * 2] = '\0';
        json_t *j = json_pack("[i, s]", DC_BLOB, h);
        free(h);
        return j;
    }
    case DC_DATE:
    case DC_TIMESTAMP:
    case DC_NUMERIC:
    case DC_JSON:
        return json_pack("[i, s%]", v->type, v->v.s.p ? v->v.s.p : "", v->v.s.n);
    default:
        return NULL;
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return c - 'A' + 10;
}

int ipc_value_from(const json_t *j, struct dc_value *out, char **owned)
{
    *owned = NULL;
    memset(out, 0, sizeof(*out));
    if (!cell_ok(j))
        return DC_EINVAL;
    if (json_is_null(j)) {
        out->type = DC_NULL;
    } else if (json_is_integer(j)) {
        *out = dc_value_int(json_integer_value(j));
    } else if (json_is_real(j)) {
        *out = dc_value_real(json_real_value(j));
    } else if (json_is_boolean(j)) {
        out->type = DC_BOOL;
        out->v.i = json_is_true(j);
    } else if (json_is_string(j)) {
        *out = dc_value_text(json_string_value(j), json_string_length(j));
    } else {
        const json_t *s = json_array_get(j, 1);
        out->type = (int)json_integer_value(json_array_get(j, 0));
        out->v.s.p = json_string_value(s);
        out->v.s.n = json_string_length(s);
        if (out->type == DC_BLOB) {
            size_t n = out->v.s.n / 2;
            char *b = malloc(n ? n : 1);
            if (!b)
                return DC_ENOMEM;
            for (size_t i = 0; i < n; i++)
                b[i] = (char)(hexval(out->v.s.p[2 * i]) << 4 | hexval(out->v.s.p[2 * i + 1]));
            out->v.s.p = b;
            out->v.s.n = n;
            *owned = b;
        }
    }
    return DC_OK;
}

int ipc_rows_put(json_t *m, const struct dc_result *r)
{
    json_t *cols = json_array(), *rows = json_array();
    int rc = DC_ENOMEM;
    if (!cols || !rows)
        goto cleanup;
    size_t nc = result_ncols(r), nr = result_nrows(r);
    for (size_t c = 0; c < nc; c++)
        if (json_array_append_new(cols, json_pack("[s, i]", result_col_name(r, c),
                                                  result_col_type(r, c))) != 0)
            goto cleanup;
    for (size_t i = 0; i < nr; i++) {
        json_t *row = json_array();
        if (json_array_append_new(rows, row) != 0)
            goto cleanup;
        for (size_t c = 0; c < nc; c++)
            if (json_array_append_new(row, ipc_value_json(result_get(r, i, c))) != 0)
                goto cleanup;
    }
    if (json_object_set(m, "cols", cols) != 0 || json_object_set(m, "rows", rows) != 0 ||
        json_object_set_new(m, "truncated", json_boolean(result_truncated(r))) != 0)
        goto cleanup;
    rc = DC_OK;
cleanup:
    json_decref(cols);
    json_decref(rows);
    return rc;
}

int ipc_rows_get(const json_t *m, struct dc_result **out, char *err, size_t errlen)
{
    *out = NULL;
    const json_t *cols = json_object_get(m, "cols"), *rows = json_object_get(m, "rows");
    size_t nc = json_array_size(cols);
    struct dc_value *vals = calloc(nc ? nc : 1, sizeof(*vals));
    char **owned = calloc(nc ? nc : 1, sizeof(*owned));
    struct dc_result *r = result_new();
    int rc = DC_ENOMEM;
    if (!vals || !owned || !r) {
        util_err(err, errlen, rc, "out of memory");
        goto cleanup;
    }
    size_t i;
    const json_t *x;
    json_array_foreach(cols, i, x) {
        rc = result_add_column(r, json_string_value(json_array_get(x, 0)),
                               (int)json_integer_value(json_array_get(x, 1)), NULL);
        if (rc != DC_OK) {
            util_err(err, errlen, rc, "rows message: column %zu refused", i);
            goto cleanup;
        }
    }
    json_array_foreach(rows, i, x) {
        if (json_array_size(x) != nc) {
            rc = util_err(err, errlen, DC_EINVAL, "rows message: row %zu has the wrong width", i);
            goto cleanup;
        }
        for (size_t c = 0; c < nc; c++) {
            rc = ipc_value_from(json_array_get(x, c), &vals[c], &owned[c]);
            if (rc != DC_OK) {
                util_err(err, errlen, rc, "rows message: bad value in row %zu", i);
                goto cleanup;
            }
        }
        rc = result_append_row(r, vals, nc);
        for (size_t c = 0; c < nc; c++) {
            free(owned[c]);
            owned[c] = NULL;
        }
        if (rc != DC_OK) {
            util_err(err, errlen, rc, "rows message: row %zu refused", i);
            goto cleanup;
        }
    }
    result_set_truncated(r, json_is_true(json_object_get(m, "truncated")));
    *out = r;
    r = NULL;
    rc = DC_OK;
cleanup:
    for (size_t c = 0; owned && c < nc; c++)
        free(owned[c]);
    free(owned);
    free(vals);
    result_free(r);
    return rc;
}

int ipc_send(int fd, const json_t *m, char *err, size_t errlen)
{
    char *text = json_dumps(m, JSON_COMPACT);
    int rc = DC_OK;
    if (!text)
        return util_err(err, errlen, DC_ENOMEM, "cannot encode a %s message", "IPC");
    size_t n = strlen(text);
    if (n > IPC_MAX_MSG) {
        rc = util_err(err, errlen, DC_ELIMIT, "message of %zu bytes is over the %u-byte limit", n,
                      IPC_MAX_MSG);
        goto cleanup;
    }
    ssize_t w;
    do
        w = send(fd, text, n, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0 || (size_t)w != n)
        rc = util_err(err, errlen, DC_EIO, "cannot send to the peer: %s",
                      w < 0 ? strerror(errno) : "short write");
cleanup:
    free(text);
    return rc;
}

int ipc_recv(int fd, char *buf, size_t cap, int timeout_ms, size_t *n, char *err, size_t errlen)
{
    *n = 0;
    if (timeout_ms >= 0) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr;
        do
            pr = poll(&p, 1, timeout_ms);
        while (pr < 0 && errno == EINTR);
        if (pr < 0)
            return util_err(err, errlen, DC_EIO, "poll: %s", strerror(errno));
        if (pr == 0)
            return util_err(err, errlen, DC_ETIMEOUT, "no message within %d ms", timeout_ms);
    }
    ssize_t r;
    do
        r = recv(fd, buf, cap, MSG_TRUNC);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return util_err(err, errlen, DC_EIO, "receive: %s", strerror(errno));
    if (r == 0)
        return util_err(err, errlen, DC_EIO, "the peer closed the connection");
    *n = (size_t)r;
    if ((size_t)r > cap || (size_t)r > IPC_MAX_MSG)
        return util_err(err, errlen, DC_ELIMIT, "message of %zd bytes is over the %u-byte limit",
                        r, IPC_MAX_MSG);
    return DC_OK;
}
