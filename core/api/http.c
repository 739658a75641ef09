#include "api/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <datachat/value.h>

void api_error_set(struct api_error *e, int status, const char *code, const char *field,
                   const char *fmt, ...)
{
    va_list ap;
    e->status = status;
    snprintf(e->code, sizeof(e->code), "%s", code);
    snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
}

json_t *api_error_json(const struct api_error *e)
{
    /* Messages may quote client bytes that are not UTF-8: keep them out
     * rather than failing the error itself. */
    json_t *msg = json_string(e->message);
    json_t *field = e->field[0] ? json_string(e->field) : json_null();
    if (!msg)
        msg = json_string("the request was not valid (details were not valid UTF-8)");
    if (!field)
        field = json_string("(not valid UTF-8)");
    return json_pack("{s:s, s:o, s:o}", "code", e->code, "message", msg, "field", field);
}

const char *api_ftype_schema(int type)
{
    switch (type) {
    case API_T_STRING: return "string";
    case API_T_BOOL: return "boolean";
    case API_T_INT: return "integer";
    case API_T_OBJECT: return "object";
    default: return NULL;
    }
}

static int type_ok(int type, const json_t *v)
{
    switch (type) {
    case API_T_STRING: return json_is_string(v);
    case API_T_BOOL: return json_is_boolean(v);
    case API_T_INT: return json_is_integer(v);
    case API_T_OBJECT: return json_is_object(v);
    default: return 1;
    }
}

static const struct api_field *field_find(const struct api_field *fields, const char *name)
{
    for (size_t i = 0; fields && fields[i].name; i++)
        if (strcmp(fields[i].name, name) == 0)
            return &fields[i];
    return NULL;
}

static void names_list(const struct api_field *fields, char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; fields && fields[i].name && o + 1 < outlen; i++) {
        int n = snprintf(out + o, outlen - o, "%s%s", i ? ", " : "", fields[i].name);
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

int api_body_parse(const char *body, size_t len, const struct api_field *fields, json_t **out,
                   struct api_error *e)
{
    *out = NULL;
    size_t ws = 0;
    while (ws < len && strchr(" \t\r\n", body[ws]))
        ws++;
    json_t *o = NULL;
    if (ws == len) {
        o = json_object();
        if (!o) {
            api_error_set(e, 500, "E-API-NOMEM", NULL, "out of memory");
            return DC_ENOMEM;
        }
    } else {
        json_error_t je;
        /* REJECT_DUPLICATES: a second "message" must not silently win. */
        o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
        if (!o) {
            api_error_set(e, 400, "E-API-JSON", NULL,
                          "the body is not valid JSON: %s at line %d column %d; send one JSON "
                          "object",
                          je.text, je.line, je.column);
            return DC_EINVAL;
        }
        if (!json_is_object(o)) {
            api_error_set(e, 400, "E-API-JSON", NULL,
                          "the body must be a JSON object, not a JSON %s",
                          json_is_array(o) ? "array" : "scalar");
            json_decref(o);
            return DC_EINVAL;
        }
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        const struct api_field *f = field_find(fields, k);
        if (!f) {
            char names[256];
            names_list(fields, names, sizeof(names));
            api_error_set(e, 400, "E-API-UNKNOWN-FIELD", k, "unknown field '%s'; %s%s", k,
                          names[0] ? "known fields: " : "this route takes no fields", names);
            json_decref(o);
            return DC_EINVAL;
        }
        if (!type_ok(f->type, v)) {
            api_error_set(e, 422, "E-API-TYPE", k, "field '%s' must be a%s %s", k,
                          f->type == API_T_INT || f->type == API_T_OBJECT ? "n" : "",
                          api_ftype_schema(f->type));
            json_decref(o);
            return DC_EINVAL;
        }
    }
    for (size_t i = 0; fields && fields[i].name; i++) {
        if (fields[i].required && !json_object_get(o, fields[i].name)) {
            api_error_set(e, 422, "E-API-MISSING-FIELD", fields[i].name,
                          "field '%s' is required", fields[i].name);
            json_decref(o);
            return DC_EINVAL;
        }
    }
    *out = o;
    return DC_OK;
}

/* The next segment of s after *pos, as a pointer and length; 0 at the end. */
static int next_seg(const char *s, size_t *pos, const char **seg, size_t *len)
{
    if (s[*pos] != '/')
        return 0;
    size_t b = *pos + 1, n = strcspn(s + b, "/");
    *seg = s + b;
    *len = n;
    *pos = b + n;
    return 1;
}

int api_path_match(const char *pattern, const char *path, struct api_params *p)
{
    size_t pp = 0, sp = 0;
    p->n = 0;
    for (;;) {
        const char *a, *b;
        size_t alen, blen;
        int ha = next_seg(pattern, &pp, &a, &alen), hb = next_seg(path, &sp, &b, &blen);
        if (!ha || !hb) {
            /* Both must end together, and nothing but segments may follow. */
            return !ha && !hb && pattern[pp] == '\0' && path[sp] == '\0';
        }
        if (alen > 2 && a[0] == '{' && a[alen - 1] == '}') {
            if (blen == 0 || blen >= API_PARAM_MAX || p->n >= API_MAX_PARAMS ||
                alen - 2 >= sizeof(p->name[0]))
                return 0;
            memcpy(p->name[p->n], a + 1, alen - 2);
            p->name[p->n][alen - 2] = '\0';
            memcpy(p->value[p->n], b, blen);
            p->value[p->n][blen] = '\0';
            p->n++;
        } else if (alen != blen || memcmp(a, b, alen) != 0) {
            return 0;
        }
    }
}

const char *api_param(const struct api_params *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->name[i], name) == 0)
            return p->value[i];
    return NULL;
}

int api_bearer(const char *header, const char **tok, size_t *len)
{
    *tok = NULL;
    *len = 0;
    if (!header || strncasecmp(header, "Bearer", 6) != 0 || (header[6] != ' ' && header[6] != '\t'))
        return 0;
    const char *t = header + 6;
    while (*t == ' ' || *t == '\t')
        t++;
    size_t n = strlen(t);
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    if (n == 0)
        return 0;
    *tok = t;
    *len = n;
    return 1;
}
