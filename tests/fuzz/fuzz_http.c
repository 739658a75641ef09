/* Fuzz target: the HTTP API's request parsing (core/api/http.c and the
 * router) on arbitrary bytes. The first line is a request line
 * "METHOD PATH" and also an Authorization header value; the rest is a
 * request body, checked against a field table like chat's. Parsing must
 * never crash or leak, every refusal must be a 4xx with an E-API-* code
 * and a JSON rendering, and an accepted body must be an object holding
 * only declared fields of the declared types. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/value.h>

#include "api/http.h"
#include "api/router.h"
#include "api/routes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct api_field fields[] = {
    {"message", API_T_STRING, 1, NULL}, {"stream", API_T_BOOL, 0, NULL},
    {"limit", API_T_INT, 0, NULL},      {"arguments", API_T_OBJECT, 0, NULL},
    {"extra", API_T_ANY, 0, NULL},      {NULL, 0, 0, NULL},
};

static const char *const patterns[] = {"/api/v1/chat", "/api/v1/approvals/{id}",
                                       "/api/v1/profiling/jobs/{id}/progress", "/{a}/{b}", "/",
                                       NULL};

static void check_error(const struct api_error *e)
{
    if (e->status < 400 || e->status > 499 || strncmp(e->code, "E-API-", 6) != 0)
        abort();
    json_t *j = api_error_json(e);
    if (!j)
        abort();
    json_decref(j);
}

static int dummy(struct api_req *rq)
{
    return API_DONE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t llen = nl ? (size_t)(nl - data) : size;
    char *line = malloc(llen + 1);
    if (!line)
        return 0;
    memcpy(line, data, llen);
    line[llen] = '\0';
    const char *body = nl ? (const char *)nl + 1 : "";
    size_t blen = nl ? size - llen - 1 : 0;

    const char *tok;
    size_t tlen;
    if (api_bearer(line, &tok, &tlen) && (tlen == 0 || tok < line || tok + tlen > line + llen))
        abort();

    char *sp = strchr(line, ' ');
    const char *method = line, *path = sp ? sp + 1 : "/";
    if (sp)
        *sp = '\0';
    struct api_params p;
    for (size_t i = 0; patterns[i]; i++)
        if (api_path_match(patterns[i], path, &p) && p.n > API_MAX_PARAMS)
            abort();

    struct router *r = NULL;
    if (router_new(&r) == DC_OK && routes_add_builtin(r) == DC_OK) {
        struct api_route extra = {"POST", "/api/v1/approvals/{id}", 1, fields, "x", NULL,
                                  dummy, NULL};
        router_add(r, &extra);
        const struct api_route *rt;
        struct api_error e;
        char allow[64];
        if (router_match(r, method, path, &rt, &p, &e, allow, sizeof(allow)) != DC_OK) {
            if (e.status != 404 && e.status != 405)
                abort();
            check_error(&e);
        } else if (!rt || strcmp(rt->method, method) != 0) {
            abort();
        }
        json_t *doc = router_openapi(r, "0");
        if (!doc)
            abort();
        json_decref(doc);
    }
    router_free(r);

    json_t *o = NULL;
    struct api_error e;
    if (api_body_parse(body, blen, fields, &o, &e) == DC_OK) {
        if (!json_is_object(o) || !json_is_string(json_object_get(o, "message")))
            abort();
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v) {
            int known = 0;
            for (size_t i = 0; fields[i].name; i++)
                known |= strcmp(fields[i].name, k) == 0;
            if (!known)
                abort();
        }
        json_decref(o);
    } else {
        if (o)
            abort();
        check_error(&e);
    }
    free(line);
    return 0;
}
