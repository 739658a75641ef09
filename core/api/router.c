#include "api/router.h"

#include <stdlib.h>
#include <string.h>

#include <datachat/value.h>

#include "api/stream.h"

struct router {
    struct api_route *routes;
    size_t n, cap;
};

int router_new(struct router **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? DC_OK : DC_ENOMEM;
}

void router_free(struct router *r)
{
    if (!r)
        return;
    free(r->routes);
    free(r);
}

int router_add(struct router *r, const struct api_route *route)
{
    if (!route->method || !route->path || route->path[0] != '/' || !route->handler)
        return DC_EINVAL;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->routes[i].method, route->method) == 0 &&
            strcmp(r->routes[i].path, route->path) == 0)
            return DC_EINVAL;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct api_route *nr = realloc(r->routes, cap * sizeof(*nr));
        if (!nr)
            return DC_ENOMEM;
        r->routes = nr;
        r->cap = cap;
    }
    r->routes[r->n++] = *route;
    return DC_OK;
}

size_t router_count(const struct router *r)
{
    return r ? r->n : 0;
}

const struct api_route *router_at(const struct router *r, size_t i)
{
    return r && i < r->n ? &r->routes[i] : NULL;
}

int router_match(const struct router *r, const char *method, const char *path,
                 const struct api_route **out, struct api_params *params, struct api_error *e,
                 char *allow, size_t allowlen)
{
    size_t ao = 0;
    *out = NULL;
    if (allowlen)
        allow[0] = '\0';
    for (size_t i = 0; i < r->n; i++) {
        struct api_params p;
        if (!api_path_match(r->routes[i].path, path, &p))
            continue;
        if (strcmp(r->routes[i].method, method) == 0) {
            *out = &r->routes[i];
            *params = p;
            return DC_OK;
        }
        if (ao + strlen(r->routes[i].method) + 3 < allowlen) {
            memcpy(allow + ao, ao ? ", " : "", ao ? 2 : 0);
            ao += ao ? 2 : 0;
            strcpy(allow + ao, r->routes[i].method);
            ao += strlen(r->routes[i].method);
        }
    }
    if (ao)
        api_error_set(e, 405, "E-API-METHOD", NULL, "%s is not allowed on this path; use %s",
                      method, allow);
    else
        api_error_set(e, 404, "E-API-NOT-FOUND", NULL,
                      "no such route; GET /api/v1/openapi.json lists them all");
    return DC_ENOTFOUND;
}

static char *lower_dup(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return d;
}

static json_t *body_schema(const struct api_field *f)
{
    json_t *props = json_object(), *req = json_array();
    for (size_t i = 0; f[i].name; i++) {
        json_t *p = json_object();
        const char *t = api_ftype_schema(f[i].type);
        if (t)
            json_object_set_new(p, "type", json_string(t));
        if (f[i].description)
            json_object_set_new(p, "description", json_string(f[i].description));
        json_object_set_new(props, f[i].name, p);
        if (f[i].required)
            json_array_append_new(req, json_string(f[i].name));
    }
    return json_pack("{s:s, s:o, s:o, s:b}", "type", "object", "properties", props, "required",
                     req, "additionalProperties", 0);
}

static json_t *error_response(const char *what)
{
    return json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", what, "content",
                     "application/json", "schema", "$ref", "#/components/schemas/Error");
}

const struct api_field api_raw_body[] = {{NULL, 0, 0, NULL}};

json_t *router_openapi(const struct router *r, const char *version)
{
    json_t *paths = json_object();
    for (size_t i = 0; paths && i < r->n; i++) {
        const struct api_route *rt = &r->routes[i];
        json_t *item = json_object_get(paths, rt->path);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, rt->path, item);
        }
        json_t *op = json_object(), *responses = json_object();
        json_object_set_new(op, "summary", json_string(rt->summary ? rt->summary : ""));
        char id[160];
        size_t o = 0;
        for (const char *p = rt->method; *p && o + 1 < sizeof(id); p++)
            id[o++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        for (const char *p = rt->path; *p && o + 1 < sizeof(id); p++)
            id[o++] = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ? *p : '_';
        id[o] = '\0';
        json_object_set_new(op, "operationId", json_string(id));
        json_t *params = json_array();
        for (const char *p = strchr(rt->path, '{'); p; p = strchr(p + 1, '{')) {
            const char *e = strchr(p, '}');
            if (!e)
                break;
            json_array_append_new(params,
                                  json_pack("{s:s%, s:s, s:b, s:{s:s}}", "name", p + 1,
                                            (size_t)(e - p - 1), "in", "path", "required", 1,
                                            "schema", "type", "string"));
        }
        if (json_array_size(params))
            json_object_set_new(op, "parameters", params);
        else
            json_decref(params);
        if (rt->body && rt->body != api_raw_body)
            json_object_set_new(op, "requestBody",
                                json_pack("{s:b, s:{s:{s:o}}}", "required", 1, "content",
                                          "application/json", "schema", body_schema(rt->body)));
        else if (rt->body)
            json_object_set_new(op, "requestBody",
                                json_pack("{s:b, s:{s:{s:{}}}}", "required", 1, "content",
                                          "application/json", "schema"));
        json_object_set_new(responses, "200",
                            json_pack("{s:s, s:{s:{}}}", "description", "success", "content",
                                      rt->response_type ? rt->response_type
                                                        : "application/json"));
        if (rt->body) {
            json_object_set_new(responses, "400", error_response("malformed request"));
            json_object_set_new(responses, "413", error_response("body over the size limit"));
            json_object_set_new(responses, "422", error_response("wrong type or missing field"));
        }
        if (rt->auth) {
            json_object_set_new(responses, "401", error_response("no or bad bearer token"));
            json_object_set_new(responses, "403", error_response("refused for this principal"));
            json_object_set_new(responses, "429", error_response("over the request rate"));
            json_object_set_new(op, "security", json_pack("[{s:[]}]", "bearer"));
        } else {
            json_object_set_new(op, "security", json_array());
        }
        json_object_set_new(op, "responses", responses);
        char *m = lower_dup(rt->method);
        if (m)
            json_object_set_new(item, m, op);
        else
            json_decref(op);
        free(m);
    }
    json_t *err = json_pack(
        "{s:s, s:{s:{s:s}, s:{s:s}, s:{s:[s,s]}}, s:[s,s]}", "type", "object", "properties",
        "code", "type", "string", "message", "type", "string", "field", "type", "string", "null",
        "required", "code", "message");
    return json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:{s:o}, s:{s:{s:s, s:s}}}, s:[{s:[]}]}",
                     "openapi", "3.1.0", "info", "title", "DataChat API", "version", version,
                     "paths", paths, "components", "schemas", "Error", err, "securitySchemes",
                     "bearer", "type", "http", "scheme", "bearer", "security", "bearer");
}

void api_req_clear(struct api_req *rq)
{
    free(rq->resp);
    rq->resp = NULL;
    rq->resp_len = 0;
    api_stream_unref(rq->stream);
    rq->stream = NULL;
}

int api_reply_stream(struct api_req *rq, int status, const char *content_type,
                     struct api_stream *st)
{
    api_req_clear(rq);
    api_stream_ref(st);
    rq->status = status;
    rq->content_type = content_type;
    rq->stream = st;
    return DC_OK;
}

void api_req_spawn(struct api_req *rq, void (*fn)(void *arg), void (*free_fn)(void *arg),
                   void *arg)
{
    rq->spawn = fn;
    rq->spawn_free = free_fn;
    rq->spawn_arg = arg;
}

int api_reply_text(struct api_req *rq, int status, const char *content_type, char *text,
                   size_t len)
{
    api_req_clear(rq);
    rq->status = status;
    rq->content_type = content_type;
    rq->resp = text;
    rq->resp_len = len;
    return text ? DC_OK : DC_ENOMEM;
}

int api_reply_json(struct api_req *rq, int status, json_t *obj)
{
    char *s = obj ? json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(obj);
    if (!s) {
        static const char oom[] =
            "{\"code\":\"E-API-NOMEM\",\"message\":\"out of memory\",\"field\":null}";
        api_reply_text(rq, 500, "application/json", strdup(oom), sizeof(oom) - 1);
        return DC_ENOMEM;
    }
    return api_reply_text(rq, status, "application/json", s, strlen(s));
}

int api_reply_error(struct api_req *rq, const struct api_error *e)
{
    return api_reply_json(rq, e->status, api_error_json(e));
}

void api_req_defer(struct api_req *rq, api_work_fn work)
{
    rq->work = work;
}
