/* Helpers every built-in tool shares: options, arguments, results. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"

/* Never readable through the filesystem tools, whatever is configured:
 * the usual homes of credentials. `blocked` options add to these. */
static const char *const default_blocked[] = {
    ".env", ".env.*", "secrets", "*.pem", "*.key", "id_rsa*", "id_ecdsa*", "id_ed25519*",
    ".ssh", ".netrc", ".pgpass", "*.p12", "*.pfx"};
#define NDEFAULT_BLOCKED (sizeof(default_blocked) / sizeof(default_blocked[0]))

static int add_str(char ***arr, size_t *n, const char *s)
{
    char **na = realloc(*arr, (*n + 1) * sizeof(**arr));
    if (!na)
        return DC_ENOMEM;
    *arr = na;
    na[*n] = strdup(s);
    if (!na[*n])
        return DC_ENOMEM;
    (*n)++;
    return DC_OK;
}

static int has_option(const struct dc_opts *opts, const struct dc_host *h, const char *key)
{
    return h->opt_list_len(opts, key) > 0 || h->opt_str(opts, key) != NULL;
}

static int init_roots(struct builtin *b, char *err, size_t errlen)
{
    const struct dc_host *h = b->h;
    for (size_t i = 0; i < h->opt_list_len(b->opts, "allowed_paths"); i++) {
        const char *p = h->opt_list_item(b->opts, "allowed_paths", i);
        char *rp = p ? realpath(p, NULL) : NULL;
        if (!rp) {
            snprintf(err, errlen, "option allowed_paths[%zu]: '%s' does not exist or is not "
                     "reachable; list existing directories", i, p ? p : "");
            return DC_EINVAL;
        }
        int rc = add_str(&b->roots, &b->nroots, rp);
        free(rp);
        if (rc != DC_OK)
            return rc;
    }
    for (size_t i = 0; i < NDEFAULT_BLOCKED; i++)
        if (add_str(&b->blocked, &b->nblocked, default_blocked[i]) != DC_OK)
            return DC_ENOMEM;
    for (size_t i = 0; i < h->opt_list_len(b->opts, "blocked"); i++)
        if (add_str(&b->blocked, &b->nblocked, h->opt_list_item(b->opts, "blocked", i)) !=
            DC_OK)
            return DC_ENOMEM;
    int64_t mb = 1048576;
    if (h->opt_int(b->opts, "max_bytes", &mb) == DC_OK && (mb < 1 || mb > 64 * 1048576)) {
        snprintf(err, errlen, "option max_bytes: %lld is out of range; use 1 to 67108864",
                 (long long)mb);
        return DC_EINVAL;
    }
    b->max_bytes = mb;
    return DC_OK;
}

int builtin_init(const struct dc_host *h, const struct dc_opts *opts, void **state, char *err,
                 size_t errlen)
{
    struct builtin *b = calloc(1, sizeof(*b));
    if (!b)
        return DC_ENOMEM;
    b->h = h;
    b->opts = opts;
    int rc = init_roots(b, err, errlen);
    if (rc == DC_OK && has_option(opts, h, "dir")) {
        b->dir = strdup(h->opt_str(opts, "dir"));
        rc = b->dir ? DC_OK : DC_ENOMEM;
    }
    if (rc == DC_OK)
        h->opt_bool(opts, "git", &b->git);
    if (rc != DC_OK) {
        builtin_fini(b);
        return rc;
    }
    *state = b;
    return DC_OK;
}

void builtin_fini(void *state)
{
    struct builtin *b = state;
    if (!b)
        return;
    for (size_t i = 0; i < b->nroots; i++)
        free(b->roots[i]);
    for (size_t i = 0; i < b->nblocked; i++)
        free(b->blocked[i]);
    free(b->roots);
    free(b->blocked);
    free(b->dir);
    free(b);
}

json_t *builtin_args(struct builtin *b, struct dc_ctx *ctx)
{
    const char *a = b->h->ctx_get(ctx, "args");
    json_t *o = json_loads(a ? a : "{}", 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        b->h->ctx_fail(ctx, "E-TOOL-ARGS", "arguments: must be a JSON object");
        return NULL;
    }
    return o;
}

const char *builtin_str(json_t *args, const char *key)
{
    return json_string_value(json_object_get(args, key));
}

int builtin_reply(struct builtin *b, struct dc_ctx *ctx, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(o);
    if (!s)
        return DC_ENOMEM;
    int rc = b->h->ctx_set(ctx, "result", s);
    free(s);
    return rc;
}

static json_t *value_json(const struct dc_value *v)
{
    if (!v)
        return json_null();
    switch (v->type) {
    case DC_INT: return json_integer((json_int_t)v->v.i);
    case DC_REAL: return json_real(v->v.d);
    case DC_BOOL: return json_boolean(v->v.i);
    case DC_NULL: return json_null();
    case DC_BLOB: return json_sprintf("(%zu bytes)", v->v.s.n);
    default: {
        json_t *s = json_stringn(v->v.s.p, v->v.s.n);
        return s ? s : json_string("(invalid UTF-8)");
    }
    }
}

json_t *builtin_result_json(const struct dc_host *h, const struct dc_result *r, size_t max_rows)
{
    json_t *cols = json_array(), *rows = json_array();
    size_t nc = h->result_ncols(r), nr = h->result_nrows(r);
    for (size_t c = 0; c < nc; c++)
        json_array_append_new(cols, json_pack("{s:s, s:s}", "name", h->result_col_name(r, c),
                                              "type", dc_type_name(h->result_col_type(r, c))));
    for (size_t i = 0; i < nr && i < max_rows; i++) {
        json_t *row = json_array();
        for (size_t c = 0; c < nc; c++)
            json_array_append_new(row, value_json(h->result_get(r, i, c)));
        json_array_append_new(rows, row);
    }
    return json_pack("{s:o, s:o, s:I, s:b}", "columns", cols, "rows", rows, "row_count",
                     (json_int_t)(nr < max_rows ? nr : max_rows), "truncated",
                     nr > max_rows || h->result_truncated(r));
}

char *builtin_quote_ident(const char *name)
{
    size_t n = strlen(name), q = 0;
    for (size_t i = 0; i < n; i++)
        q += name[i] == '"';
    char *o = malloc(n + q + 3);
    if (!o)
        return NULL;
    char *p = o;
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '"')
            *p++ = '"';
        *p++ = name[i];
    }
    *p++ = '"';
    *p = '\0';
    return o;
}

char *builtin_quote_table(const struct dc_table_info *t)
{
    char *n = builtin_quote_ident(t->name);
    if (!n || !t->schema_name)
        return n;
    char *s = builtin_quote_ident(t->schema_name);
    size_t len = (s ? strlen(s) : 0) + strlen(n) + 2;
    char *o = s ? malloc(len) : NULL;
    if (o)
        snprintf(o, len, "%s.%s", s, n);
    free(s);
    free(n);
    return o;
}

const struct dc_table_info *builtin_find_table(struct builtin *b, struct dc_ctx *ctx,
                                               const char *db, const char *name)
{
    const struct dc_host *h = b->h;
    const struct dc_schema *s = h->ctx_schema(ctx, db);
    if (!s)
        return NULL; /* the host recorded why */
    for (size_t i = 0; i < h->schema_ntables(s); i++) {
        const struct dc_table_info *t = h->schema_table(s, i);
        char full[512];
        snprintf(full, sizeof(full), "%s.%s", t->schema_name ? t->schema_name : "", t->name);
        if (strcmp(t->name, name) == 0 || (t->schema_name && strcmp(full, name) == 0))
            return t;
    }
    h->ctx_fail(ctx, "E-TOOL-NO-TABLE", "no table named '%s' in this database (see the "
                "list_tables tool)", name);
    return NULL;
}
