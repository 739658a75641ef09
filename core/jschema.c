#include "jschema.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/value.h>

#include "util.h"

/* Schemas are ours, but instances nest as deep as a client likes. */
#define JS_MAX_DEPTH 64
#define JS_PATH_MAX 512

struct jpath {
    char buf[JS_PATH_MAX];
    size_t len;
};

/* Appends ".key" or "[i]"; keys are shown with non-printable bytes as '?'
 * so an error message never carries control characters. */
static size_t path_push_key(struct jpath *p, const char *key)
{
    size_t old = p->len;
    if (p->len + 1 < sizeof(p->buf))
        p->buf[p->len++] = '.';
    for (const char *k = key; *k && p->len + 1 < sizeof(p->buf); k++)
        p->buf[p->len++] = ((unsigned char)*k < 0x20 || *k == 0x7f) ? '?' : *k;
    p->buf[p->len] = '\0';
    return old;
}

static size_t path_push_index(struct jpath *p, size_t i)
{
    size_t old = p->len;
    int n = snprintf(p->buf + p->len, sizeof(p->buf) - p->len, "[%zu]", i);
    if (n > 0)
        p->len = p->len + (size_t)n < sizeof(p->buf) ? p->len + (size_t)n : sizeof(p->buf) - 1;
    return old;
}

static void path_pop(struct jpath *p, size_t old)
{
    p->len = old;
    p->buf[old] = '\0';
}

static int fail(const struct jpath *p, char *err, size_t errlen, const char *msg)
{
    return util_err(err, errlen, DC_EINVAL, "%s: %s", p->buf, msg);
}

static const char *type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

static int is_integral_real(const json_t *v)
{
    double d = json_real_value(v);
    return json_is_real(v) && isfinite(d) && d == floor(d) && fabs(d) < 9007199254740992.0;
}

static int matches_type(const json_t *v, const char *t)
{
    if (strcmp(t, "integer") == 0)
        return json_is_integer(v) || is_integral_real(v);
    if (strcmp(t, "number") == 0)
        return json_is_number(v);
    return strcmp(t, type_of(v)) == 0;
}

/* "5" -> 5 where the schema says integer; "2.5" -> 2.5 for number. The
 * text must be the number and nothing else (no blanks, no "0x"). */
static json_t *coerce(const json_t *v, const char *t)
{
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 40)
        return NULL;
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v) || s[0] == ' ' || s[0] == '+')
        return NULL;
    char *end = NULL;
    errno = 0;
    if (strcmp(t, "integer") == 0) {
        if (!(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
            return NULL;
        long long n = strtoll(s, &end, 10);
        if (errno || *end)
            return NULL;
        return json_integer((json_int_t)n);
    }
    if (strcmp(t, "number") == 0) {
        if (!(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
            return NULL;
        double d = strtod(s, &end);
        if (errno || *end || !isfinite(d))
            return NULL;
        return json_real(d);
    }
    return NULL;
}

static double num_of(const json_t *v)
{
    return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

static size_t utf8_len(const char *s, size_t n)
{
    size_t cps = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            cps++;
    return cps;
}

static int check(const json_t *s, json_t **inst, struct jpath *p, int depth, char *err,
                 size_t errlen);

static int check_type(const json_t *s, json_t **inst, const struct jpath *p, char *err,
                      size_t errlen)
{
    const json_t *t = json_object_get(s, "type");
    if (!t)
        return DC_OK;
    char want[128] = "";
    size_t n = json_is_array(t) ? json_array_size(t) : 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *ti = json_is_array(t) ? json_array_get(t, i) : t;
        if (!json_is_string(ti))
            return util_err(err, errlen, DC_EINVAL, "%s: the schema's type is not a string",
                            p->buf);
        if (matches_type(*inst, json_string_value(ti)))
            return DC_OK;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *ti = json_is_array(t) ? json_array_get(t, i) : t;
        json_t *c = coerce(*inst, json_string_value(ti));
        if (c) {
            json_decref(*inst);
            *inst = c;
            return DC_OK;
        }
        size_t used = strlen(want);
        snprintf(want + used, sizeof(want) - used, "%s%s", i ? " or " : "",
                 json_string_value(ti));
    }
    return util_err(err, errlen, DC_EINVAL, "%s: must be %s %s, not %s", p->buf,
                    (want[0] == 'a' || want[0] == 'i' || want[0] == 'o') ? "an" : "a", want,
                    type_of(*inst));
}

static int check_enum(const json_t *s, const json_t *v, const struct jpath *p, char *err,
                      size_t errlen)
{
    const json_t *e = json_object_get(s, "enum");
    if (!json_is_array(e))
        return DC_OK;
    size_t i;
    const json_t *x;
    json_array_foreach(e, i, x) if (json_equal(x, v)) return DC_OK;
    char *txt = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
    int rc = util_err(err, errlen, DC_EINVAL, "%s: must be one of %s", p->buf,
                      txt ? txt : "the listed values");
    free(txt);
    return rc;
}

static int check_number(const json_t *s, const json_t *v, const struct jpath *p, char *err,
                        size_t errlen)
{
    if (!json_is_number(v))
        return DC_OK;
    const json_t *mn = json_object_get(s, "minimum"), *mx = json_object_get(s, "maximum");
    char msg[96];
    if (json_is_number(mn) && num_of(v) < num_of(mn)) {
        snprintf(msg, sizeof(msg), "must be >= %.17g", num_of(mn));
        return fail(p, err, errlen, msg);
    }
    if (json_is_number(mx) && num_of(v) > num_of(mx)) {
        snprintf(msg, sizeof(msg), "must be <= %.17g", num_of(mx));
        return fail(p, err, errlen, msg);
    }
    return DC_OK;
}

static int check_string(const json_t *s, const json_t *v, const struct jpath *p, char *err,
                        size_t errlen)
{
    if (!json_is_string(v))
        return DC_OK;
    size_t n = utf8_len(json_string_value(v), json_string_length(v));
    const json_t *mn = json_object_get(s, "minLength"), *mx = json_object_get(s, "maxLength");
    char msg[96];
    if (json_is_integer(mn) && (json_int_t)n < json_integer_value(mn)) {
        snprintf(msg, sizeof(msg), "must be at least %" JSON_INTEGER_FORMAT " characters long",
                 json_integer_value(mn));
        return fail(p, err, errlen, msg);
    }
    if (json_is_integer(mx) && (json_int_t)n > json_integer_value(mx)) {
        snprintf(msg, sizeof(msg), "must be at most %" JSON_INTEGER_FORMAT " characters long",
                 json_integer_value(mx));
        return fail(p, err, errlen, msg);
    }
    return DC_OK;
}

static int check_object(const json_t *s, json_t *obj, struct jpath *p, int depth, char *err,
                        size_t errlen)
{
    if (!json_is_object(obj))
        return DC_OK;
    const json_t *props = json_object_get(s, "properties");
    const json_t *req = json_object_get(s, "required");
    const json_t *addl = json_object_get(s, "additionalProperties");
    size_t i;
    const json_t *r;
    json_array_foreach(req, i, r)
    {
        if (json_is_string(r) && !json_object_get(obj, json_string_value(r))) {
            size_t old = path_push_key(p, json_string_value(r));
            int rc = fail(p, err, errlen, "is required");
            path_pop(p, old);
            return rc;
        }
    }
    const char *key;
    json_t *val;
    void *it = json_object_iter(obj);
    while (it) {
        key = json_object_iter_key(it);
        val = json_object_iter_value(it);
        const json_t *ps = json_is_object(props) ? json_object_get(props, key) : NULL;
        if (!ps && json_is_object(addl))
            ps = addl;
        size_t old = path_push_key(p, key);
        int rc = DC_OK;
        if (!ps && json_is_false(addl)) {
            rc = fail(p, err, errlen, "is not a parameter of this tool (no additional "
                                      "properties are allowed)");
        } else if (ps) {
            json_t *nv = json_incref(val);
            rc = check(ps, &nv, p, depth + 1, err, errlen);
            if (rc == DC_OK && nv != val)
                json_object_iter_set(obj, it, nv); /* takes its own reference */
            json_decref(nv);
        }
        path_pop(p, old);
        if (rc != DC_OK)
            return rc;
        it = json_object_iter_next(obj, it);
    }
    return DC_OK;
}

static int check_array(const json_t *s, json_t *arr, struct jpath *p, int depth, char *err,
                       size_t errlen)
{
    const json_t *items = json_object_get(s, "items");
    if (!json_is_array(arr) || !json_is_object(items))
        return DC_OK;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *v = json_array_get(arr, i);
        json_t *nv = json_incref(v);
        size_t old = path_push_index(p, i);
        int rc = check(items, &nv, p, depth + 1, err, errlen);
        path_pop(p, old);
        if (rc == DC_OK && nv != v)
            json_array_set(arr, i, nv);
        json_decref(nv);
        if (rc != DC_OK)
            return rc;
    }
    return DC_OK;
}

static int check(const json_t *s, json_t **inst, struct jpath *p, int depth, char *err,
                 size_t errlen)
{
    if (depth > JS_MAX_DEPTH)
        return fail(p, err, errlen, "nested too deeply");
    if (!json_is_object(s))
        return DC_OK; /* true / {} accept anything */
    int rc = check_type(s, inst, p, err, errlen);
    if (rc == DC_OK)
        rc = check_enum(s, *inst, p, err, errlen);
    if (rc == DC_OK)
        rc = check_number(s, *inst, p, err, errlen);
    if (rc == DC_OK)
        rc = check_string(s, *inst, p, err, errlen);
    if (rc == DC_OK)
        rc = check_object(s, *inst, p, depth, err, errlen);
    if (rc == DC_OK)
        rc = check_array(s, *inst, p, depth, err, errlen);
    return rc;
}

int jschema_validate(const json_t *schema, json_t **inst, const char *root, char *err,
                     size_t errlen)
{
    struct jpath p;
    snprintf(p.buf, sizeof(p.buf), "%s", root ? root : "value");
    p.len = strlen(p.buf);
    return check(schema, inst, &p, 0, err, errlen);
}

int jschema_check_text(const char *schema_text, const char *args_text, const char *root,
                       char **canon, char *err, size_t errlen)
{
    json_error_t je;
    json_t *schema = NULL, *args = NULL;
    int rc = DC_OK;
    *canon = NULL;
    if (schema_text) {
        schema = json_loads(schema_text, JSON_DECODE_ANY, &je);
        if (!schema) {
            rc = util_err(err, errlen, DC_EINVAL, "the tool's parameter schema is not JSON "
                          "(line %d: %s)", je.line, je.text);
            goto cleanup;
        }
    }
    args = json_loads(args_text ? args_text : "{}", JSON_REJECT_DUPLICATES, &je);
    if (!args || !json_is_object(args)) {
        rc = util_err(err, errlen, DC_EINVAL, "%s: must be a JSON object%s%s",
                      root ? root : "value", args ? "" : " (", args ? "" : je.text);
        if (!args && errlen > 2 && strlen(err) + 2 < errlen)
            strcat(err, ")");
        goto cleanup;
    }
    if (schema) {
        rc = jschema_validate(schema, &args, root, err, errlen);
        if (rc != DC_OK)
            goto cleanup;
    }
    *canon = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
    if (!*canon)
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
cleanup:
    json_decref(schema);
    json_decref(args);
    return rc;
}
