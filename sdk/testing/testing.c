/* datachat-sdk-testing: the fake host of datachat/testing.h. Every entry
 * of struct dc_host is filled here; a new entry appended to the host table
 * gets a fake here in the same change (tests/abi/host_table_full.c fails
 * on any NULL entry). */
#include <datachat/testing.h>

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hostcaps.h"
#include "result.h"
#include "sha256.h"

#if defined(__GNUC__)
#define TK_API __attribute__((visibility("default")))
#else
#define TK_API
#endif

struct tk_strs {
    char **v;
    size_t n, cap;
};

struct tk_pair {
    char *key, *value;
};

struct tk_pairs {
    struct tk_pair *v;
    size_t n, cap;
};

struct dc_schema {
    struct dc_table_info *tables;
    size_t n, cap;
};

struct dc_ctx {
    struct dc_test_host *t;
};

struct dc_opts {
    struct dc_test_host *t;
};

struct tk_rule {
    char *prefix;
    int rc;
    struct dc_result *result;
    char *code, *message;
};

struct dc_test_host {
    struct dc_host table;
    struct dc_ctx ctx;
    struct dc_opts opts;
    const struct dc_option *decl;
    struct tk_pairs optvals;   /* scalar options */
    struct tk_pairs optitems;  /* list items, key repeated */
    struct tk_pairs values;    /* the context blackboard */
    struct tk_pairs sets;      /* ctx_set calls, in order */
    struct tk_strs queries;
    struct tk_strs logs;
    int *log_levels;
    size_t cap_levels;
    struct tk_strs traces;
    struct tk_strs arena;      /* strings handed out by ctx_arg */
    char *fail_code, *fail_message;
    struct dc_result *result;  /* from ctx_set_result */
    struct tk_rule *rules;
    size_t nrules;
    struct dc_result **owned;  /* from dc_test_result_new */
    size_t nowned;
    struct dc_schema **schemas;
    size_t nschemas;
    struct dc_schema *schema;  /* what ctx_schema returns */
    char *plugin;              /* from dc_test_use_descriptor, for messages */
};

/* ---- small helpers -------------------------------------------------------- */

static char *tk_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static char *tk_strdup(const char *s)
{
    return s ? tk_strndup(s, strlen(s)) : NULL;
}

static char *tk_vfmt(const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0)
        return NULL;
    char *p = malloc((size_t)n + 1);
    if (p)
        vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

static int strs_push(struct tk_strs *s, char *owned)
{
    if (!owned)
        return DC_ENOMEM;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        char **v = realloc(s->v, cap * sizeof(*v));
        if (!v) {
            free(owned);
            return DC_ENOMEM;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = owned;
    return DC_OK;
}

static void strs_clear(struct tk_strs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static int pairs_push(struct tk_pairs *p, const char *key, const char *value)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        struct tk_pair *v = realloc(p->v, cap * sizeof(*v));
        if (!v)
            return DC_ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    char *k = tk_strdup(key), *val = tk_strdup(value);
    if (!k || (value && !val)) {
        free(k);
        free(val);
        return DC_ENOMEM;
    }
    p->v[p->n].key = k;
    p->v[p->n].value = val;
    p->n++;
    return DC_OK;
}

/* Replaces the value of key, or adds it. */
static int pairs_put(struct tk_pairs *p, const char *key, const char *value)
{
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->v[i].key, key) == 0) {
            char *val = tk_strdup(value);
            if (value && !val)
                return DC_ENOMEM;
            free(p->v[i].value);
            p->v[i].value = val;
            return DC_OK;
        }
    }
    return pairs_push(p, key, value);
}

static const char *pairs_get(const struct tk_pairs *p, const char *key)
{
    for (size_t i = p->n; i > 0; i--)
        if (strcmp(p->v[i - 1].key, key) == 0)
            return p->v[i - 1].value;
    return NULL;
}

static void pairs_clear(struct tk_pairs *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].key);
        free(p->v[i].value);
    }
    free(p->v);
    memset(p, 0, sizeof(*p));
}

/* ---- results -------------------------------------------------------------- */

/* Results are the core's own (core/result.c, compiled into this library),
 * so a plugin's unit tests see exactly what the host would build. */
static struct dc_result *result_copy(const struct dc_result *src)
{
    struct dc_result *r = result_new();
    if (!r)
        return NULL;
    size_t nc = result_ncols(src);
    struct dc_value *row = calloc(nc ? nc : 1, sizeof(*row));
    if (!row)
        goto fail;
    for (size_t i = 0; i < nc; i++)
        if (result_add_column(r, result_col_name(src, i), result_col_type(src, i), NULL) !=
            DC_OK)
            goto fail;
    for (size_t i = 0; i < result_nrows(src); i++) {
        for (size_t c = 0; c < nc; c++)
            row[c] = *result_get(src, i, c);
        if (result_append_row(r, row, nc) != DC_OK)
            goto fail;
    }
    result_set_truncated(r, result_truncated(src));
    free(row);
    return r;
fail:
    free(row);
    result_free(r);
    return NULL;
}

/* ---- schemas -------------------------------------------------------------- */

static void table_clear(struct dc_table_info *t)
{
    free((char *)t->schema_name);
    free((char *)t->name);
    free((char *)t->kind);
    free((char *)t->comment);
    for (size_t i = 0; i < t->ncolumns; i++) {
        const struct dc_column_info *c = &t->columns[i];
        free((char *)c->name);
        free((char *)c->decl_type);
        free((char *)c->default_value);
        free((char *)c->comment);
    }
    free((void *)t->columns);
    for (size_t i = 0; i < t->nfks; i++) {
        free((char *)t->fks[i].from_column);
        free((char *)t->fks[i].to_table);
        free((char *)t->fks[i].to_column);
    }
    free((void *)t->fks);
}

static void tk_schema_free(struct dc_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        table_clear(&s->tables[i]);
    free(s->tables);
    free(s);
}

static int tk_schema_add_table(struct dc_schema *s, const struct dc_table_info *in)
{
    if (!s || !in || !in->name)
        return DC_EINVAL;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        struct dc_table_info *v = realloc(s->tables, cap * sizeof(*v));
        if (!v)
            return DC_ENOMEM;
        s->tables = v;
        s->cap = cap;
    }
    struct dc_table_info t;
    memset(&t, 0, sizeof(t));
    t.struct_size = sizeof(t);
    t.schema_name = tk_strdup(in->schema_name);
    t.name = tk_strdup(in->name);
    t.kind = tk_strdup(in->kind ? in->kind : "table");
    t.row_count = in->row_count;
    t.comment = tk_strdup(in->comment);
    struct dc_column_info *cols = in->ncolumns ? calloc(in->ncolumns, sizeof(*cols)) : NULL;
    struct dc_fk_info *fks = in->nfks ? calloc(in->nfks, sizeof(*fks)) : NULL;
    t.columns = cols;
    t.fks = fks;
    int oom = !t.name || !t.kind || (in->ncolumns && !cols) || (in->nfks && !fks);
    for (size_t i = 0; !oom && i < in->ncolumns; i++) {
        cols[i] = in->columns[i];
        cols[i].struct_size = sizeof(cols[i]);
        cols[i].name = tk_strdup(in->columns[i].name);
        cols[i].decl_type = tk_strdup(in->columns[i].decl_type);
        cols[i].default_value = tk_strdup(in->columns[i].default_value);
        cols[i].comment = tk_strdup(in->columns[i].comment);
        t.ncolumns = i + 1;
        oom = !cols[i].name;
    }
    for (size_t i = 0; !oom && i < in->nfks; i++) {
        fks[i].struct_size = sizeof(fks[i]);
        fks[i].from_column = tk_strdup(in->fks[i].from_column);
        fks[i].to_table = tk_strdup(in->fks[i].to_table);
        fks[i].to_column = tk_strdup(in->fks[i].to_column);
        t.nfks = i + 1;
    }
    if (oom) {
        table_clear(&t);
        return DC_ENOMEM;
    }
    s->tables[s->n++] = t;
    return DC_OK;
}

static size_t tk_schema_ntables(const struct dc_schema *s)
{
    return s ? s->n : 0;
}

static const struct dc_table_info *tk_schema_table(const struct dc_schema *s, size_t i)
{
    return s && i < s->n ? &s->tables[i] : NULL;
}

static const struct dc_table_info *tk_schema_find(const struct dc_schema *s, const char *name)
{
    for (size_t i = 0; s && name && i < s->n; i++)
        if (strcasecmp(s->tables[i].name, name) == 0)
            return &s->tables[i];
    return NULL;
}

/* ---- options -------------------------------------------------------------- */

static const struct dc_option *decl_find(const struct dc_test_host *t, const char *key)
{
    for (size_t i = 0; t->decl && t->decl[i].name; i++)
        if (strcmp(t->decl[i].name, key) == 0)
            return &t->decl[i];
    return NULL;
}

static const char *tk_opt_str(const struct dc_opts *o, const char *key)
{
    if (!o || !key)
        return NULL;
    const char *v = pairs_get(&o->t->optvals, key);
    if (v)
        return v;
    const struct dc_option *d = decl_find(o->t, key);
    return d ? d->default_value : NULL;
}

static int tk_opt_int(const struct dc_opts *o, const char *key, int64_t *out)
{
    const char *v = tk_opt_str(o, key);
    char *end;
    if (!v)
        return DC_ENOTFOUND;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end)
        return DC_EINVAL;
    *out = x;
    return DC_OK;
}

static int tk_opt_bool(const struct dc_opts *o, const char *key, int *out)
{
    const char *v = tk_opt_str(o, key);
    if (!v)
        return DC_ENOTFOUND;
    if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "1") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || strcmp(v, "0") == 0)
        *out = 0;
    else
        return DC_EINVAL;
    return DC_OK;
}

static int tk_opt_number(const struct dc_opts *o, const char *key, double *out)
{
    const char *v = tk_opt_str(o, key);
    char *end;
    if (!v)
        return DC_ENOTFOUND;
    double x = strtod(v, &end);
    if (end == v || *end)
        return DC_EINVAL;
    *out = x;
    return DC_OK;
}

static size_t tk_opt_list_len(const struct dc_opts *o, const char *key)
{
    size_t n = 0;
    for (size_t i = 0; o && key && i < o->t->optitems.n; i++)
        n += strcmp(o->t->optitems.v[i].key, key) == 0;
    return n;
}

static const char *tk_opt_list_item(const struct dc_opts *o, const char *key, size_t idx)
{
    for (size_t i = 0; o && key && i < o->t->optitems.n; i++)
        if (strcmp(o->t->optitems.v[i].key, key) == 0 && idx-- == 0)
            return o->t->optitems.v[i].value;
    return NULL;
}

/* ---- logging and the context ---------------------------------------------- */

static void tk_log(const struct dc_host *h, int level, const char *fmt, ...)
{
    struct dc_test_host *t = h ? h->self : NULL;
    if (!t || !fmt)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *line = tk_vfmt(fmt, ap);
    va_end(ap);
    if (t->logs.n == t->cap_levels) {
        size_t cap = t->cap_levels ? t->cap_levels * 2 : 8;
        int *lv = realloc(t->log_levels, cap * sizeof(*lv));
        if (!lv) {
            free(line);
            return;
        }
        t->log_levels = lv;
        t->cap_levels = cap;
    }
    size_t at = t->logs.n;
    if (strs_push(&t->logs, line) == DC_OK)
        t->log_levels[at] = level;
}

static const char *tk_ctx_get(struct dc_ctx *c, const char *key)
{
    return c && key ? pairs_get(&c->t->values, key) : NULL;
}

static int tk_ctx_set(struct dc_ctx *c, const char *key, const char *value)
{
    if (!c || !key)
        return DC_EINVAL;
    int rc = pairs_put(&c->t->values, key, value);
    if (rc == DC_OK)
        rc = pairs_push(&c->t->sets, key, value);
    return rc;
}

static void tk_ctx_trace(struct dc_ctx *c, const char *fmt, ...)
{
    if (!c || !fmt)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *line = tk_vfmt(fmt, ap);
    va_end(ap);
    strs_push(&c->t->traces, line);
}

static void fail_set(struct dc_test_host *t, const char *code, char *message)
{
    free(t->fail_code);
    free(t->fail_message);
    t->fail_code = tk_strdup(code ? code : "E-UNKNOWN");
    t->fail_message = message;
}

static void tk_ctx_fail(struct dc_ctx *c, const char *code, const char *fmt, ...)
{
    if (!c)
        return;
    char *msg = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        msg = tk_vfmt(fmt, ap);
        va_end(ap);
    }
    fail_set(c->t, code, msg);
}

static int tk_ctx_query(struct dc_ctx *c, const char *db, const char *sql,
                        const struct dc_value *params, size_t nparams, struct dc_result **out)
{
    (void)db;
    (void)params;
    (void)nparams;
    if (out)
        *out = NULL;
    if (!c || !sql || !out)
        return DC_EINVAL;
    struct dc_test_host *t = c->t;
    if (strs_push(&t->queries, tk_strdup(sql)) != DC_OK)
        return DC_ENOMEM;
    for (size_t i = 0; i < t->nrules; i++) {
        const struct tk_rule *r = &t->rules[i];
        if (r->prefix && strncmp(sql, r->prefix, strlen(r->prefix)) != 0)
            continue;
        if (r->rc != DC_OK) {
            fail_set(t, r->code ? r->code : "E-TEST-SCRIPTED",
                     tk_strdup(r->message ? r->message : "scripted failure"));
            return r->rc;
        }
        *out = result_copy(r->result);
        return *out ? DC_OK : DC_ENOMEM;
    }
    fail_set(t, "E-TEST-NO-SCRIPT", tk_strdup("no dc_test_on_query rule matches this statement"));
    return DC_ENOTFOUND;
}

static const struct dc_schema *tk_ctx_schema(struct dc_ctx *c, const char *db)
{
    (void)db;
    return c ? c->t->schema : NULL;
}

static void tk_ctx_set_result(struct dc_ctx *c, struct dc_result *r)
{
    if (!c) {
        result_free(r);
        return;
    }
    result_free(c->t->result);
    c->t->result = r;
}

static const struct dc_result *tk_ctx_result(struct dc_ctx *c)
{
    return c ? c->t->result : NULL;
}

static int tk_ctx_arg(struct dc_ctx *c, const char *name, struct dc_value *out)
{
    int rc = DC_OK;
    if (!c || !name || !out)
        return DC_EINVAL;
    const char *args = pairs_get(&c->t->values, "args");
    json_t *root = json_loads(args ? args : "{}", 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return DC_EINVAL;
    }
    json_t *v = json_object_get(root, name);
    if (!v) {
        rc = DC_ENOTFOUND;
    } else if (json_is_string(v)) {
        char *s = tk_strndup(json_string_value(v), json_string_length(v));
        if (!s || strs_push(&c->t->arena, s) != DC_OK)
            rc = DC_ENOMEM;
        else
            *out = dc_value_text(s, json_string_length(v));
    } else if (json_is_integer(v)) {
        *out = dc_value_int(json_integer_value(v));
    } else if (json_is_real(v)) {
        *out = dc_value_real(json_real_value(v));
    } else if (json_is_boolean(v)) {
        out->type = DC_BOOL;
        out->v.i = json_is_true(v);
    } else if (json_is_null(v)) {
        *out = DC_VALUE_NULL;
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s || strs_push(&c->t->arena, s) != DC_OK) {
            rc = DC_ENOMEM;
        } else {
            out->type = DC_JSON;
            out->v.s.p = s;
            out->v.s.n = strlen(s);
        }
    }
    json_decref(root);
    return rc;
}

static json_t *value_json(const struct dc_value *v)
{
    switch (v->type) {
    case DC_NULL: return json_null();
    case DC_INT: return json_integer(v->v.i);
    case DC_REAL: return json_real(v->v.d);
    case DC_BOOL: return json_boolean(v->v.i);
    case DC_JSON: return json_loadb(v->v.s.p, v->v.s.n, JSON_DECODE_ANY, NULL);
    default: return json_stringn(v->v.s.p ? v->v.s.p : "", v->v.s.n);
    }
}

static int tk_ctx_result_set(struct dc_ctx *c, const char *name, const struct dc_value *v)
{
    if (!c || !name || !v)
        return DC_EINVAL;
    const char *cur = pairs_get(&c->t->values, "result");
    json_t *root = cur ? json_loads(cur, 0, NULL) : json_object();
    if (!json_is_object(root)) {
        json_decref(root);
        return DC_EINVAL;
    }
    json_t *jv = value_json(v);
    if (!jv || json_object_set_new(root, name, jv) != 0) {
        json_decref(root);
        return DC_EINVAL;
    }
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!s)
        return DC_ENOMEM;
    int rc = tk_ctx_set(c, "result", s);
    free(s);
    return rc;
}


/* The test host has no DataPoints. */
static size_t tk_dp_count(struct dc_ctx *c)
{
    (void)c;
    return 0;
}

static const struct dc_datapoint_info *tk_dp_at(struct dc_ctx *c, size_t i)
{
    (void)c;
    (void)i;
    return NULL;
}

static const struct dc_datapoint_info *tk_dp_find(struct dc_ctx *c, const char *id)
{
    (void)c;
    (void)id;
    return NULL;
}

static int tk_dp_render(struct dc_ctx *c, const char *id, const char *backend,
                        const char *const *names, const char *const *values, size_t nargs,
                        struct dc_dp_rendered **out, char *err, size_t errlen)
{
    (void)c;
    (void)backend;
    (void)names;
    (void)values;
    (void)nargs;
    if (out)
        *out = NULL;
    if (err && errlen)
        snprintf(err, errlen, "E-DP-UNKNOWN: the test host has no DataPoint '%s'",
                 id ? id : "");
    return DC_ENOTFOUND;
}

static void tk_dp_rendered_free(struct dc_dp_rendered *r)
{
    (void)r; /* tk_dp_render never makes one */
}

/* The test host has no retrieval index: nothing matches. */
static int tk_retrieve(struct dc_ctx *c, const char *query, size_t k,
                       struct dc_retrieval_hit *hits, size_t *n)
{
    (void)c;
    (void)query;
    (void)k;
    (void)hits;
    if (!n)
        return DC_EINVAL;
    *n = 0;
    return DC_OK;
}

/* ABI 1.3 entries. An llm answers with the scripted "llm.reply". */
static int tk_llm_complete(struct dc_ctx *c, const char *instance, const char *request_json,
                           const char **reply, char *err, size_t errlen)
{
    (void)instance;
    (void)request_json;
    if (reply)
        *reply = NULL;
    if (!c || !reply)
        return DC_EINVAL;
    *reply = pairs_get(&c->t->values, "llm.reply");
    if (*reply)
        return DC_OK;
    fail_set(c->t, "E-LLM-NONE",
             tk_strdup("the test host has no scripted reply; script one with "
                       "dc_test_ctx_put(t, \"llm.reply\", ...)"));
    if (err && errlen)
        snprintf(err, errlen, "E-LLM-NONE: the test host has no scripted \"llm.reply\"");
    return DC_ENOTFOUND;
}

/* The gate's verdict is what ctx_query would answer: the first matching
 * dc_test_on_query rule's rc. Nothing is recorded as a query. */
static int tk_sql_check(struct dc_ctx *c, const char *db, const char *sql, char *err,
                        size_t errlen)
{
    (void)db;
    if (!c || !sql)
        return DC_EINVAL;
    const struct dc_test_host *t = c->t;
    for (size_t i = 0; i < t->nrules; i++) {
        const struct tk_rule *r = &t->rules[i];
        if (r->prefix && strncmp(sql, r->prefix, strlen(r->prefix)) != 0)
            continue;
        if (r->rc != DC_OK && err && errlen)
            snprintf(err, errlen, "%s: %s", r->code ? r->code : "E-TEST-SCRIPTED",
                     r->message ? r->message : "scripted failure");
        return r->rc;
    }
    return DC_OK;
}

/* The test host makes no network requests: a test that needs HTTP runs
 * the tool sandboxed against a loopback server (docs/SDK.md). */
static int tk_http_request(const struct dc_host *h, struct dc_ctx *c, const char *method,
                           const char *url, const char *const *headers, const char *body,
                           long *status, const char **resp, char *err, size_t errlen)
{
    (void)h;
    (void)c;
    (void)method;
    (void)url;
    (void)headers;
    (void)body;
    if (status)
        *status = 0;
    if (resp)
        *resp = NULL;
    if (err && errlen)
        snprintf(err, errlen, "E-HTTP-UNAVAILABLE: the test host makes no HTTP requests");
    return DC_EDENIED;
}

/* The test host accepts every DataPoint text; `datachat dp lint` checks. */
static int tk_dp_validate(struct dc_ctx *c, const char *text, size_t len, const char *name,
                          char *err, size_t errlen)
{
    (void)c;
    (void)len;
    (void)name;
    (void)err;
    (void)errlen;
    return text ? DC_OK : DC_EINVAL;
}

/* hostcaps.c's stubs end here: the same E-PLUGIN-CAPABILITY as the core. */
void hostcaps_fail(struct dc_ctx *c, const char *cap, const char *entry)
{
    if (!c)
        return;
    const char *who = c->t->plugin ? c->t->plugin : "the plugin under test";
    size_t n = strlen(who) + strlen(cap) + strlen(entry) + 160;
    char *msg = malloc(n);
    if (msg)
        snprintf(msg, n, "plugin '%s' called %s, which needs the host capability \"%s\" that "
                         "the plugin does not declare; declare it in DC_PLUGIN_DEFINE_CAPS",
                 who, entry, cap);
    fail_set(c->t, "E-PLUGIN-CAPABILITY", msg);
}

static void fill_table(struct dc_test_host *t)
{
    struct dc_host *h = &t->table;
    memset(h, 0, sizeof(*h));
    h->struct_size = sizeof(*h);
    h->abi_major = DC_ABI_MAJOR;
    h->abi_minor = DC_ABI_MINOR;
    h->host_version = "datachat-sdk-testing " DC_SDK_VERSION;
    h->self = t;
    h->log = tk_log;
    h->opt_str = tk_opt_str;
    h->opt_int = tk_opt_int;
    h->opt_bool = tk_opt_bool;
    h->opt_number = tk_opt_number;
    h->opt_list_len = tk_opt_list_len;
    h->opt_list_item = tk_opt_list_item;
    h->result_new = result_new;
    h->result_free = result_free;
    h->result_add_column = result_add_column;
    h->result_append_row = result_append_row;
    h->result_set_truncated = result_set_truncated;
    h->result_ncols = result_ncols;
    h->result_nrows = result_nrows;
    h->result_col_name = result_col_name;
    h->result_col_type = result_col_type;
    h->result_get = result_get;
    h->result_truncated = result_truncated;
    h->schema_add_table = tk_schema_add_table;
    h->schema_ntables = tk_schema_ntables;
    h->schema_table = tk_schema_table;
    h->schema_find = tk_schema_find;
    h->ctx_get = tk_ctx_get;
    h->ctx_set = tk_ctx_set;
    h->ctx_trace = tk_ctx_trace;
    h->ctx_fail = tk_ctx_fail;
    h->ctx_query = tk_ctx_query;
    h->ctx_schema = tk_ctx_schema;
    h->ctx_set_result = tk_ctx_set_result;
    h->ctx_result = tk_ctx_result;
    h->ctx_arg = tk_ctx_arg;
    h->ctx_result_set = tk_ctx_result_set;
    h->result_render = result_render;
    h->sha256_hex = sha256_hex_of;
    h->dp_count = tk_dp_count;
    h->dp_at = tk_dp_at;
    h->dp_find = tk_dp_find;
    h->dp_render = tk_dp_render;
    h->dp_rendered_free = tk_dp_rendered_free;
    h->retrieve = tk_retrieve;
    h->llm_complete = tk_llm_complete;
    h->sql_check = tk_sql_check;
    h->dp_validate = tk_dp_validate;
    h->http_request = tk_http_request;
}

/* ---- the public API ------------------------------------------------------- */

TK_API int dc_test_use_descriptor(struct dc_test_host *t, const struct dc_plugin_descriptor *d)
{
    if (!t || !d || d->magic != DC_PLUGIN_MAGIC)
        return DC_EINVAL;
    char *name = tk_strdup(d->name ? d->name : "");
    if (!name)
        return DC_ENOMEM;
    free(t->plugin);
    t->plugin = name;
    uint64_t caps = DC_CAP_UNDECLARED;
    if (d->struct_size >= offsetof(struct dc_plugin_descriptor, capabilities) +
                              sizeof(d->capabilities))
        caps = d->capabilities;
    fill_table(t);
    hostcaps_restrict(&t->table, caps);
    return DC_OK;
}

TK_API struct dc_test_host *dc_test_host_new(void)
{
    struct dc_test_host *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->ctx.t = t;
    t->opts.t = t;
    t->schema = calloc(1, sizeof(*t->schema));
    if (!t->schema) {
        free(t);
        return NULL;
    }
    fill_table(t);
    return t;
}

TK_API void dc_test_reset(struct dc_test_host *t)
{
    if (!t)
        return;
    pairs_clear(&t->sets);
    strs_clear(&t->queries);
    strs_clear(&t->logs);
    strs_clear(&t->traces);
    strs_clear(&t->arena);
    free(t->fail_code);
    free(t->fail_message);
    t->fail_code = t->fail_message = NULL;
    result_free(t->result);
    t->result = NULL;
}

TK_API void dc_test_host_free(struct dc_test_host *t)
{
    if (!t)
        return;
    dc_test_reset(t);
    free(t->log_levels);
    pairs_clear(&t->optvals);
    pairs_clear(&t->optitems);
    pairs_clear(&t->values);
    for (size_t i = 0; i < t->nrules; i++) {
        free(t->rules[i].prefix);
        free(t->rules[i].code);
        free(t->rules[i].message);
    }
    free(t->rules);
    for (size_t i = 0; i < t->nowned; i++)
        result_free(t->owned[i]);
    free(t->owned);
    for (size_t i = 0; i < t->nschemas; i++)
        tk_schema_free(t->schemas[i]);
    free(t->schemas);
    tk_schema_free(t->schema);
    free(t->plugin);
    free(t);
}

TK_API const struct dc_host *dc_test_host_table(struct dc_test_host *t)
{
    return t ? &t->table : NULL;
}

TK_API struct dc_ctx *dc_test_ctx(struct dc_test_host *t)
{
    return t ? &t->ctx : NULL;
}

TK_API const struct dc_opts *dc_test_opts(struct dc_test_host *t)
{
    return t ? &t->opts : NULL;
}

TK_API void dc_test_set_options(struct dc_test_host *t, const struct dc_option *decl)
{
    if (t)
        t->decl = decl;
}

TK_API int dc_test_set_opt(struct dc_test_host *t, const char *key, const char *value)
{
    return t && key ? pairs_put(&t->optvals, key, value) : DC_EINVAL;
}

TK_API int dc_test_add_opt_item(struct dc_test_host *t, const char *key, const char *item)
{
    return t && key && item ? pairs_push(&t->optitems, key, item) : DC_EINVAL;
}

TK_API int dc_test_ctx_put(struct dc_test_host *t, const char *key, const char *value)
{
    return t && key ? pairs_put(&t->values, key, value) : DC_EINVAL;
}

TK_API int dc_test_on_query(struct dc_test_host *t, const char *sql_prefix, int rc,
                            struct dc_result *result, const char *code, const char *message)
{
    if (!t)
        return DC_EINVAL;
    struct tk_rule *v = realloc(t->rules, (t->nrules + 1) * sizeof(*v));
    if (!v)
        return DC_ENOMEM;
    t->rules = v;
    struct tk_rule *r = &v[t->nrules];
    r->prefix = tk_strdup(sql_prefix);
    r->rc = rc;
    r->result = result;
    r->code = tk_strdup(code);
    r->message = tk_strdup(message);
    if ((sql_prefix && !r->prefix) || (code && !r->code) || (message && !r->message)) {
        free(r->prefix);
        free(r->code);
        free(r->message);
        return DC_ENOMEM;
    }
    t->nrules++;
    return DC_OK;
}

TK_API struct dc_result *dc_test_result_new(struct dc_test_host *t)
{
    if (!t)
        return NULL;
    struct dc_result **v = realloc(t->owned, (t->nowned + 1) * sizeof(*v));
    if (!v)
        return NULL;
    t->owned = v;
    v[t->nowned] = result_new();
    return v[t->nowned] ? v[t->nowned++] : NULL;
}

TK_API struct dc_schema *dc_test_schema(struct dc_test_host *t)
{
    return t ? t->schema : NULL;
}

TK_API struct dc_schema *dc_test_schema_new(struct dc_test_host *t)
{
    if (!t)
        return NULL;
    struct dc_schema **v = realloc(t->schemas, (t->nschemas + 1) * sizeof(*v));
    if (!v)
        return NULL;
    t->schemas = v;
    v[t->nschemas] = calloc(1, sizeof(struct dc_schema));
    return v[t->nschemas] ? v[t->nschemas++] : NULL;
}

TK_API const char *dc_test_get(struct dc_test_host *t, const char *key)
{
    return t && key ? pairs_get(&t->values, key) : NULL;
}

TK_API size_t dc_test_nsets(const struct dc_test_host *t)
{
    return t ? t->sets.n : 0;
}

TK_API const char *dc_test_set_key(const struct dc_test_host *t, size_t i)
{
    return t && i < t->sets.n ? t->sets.v[i].key : NULL;
}

TK_API const char *dc_test_set_value(const struct dc_test_host *t, size_t i)
{
    return t && i < t->sets.n ? t->sets.v[i].value : NULL;
}

TK_API size_t dc_test_nqueries(const struct dc_test_host *t)
{
    return t ? t->queries.n : 0;
}

TK_API const char *dc_test_query(const struct dc_test_host *t, size_t i)
{
    return t && i < t->queries.n ? t->queries.v[i] : NULL;
}

TK_API size_t dc_test_nlogs(const struct dc_test_host *t)
{
    return t ? t->logs.n : 0;
}

TK_API const char *dc_test_log(const struct dc_test_host *t, size_t i, int *level)
{
    if (!t || i >= t->logs.n)
        return NULL;
    if (level)
        *level = t->log_levels[i];
    return t->logs.v[i];
}

TK_API size_t dc_test_ntraces(const struct dc_test_host *t)
{
    return t ? t->traces.n : 0;
}

TK_API const char *dc_test_trace(const struct dc_test_host *t, size_t i)
{
    return t && i < t->traces.n ? t->traces.v[i] : NULL;
}

TK_API const char *dc_test_fail_code(const struct dc_test_host *t)
{
    return t ? t->fail_code : NULL;
}

TK_API const char *dc_test_fail_message(const struct dc_test_host *t)
{
    return t ? t->fail_message : NULL;
}

TK_API const struct dc_result *dc_test_result(const struct dc_test_host *t)
{
    return t ? t->result : NULL;
}
