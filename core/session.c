#include "session.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <jansson.h>

#include <datachat/value.h>

#include "audit.h"
#include "config.h"
#include "ctx.h"
#include "datapoint.h"
#include "gate.h"
#include "policy.h"
#include "result.h"
#include "runtime.h"
#include "schema.h"
#include "store.h"
#include "util.h"

int session_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > SESSION_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)id[i]) && !strchr("_.:-", id[i]))
            return 0;
    return 1;
}

#define MAX_WORDS 128

struct words {
    size_t n;
    char w[MAX_WORDS][48]; /* lowercase, edge punctuation dropped */
    const char *at[MAX_WORDS];
    size_t len[MAX_WORDS]; /* original span, punctuation dropped */
};

static void split_words(const char *q, struct words *ws)
{
    ws->n = 0;
    const char *p = q;
    while (*p && ws->n < MAX_WORDS) {
        while (*p && (isspace((unsigned char)*p) || strchr(",;?!", *p)))
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && !isspace((unsigned char)*p) && !strchr(",;?!", *p))
            p++;
        size_t n = (size_t)(p - s);
        while (n && strchr(".:", s[n - 1]))
            n--;
        if (!n)
            continue;
        size_t k = ws->n++;
        ws->at[k] = s;
        ws->len[k] = n;
        size_t m = 0;
        for (; m < n && m < sizeof(ws->w[k]) - 1; m++)
            ws->w[k][m] = (char)tolower((unsigned char)s[m]);
        ws->w[k][m] = '\0';
    }
}

static int is(const struct words *ws, size_t i, const char *w)
{
    return i < ws->n && strcmp(ws->w[i], w) == 0;
}

static int one_of(const char *w, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(w, list[i]) == 0)
            return 1;
    return 0;
}

static int is_year(const char *w)
{
    return strlen(w) == 4 && (w[0] == '1' || w[0] == '2') && isdigit((unsigned char)w[1]) &&
           isdigit((unsigned char)w[2]) && isdigit((unsigned char)w[3]);
}

static int is_datey(const char *w)
{
    static const char *const months[] = {
        "january", "february", "march",    "april",   "may",      "june",   "july",
        "august",  "september", "october", "november", "december", "jan",    "feb",
        "mar",     "apr",       "jun",     "jul",      "aug",      "sep",    "sept",
        "oct",     "nov",       "dec",     "q1",       "q2",       "q3",     "q4",
        NULL};
    return is_year(w) || one_of(w, months) ||
           (strlen(w) == 10 && isdigit((unsigned char)w[0]) && w[4] == '-' && w[7] == '-');
}

/* Leading words that only link a follow-up to what came before. Returns
 * the count consumed at i; *about is set for "what/how about". */
static size_t connective(const struct words *ws, size_t i, int *about)
{
    if ((is(ws, i, "what") || is(ws, i, "how")) && is(ws, i + 1, "about")) {
        *about = 1;
        return 2;
    }
    if (is(ws, i, "same") && (is(ws, i + 1, "for") || is(ws, i + 1, "but")))
        return 2;
    static const char *const single[] = {"and", "but", "now", "ok", "okay", "also", "then",
                                         "same", "so", NULL};
    return i < ws->n && one_of(ws->w[i], single) ? 1 : 0;
}

enum part { P_NONE = 0, P_GROUP, P_TIME, P_FILTER };

/* The kind of part that starts at word i, if one does. */
static int starter(const struct words *ws, size_t i)
{
    static const char *const buckets[] = {"monthly", "weekly", "daily", "yearly", "quarterly",
                                          "annually", "hourly", NULL};
    static const char *const timew[] = {"last", "this", "past", "previous", "since", "during",
                                        "yesterday", "today", "between", "before", "after",
                                        "ytd", "year-to-date", NULL};
    static const char *const filterw[] = {"only", "just", "excluding", "except", "without",
                                          "where", "in", "from", "for", "with", "among", NULL};
    const char *w = ws->w[i];
    const char *prev = i ? ws->w[i - 1] : "";
    if ((strcmp(w, "by") == 0 || strcmp(w, "per") == 0) &&
        !one_of(prev, (const char *const[]){"sorted", "ordered", "order", "sort", "rank",
                                            "ranked", NULL}))
        return P_GROUP;
    if ((strcmp(w, "broken") == 0 || strcmp(w, "grouped") == 0) && is(ws, i + 1, "by"))
        return P_GROUP;
    if (strcmp(w, "for") == 0 && is(ws, i + 1, "each"))
        return P_GROUP;
    if (one_of(w, buckets))
        return P_GROUP;
    if (one_of(w, timew) || is_year(w))
        return P_TIME;
    if ((strcmp(w, "in") == 0 || strcmp(w, "for") == 0 || strcmp(w, "during") == 0) &&
        i + 1 < ws->n && (is_datey(ws->w[i + 1]) || is(ws, i + 1, "the")))
        return P_TIME;
    if (one_of(w, filterw))
        return P_FILTER;
    return P_NONE;
}

/* Original text of words [a, b). */
static void span(const struct words *ws, size_t a, size_t b, char *out, size_t cap)
{
    out[0] = '\0';
    if (a >= b)
        return;
    const char *s = ws->at[a];
    size_t n = (size_t)(ws->at[b - 1] + ws->len[b - 1] - s);
    snprintf(out, cap, "%.*s", (int)n, s);
}

static void add_filter(struct session_parts *p, const char *text)
{
    if (p->nfilters < SESSION_MAX_FILTERS)
        snprintf(p->filters[p->nfilters++], SESSION_TEXT_MAX, "%s", text);
}

void session_parts_parse(const char *q, struct session_parts *out)
{
    memset(out, 0, sizeof(*out));
    struct words *ws = calloc(1, sizeof(*ws));
    if (!ws)
        return;
    split_words(q ? q : "", ws);
    size_t i = 0, k;
    while ((k = connective(ws, i, &out->replace_filter)) > 0)
        i += k;
    size_t start = i;
    int kind = i < ws->n ? starter(ws, i) : P_NONE;
    /* "what about Canada": a bare value after "about" is a filter. */
    if (kind == P_NONE && out->replace_filter)
        kind = P_FILTER;
    for (size_t j = i + 1; j <= ws->n; j++) {
        int next = j < ws->n ? starter(ws, j) : P_NONE;
        /* "last 3 months", "in the last year": a time phrase keeps its words. */
        if (j < ws->n && next != P_NONE && kind == P_TIME && next == P_TIME)
            next = P_NONE;
        if (j < ws->n && next == P_NONE)
            continue;
        char text[SESSION_TEXT_MAX];
        /* "only Brazil" restricts to the value: the word itself is not a
         * condition the stages know. */
        size_t from = start;
        if (kind == P_FILTER && (is(ws, from, "only") || is(ws, from, "just")) && from + 1 < j)
            from++;
        span(ws, from, j, text, sizeof(text));
        switch (kind) {
        case P_NONE: snprintf(out->base, sizeof(out->base), "%s", text); break;
        case P_GROUP: snprintf(out->group, sizeof(out->group), "%s", text); break;
        case P_TIME: snprintf(out->time, sizeof(out->time), "%s", text); break;
        default: add_filter(out, text); break;
        }
        start = j;
        kind = next;
    }
    free(ws);
}

int session_parts_empty(const struct session_parts *p)
{
    return !p->base[0] && !p->nfilters && !p->time[0] && !p->group[0];
}

void session_parts_merge(const struct session_parts *last, const struct session_parts *fu,
                         struct session_parts *out)
{
    *out = *last;
    out->replace_filter = 0;
    if (fu->base[0])
        snprintf(out->base, sizeof(out->base), "%s", fu->base);
    for (size_t i = 0; i < fu->nfilters; i++) {
        if (i == 0 && fu->replace_filter && out->nfilters)
            out->nfilters--;
        add_filter(out, fu->filters[i]);
    }
    if (fu->time[0])
        snprintf(out->time, sizeof(out->time), "%s", fu->time);
    if (fu->group[0])
        snprintf(out->group, sizeof(out->group), "%s", fu->group);
}

char *session_parts_text(const struct session_parts *p)
{
    struct sbuf b;
    sbuf_init(&b);
    const char *pieces[SESSION_MAX_FILTERS + 3];
    size_t n = 0;
    pieces[n++] = p->base;
    for (size_t i = 0; i < p->nfilters; i++)
        pieces[n++] = p->filters[i];
    pieces[n++] = p->time;
    pieces[n++] = p->group;
    for (size_t i = 0; i < n; i++)
        if (pieces[i][0])
            sbuf_addf(&b, "%s%s", b.len ? " " : "", pieces[i]);
    if (!b.p && !b.oom)
        sbuf_adds(&b, "");
    return sbuf_detach(&b);
}

static json_t *str_or_null(const char *s)
{
    json_t *j = s && *s ? json_string(s) : NULL;
    return j ? j : json_null();
}

char *session_structure_json(const struct session_parts *p, const char *const *kv)
{
    json_t *o = json_object();
    json_t *f = json_array();
    if (!o || !f) {
        json_decref(o);
        json_decref(f);
        return NULL;
    }
    for (size_t i = 0; i < p->nfilters; i++)
        json_array_append_new(f, str_or_null(p->filters[i]));
    json_object_set_new(o, "subject", str_or_null(p->base));
    json_object_set_new(o, "filters", f);
    json_object_set_new(o, "time_range", str_or_null(p->time));
    json_object_set_new(o, "group_by", str_or_null(p->group));
    for (size_t i = 0; kv && kv[i]; i += 2) {
        if (!kv[i + 1])
            continue;
        /* Stages may leave JSON (compiler.structure); keep it structured. */
        json_t *v = kv[i + 1][0] == '{' ? json_loads(kv[i + 1], 0, NULL) : NULL;
        json_object_set_new(o, kv[i], v ? v : str_or_null(kv[i + 1]));
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

static void copy_str(json_t *o, const char *key, char *dst, size_t cap)
{
    const char *s = json_string_value(json_object_get(o, key));
    snprintf(dst, cap, "%s", s ? s : "");
}

int session_structure_parts(const char *json, struct session_parts *out)
{
    memset(out, 0, sizeof(*out));
    json_t *o = json ? json_loads(json, 0, NULL) : NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        return DC_EINVAL;
    }
    copy_str(o, "subject", out->base, sizeof(out->base));
    copy_str(o, "time_range", out->time, sizeof(out->time));
    copy_str(o, "group_by", out->group, sizeof(out->group));
    json_t *f = json_object_get(o, "filters");
    for (size_t i = 0; i < json_array_size(f); i++) {
        const char *s = json_string_value(json_array_get(f, i));
        if (s)
            add_filter(out, s);
    }
    json_decref(o);
    return DC_OK;
}

char *session_normalise(const char *q)
{
    struct sbuf b;
    sbuf_init(&b);
    int space = 0;
    for (const char *p = q ? q : ""; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (isspace(ch) || ch == ',' || ch == ';') {
            space = 1;
            continue;
        }
        if (space && b.len)
            sbuf_adds(&b, " ");
        space = 0;
        char c = (char)tolower(ch);
        sbuf_add(&b, &c, 1);
    }
    while (b.len && strchr("?.!", b.p[b.len - 1]))
        b.p[--b.len] = '\0';
    if (!b.p && !b.oom)
        sbuf_adds(&b, "");
    return sbuf_detach(&b);
}

int session_key(const char *const *parts, size_t n, char out[65])
{
    struct sbuf b;
    sbuf_init(&b);
    for (size_t i = 0; i < n; i++) {
        sbuf_adds(&b, parts[i] ? parts[i] : "");
        sbuf_add(&b, "", 1);
    }
    int rc = b.oom ? DC_ENOMEM : util_sha256_hex(b.p ? b.p : "", b.len, out);
    sbuf_free(&b);
    return rc;
}

static json_t *value_encode(const struct dc_value *v)
{
    switch (v->type) {
    case DC_NULL: return json_pack("[i]", v->type);
    case DC_INT:
    case DC_BOOL: return json_pack("[i, I]", v->type, (json_int_t)v->v.i);
    case DC_REAL: return json_pack("[i, f]", v->type, v->v.d);
    case DC_BLOB: return NULL;
    default:
        if (!util_utf8_valid(v->v.s.p, v->v.s.n))
            return NULL;
        return json_pack("[i, s%]", v->type, v->v.s.p, v->v.s.n);
    }
}

int session_result_encode(const struct dc_result *r, char **out)
{
    *out = NULL;
    int rc = DC_ENOMEM;
    json_t *o = json_object(), *cols = json_array(), *rows = json_array();
    if (!o || !cols || !rows)
        goto cleanup;
    for (size_t c = 0; c < result_ncols(r); c++) {
        json_t *col = json_pack("{s:s, s:i}", "name", result_col_name(r, c), "type",
                                result_col_type(r, c));
        if (!col || json_array_append_new(cols, col) != 0)
            goto cleanup;
    }
    for (size_t i = 0; i < result_nrows(r); i++) {
        json_t *row = json_array();
        if (!row || json_array_append_new(rows, row) != 0)
            goto cleanup;
        for (size_t c = 0; c < result_ncols(r); c++) {
            json_t *v = value_encode(result_get(r, i, c));
            if (!v) {
                rc = DC_EUNSUPPORTED;
                goto cleanup;
            }
            json_array_append_new(row, v);
        }
    }
    json_object_set(o, "columns", cols);
    json_object_set(o, "rows", rows);
    json_object_set_new(o, "truncated", json_boolean(result_truncated(r)));
    *out = json_dumps(o, JSON_COMPACT);
    rc = *out ? DC_OK : DC_ENOMEM;
cleanup:
    json_decref(o);
    json_decref(cols);
    json_decref(rows);
    return rc;
}

static int value_decode(json_t *j, struct dc_value *v)
{
    json_t *t = json_array_get(j, 0), *x = json_array_get(j, 1);
    if (!json_is_integer(t))
        return DC_EINVAL;
    v->type = (int)json_integer_value(t);
    if (json_integer_value(t) < DC_NULL || json_integer_value(t) > DC_JSON)
        return DC_EINVAL;
    switch (v->type) {
    case DC_NULL: return DC_OK;
    case DC_INT:
    case DC_BOOL: v->v.i = json_integer_value(x); return json_is_integer(x) ? DC_OK : DC_EINVAL;
    case DC_REAL: v->v.d = json_number_value(x); return json_is_number(x) ? DC_OK : DC_EINVAL;
    case DC_BLOB: return DC_EINVAL;
    default:
        if (!json_is_string(x))
            return DC_EINVAL;
        v->v.s.p = json_string_value(x);
        v->v.s.n = json_string_length(x);
        return DC_OK;
    }
}

int session_result_decode(const char *text, struct dc_result **out)
{
    *out = NULL;
    int rc = DC_EINVAL;
    struct dc_value *vals = NULL;
    struct dc_result *r = NULL;
    json_t *o = json_loads(text, 0, NULL);
    json_t *cols = json_object_get(o, "columns"), *rows = json_object_get(o, "rows");
    if (!json_is_array(cols) || !json_is_array(rows))
        goto cleanup;
    size_t nc = json_array_size(cols);
    r = result_new();
    vals = calloc(nc ? nc : 1, sizeof(*vals));
    if (!r || !vals) {
        rc = DC_ENOMEM;
        goto cleanup;
    }
    for (size_t c = 0; c < nc; c++) {
        json_t *col = json_array_get(cols, c);
        const char *name = json_string_value(json_object_get(col, "name"));
        json_t *type = json_object_get(col, "type");
        if (!name || !json_is_integer(type) || json_integer_value(type) < DC_NULL ||
            json_integer_value(type) > DC_JSON)
            goto cleanup;
        rc = result_add_column(r, name, (int)json_integer_value(type), NULL);
        if (rc != DC_OK)
            goto cleanup;
        rc = DC_EINVAL;
    }
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *row = json_array_get(rows, i);
        if (json_array_size(row) != nc)
            goto cleanup;
        for (size_t c = 0; c < nc; c++)
            if (value_decode(json_array_get(row, c), &vals[c]) != DC_OK)
                goto cleanup;
        if (result_append_row(r, vals, nc) != DC_OK) {
            rc = DC_ENOMEM;
            goto cleanup;
        }
    }
    result_set_truncated(r, json_is_true(json_object_get(o, "truncated")));
    *out = r;
    r = NULL;
    rc = DC_OK;
cleanup:
    result_free(r);
    free(vals);
    json_decref(o);
    return rc;
}

/* ---- Hooks for the runtime ---------------------------------------------- */

#define SESSION_TURNS_LOADED 5
#define SESSION_EXAMPLES 5

/* "sqlite:PATH" -> PATH; NULL for a store kind that holds no sessions. */
static const char *store_file(const struct runtime *rt)
{
    const char *url = rt->cfg->store_url;
    return url && strncmp(url, "sqlite:", 7) == 0 ? url + 7 : NULL;
}

struct store *session_store(struct runtime *rt, char *err, size_t errlen)
{
    pthread_mutex_lock(&rt->store_lock);
    if (!rt->store) {
        const char *path = store_file(rt);
        if (!path)
            util_err(err, errlen, DC_EUNSUPPORTED,
                     "E-STORE-UNSUPPORTED: store.url '%s' is not a sqlite: file; sessions, "
                     "feedback and caches need one (store: { url: \"sqlite:var/state.db\" })",
                     rt->cfg->store_url ? rt->cfg->store_url : "");
        else
            store_open(path, &rt->store, err, errlen);
    }
    struct store *s = rt->store;
    pthread_mutex_unlock(&rt->store_lock);
    return s;
}

void session_cache_stats(struct runtime *rt, struct store_cache_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&rt->store_lock);
    if (rt->store)
        store_cache_stats(rt->store, out);
    pthread_mutex_unlock(&rt->store_lock);
}

const char *session_err_split(const char *err, const char *dflt, char *code, size_t cap)
{
    const char *colon = strchr(err, ':');
    if (strncmp(err, "E-", 2) == 0 && colon && (size_t)(colon - err) < cap && colon[1] == ' ') {
        snprintf(code, cap, "%.*s", (int)(colon - err), err);
        return colon + 2;
    }
    snprintf(code, cap, "%s", dflt);
    return err;
}

/* A store error on the request, under its own stable code. */
static void fail_store(struct dc_ctx *c, const char *err)
{
    char code[40];
    const char *msg = session_err_split(err, "E-STORE-IO", code, sizeof(code));
    ctx_fail(c, code, "%s", msg);
}

static void new_answer_id(char out[33])
{
    unsigned char b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        /* No entropy: a time-based id still tells answers apart. */
        int64_t t = util_now_us();
        memcpy(b, &t, sizeof(t));
        memcpy(b + 8, &t, sizeof(t));
    }
    for (size_t i = 0; i < sizeof(b); i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* What a principal's policy lets it see of db, as a digest: two principals
 * share cached SQL and results only when this is equal. */
static int policy_hash(struct runtime *rt, const char *principal, const char *db, char out[65])
{
    struct sbuf b;
    sbuf_init(&b);
    sbuf_addf(&b, "max_rows=%lld\n", (long long)rt->cfg->max_rows);
    if (!rt->policies) {
        sbuf_adds(&b, "no policies\n");
    } else {
        struct policy_rules *r = NULL;
        if (policy_resolve(rt->policies, principal, db, &r) != DC_OK) {
            sbuf_free(&b);
            return DC_ENOTFOUND;
        }
        sbuf_addf(&b, "has_db=%d default=%d rows=%lld timeout=%lld\n", r->has_db,
                  r->default_allowed, (long long)r->max_rows, (long long)r->timeout_ms);
        for (size_t i = 0; i < r->ntables; i++) {
            const struct policy_table *t = r->tables[i].t;
            sbuf_addf(&b, "table %s allowed=%d filter=%s\n", t->name, t->allowed,
                      t->row_filter ? t->row_filter : "");
            for (size_t k = 0; k < t->ncols; k++)
                sbuf_addf(&b, " col %s denied=%d mask=%d %s\n", t->cols[k].name,
                          t->cols[k].denied, t->cols[k].mask,
                          t->cols[k].mask_sql ? t->cols[k].mask_sql : "");
        }
        policy_rules_free(r);
    }
    int rc = b.oom ? DC_ENOMEM : util_sha256_hex(b.p, b.len, out);
    sbuf_free(&b);
    return rc;
}

/* Tables and columns (names and types) of the catalog the request sees. */
static int schema_hash(struct dc_ctx *c, const char *db, char out[65])
{
    const struct dc_schema *s = ctx_schema(c, db);
    if (!s)
        return DC_ENOTFOUND;
    struct sbuf b;
    sbuf_init(&b);
    for (size_t i = 0; i < schema_ntables(s); i++) {
        const struct dc_table_info *t = schema_table(s, i);
        sbuf_addf(&b, "%s.%s\n", t->schema_name ? t->schema_name : "", t->name);
        for (size_t k = 0; k < t->ncolumns; k++)
            sbuf_addf(&b, " %s %d\n", t->columns[k].name, t->columns[k].type);
    }
    int rc = b.oom ? DC_ENOMEM : util_sha256_hex(b.p ? b.p : "", b.len, out);
    sbuf_free(&b);
    return rc;
}

static int has_sqlgen_stage(const struct runtime *rt)
{
    for (size_t i = 0; i < rt->cfg->nstages; i++)
        if (rt->cfg->stages[i].use && strstr(rt->cfg->stages[i].use, "sqlgen"))
            return 1;
    return 0;
}

static int sql_cache_key(struct runtime *rt, struct dc_ctx *c, char out[65])
{
    const char *db = ctx_get(c, "database");
    char pol[65], sch[65], dp[65] = "";
    if (policy_hash(rt, ctx_get(c, "principal"), db, pol) != DC_OK ||
        schema_hash(c, db, sch) != DC_OK)
        return DC_ENOTFOUND;
    if (dp_config_fingerprint(rt->cfg, dp) != DC_OK)
        dp[0] = '\0';
    char *norm = session_normalise(ctx_get(c, "question"));
    if (!norm)
        return DC_ENOMEM;
    const char *parts[] = {"sql/1", db, norm, sch, dp, pol};
    int rc = session_key(parts, 6, out);
    free(norm);
    return rc;
}

/* The newest turn that answered with SQL and has a subject: what a
 * follow-up builds on. */
static const struct store_turn *base_turn(const struct store_turn *t, size_t n,
                                          struct session_parts *parts)
{
    for (size_t i = n; i-- > 0;) {
        /* Catalog answers ("list tables") have no query to build on. */
        if (!t[i].outcome || strcmp(t[i].outcome, "answered") != 0 || !t[i].sql)
            continue;
        if (session_structure_parts(t[i].structure, parts) == DC_OK && parts->base[0])
            return &t[i];
    }
    return NULL;
}

static int load_session(struct runtime *rt, struct dc_ctx *c, struct session_req *sr)
{
    char err[1024] = "";
    struct store *st = session_store(rt, err, sizeof(err));
    if (!st) {
        fail_store(c, err);
        return DC_EIO;
    }
    struct store_turn *t = NULL;
    size_t n = 0;
    int rc = store_turns_last(st, sr->session, SESSION_TURNS_LOADED, &t, &n, err, sizeof(err));
    if (rc != DC_OK) {
        fail_store(c, err);
        return rc;
    }
    json_t *hist = json_array();
    for (size_t i = 0; hist && i < n; i++)
        json_array_append_new(hist, json_pack("{s:I, s:s?, s:s?, s:s?}", "turn",
                                              (json_int_t)t[i].turn, "question", t[i].question,
                                              "sql", t[i].sql, "outcome", t[i].outcome));
    char *hs = hist ? json_dumps(hist, JSON_COMPACT) : NULL;
    json_decref(hist);
    char turns[24];
    snprintf(turns, sizeof(turns), "%lld", n ? (long long)t[n - 1].turn : 0ll);
    rc = ctx_set(c, "session.id", sr->session);
    if (rc == DC_OK)
        rc = ctx_set(c, "session.turns", turns);
    if (rc == DC_OK && hs)
        rc = ctx_set(c, "session.history", hs);
    free(hs);
    if (rc == DC_OK && n) {
        const struct store_turn *last = &t[n - 1];
        rc = ctx_set(c, "session.last_question",
                     last->resolved ? last->resolved : last->question);
        if (rc == DC_OK && last->sql)
            rc = ctx_set(c, "session.last_sql", last->sql);
        if (rc == DC_OK && last->structure)
            rc = ctx_set(c, "session.last_structure", last->structure);
    }
    struct session_parts base;
    const struct store_turn *on = rc == DC_OK ? base_turn(t, n, &base) : NULL;
    const char *asked = ctx_get(c, "question");
    if (rc == DC_OK && on && !sr->parts.base[0] && !session_parts_empty(&sr->parts)) {
        struct session_parts merged;
        session_parts_merge(&base, &sr->parts, &merged);
        char *text = session_parts_text(&merged);
        char *orig = util_strdup(asked);
        if (!text || !orig) {
            rc = DC_ENOMEM;
        } else {
            sr->parts = merged;
            sr->built_on = (int)on->turn;
            char on_s[24];
            snprintf(on_s, sizeof(on_s), "%lld", (long long)on->turn);
            rc = ctx_set(c, "question.asked", orig);
            if (rc == DC_OK)
                rc = ctx_set(c, "question", text);
            if (rc == DC_OK)
                rc = ctx_set(c, "session.built_on", on_s);
            ctx_trace_note(c, "follow-up with no subject of its own: built on turn %lld (\"%s\"), "
                              "asking \"%s\"",
                           (long long)on->turn, on->resolved ? on->resolved : on->question,
                           text);
        }
        free(text);
        free(orig);
    } else if (rc == DC_OK) {
        ctx_trace_note(c, "session %s: %zu earlier turn%s loaded%s", sr->session, n,
                       n == 1 ? "" : "s", sr->parts.base[0] ? "; the question has its own subject" : "");
    }
    store_turns_free(t, n);
    if (rc == DC_ENOMEM)
        ctx_fail(c, "E-INTERNAL", "out of memory loading the session");
    return rc;
}

/* Corrected question/SQL pairs for SQL-writing stages, as JSON. */
static void load_examples(struct store *st, struct dc_ctx *c)
{
    char err[512] = "";
    struct store_example *e = NULL;
    size_t n = 0;
    if (store_examples(st, ctx_get(c, "database"), SESSION_EXAMPLES, &e, &n, err, sizeof(err)) !=
        DC_OK) {
        ctx_trace_note(c, "feedback examples unavailable: %s", err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_pack("{s:s?, s:s?}", "question", e[i].question, "sql",
                                           e[i].sql));
    char *s = n && a ? json_dumps(a, JSON_COMPACT) : NULL;
    if (s)
        ctx_set(c, "feedback.examples", s);
    if (n)
        ctx_trace_note(c, "%zu feedback example%s offered (feedback.examples)", n,
                       n == 1 ? "" : "s");
    free(s);
    json_decref(a);
    store_examples_free(e, n);
}

int session_begin(struct runtime *rt, struct dc_ctx *c, const char *session,
                  struct session_req *sr)
{
    memset(sr, 0, sizeof(*sr));
    sr->session = session;
    char id[33];
    new_answer_id(id);
    if (ctx_set(c, "answer.id", id) != DC_OK || ctx_set(c, "cache.results", "1") != DC_OK)
        return DC_ENOMEM;
    session_parts_parse(ctx_get(c, "question"), &sr->parts);
    /* A question without a session and without a stage that writes SQL
     * with a model never opens the store before the pipeline. */
    int sqlgen = has_sqlgen_stage(rt);
    if (!session && !sqlgen)
        return DC_OK;
    if (ctx_trace_begin(c, "session", "core") != DC_OK)
        return DC_ENOMEM;
    int64_t t0 = util_now_us();
    int rc = session ? load_session(rt, c, sr) : DC_OK;
    char err[512] = "";
    struct store *st = rc == DC_OK ? session_store(rt, err, sizeof(err)) : NULL;
    if (rc == DC_OK && !st)
        ctx_trace_note(c, "no state store, so no caches: %s", err);
    if (st && rt->cfg->sql_cache_ttl_s > 0 && sql_cache_key(rt, c, sr->sql_key) == DC_OK) {
        char *sql = NULL;
        int grc = store_cache_get(st, STORE_CACHE_SQL, sr->sql_key, &sql, err, sizeof(err));
        if (grc == DC_OK) {
            ctx_set(c, "cache.sql", sql);
            ctx_trace_note(c, "sql cache: hit (key %.12s), offered as cache.sql", sr->sql_key);
        } else {
            ctx_trace_note(c, "sql cache: miss%s%s", grc == DC_ENOTFOUND ? "" : " - ",
                           grc == DC_ENOTFOUND ? "" : err);
        }
        free(sql);
    }
    if (st && sqlgen)
        load_examples(st, c);
    ctx_trace_end(c, rc == DC_OK ? (sr->built_on ? "follow-up" : "ok") : NULL,
                  util_now_us() - t0);
    return rc;
}

/* Asked for clarification, or could not ground the question: a stage
 * ended with one of these outcomes. */
static int asked_to_clarify(struct dc_ctx *c)
{
    for (size_t i = 0; i < ctx_ntrace(c); i++) {
        const struct trace_step *t = ctx_trace_at(c, i);
        if (t->outcome && (strcmp(t->outcome, "clarify") == 0 || strcmp(t->outcome, "unsure") == 0))
            return 1;
    }
    return 0;
}

static const char *turn_sql(struct dc_ctx *c)
{
    return ctx_get(c, "sql.run") ? ctx_get(c, "sql.run") : ctx_get(c, "sql");
}

static int over_budget(struct runtime *rt, struct store *st, struct dc_ctx *c,
                       struct session_req *sr)
{
    char err[512] = "";
    int64_t asked = 0;
    if (store_turns_count(st, sr->session, "clarify", &asked, err, sizeof(err)) != DC_OK) {
        fail_store(c, err);
        return -1;
    }
    if (asked < rt->cfg->session_max_clarify)
        return 0;
    char text[512];
    snprintf(text, sizeof(text),
             "I have already asked for clarification %lld time%s in this session (the limit, "
             "store.session_max_clarify, is %lld), so I will not ask again. Ask a complete "
             "question that names the table or metric, or start a new session.",
             (long long)asked, asked == 1 ? "" : "s", (long long)rt->cfg->session_max_clarify);
    ctx_set(c, "answer", text);
    ctx_set(c, "output", text);
    ctx_set(c, "refused", "E-SESSION-CLARIFY-LIMIT");
    ctx_fail(c, "E-SESSION-CLARIFY-LIMIT", "%s", text);
    return 1;
}

static void record_turn(struct store *st, struct dc_ctx *c,
                        struct session_req *sr, const char *outcome)
{
    char on[24];
    snprintf(on, sizeof(on), "%d", sr->built_on);
    const char *kv[] = {"intent",           ctx_get(c, "intent"),
                        "metric",           ctx_get(c, "metric.id"),
                        "metric_variant",   ctx_get(c, "metric.variant"),
                        "table",            ctx_get(c, "catalog.table"),
                        "compiler",         ctx_get(c, "compiler.structure"),
                        "built_on_turn",    sr->built_on ? on : NULL,
                        NULL};
    char *structure = session_structure_json(&sr->parts, kv);
    const char *asked = ctx_get(c, "question.asked");
    struct store_turn t = {.question = (char *)(asked ? asked : ctx_get(c, "question")),
                           .resolved = asked ? (char *)ctx_get(c, "question") : NULL,
                           .structure = structure,
                           .sql = (char *)turn_sql(c),
                           .outcome = (char *)outcome,
                           .answer_id = (char *)ctx_get(c, "answer.id")};
    char err[512] = "";
    if (store_turn_add(st, sr->session, &t, err, sizeof(err)) == DC_OK) {
        char no[24];
        snprintf(no, sizeof(no), "%lld", (long long)t.turn);
        ctx_set(c, "session.turn", no);
    } else {
        fail_store(c, err);
    }
    free(structure);
}

int session_end(struct runtime *rt, struct dc_ctx *c, struct session_req *sr, int rc)
{
    char err[512] = "";
    const char *sql = turn_sql(c);
    int answered = rc == DC_OK && !ctx_error_code(c) && !ctx_get(c, "refused");
    struct store *st = NULL;
    if (sr->session || (answered && sql))
        st = session_store(rt, err, sizeof(err));
    if (sr->session && !st) {
        fail_store(c, err);
        return rc == DC_OK ? DC_EIO : rc;
    }
    if (!st)
        return rc;
    if (sr->session) {
        const char *outcome = answered ? "answered" : ctx_get(c, "refused") ? "refused" : "error";
        if (asked_to_clarify(c)) {
            int over = over_budget(rt, st, c, sr);
            outcome = over ? "clarify-refused" : "clarify";
            if (over > 0)
                rc = DC_EDENIED;
        }
        record_turn(st, c, sr, outcome);
    }
    if (answered && sql) {
        struct store_answer a = {.id = (char *)ctx_get(c, "answer.id"),
                                 .question = (char *)ctx_get(c, "question"),
                                 .sql = (char *)sql,
                                 .database = (char *)ctx_get(c, "database"),
                                 .principal = (char *)ctx_get(c, "principal"),
                                 .session = (char *)sr->session};
        if (store_answer_add(st, &a, err, sizeof(err)) != DC_OK)
            ctx_trace_note(c, "answer not recorded for feedback: %s", err);
        if (sr->sql_key[0] && rt->cfg->sql_cache_ttl_s > 0 &&
            store_cache_put(st, STORE_CACHE_SQL, sr->sql_key, sql, rt->cfg->sql_cache_ttl_s, err,
                            sizeof(err)) != DC_OK)
            ctx_trace_note(c, "sql cache not written: %s", err);
    }
    return rc;
}

static int result_key(struct runtime *rt, struct dc_ctx *c, const char *db, const char *sql,
                      const struct dc_value *params, size_t nparams, char out[65])
{
    char pol[65];
    if (policy_hash(rt, ctx_get(c, "principal"), db, pol) != DC_OK)
        return DC_ENOTFOUND;
    char *ps = NULL;
    struct dc_result *pr = result_new();
    int rc = pr ? DC_OK : DC_ENOMEM;
    /* Parameters encoded like a one-row result, so types count too. */
    for (size_t i = 0; rc == DC_OK && i < nparams; i++) {
        char name[24];
        snprintf(name, sizeof(name), "p%zu", i);
        rc = result_add_column(pr, name, params[i].type, NULL);
    }
    if (rc == DC_OK && nparams)
        rc = result_append_row(pr, params, nparams);
    if (rc == DC_OK)
        rc = session_result_encode(pr, &ps);
    result_free(pr);
    if (rc != DC_OK)
        return rc;
    const char *parts[] = {"result/1", db, sql, ps, pol};
    rc = session_key(parts, 5, out);
    free(ps);
    return rc;
}

/* The store is opened by the first statement a request runs: questions
 * that run none (catalog questions) never open it. */
static struct store *cache_store(struct runtime *rt, struct dc_ctx *c)
{
    /* Only questions (session_begin marks them): `datachat sql` and tools
     * always run their statement. */
    if (rt->cfg->result_cache_ttl_s <= 0 || !ctx_get(c, "cache.results"))
        return NULL;
    char err[512];
    return session_store(rt, err, sizeof(err));
}

int session_result_get(struct runtime *rt, struct dc_ctx *c, const char *db, const char *sql,
                       const struct dc_value *params, size_t nparams, struct dc_result **out,
                       char **sql_run)
{
    *out = NULL;
    *sql_run = NULL;
    struct store *st = cache_store(rt, c);
    char key[65], err[512] = "";
    if (!st || result_key(rt, c, db, sql, params, nparams, key) != DC_OK)
        return DC_ENOTFOUND;
    char *text = NULL;
    int rc = store_cache_get(st, STORE_CACHE_RESULT, key, &text, err, sizeof(err));
    if (rc != DC_OK) {
        ctx_trace_note(c, "result cache: miss%s%s", rc == DC_ENOTFOUND ? "" : " - ",
                       rc == DC_ENOTFOUND ? "" : err);
        return DC_ENOTFOUND;
    }
    json_t *o = json_loads(text, 0, NULL);
    free(text);
    const char *run = json_string_value(json_object_get(o, "sql_run"));
    char *res = json_dumps(json_object_get(o, "result"), JSON_COMPACT);
    rc = res ? session_result_decode(res, out) : DC_EINVAL;
    free(res);
    if (rc == DC_OK && run)
        *sql_run = util_strdup(run);
    json_decref(o);
    if (rc != DC_OK) {
        ctx_trace_note(c, "result cache: unreadable entry ignored");
        return DC_ENOTFOUND;
    }
    /* A served result is still a read of the data: it is audited. */
    struct audit_record ar = {.event = "query",
                              .principal = ctx_get(c, "principal"),
                              .database = db,
                              .sql = *sql_run ? *sql_run : sql,
                              .rows = (int64_t)result_nrows(*out),
                              .duration_us = 0,
                              .outcome = "ok",
                              .reason = "served from the result cache",
                              .question = ctx_get(c, "question")};
    if (audit_append(rt->audit, &ar, err, sizeof(err)) != DC_OK) {
        ctx_fail(c, "E-AUDIT-WRITE", "%s", err);
        result_free(*out);
        *out = NULL;
        free(*sql_run);
        *sql_run = NULL;
        return DC_EIO;
    }
    ctx_trace_note(c, "result cache: hit (key %.12s), %zu rows, not run again", key,
                   result_nrows(*out));
    return DC_OK;
}

void session_result_put(struct runtime *rt, struct dc_ctx *c, const char *db, const char *sql,
                        const struct dc_value *params, size_t nparams,
                        const struct dc_result *r, const char *sql_run)
{
    struct store *st = cache_store(rt, c);
    char key[65], err[512] = "";
    char *res = NULL;
    if (!st || result_key(rt, c, db, sql, params, nparams, key) != DC_OK ||
        session_result_encode(r, &res) != DC_OK)
        return;
    json_t *o = json_pack("{s:s?, s:o?}", "sql_run", sql_run, "result", json_loads(res, 0, NULL));
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text && store_cache_put(st, STORE_CACHE_RESULT, key, text, rt->cfg->result_cache_ttl_s,
                                err, sizeof(err)) != DC_OK)
        ctx_trace_note(c, "result cache not written: %s", err);
    free(text);
    free(res);
    json_decref(o);
}

int session_feedback(struct runtime *rt, const char *answer_id, const char *verdict,
                     const char *comment, const char *corrected_sql, int64_t *id, char *err,
                     size_t errlen)
{
    if (!verdict || (strcmp(verdict, "right") != 0 && strcmp(verdict, "wrong") != 0))
        return util_err(err, errlen, DC_EINVAL,
                        "E-FEEDBACK-VERDICT: the verdict must be \"right\" or \"wrong\"");
    if (strcmp(verdict, "wrong") == 0 && !(comment && *comment) &&
        !(corrected_sql && *corrected_sql))
        return util_err(err, errlen, DC_EINVAL,
                        "E-FEEDBACK-EMPTY: say what was wrong (--wrong \"...\") or give the "
                        "corrected SQL (--sql \"SELECT ...\")");
    if (strcmp(verdict, "right") == 0 && corrected_sql)
        return util_err(err, errlen, DC_EINVAL,
                        "E-FEEDBACK-CONFLICT: corrected SQL goes with a \"wrong\" verdict");
    if (!answer_id || !*answer_id || strlen(answer_id) > 64)
        return util_err(err, errlen, DC_EINVAL,
                        "E-FEEDBACK-ID: give the answer's id (\"answer_id\" in the answer)");
    struct store *st = session_store(rt, err, errlen);
    if (!st)
        return DC_EIO;
    struct store_answer a;
    int rc = store_answer_get(st, answer_id, &a, err, errlen);
    if (rc != DC_OK)
        return rc;
    if (corrected_sql && *corrected_sql) {
        struct gate_decision dec;
        memset(&dec, 0, sizeof(dec));
        char gerr[512] = "";
        rc = runtime_explain(rt, corrected_sql, a.database, a.principal, &dec, gerr,
                             sizeof(gerr));
        if (rc != DC_OK) {
            rc = util_err(err, errlen, rc == DC_EDENIED ? DC_EDENIED : DC_EINVAL,
                          "E-FEEDBACK-SQL: the corrected SQL is not accepted for database %s: "
                          "%s%s%s",
                          a.database ? a.database : "(default)", dec.code[0] ? dec.code : "",
                          dec.code[0] ? " " : "", dec.reason[0] ? dec.reason : gerr);
        }
        gate_decision_clear(&dec);
    }
    if (rc == DC_OK)
        rc = store_feedback_add(st, &a, verdict, comment && *comment ? comment : NULL,
                                corrected_sql && *corrected_sql ? corrected_sql : NULL, id, err,
                                errlen);
    store_answer_clear(&a);
    return rc;
}

static int64_t int_or(json_t *o, const char *key, int64_t scale)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) * scale : -1;
}

void session_llm_usage(struct runtime *rt, struct dc_ctx *c, const char *instance, int rc)
{
    const char *u = ctx_get(c, "llm.usage");
    json_t *o = u ? json_loads(u, 0, NULL) : NULL;
    const char *provider = json_string_value(json_object_get(o, "provider"));
    struct store_llm_usage rec = {
        .provider = provider ? provider : instance ? instance : "default",
        .model = json_string_value(json_object_get(o, "model")),
        .outcome = rc == DC_OK ? "ok" : ctx_error_code(c) ? ctx_error_code(c) : "error",
        .prompt_tokens = int_or(o, "input_tokens", 1),
        .completion_tokens = int_or(o, "output_tokens", 1),
        .latency_us = int_or(o, "latency_ms", 1000)};
    char err[512] = "";
    struct store *st = session_store(rt, err, sizeof(err));
    if (!st || store_llm_usage_add(st, &rec, err, sizeof(err)) != DC_OK)
        ctx_trace_note(c, "llm usage not recorded: %s", err);
    json_decref(o);
}
