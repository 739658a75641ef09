/*
 * api/http - the request-level parsing of the HTTP API, free of any server:
 * route patterns ("/api/v1/approvals/{id}") against a path, JSON bodies
 * checked against a route's declared fields (malformed JSON, wrong types,
 * unknown and missing fields, each naming the field), the Authorization
 * bearer header, and the {code, message, field} error every 4xx carries.
 * It never performs I/O or keeps state; tests/fuzz/fuzz_http.c drives it.
 */
#ifndef DC_API_HTTP_H
#define DC_API_HTTP_H

#include <jansson.h>
#include <stddef.h>

#define API_MAX_PARAMS 4
#define API_PARAM_MAX 128

/* What a failed request gets: an HTTP status and a stable E-API-* code. */
struct api_error {
    int status;
    char code[48];
    char message[512];
    char field[128]; /* "" when the error is not about one field */
};

void api_error_set(struct api_error *e, int status, const char *code, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* {code, message, field} (field null when empty); NULL when out of memory. */
json_t *api_error_json(const struct api_error *e);

enum api_ftype { API_T_STRING = 1, API_T_BOOL, API_T_INT, API_T_OBJECT, API_T_ANY };

/* One field of a JSON request body; tables end with a NULL name. */
struct api_field {
    const char *name;
    int type;           /* enum api_ftype */
    int required;
    const char *description;
};

/* The type's JSON Schema name ("string", "boolean", ...). */
const char *api_ftype_schema(int type);

/* Parses a request body as one JSON object whose members are all declared
 * in fields, with the declared types, and the required ones present. An
 * empty body counts as {}. DC_OK with *out (caller decrefs), else DC_EINVAL
 * with e filled (400, or 422 for a wrong type / missing field). */
int api_body_parse(const char *body, size_t len, const struct api_field *fields, json_t **out,
                   struct api_error *e);

/* Path parameters captured by a route pattern. */
struct api_params {
    size_t n;
    char name[API_MAX_PARAMS][32];
    char value[API_MAX_PARAMS][API_PARAM_MAX];
};

/* Whether path matches pattern, segment by segment; a "{name}" segment
 * matches one non-empty segment and is captured. The query string must
 * already be cut off. Returns 1 on a match, 0 otherwise. */
int api_path_match(const char *pattern, const char *path, struct api_params *p);
const char *api_param(const struct api_params *p, const char *name);

/* The token of an "Authorization: Bearer TOKEN" value (scheme matched
 * case-insensitively, one or more spaces), as a pointer into header and
 * its length; 0 when the header is absent or not a bearer credential. */
int api_bearer(const char *header, const char **tok, size_t *len);

#endif
