#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <datachat/value.h>

#include "httptool.h"
#include "luart.h"
#include "sandbox.h"
#include "util.h"
#include "ytree.h"

/* A config is a small hand-written file; anything bigger or deeper is a
 * mistake or an attack on the parser, and is refused before it costs much. */
#define CFG_MAX_BYTES (1024u * 1024u)
#define CFG_MAX_DEPTH 32
#define CFG_MAX_NODES 200000
#define CFG_MAX_STEPS 1000

#define CFG_DEFAULT_MAX_ROWS 1000
#define CFG_DEFAULT_TIMEOUT_MS 30000
#define CFG_DEFAULT_MAX_QUESTION 65536
#define CFG_DEFAULT_BODY_BYTES (1024 * 1024)
#define CFG_DEFAULT_HEADER_BYTES (16 * 1024)
#define CFG_DEFAULT_RPM 600
#define CFG_DEFAULT_CONCURRENT 64
#define CFG_DEFAULT_SERVER_TIMEOUT_S 30
#define CFG_DEFAULT_REQUEST_TIMEOUT_S 30

static const char secret_hint_fmt[] =
    "put the value in an environment variable and name it with %s_env";

/* ------------------------------------------------------------------------
 * The YAML tree. libyaml's document API resolves aliases silently, so the
 * tree is built from events: that is where anchors and aliases are seen and
 * refused, and where every node gets its 1-based line:col.
 */
struct loader {
    struct cfg_diags *diags;
    const char *file;
    struct dc_config *cfg;
    size_t nerr; /* counted even when no diags sink was given */
    int oom;
};

static void diags_reset(struct cfg_diags *d)
{
    if (!d)
        return;
    d->n = 0;
    d->dropped = 0;
}

static void diag_vadd(struct loader *ld, int line, int col, const char *code,
                      const char *hint, const char *fmt, va_list ap)
{
    struct cfg_diags *dg = ld->diags;
    const char *file = ld->file;
    ld->nerr++;
    if (!dg)
        return;
    if (dg->n >= CFG_MAX_DIAGS) {
        dg->dropped++;
        return;
    }
    struct cfg_diag *d = &dg->d[dg->n++];
    memset(d, 0, sizeof(*d));
    snprintf(d->file, sizeof(d->file), "%s", file ? file : "(config)");
    d->line = line;
    d->col = col;
    snprintf(d->code, sizeof(d->code), "%s", code);
    vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
    snprintf(d->hint, sizeof(d->hint), "%s", hint ? hint : "");
}

static void diag_add(struct loader *ld, int line, int col, const char *code,
                     const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static void diag_add(struct loader *ld, int line, int col, const char *code,
                     const char *hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(ld, line, col, code, hint, fmt, ap);
    va_end(ap);
}

static void diag_at(struct loader *ld, const struct ynode *n, const char *code,
                    const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void diag_at(struct loader *ld, const struct ynode *n, const char *code,
                    const char *hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(ld, n ? n->line : 0, n ? n->col : 0, code, hint, fmt, ap);
    va_end(ap);
}

static void diag_oom(struct loader *ld)
{
    if (!ld->oom)
        diag_add(ld, 0, 0, "E-CFG-NOMEM", "free memory and retry",
                 "out of memory while loading the configuration");
    ld->oom = 1;
}

static void yaml_diag(void *arg, int line, int col, const char *code, const char *hint,
                      const char *msg)
{
    diag_add(arg, line, col, code, hint, "%s", msg);
}

static int diag_cmp(const void *a, const void *b)
{
    const struct cfg_diag *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return 0;
}

/* Stable sort by line:col so the report reads top to bottom while
 * diagnostics at the same spot keep the order they were found in. */
static void diags_sort(struct cfg_diags *dg)
{
    if (!dg)
        return;
    for (size_t i = 1; i < dg->n; i++) {
        struct cfg_diag tmp = dg->d[i];
        size_t j = i;
        while (j > 0 && diag_cmp(&dg->d[j - 1], &tmp) > 0) {
            dg->d[j] = dg->d[j - 1];
            j--;
        }
        dg->d[j] = tmp;
    }
}

static char *xstrdup(struct loader *ld, const char *s)
{
    char *p = util_strdup(s);
    if (s && !p)
        diag_oom(ld);
    return p;
}

/* ------------------------------------------------------------------------
 * Small predicates.
 */
static int parse_int_strict(const char *s, int64_t *out)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (!isdigit((unsigned char)*p))
        return DC_EINVAL;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            return DC_EINVAL;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE)
        return DC_EINVAL;
    *out = (int64_t)v;
    return DC_OK;
}

static int parse_number_strict(const char *s, double *out)
{
    const char *p = s;
    int digits = 0;
    if (*p == '-' || *p == '+')
        p++;
    while (isdigit((unsigned char)*p)) {
        p++;
        digits++;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            p++;
            digits++;
        }
    }
    if (!digits)
        return DC_EINVAL;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!isdigit((unsigned char)*p))
            return DC_EINVAL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p)
        return DC_EINVAL;
    errno = 0;
    double v = strtod(s, NULL);
    if (errno == ERANGE || !isfinite(v))
        return DC_EINVAL;
    *out = v;
    return DC_OK;
}

static int parse_bool_text(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1", NULL};
    static const char *const no[] = {"false", "no", "off", "0", NULL};
    for (size_t i = 0; yes[i]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return DC_OK;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return DC_OK;
        }
    }
    return DC_EINVAL;
}

static int valid_name(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
            return 0;
    return 1;
}

static int valid_env_name(const char *s)
{
    if (!s || !(*s == '_' || (*s >= 'A' && *s <= 'Z')))
        return 0;
    for (s++; *s; s++)
        if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

static int ends_with_env(const char *key)
{
    size_t n = strlen(key);
    return n > 4 && strcasecmp(key + n - 4, "_env") == 0;
}

/* Whether a key's name says it carries a secret. Matched on the name
 * lowercased with '_' and '-' removed, so api_key, apiKey and api-key all
 * match; "token" and "pwd" only as the last word, so max_tokens or
 * token_limit are not mistaken for secrets. */
static int secret_key(const char *key)
{
    static const char *const words[] = {"password", "passwd", "passphrase", "secret",
                                        "apikey", "privatekey", "accesskey", "credential",
                                        "authtoken", "accesstoken", "bearer", NULL};
    char norm[128];
    size_t n = 0;
    if (ends_with_env(key))
        return 0;
    for (const char *p = key; *p && n + 1 < sizeof(norm); p++)
        if (*p != '_' && *p != '-')
            norm[n++] = (char)tolower((unsigned char)*p);
    norm[n] = '\0';
    for (size_t i = 0; words[i]; i++)
        if (strstr(norm, words[i]))
            return 1;
    const char *last = key;
    for (const char *p = key; *p; p++)
        if (*p == '_' || *p == '-')
            last = p + 1;
    return strcasecmp(last, "token") == 0 || strcasecmp(last, "pwd") == 0 ||
           strcasecmp(last, "passwd") == 0;
}

static int ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

/* A value that embeds a password: a URL with user:password@ or a
 * keyword DSN with password=. */
static int value_has_password(const char *s)
{
    const char *sch = strstr(s, "://");
    if (sch) {
        const char *auth = sch + 3;
        size_t alen = strcspn(auth, "/?#");
        const char *at = NULL;
        for (size_t i = 0; i < alen; i++)
            if (auth[i] == '@')
                at = auth + i;
        if (at) {
            const char *colon = memchr(auth, ':', (size_t)(at - auth));
            if (colon && colon + 1 < at)
                return 1;
        }
    }
    return ci_contains(s, "password=") || ci_contains(s, "passwd=") || ci_contains(s, "pwd=");
}

/* "did you mean 'x'? <what>: a, b, c" for a list of names; none when the
 * list is empty. */
static void hint_for_names(char *out, size_t outlen, const char *given, const char *what,
                           const char *none, const char *const *names, size_t nnames)
{
    struct sbuf b;
    const char *best = NULL;
    size_t bestd = SIZE_MAX;
    sbuf_init(&b);
    for (size_t i = 0; i < nnames; i++) {
        size_t d = util_edit_distance(given, names[i]);
        if (d < bestd) {
            bestd = d;
            best = names[i];
        }
    }
    if (best && bestd <= 2 && bestd < strlen(best))
        sbuf_addf(&b, "did you mean '%s'? ", best);
    if (nnames == 0) {
        sbuf_adds(&b, none);
    } else {
        sbuf_addf(&b, "%s: ", what);
        for (size_t i = 0; i < nnames; i++)
            sbuf_addf(&b, "%s%s", i ? ", " : "", names[i]);
    }
    snprintf(out, outlen, "%s", b.p && !b.oom ? b.p : "");
    sbuf_free(&b);
}

static size_t names_count(const char *const *names)
{
    size_t n = 0;
    while (names && names[n])
        n++;
    return n;
}

/* ------------------------------------------------------------------------
 * Paths: everything relative resolves against the config file's directory.
 */
static char *absolute_dir(const char *dir)
{
    char *r = realpath(dir, NULL);
    if (r)
        return r;
    if (dir[0] == '/')
        return strdup(dir);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        return NULL;
    return util_join_path(cwd, dir);
}

/* Joins base (absolute) and rel, folding leading "./" and "../" of rel
 * into base so printed paths stay readable. */
static char *join_folded(const char *base, const char *rel)
{
    struct sbuf b;
    size_t blen = strlen(base);
    for (;;) {
        if (strncmp(rel, "./", 2) == 0) {
            rel += 2;
        } else if (strcmp(rel, ".") == 0) {
            rel += 1;
        } else if (strncmp(rel, "../", 3) == 0 || strcmp(rel, "..") == 0) {
            while (blen > 1 && base[blen - 1] == '/')
                blen--;
            while (blen > 1 && base[blen - 1] != '/')
                blen--;
            while (blen > 1 && base[blen - 1] == '/')
                blen--;
            rel += rel[2] ? 3 : 2;
        } else {
            break;
        }
        while (*rel == '/')
            rel++;
    }
    sbuf_init(&b);
    sbuf_add(&b, base, blen);
    if (*rel) {
        if (b.len == 0 || b.p[b.len - 1] != '/')
            sbuf_adds(&b, "/");
        sbuf_adds(&b, rel);
    } else if (b.len == 0) {
        sbuf_adds(&b, "/");
    }
    return sbuf_detach(&b);
}

/* Returns the resolved path or NULL with *why explaining (or NULL on OOM). */
static char *resolve_path(const char *dir, const char *p, const char **why)
{
    *why = NULL;
    if (p[0] == '~') {
        if (p[1] != '\0' && p[1] != '/') {
            *why = "only ~ and ~/ are expanded (from $HOME); ~user is not supported";
            return NULL;
        }
        const char *home = getenv("HOME");
        if (!home || home[0] != '/') {
            *why = "~ cannot be expanded because HOME is not set to an absolute path";
            return NULL;
        }
        return join_folded(home, p[1] ? p + 2 : "");
    }
    if (p[0] == '/')
        return strdup(p);
    return join_folded(dir, p);
}

/* ------------------------------------------------------------------------
 * Typed access to the fixed schema.
 */
static int in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

static void check_keys(struct loader *ld, const struct ynode *map, const char *where,
                       const char *const *valid)
{
    if (!map || map->kind != YN_MAP)
        return;
    for (size_t i = 0; i + 1 < map->nkids; i += 2) {
        const struct ynode *k = map->kids[i];
        if (k->skip || in_list(k->s, valid))
            continue;
        char hint[256];
        if (secret_key(k->s)) {
            snprintf(hint, sizeof(hint), secret_hint_fmt, k->s);
            diag_at(ld, k, "E-CFG-INLINE-SECRET", hint,
                    "'%s' in %s looks like a secret written inline", k->s, where);
            continue;
        }
        hint_for_names(hint, sizeof(hint), k->s, "valid keys", "no keys are valid here", valid,
                       names_count(valid));
        diag_at(ld, k, "E-CFG-UNKNOWN-KEY", hint, "unknown key '%s' in %s", k->s, where);
    }
}

/* A mapping value: NULL when absent or written as nothing; E-CFG-TYPE
 * when present with another shape. */
static const struct ynode *want_map(struct loader *ld, const struct ynode *v, const char *path)
{
    if (!v || v->bad || ynode_is_null(v))
        return NULL;
    if (v->kind != YN_MAP) {
        diag_at(ld, v, "E-CFG-TYPE", "write it as `key: value` lines or { key: value }",
                "%s must be a mapping, got %s", path, ynode_kind_name(v));
        return NULL;
    }
    return v;
}

/* A scalar string. Returns 1 when *out was set, 0 otherwise. */
static int want_str(struct loader *ld, const struct ynode *v, const char *path, char **out)
{
    if (!v || v->bad)
        return 0;
    if (v->kind != YN_SCALAR || ynode_is_null(v)) {
        diag_at(ld, v, "E-CFG-TYPE", "write a single value after the colon",
                "%s must be a string, got %s", path, ynode_kind_name(v));
        return 0;
    }
    free(*out);
    *out = xstrdup(ld, v->s);
    return *out != NULL;
}

static int want_int(struct loader *ld, const struct ynode *v, const char *path, int64_t lo,
                    int64_t hi, int64_t *out)
{
    int64_t x;
    if (!v || v->bad)
        return 0;
    if (v->kind != YN_SCALAR || ynode_is_null(v)) {
        diag_at(ld, v, "E-CFG-TYPE", "write a whole number, e.g. 10",
                "%s must be an integer, got %s", path, ynode_kind_name(v));
        return 0;
    }
    if (!v->plain) {
        diag_at(ld, v, "E-CFG-TYPE", "remove the quotes around the number",
                "%s must be an integer, got the quoted string \"%s\"", path, v->s);
        return 0;
    }
    if (parse_int_strict(v->s, &x) != DC_OK) {
        diag_at(ld, v, "E-CFG-TYPE", "write a whole number, e.g. 10",
                "%s must be an integer, got '%s'", path, v->s);
        return 0;
    }
    if (x < lo || x > hi) {
        char hint[96];
        snprintf(hint, sizeof(hint), "use a value from %lld to %lld", (long long)lo,
                 (long long)hi);
        diag_at(ld, v, "E-CFG-RANGE", hint, "%s is %lld, outside %lld..%lld", path,
                (long long)x, (long long)lo, (long long)hi);
        return 0;
    }
    *out = x;
    return 1;
}

static int want_bool(struct loader *ld, const struct ynode *v, const char *path, int *out)
{
    if (!v || v->bad)
        return 0;
    if (v->kind != YN_SCALAR || !v->plain || parse_bool_text(v->s, out) != DC_OK) {
        diag_at(ld, v, "E-CFG-TYPE", "write true or false",
                "%s must be a boolean, got %s%s%s", path,
                v->kind == YN_SCALAR && !ynode_is_null(v) ? "'" : "",
                v->kind == YN_SCALAR && !ynode_is_null(v) ? v->s : ynode_kind_name(v),
                v->kind == YN_SCALAR && !ynode_is_null(v) ? "'" : "");
        return 0;
    }
    return 1;
}

static void want_use(struct loader *ld, const struct ynode *v, const char *path, char **out)
{
    char upath[340];
    snprintf(upath, sizeof(upath), "%s.use", path);
    want_str(ld, v, upath, out);
}

static int want_name(struct loader *ld, const struct ynode *k, const char *what)
{
    if (valid_name(k->s))
        return 1;
    diag_at(ld, k, "E-CFG-NAME", "use only letters, digits, '_' and '-'",
            "%s name '%s' is not valid", what, k->s);
    return 0;
}

/* ------------------------------------------------------------------------
 * Plugin option maps: raw scalars or lists of scalars.
 */
static void opts_clear(struct dc_opts *o)
{
    for (size_t i = 0; i < o->nopts; i++) {
        struct cfg_opt *c = &o->opts[i];
        free(c->key);
        free(c->value);
        for (size_t j = 0; j < c->nitems; j++)
            free(c->items[j]);
        free(c->items);
    }
    free(o->opts);
    memset(o, 0, sizeof(*o));
}

static void check_secret_value(struct loader *ld, const struct ynode *v, const char *key,
                               const char *path)
{
    if (v->kind == YN_SCALAR && value_has_password(v->s)) {
        char hint[256];
        snprintf(hint, sizeof(hint), secret_hint_fmt, key);
        diag_at(ld, v, "E-CFG-INLINE-SECRET", hint,
                "%s.%s holds a password inline", path, key);
    }
}

static int load_opt_value(struct loader *ld, const struct ynode *k, const struct ynode *v,
                          const char *path, struct cfg_opt *c)
{
    c->line = k->line;
    c->col = k->col;
    if (v->kind == YN_MAP) {
        diag_at(ld, v, "E-CFG-TYPE", "plugin options take a value or a list of values",
                "%s.%s must be a scalar or a list of scalars, got a mapping", path, k->s);
        return 0;
    }
    if (v->kind == YN_SCALAR) {
        c->value = xstrdup(ld, ynode_is_null(v) ? "" : v->s);
        return c->value != NULL;
    }
    c->is_list = 1;
    c->items = calloc(v->nkids ? v->nkids : 1, sizeof(*c->items));
    if (!c->items) {
        diag_oom(ld);
        return 0;
    }
    for (size_t i = 0; i < v->nkids; i++) {
        const struct ynode *it = v->kids[i];
        if (it->bad)
            continue;
        if (it->kind != YN_SCALAR) {
            diag_at(ld, it, "E-CFG-TYPE", "list items of plugin options must be plain values",
                    "%s.%s[%zu] must be a scalar, got %s", path, k->s, i, ynode_kind_name(it));
            return 0;
        }
        check_secret_value(ld, it, k->s, path);
        c->items[c->nitems] = xstrdup(ld, it->s);
        if (!c->items[c->nitems])
            return 0;
        c->nitems++;
    }
    return 1;
}

/* Loads every pair of map except the keys in skip (handled by the caller). */
static void load_opts(struct loader *ld, const struct ynode *map, const char *path,
                      const char *const *skip, struct dc_opts *out)
{
    if (!map)
        return;
    out->opts = calloc(map->nkids / 2 + 1, sizeof(*out->opts));
    if (!out->opts) {
        diag_oom(ld);
        return;
    }
    for (size_t i = 0; i + 1 < map->nkids; i += 2) {
        const struct ynode *k = map->kids[i], *v = map->kids[i + 1];
        if (k->skip || (skip && in_list(k->s, skip)) || v->bad)
            continue;
        if (secret_key(k->s)) {
            char hint[256];
            snprintf(hint, sizeof(hint), secret_hint_fmt, k->s);
            diag_at(ld, k, "E-CFG-INLINE-SECRET", hint,
                    "%s.%s looks like a secret written inline", path, k->s);
            continue;
        }
        if (ends_with_env(k->s) &&
            (v->kind != YN_SCALAR || !valid_env_name(v->s))) {
            diag_at(ld, v, "E-CFG-TYPE",
                    "a *_env key holds the NAME of an environment variable, e.g. WAREHOUSE_DSN",
                    "%s.%s must name an environment variable ([A-Z_][A-Z0-9_]*), got %s%s%s",
                    path, k->s, v->kind == YN_SCALAR ? "'" : "",
                    v->kind == YN_SCALAR ? v->s : ynode_kind_name(v),
                    v->kind == YN_SCALAR ? "'" : "");
            continue;
        }
        if (!ends_with_env(k->s))
            check_secret_value(ld, v, k->s, path);
        /* counted even when half-filled so config_free releases it; a
         * failure here was reported and the whole config is refused */
        struct cfg_opt *c = &out->opts[out->nopts++];
        c->key = xstrdup(ld, k->s);
        if (c->key)
            load_opt_value(ld, k, v, path, c);
    }
}

/* ------------------------------------------------------------------------
 * Sections.
 */
static void load_plugins(struct loader *ld, const struct ynode *v)
{
    static const char *const keys[] = {"dirs", NULL};
    const struct ynode *m = want_map(ld, v, "plugins");
    if (!m)
        return;
    check_keys(ld, m, "plugins", keys);
    const struct ynode *dirs = ynode_get(m, "dirs", NULL);
    if (!dirs || dirs->bad || ynode_is_null(dirs))
        return;
    if (dirs->kind != YN_SEQ) {
        diag_at(ld, dirs, "E-CFG-TYPE", "write a list, e.g. dirs: [plugins, ~/.datachat/plugins]",
                "plugins.dirs must be a list of directories, got %s", ynode_kind_name(dirs));
        return;
    }
    ld->cfg->plugin_dirs = calloc(dirs->nkids + 1, sizeof(char *));
    if (!ld->cfg->plugin_dirs) {
        diag_oom(ld);
        return;
    }
    for (size_t i = 0; i < dirs->nkids; i++) {
        const struct ynode *d = dirs->kids[i];
        char *raw = NULL, path[48];
        const char *why;
        snprintf(path, sizeof(path), "plugins.dirs[%zu]", i);
        if (!want_str(ld, d, path, &raw))
            continue;
        char *abs = resolve_path(ld->cfg->dir, raw, &why);
        if (!abs && why)
            diag_at(ld, d, "E-CFG-TYPE", "write an absolute path or one relative to the config file",
                    "%s: %s", path, why);
        else if (!abs)
            diag_oom(ld);
        else
            ld->cfg->plugin_dirs[ld->cfg->nplugin_dirs++] = abs;
        free(raw);
    }
}

/* `databases:` and `llm:` entries share one shape:
 * NAME: { <plugin_key>: PLUGIN, ...options of that plugin }. */
struct instance_shape {
    const char *section;     /* "databases", "llm" */
    const char *what;        /* "database", "llm" (for name errors) */
    const char *plugin_key;  /* "connector", "provider" */
    const char *example;     /* hint for a non-mapping entry */
    const char *missing;     /* hint for a missing plugin key */
};

/* Loads one entry into *name, *plugin, *opts and its position. */
static void load_instance(struct loader *ld, const struct instance_shape *sh,
                          const struct ynode *k, const struct ynode *body, char **name,
                          char **plugin, struct dc_opts *opts, int *line, int *col)
{
    const char *const skip[] = {sh->plugin_key, NULL};
    char path[320], ppath[340];
    snprintf(path, sizeof(path), "%s.%s", sh->section, k->s);
    want_name(ld, k, sh->what);
    *name = xstrdup(ld, k->s);
    *line = k->line;
    *col = k->col;
    if (body->bad)
        return;
    if (body->kind != YN_MAP) {
        diag_at(ld, body, "E-CFG-TYPE", sh->example, "%s must be a mapping, got %s", path,
                ynode_kind_name(body));
        return;
    }
    const struct ynode *p = ynode_get(body, sh->plugin_key, NULL);
    snprintf(ppath, sizeof(ppath), "%s.%s", path, sh->plugin_key);
    if (!p)
        diag_at(ld, k, "E-CFG-MISSING", sh->missing, "%s has no %s", path, sh->plugin_key);
    else
        want_str(ld, p, ppath, plugin);
    load_opts(ld, body, path, skip, opts);
}

static void load_databases(struct loader *ld, const struct ynode *v)
{
    static const struct instance_shape sh = {
        "databases", "database", "connector",
        "write e.g. { connector: sqlite, path: var/demo.db }",
        "add `connector: NAME` (e.g. sqlite, postgres)"};
    const struct ynode *m = want_map(ld, v, sh.section);
    if (!m)
        return;
    ld->cfg->dbs = calloc(m->nkids / 2 + 1, sizeof(*ld->cfg->dbs));
    if (!ld->cfg->dbs) {
        diag_oom(ld);
        return;
    }
    for (size_t i = 0; i + 1 < m->nkids; i += 2) {
        if (m->kids[i]->skip)
            continue;
        struct cfg_database *d = &ld->cfg->dbs[ld->cfg->ndbs++];
        load_instance(ld, &sh, m->kids[i], m->kids[i + 1], &d->name, &d->connector, &d->opts,
                      &d->line, &d->col);
    }
}

static void load_llms(struct loader *ld, const struct ynode *v)
{
    static const struct instance_shape sh = {
        "llm", "llm", "provider", "write e.g. { provider: openai, model: NAME }",
        "add `provider: NAME` (e.g. openai)"};
    const struct ynode *m = want_map(ld, v, sh.section);
    if (!m)
        return;
    ld->cfg->llms = calloc(m->nkids / 2 + 1, sizeof(*ld->cfg->llms));
    if (!ld->cfg->llms) {
        diag_oom(ld);
        return;
    }
    for (size_t i = 0; i + 1 < m->nkids; i += 2) {
        if (m->kids[i]->skip)
            continue;
        struct cfg_llm *l = &ld->cfg->llms[ld->cfg->nllms++];
        load_instance(ld, &sh, m->kids[i], m->kids[i + 1], &l->name, &l->provider, &l->opts,
                      &l->line, &l->col);
    }
}

static void load_edges(struct loader *ld, const struct ynode *on, const char *path,
                       struct cfg_stage *st)
{
    st->edges = calloc(on->nkids / 2 + 1, sizeof(*st->edges));
    if (!st->edges) {
        diag_oom(ld);
        return;
    }
    for (size_t i = 0; i + 1 < on->nkids; i += 2) {
        const struct ynode *k = on->kids[i], *t = on->kids[i + 1];
        char epath[400];
        if (k->skip)
            continue;
        snprintf(epath, sizeof(epath), "%s.on.%s", path, k->s);
        if (!valid_name(k->s)) {
            diag_at(ld, k, "E-CFG-NAME", "use only letters, digits, '_' and '-'",
                    "outcome label '%s' is not valid", k->s);
            continue;
        }
        char *target = NULL;
        if (!want_str(ld, t, epath, &target))
            continue;
        struct cfg_edge *e = &st->edges[st->nedges++];
        e->label = xstrdup(ld, k->s);
        e->target = target;
        e->line = k->line; /* an edge is located by its label */
        e->col = k->col;
    }
}

/* `use: "lua:PATH"` names a script relative to the config's directory; it
 * must exist when the config loads, not when a question first reaches it. */
static void check_lua_file(struct loader *ld, const struct ynode *u, const char *path,
                           const char *use)
{
    const char *why;
    char *abs = use[4] ? resolve_path(ld->cfg->dir, use + 4, &why) : NULL;
    struct stat st;
    if (!abs && use[4] && !why) {
        diag_oom(ld);
        return;
    }
    if (!abs || stat(abs, &st) != 0 || !S_ISREG(st.st_mode))
        diag_at(ld, u, "E-CFG-LUA-NOT-FOUND",
                "write `lua:` and a .lua file path relative to the config file's directory",
                "%s.use: Lua script '%s' %s%s", path, use + 4,
                abs ? "does not exist; looked for the file " : "is not a valid path",
                abs ? abs : "");
    free(abs);
}

/* What stage and tool entries share: a name, a mapping body with `use:`
 * (the plugin) and `with:` (its options). load_plugged returns the body
 * when it is usable, NULL otherwise. */
struct plugged {
    char **name, **use;
    struct dc_opts *with;
    int *line, *col;
};

static const struct ynode *load_plugged(struct loader *ld, const struct ynode *k,
                                        const struct ynode *body, const char *path,
                                        const char *what, const char *shape,
                                        const char *const *keys, const struct plugged *out)
{
    want_name(ld, k, what);
    *out->name = xstrdup(ld, k->s);
    *out->line = k->line;
    *out->col = k->col;
    if (body->bad)
        return NULL;
    if (body->kind != YN_MAP) {
        diag_at(ld, body, "E-CFG-TYPE", shape, "%s must be a mapping, got %s", path,
                ynode_kind_name(body));
        return NULL;
    }
    check_keys(ld, body, path, keys);
    const struct ynode *u = ynode_get(body, "use", NULL);
    if (!u)
        diag_at(ld, k, "E-CFG-MISSING", "add `use: PLUGIN` naming the plugin", "%s has no `use:`",
                path);
    else
        want_use(ld, u, path, out->use);
    if (u && *out->use && luart_is_lua_use(*out->use))
        check_lua_file(ld, u, path, *out->use);
    char wpath[340];
    snprintf(wpath, sizeof(wpath), "%s.with", path);
    load_opts(ld, want_map(ld, ynode_get(body, "with", NULL), wpath), wpath, NULL, out->with);
    return body;
}

static void load_stages(struct loader *ld, const struct ynode *m)
{
    static const char *const keys[] = {"use", "with", "on", "sandbox", NULL};
    ld->cfg->stages = calloc(m->nkids / 2 + 1, sizeof(*ld->cfg->stages));
    if (!ld->cfg->stages) {
        diag_oom(ld);
        return;
    }
    for (size_t i = 0; i + 1 < m->nkids; i += 2) {
        const struct ynode *k = m->kids[i];
        char path[320];
        if (k->skip)
            continue;
        snprintf(path, sizeof(path), "pipeline.stages.%s", k->s);
        struct cfg_stage *st = &ld->cfg->stages[ld->cfg->nstages++];
        const struct plugged pl = {&st->name, &st->use, &st->with, &st->line, &st->col};
        const struct ynode *body =
            load_plugged(ld, k, m->kids[i + 1], path, "stage",
                         "write e.g. { use: PLUGIN, on: { LABEL: STAGE } }", keys, &pl);
        if (!body)
            continue;
        char opath[340];
        snprintf(opath, sizeof(opath), "%s.sandbox", path);
        const struct ynode *sb = ynode_get(body, "sandbox", NULL);
        if (want_bool(ld, sb, opath, &st->sandbox) && st->sandbox && st->use &&
            !luart_is_lua_use(st->use))
            diag_at(ld, sb, "E-CFG-SANDBOX", "remove `sandbox: true`, or write the stage in Lua",
                    "%s: only Lua stages (`use: \"lua:...\"`) run sandboxed; '%s' is a "
                    "trusted in-process plugin", opath, st->use);
        snprintf(opath, sizeof(opath), "%s.on", path);
        const struct ynode *on = want_map(ld, ynode_get(body, "on", NULL), opath);
        if (on)
            load_edges(ld, on, path, st);
    }
}

static void load_pipeline(struct loader *ld, const struct ynode *v, const struct ynode *kv,
                          const struct ynode *root)
{
    static const char *const keys[] = {"entry", "max_steps", "stages", NULL};
    const struct ynode *m = want_map(ld, v, "pipeline");
    if (!m) {
        if (!v)
            diag_at(ld, root, "E-CFG-MISSING",
                    "add a pipeline: section with entry: and stages:",
                    "the config has no pipeline");
        else if (!v->bad && ynode_is_null(v))
            diag_at(ld, kv, "E-CFG-MISSING", "add `entry: STAGE` under pipeline",
                    "pipeline.entry is missing");
        return;
    }
    check_keys(ld, m, "pipeline", keys);
    const struct ynode *e = ynode_get(m, "entry", NULL);
    if (!e)
        diag_at(ld, kv, "E-CFG-MISSING", "add `entry: STAGE` under pipeline",
                "pipeline.entry is missing");
    else
        want_str(ld, e, "pipeline.entry", &ld->cfg->entry);
    int64_t steps;
    if (want_int(ld, ynode_get(m, "max_steps", NULL), "pipeline.max_steps", 1, CFG_MAX_STEPS,
                 &steps))
        ld->cfg->max_steps = (int)steps;
    const struct ynode *st = want_map(ld, ynode_get(m, "stages", NULL), "pipeline.stages");
    if (st)
        load_stages(ld, st);
}

/* A bare DNS name or IPv4 literal: the allow list is compared with the
 * URL's host exactly, so a scheme, port, path or wildcard here would never
 * match and only hide a mistake. */
static int valid_host(const char *s)
{
    size_t n = strlen(s), label = 0;
    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (label == 0 || s[i - 1] == '-')
                return 0;
            label = 0;
            continue;
        }
        if (!isalnum((unsigned char)s[i]) && !(s[i] == '-' && label > 0))
            return 0;
        if (++label > 63)
            return 0;
    }
    return label > 0 && s[n - 1] != '-';
}

static void load_http_allow(struct loader *ld, struct cfg_tool *t, const struct ynode *v,
                            const char *path)
{
    char hpath[340];
    snprintf(hpath, sizeof(hpath), "%s.http_allow", path);
    if (!v || v->bad)
        return;
    if (v->kind != YN_SEQ) {
        diag_at(ld, v, "E-CFG-TYPE", "write a list of host names, e.g. [api.example.com]",
                "%s must be a list, got %s", hpath, ynode_kind_name(v));
        return;
    }
    t->http_allow_line = v->line;
    t->http_allow_col = v->col;
    if (t->use && httptool_is_use(t->use))
        diag_at(ld, v, "E-CFG-HTTP-ALLOW", "list the endpoint's host in with.allowed_hosts",
                "%s applies to sandboxed tools; a `use: http` tool runs in the core", hpath);
    else if (t->sandbox_set && !t->sandbox && t->use && luart_is_lua_use(t->use))
        diag_at(ld, v, "E-CFG-HTTP-ALLOW", "remove http_allow, or remove `sandbox: false`",
                "%s is set but the tool is not sandboxed (sandbox: false); only a sandboxed "
                "tool's HTTP requests go through the core", hpath);
    t->http_allow = calloc(v->nkids + 1, sizeof(*t->http_allow));
    if (!t->http_allow) {
        diag_oom(ld);
        return;
    }
    for (size_t i = 0; i < v->nkids; i++) {
        const struct ynode *h = v->kids[i];
        if (h->bad)
            continue;
        if (h->kind != YN_SCALAR || ynode_is_null(h) || !valid_host(h->s)) {
            diag_at(ld, h, "E-CFG-HTTP-ALLOW", "write a bare host name such as api.example.com "
                    "or 127.0.0.1 (no scheme, port, path or wildcard)",
                    "%s[%zu] '%s' is not a host name", hpath, i,
                    h->kind == YN_SCALAR && !ynode_is_null(h) ? h->s : ynode_kind_name(h));
            continue;
        }
        char *s = xstrdup(ld, h->s);
        if (!s)
            return;
        t->http_allow[t->nhttp_allow++] = s;
    }
}

static void load_tools(struct loader *ld, const struct ynode *v)
{
    static const char *const keys[] = {"use", "sandbox", "with", "http_allow", NULL};
    const struct ynode *m = want_map(ld, v, "tools");
    if (!m)
        return;
    ld->cfg->tools = calloc(m->nkids / 2 + 1, sizeof(*ld->cfg->tools));
    if (!ld->cfg->tools) {
        diag_oom(ld);
        return;
    }
    for (size_t i = 0; i + 1 < m->nkids; i += 2) {
        const struct ynode *k = m->kids[i];
        char path[320];
        if (k->skip)
            continue;
        snprintf(path, sizeof(path), "tools.%s", k->s);
        struct cfg_tool *t = &ld->cfg->tools[ld->cfg->ntools++];
        const struct plugged pl = {&t->name, &t->use, &t->with, &t->line, &t->col};
        const struct ynode *body = load_plugged(ld, k, m->kids[i + 1], path, "tool",
                                                "write e.g. { use: PLUGIN, with: { ... } }", keys,
                                                &pl);
        if (!body)
            continue;
        char spath[340];
        snprintf(spath, sizeof(spath), "%s.sandbox", path);
        t->sandbox_set = want_bool(ld, ynode_get(body, "sandbox", NULL), spath, &t->sandbox);
        load_http_allow(ld, t, ynode_get(body, "http_allow", NULL), path);
    }
}

static void set_path(struct loader *ld, const struct ynode *at, const char *field,
                     const char *raw, char **out)
{
    const char *why;
    char *abs = resolve_path(ld->cfg->dir, raw, &why);
    if (!abs) {
        if (why)
            diag_at(ld, at, "E-CFG-TYPE", "write an absolute path or one relative to the config file",
                    "%s: %s", field, why);
        else
            diag_oom(ld);
        return;
    }
    free(*out);
    *out = abs;
}

static void load_audit(struct loader *ld, const struct ynode *v)
{
    static const char *const keys[] = {"path", "fsync", NULL};
    const struct ynode *m = want_map(ld, v, "audit");
    if (!m)
        return;
    check_keys(ld, m, "audit", keys);
    char *raw = NULL;
    const struct ynode *p = ynode_get(m, "path", NULL);
    if (want_str(ld, p, "audit.path", &raw))
        set_path(ld, p, "audit.path", raw, &ld->cfg->audit_path);
    free(raw);
    raw = NULL;
    const struct ynode *f = ynode_get(m, "fsync", NULL);
    if (want_str(ld, f, "audit.fsync", &raw)) {
        if (strcmp(raw, "always") == 0)
            ld->cfg->audit_fsync = CFG_FSYNC_ALWAYS;
        else if (strcmp(raw, "never") == 0)
            ld->cfg->audit_fsync = CFG_FSYNC_NEVER;
        else
            diag_at(ld, f, "E-CFG-TYPE", "write fsync: always (safe) or fsync: never (fast)",
                    "audit.fsync must be always or never, got '%s'", raw);
    }
    free(raw);
}

/* sqlite:RELATIVE urls follow the path rule; other schemes are left as is. */
static void set_store_url(struct loader *ld, const struct ynode *at, const char *raw)
{
    if (strncmp(raw, "sqlite:", 7) == 0) {
        const char *rest = raw + 7;
        if (!*rest) {
            diag_at(ld, at, "E-CFG-TYPE", "write e.g. sqlite:var/state.db",
                    "store.url 'sqlite:' names no file");
            return;
        }
        if (rest[0] != '/' && strcmp(rest, ":memory:") != 0 && strncmp(rest, "file:", 5) != 0) {
            char *abs = NULL;
            set_path(ld, at, "store.url", rest, &abs);
            if (!abs)
                return;
            struct sbuf b;
            sbuf_init(&b);
            sbuf_addf(&b, "sqlite:%s", abs);
            free(abs);
            char *url = sbuf_detach(&b);
            if (!url) {
                diag_oom(ld);
                return;
            }
            free(ld->cfg->store_url);
            ld->cfg->store_url = url;
            return;
        }
    }
    free(ld->cfg->store_url);
    ld->cfg->store_url = xstrdup(ld, raw);
}

static void load_datapoints(struct loader *ld, const struct ynode *v)
{
    static const char *const keys[] = {"user", "managed", NULL};
    const struct ynode *m = want_map(ld, v, "datapoints");
    if (!m)
        return;
    check_keys(ld, m, "datapoints", keys);
    const struct ynode *u = ynode_get(m, "user", NULL);
    if (u && !u->bad && !ynode_is_null(u)) {
        if (u->kind != YN_SEQ) {
            diag_at(ld, u, "E-CFG-TYPE", "write a list, e.g. user: [../datapoints/user]",
                    "datapoints.user must be a list of directories, got %s", ynode_kind_name(u));
        } else {
            for (size_t i = 0; i < ld->cfg->ndp_user_dirs; i++)
                free(ld->cfg->dp_user_dirs[i]);
            free(ld->cfg->dp_user_dirs);
            ld->cfg->ndp_user_dirs = 0;
            ld->cfg->dp_user_dirs = calloc(u->nkids + 1, sizeof(char *));
            if (!ld->cfg->dp_user_dirs) {
                diag_oom(ld);
                return;
            }
            for (size_t i = 0; i < u->nkids; i++) {
                char *raw = NULL, path[48];
                snprintf(path, sizeof(path), "datapoints.user[%zu]", i);
                if (!want_str(ld, u->kids[i], path, &raw))
                    continue;
                char *abs = NULL;
                set_path(ld, u->kids[i], path, raw, &abs);
                if (abs)
                    ld->cfg->dp_user_dirs[ld->cfg->ndp_user_dirs++] = abs;
                free(raw);
            }
        }
    }
    char *raw = NULL;
    const struct ynode *mg = ynode_get(m, "managed", NULL);
    if (want_str(ld, mg, "datapoints.managed", &raw))
        set_path(ld, mg, "datapoints.managed", raw, &ld->cfg->dp_managed_dir);
    free(raw);
}

static void load_store(struct loader *ld, const struct ynode *v)
{
    static const char *const keys[] = {"url", "session_max_clarify", "sql_cache_ttl_s",
                                       "result_cache_ttl_s", NULL};
    const struct ynode *m = want_map(ld, v, "store");
    if (!m)
        return;
    check_keys(ld, m, "store", keys);
    int64_t x;
    if (want_int(ld, ynode_get(m, "session_max_clarify", NULL), "store.session_max_clarify", 0,
                 1000, &x))
        ld->cfg->session_max_clarify = x;
    if (want_int(ld, ynode_get(m, "sql_cache_ttl_s", NULL), "store.sql_cache_ttl_s", 0,
                 INT64_C(31536000), &x))
        ld->cfg->sql_cache_ttl_s = x;
    if (want_int(ld, ynode_get(m, "result_cache_ttl_s", NULL), "store.result_cache_ttl_s", 0,
                 INT64_C(31536000), &x))
        ld->cfg->result_cache_ttl_s = x;
    char *raw = NULL;
    const struct ynode *u = ynode_get(m, "url", NULL);
    if (want_str(ld, u, "store.url", &raw)) {
        if (value_has_password(raw)) {
            diag_at(ld, u, "E-CFG-INLINE-SECRET",
                    "leave the password out of the URL; PostgreSQL reads it from PGPASSWORD "
                    "or ~/.pgpass",
                    "store.url holds a password inline");
        } else {
            set_store_url(ld, u, raw);
        }
    }
    free(raw);
}

static void load_limits(struct loader *ld, const struct ynode *v)
{
    static const char *const keys[] = {"max_rows", "timeout_ms", "max_question_bytes", NULL};
    const struct ynode *m = want_map(ld, v, "limits");
    int64_t x;
    if (!m)
        return;
    check_keys(ld, m, "limits", keys);
    if (want_int(ld, ynode_get(m, "max_rows", NULL), "limits.max_rows", 1, INT64_C(1000000000),
                 &x))
        ld->cfg->max_rows = x;
    if (want_int(ld, ynode_get(m, "timeout_ms", NULL), "limits.timeout_ms", 0,
                 INT64_C(86400000), &x))
        ld->cfg->timeout_ms = x;
    if (want_int(ld, ynode_get(m, "max_question_bytes", NULL), "limits.max_question_bytes", 1,
                 INT64_C(16777216), &x))
        ld->cfg->max_question_bytes = (size_t)x;
}

/* server.listen: HOST:PORT or [V6]:PORT with a port of 1..65535. */
static int listen_ok(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || !colon[1])
        return 0;
    if (s[0] == '[' && colon[-1] != ']')
        return 0;
    int64_t port;
    if (parse_int_strict(colon + 1, &port) != DC_OK || port < 1 || port > 65535)
        return 0;
    return 1;
}

static int hex_digest(const char *s, unsigned char out[32])
{
    if (strlen(s) != 64)
        return 0;
    for (size_t i = 0; i < 64; i++) {
        int c = tolower((unsigned char)s[i]);
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return 0;
        if (i % 2 == 0)
            out[i / 2] = (unsigned char)(v << 4);
        else
            out[i / 2] |= (unsigned char)v;
    }
    return 1;
}

static void load_server_token(struct loader *ld, const struct ynode *it, size_t i)
{
    static const char *const keys[] = {"sha256", "principal", NULL};
    struct cfg_server *sv = &ld->cfg->server;
    char path[64], *raw = NULL;
    snprintf(path, sizeof(path), "server.tokens[%zu]", i);
    if (!it || it->bad)
        return;
    if (it->kind != YN_MAP) {
        diag_at(ld, it, "E-CFG-TYPE", "write e.g. - { sha256: HEX, principal: alice }",
                "%s must be a mapping, got %s", path, ynode_kind_name(it));
        return;
    }
    check_keys(ld, it, path, keys);
    struct cfg_token *t = &sv->tokens[sv->ntokens];
    t->line = it->line;
    t->col = it->col;
    const struct ynode *h = ynode_get(it, "sha256", NULL);
    const struct ynode *p = ynode_get(it, "principal", NULL);
    if (!h || !p) {
        diag_at(ld, it, "E-CFG-MISSING", "give both sha256: (of the token) and principal:",
                "%s has no %s", path, !h ? "sha256" : "principal");
        return;
    }
    char spath[80];
    snprintf(spath, sizeof(spath), "%s.sha256", path);
    if (!want_str(ld, h, spath, &raw))
        return;
    int ok = hex_digest(raw, t->sha256);
    free(raw);
    if (!ok) {
        diag_at(ld, h, "E-CFG-SERVER-TOKEN",
                "write the token's SHA-256 as 64 hex digits (printf %s TOKEN | sha256sum), "
                "never the token itself",
                "%s is not a SHA-256 hex digest", spath);
        return;
    }
    for (size_t k = 0; k < sv->ntokens; k++) {
        if (memcmp(sv->tokens[k].sha256, t->sha256, 32) == 0) {
            diag_at(ld, h, "E-CFG-SERVER-TOKEN", "give every principal its own token",
                    "%s repeats the token of line %d", spath, sv->tokens[k].line);
            return;
        }
    }
    snprintf(spath, sizeof(spath), "%s.principal", path);
    if (!want_str(ld, p, spath, &t->principal))
        return;
    sv->ntokens++;
}

static void load_server(struct loader *ld, const struct ynode *v)
{
    static const char *const keys[] = {"listen", "tokens", "limits", NULL};
    static const char *const lkeys[] = {"body_bytes", "header_bytes", "requests_per_minute",
                                        "concurrent_requests", "timeout_s",
                                        "request_timeout_s", NULL};
    struct cfg_server *sv = &ld->cfg->server;
    const struct ynode *m = want_map(ld, v, "server");
    int64_t x;
    if (!m)
        return;
    check_keys(ld, m, "server", keys);
    const struct ynode *l = ynode_get(m, "listen", NULL);
    if (want_str(ld, l, "server.listen", &sv->listen) && !listen_ok(sv->listen))
        diag_at(ld, l, "E-CFG-SERVER-LISTEN", "write HOST:PORT, e.g. 127.0.0.1:8000",
                "server.listen '%s' is not HOST:PORT with a port from 1 to 65535", sv->listen);
    const struct ynode *t = ynode_get(m, "tokens", NULL);
    if (t && !t->bad && !ynode_is_null(t)) {
        if (t->kind != YN_SEQ) {
            diag_at(ld, t, "E-CFG-TYPE", "write a list, e.g. tokens: [{ sha256: HEX, principal: alice }]",
                    "server.tokens must be a list, got %s", ynode_kind_name(t));
        } else {
            sv->tokens = calloc(t->nkids + 1, sizeof(*sv->tokens));
            if (!sv->tokens) {
                diag_oom(ld);
                return;
            }
            for (size_t i = 0; i < t->nkids; i++)
                load_server_token(ld, t->kids[i], i);
        }
    }
    const struct ynode *lm = want_map(ld, ynode_get(m, "limits", NULL), "server.limits");
    if (!lm)
        return;
    check_keys(ld, lm, "server.limits", lkeys);
    if (want_int(ld, ynode_get(lm, "body_bytes", NULL), "server.limits.body_bytes", 1,
                 INT64_C(1073741824), &x))
        sv->body_bytes = (size_t)x;
    if (want_int(ld, ynode_get(lm, "header_bytes", NULL), "server.limits.header_bytes", 4096,
                 INT64_C(1048576), &x))
        sv->header_bytes = (size_t)x;
    want_int(ld, ynode_get(lm, "requests_per_minute", NULL), "server.limits.requests_per_minute",
             1, INT64_C(100000000), &sv->requests_per_minute);
    want_int(ld, ynode_get(lm, "concurrent_requests", NULL), "server.limits.concurrent_requests",
             1, 100000, &sv->concurrent_requests);
    want_int(ld, ynode_get(lm, "timeout_s", NULL), "server.limits.timeout_s", 1, 86400,
             &sv->timeout_s);
    want_int(ld, ynode_get(lm, "request_timeout_s", NULL), "server.limits.request_timeout_s", 1,
             86400, &sv->request_timeout_s);
}

/* ------------------------------------------------------------------------
 * Graph checks.
 */
struct sidx {
    const char *name;
    size_t i;
};

static int sidx_cmp(const void *a, const void *b)
{
    const struct sidx *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static long stage_index(const struct sidx *idx, size_t n, const char *name)
{
    struct sidx key = {name, 0};
    if (!name)
        return -1;
    const struct sidx *hit = bsearch(&key, idx, n, sizeof(*idx), sidx_cmp);
    return hit ? (long)hit->i : -1;
}

enum { WHITE = 0, GRAY = 1, BLACK = 2 };

/* With a model configured (llm:) and no sqlgen stage written by hand, the
 * compiler's (and metric's) `unsure` edge goes through an implicit stage
 * "sqlgen" that asks the model and then continues where `unsure` went.
 * With no llm: the graph is exactly as written. */
static void add_llm_stage(struct loader *ld)
{
    struct dc_config *c = ld->cfg;
    const char *next = NULL;
    if (c->nllms == 0 || config_find_stage(c, "sqlgen"))
        return;
    for (size_t i = 0; i < c->nstages; i++) {
        const struct cfg_stage *st = &c->stages[i];
        if (st->use && strcmp(st->use, "sqlgen") == 0)
            return;
        for (size_t e = 0; !next && e < st->nedges; e++)
            if (st->use && (strcmp(st->use, "compiler") == 0 || strcmp(st->use, "metric") == 0) &&
                strcmp(st->edges[e].label, "unsure") == 0)
                next = st->edges[e].target;
    }
    if (!next)
        return;
    struct cfg_stage *grown = realloc(c->stages, (c->nstages + 1) * sizeof(*grown));
    if (!grown) {
        diag_oom(ld);
        return;
    }
    c->stages = grown;
    static const char *const labels[] = {"ok", "review", "failed", "refused"};
    const size_t nl = sizeof(labels) / sizeof(labels[0]);
    struct cfg_stage *sg = &c->stages[c->nstages];
    memset(sg, 0, sizeof(*sg));
    sg->edges = calloc(nl, sizeof(*sg->edges));
    sg->name = xstrdup(ld, "sqlgen");
    sg->use = xstrdup(ld, "sqlgen");
    if (!sg->edges || !sg->name || !sg->use) {
        free(sg->edges);
        free(sg->name);
        free(sg->use);
        diag_oom(ld);
        return;
    }
    for (size_t i = 0; i < nl; i++) {
        sg->edges[i].label = xstrdup(ld, labels[i]);
        sg->edges[i].target = xstrdup(ld, next);
        sg->nedges++;
    }
    c->nstages++;
    for (size_t i = 0; i + 1 < c->nstages; i++) {
        struct cfg_stage *st = &c->stages[i];
        if (!st->use || (strcmp(st->use, "compiler") != 0 && strcmp(st->use, "metric") != 0))
            continue;
        for (size_t e = 0; e < st->nedges; e++)
            if (strcmp(st->edges[e].label, "unsure") == 0) {
                char *t = xstrdup(ld, "sqlgen");
                if (!t)
                    return;
                free(st->edges[e].target);
                st->edges[e].target = t;
            }
    }
}

/* With a model configured, the intent stage may ask it to classify a
 * question its rules find unclear (never one they refuse): a stage using
 * intent whose plugin declares the option `llm` gets `with.llm` naming the
 * instance ("default", else the first) unless the config sets llm or
 * llm_fallback itself. */
static void add_intent_llm(struct loader *ld, struct cfg_stage *st, const struct dc_option *decl)
{
    struct dc_config *c = ld->cfg;
    if (c->nllms == 0 || !st->use || strcmp(st->use, "intent") != 0)
        return;
    int declared = 0;
    for (size_t i = 0; decl && decl[i].name && !declared; i++)
        declared = strcmp(decl[i].name, "llm") == 0;
    for (size_t k = 0; k < st->with.nopts && declared; k++)
        if (strcmp(st->with.opts[k].key, "llm") == 0 ||
            strcmp(st->with.opts[k].key, "llm_fallback") == 0)
            return;
    const char *inst = c->llms[0].name;
    for (size_t i = 0; i < c->nllms; i++)
        if (c->llms[i].name && strcmp(c->llms[i].name, "default") == 0)
            inst = c->llms[i].name;
    if (!declared || !inst)
        return;
    struct cfg_opt *grown = realloc(st->with.opts, (st->with.nopts + 1) * sizeof(*grown));
    if (!grown) {
        diag_oom(ld);
        return;
    }
    st->with.opts = grown;
    struct cfg_opt *o = &grown[st->with.nopts];
    memset(o, 0, sizeof(*o));
    o->key = xstrdup(ld, "llm");
    o->value = xstrdup(ld, inst);
    o->line = st->line;
    o->col = st->col;
    if (!o->key || !o->value) {
        free(o->key);
        free(o->value);
        return;
    }
    st->with.nopts++;
}

static void check_graph(struct loader *ld, const struct ynode *entry_node)
{
    struct dc_config *c = ld->cfg;
    struct sidx *idx = calloc(c->nstages + 1, sizeof(*idx));
    long *target = NULL;
    size_t *eoff = NULL, nidx = 0, nedges = 0;
    unsigned char *color = NULL;
    struct {
        size_t s, e;
    } *stack = NULL;

    if (!idx)
        goto oom;
    for (size_t i = 0; i < c->nstages; i++) {
        if (c->stages[i].name) {
            idx[nidx].name = c->stages[i].name;
            idx[nidx++].i = i;
        }
        nedges += c->stages[i].nedges;
    }
    qsort(idx, nidx, sizeof(*idx), sidx_cmp);

    /* resolve every edge once; eoff[s] is stage s's first edge */
    target = calloc(nedges + 1, sizeof(*target));
    eoff = calloc(c->nstages + 1, sizeof(*eoff));
    color = calloc(c->nstages + 1, 1);
    stack = calloc(c->nstages + 1, sizeof(*stack));
    if (!target || !eoff || !color || !stack)
        goto oom;
    size_t k = 0;
    for (size_t s = 0; s < c->nstages; s++) {
        const struct cfg_stage *st = &c->stages[s];
        eoff[s] = k;
        for (size_t e = 0; e < st->nedges; e++, k++) {
            const struct cfg_edge *ed = &st->edges[e];
            target[k] = stage_index(idx, nidx, ed->target);
            if (target[k] < 0 && ed->target) {
                char hint[256];
                const char *names[16];
                size_t nn = 0;
                for (size_t j = 0; j < c->nstages && nn < 16; j++)
                    if (c->stages[j].name)
                        names[nn++] = c->stages[j].name;
                hint_for_names(hint, sizeof(hint), ed->target, "stages", "no stages are defined", names,
                               nn);
                diag_add(ld, ed->line, ed->col, "E-CFG-DANGLING-EDGE", hint,
                         "stage '%s': outcome '%s' leads to '%s', which is not a stage",
                         st->name ? st->name : "?", ed->label ? ed->label : "?", ed->target);
            }
        }
    }
    eoff[c->nstages] = k;

    if (!c->entry)
        goto done;
    long start = stage_index(idx, nidx, c->entry);
    if (start < 0) {
        char hint[256];
        const char *names[16];
        size_t nn = 0;
        for (size_t j = 0; j < c->nstages && nn < 16; j++)
            if (c->stages[j].name)
                names[nn++] = c->stages[j].name;
        hint_for_names(hint, sizeof(hint), c->entry, "stages", "define the stage under pipeline.stages",
                       names, nn);
        diag_at(ld, entry_node, "E-CFG-DANGLING-EDGE", hint,
                "pipeline.entry names '%s', which is not a stage", c->entry);
        goto done;
    }

    /* iterative DFS from entry: gray targets are back edges, i.e. cycles */
    size_t sp = 0;
    color[start] = GRAY;
    stack[sp].s = (size_t)start;
    stack[sp++].e = 0;
    while (sp > 0) {
        size_t s = stack[sp - 1].s;
        size_t e = stack[sp - 1].e;
        if (e >= c->stages[s].nedges) {
            color[s] = BLACK;
            sp--;
            continue;
        }
        stack[sp - 1].e++;
        long t = target[eoff[s] + e];
        if (t < 0)
            continue;
        if (color[t] == GRAY) {
            if (c->max_steps == 0) {
                const struct cfg_edge *ed = &c->stages[s].edges[e];
                diag_add(ld, ed->line, ed->col, "E-CFG-CYCLE",
                         "set pipeline.max_steps (1..1000) to bound how many stages one request runs",
                         "stage '%s' --%s--> '%s' closes a cycle reachable from entry '%s'",
                         c->stages[s].name, ed->label ? ed->label : "?", ed->target, c->entry);
            }
        } else if (color[t] == WHITE) {
            color[t] = GRAY;
            stack[sp].s = (size_t)t;
            stack[sp++].e = 0;
        }
    }
    for (size_t s = 0; s < c->nstages; s++) {
        if (color[s] == WHITE && c->stages[s].name)
            diag_add(ld, c->stages[s].line, c->stages[s].col, "E-CFG-UNREACHABLE",
                     "add an edge to it from a reachable stage, or remove it",
                     "stage '%s' cannot be reached from entry '%s'", c->stages[s].name,
                     c->entry);
    }
    goto done;
oom:
    diag_oom(ld);
done:
    free(idx);
    free(target);
    free(eoff);
    free(color);
    free(stack);
}

/* ------------------------------------------------------------------------
 * Top level.
 */
static void load_root(struct loader *ld, const struct ynode *root)
{
    static const char *const keys[] = {"version", "plugins", "databases", "default_database",
                                       "llm", "pipeline", "tools", "policies",
                                       "default_principal", "audit", "store", "limits",
                                       "datapoints", "server", NULL};
    struct dc_config *c = ld->cfg;
    const struct ynode *kv;

    if (!root || ynode_is_null(root)) {
        diag_add(ld, 0, 0, "E-CFG-MISSING", "start the file with `version: 1`",
                 "the config is empty");
        return;
    }
    if (root->bad)
        return;
    if (root->kind != YN_MAP) {
        diag_at(ld, root, "E-CFG-TYPE", "the file must be a mapping of sections (version:, pipeline:, ...)",
                "the top level must be a mapping, got %s", ynode_kind_name(root));
        return;
    }
    check_keys(ld, root, "the top level", keys);

    const struct ynode *v = ynode_get(root, "version", NULL);
    int64_t ver;
    if (!v) {
        diag_at(ld, root, "E-CFG-MISSING", "add `version: 1` at the top", "version is missing");
    } else if (want_int(ld, v, "version", INT64_MIN, INT64_MAX, &ver)) {
        if (ver != 1)
            diag_at(ld, v, "E-CFG-VERSION", "this build reads config version 1",
                    "unsupported config version %lld", (long long)ver);
        else
            c->version = 1;
    }

    load_plugins(ld, ynode_get(root, "plugins", NULL));
    load_databases(ld, ynode_get(root, "databases", NULL));
    load_llms(ld, ynode_get(root, "llm", NULL));
    v = ynode_get(root, "pipeline", &kv);
    load_pipeline(ld, v, kv, root);
    load_tools(ld, ynode_get(root, "tools", NULL));

    char *raw = NULL;
    v = ynode_get(root, "policies", NULL);
    if (want_str(ld, v, "policies", &raw))
        set_path(ld, v, "policies", raw, &c->policies);
    free(raw);
    want_str(ld, ynode_get(root, "default_principal", NULL), "default_principal",
             &c->default_principal);
    load_audit(ld, ynode_get(root, "audit", NULL));
    load_store(ld, ynode_get(root, "store", NULL));
    load_limits(ld, ynode_get(root, "limits", NULL));
    load_datapoints(ld, ynode_get(root, "datapoints", NULL));
    load_server(ld, ynode_get(root, "server", NULL));

    v = ynode_get(root, "default_database", NULL);
    if (want_str(ld, v, "default_database", &c->default_database) &&
        !config_find_db(c, c->default_database)) {
        char hint[256];
        const char *names[16];
        size_t nn = 0;
        for (size_t i = 0; i < c->ndbs && nn < 16; i++)
            if (c->dbs[i].name)
                names[nn++] = c->dbs[i].name;
        hint_for_names(hint, sizeof(hint), c->default_database, "databases",
                       "define it under databases", names, nn);
        diag_at(ld, v, "E-CFG-DANGLING-REF", hint,
                "default_database names '%s', which is not under databases", c->default_database);
    }
    if (!c->default_database && c->ndbs > 0 && c->dbs[0].name)
        c->default_database = xstrdup(ld, c->dbs[0].name);

    const struct ynode *pl = ynode_get(root, "pipeline", NULL);
    const struct ynode *en = pl && pl->kind == YN_MAP ? ynode_get(pl, "entry", NULL) : NULL;
    add_llm_stage(ld);
    check_graph(ld, en);
}

static int fill_defaults(struct loader *ld)
{
    struct dc_config *c = ld->cfg;
    const char *why;
    c->audit_fsync = CFG_FSYNC_ALWAYS;
    c->max_rows = CFG_DEFAULT_MAX_ROWS;
    c->timeout_ms = CFG_DEFAULT_TIMEOUT_MS;
    c->max_question_bytes = CFG_DEFAULT_MAX_QUESTION;
    c->session_max_clarify = 3;
    c->sql_cache_ttl_s = 24 * 3600;
    c->result_cache_ttl_s = 300;
    c->server.body_bytes = CFG_DEFAULT_BODY_BYTES;
    c->server.header_bytes = CFG_DEFAULT_HEADER_BYTES;
    c->server.requests_per_minute = CFG_DEFAULT_RPM;
    c->server.concurrent_requests = CFG_DEFAULT_CONCURRENT;
    c->server.timeout_s = CFG_DEFAULT_SERVER_TIMEOUT_S;
    c->server.request_timeout_s = CFG_DEFAULT_REQUEST_TIMEOUT_S;
    c->audit_path = resolve_path(c->dir, "var/audit.jsonl", &why);
    char *db = resolve_path(c->dir, "var/state.db", &why);
    if (db) {
        struct sbuf b;
        sbuf_init(&b);
        sbuf_addf(&b, "sqlite:%s", db);
        c->store_url = sbuf_detach(&b);
        free(db);
    }
    /* DataPoints default to datapoints/{user,managed} beside the config. */
    c->dp_user_dirs = calloc(2, sizeof(char *));
    if (c->dp_user_dirs) {
        c->dp_user_dirs[0] = resolve_path(c->dir, "datapoints/user", &why);
        c->ndp_user_dirs = c->dp_user_dirs[0] ? 1 : 0;
    }
    c->dp_managed_dir = resolve_path(c->dir, "datapoints/managed", &why);
    if (!c->audit_path || !c->store_url || !c->ndp_user_dirs || !c->dp_managed_dir) {
        diag_oom(ld);
        return DC_ENOMEM;
    }
    return DC_OK;
}

static int load_mem(const char *text, size_t len, const char *name, const char *dir,
                    struct dc_config **out, struct cfg_diags *diags)
{
    struct loader ld;
    struct ynode *root = NULL;
    struct ytree *tree = NULL;
    int rc;

    memset(&ld, 0, sizeof(ld));
    ld.diags = diags;
    ld.file = name ? name : "(config)";
    diags_reset(diags);
    if (out)
        *out = NULL;
    if (!text || !out) {
        diag_add(&ld, 0, 0, "E-CFG-IO", "pass the config text", "no configuration given");
        return DC_EINVAL;
    }
    if (len > CFG_MAX_BYTES) {
        diag_add(&ld, 0, 0, "E-CFG-TOO-LARGE", "a config should be a few kilobytes; split or trim it",
                 "the config is %zu bytes, more than the limit of %u", len, CFG_MAX_BYTES);
        return DC_EINVAL;
    }
    ld.cfg = calloc(1, sizeof(*ld.cfg));
    if (!ld.cfg) {
        diag_oom(&ld);
        return DC_ENOMEM;
    }
    ld.cfg->path = xstrdup(&ld, ld.file);
    ld.cfg->dir = absolute_dir(dir);
    if (!ld.cfg->path || !ld.cfg->dir) {
        diag_oom(&ld);
        rc = DC_ENOMEM;
        goto cleanup;
    }
    rc = fill_defaults(&ld);
    if (rc != DC_OK)
        goto cleanup;
    tree = ytree_new();
    if (!tree) {
        diag_oom(&ld);
        rc = DC_ENOMEM;
        goto cleanup;
    }
    const struct ytree_opts yo = {"E-CFG", "config", CFG_MAX_DEPTH, CFG_MAX_NODES, yaml_diag, &ld};
    rc = ytree_parse(tree, &yo, text, len, &root);
    if (rc == DC_OK && !ld.oom)
        load_root(&ld, root);
    diags_sort(diags);
    if (ld.oom)
        rc = DC_ENOMEM;
    else if (ld.nerr > 0)
        rc = DC_EINVAL;
cleanup:
    ytree_free(tree);
    if (rc != DC_OK) {
        config_free(ld.cfg);
        return rc;
    }
    *out = ld.cfg;
    return DC_OK;
}

int config_load_string(const char *text, size_t len, const char *name, struct dc_config **cfg,
                       struct cfg_diags *diags)
{
    char *dir = util_dirname(name ? name : "config.yaml");
    if (!dir) {
        diags_reset(diags);
        if (cfg)
            *cfg = NULL;
        return DC_ENOMEM;
    }
    int rc = load_mem(text, len, name, dir, cfg, diags);
    free(dir);
    return rc;
}

int config_load(const char *path, struct dc_config **cfg, struct cfg_diags *diags)
{
    char *text = NULL, err[512];
    size_t len = 0;
    if (cfg)
        *cfg = NULL;
    diags_reset(diags);
    int rc = util_read_file(path, CFG_MAX_BYTES, &text, &len, err, sizeof(err));
    if (rc != DC_OK) {
        struct loader ld;
        memset(&ld, 0, sizeof(ld));
        ld.diags = diags;
        ld.file = path;
        if (rc == DC_ELIMIT)
            diag_add(&ld, 0, 0, "E-CFG-TOO-LARGE",
                     "a config should be a few kilobytes; split or trim it",
                     "the config is larger than the limit of %u bytes", CFG_MAX_BYTES);
        else
            diag_add(&ld, 0, 0, "E-CFG-IO",
                     "check the path, or run without --config to use the built-in default",
                     "%s", err);
        return rc == DC_ENOMEM ? DC_ENOMEM : DC_EINVAL;
    }
    rc = config_load_string(text, len, path, cfg, diags);
    free(text);
    return rc;
}

/* The built-in default: the same graph as config/datachat.yaml, with paths
 * relative to base_dir instead of the config/ directory. */
static const char default_yaml[] =
    "version: 1\n"
    "plugins: { dirs: [] }\n"
    "databases:\n"
    "  demo: { connector: sqlite, path: var/demo.db }\n"
    "pipeline:\n"
    "  entry: intent\n"
    "  max_steps: 16\n"
    "  stages:\n"
    "    intent:\n"
    "      use: intent\n"
    "      on: { catalog: catalog, sql: metric, metric: metric, tool: reply,\n"
    "            clarify: reply, refuse: reply }\n"
    "    catalog:\n"
    "      use: catalog\n"
    "      on: { ok: reply, not_found: reply }\n"
    "    metric:\n"
    "      use: metric\n"
    "      on: { ok: reply, clarify: reply, no_match: compiler }\n"
    "    compiler:\n"
    "      use: compiler\n"
    "      on: { ok: reply, unsure: reply }\n"
    "    reply: { use: answer }\n"
    "audit: { path: var/audit.jsonl, fsync: always }\n"
    "store: { url: \"sqlite:var/state.db\" }\n"
    "limits: { max_rows: 1000, timeout_ms: 30000, max_question_bytes: 65536 }\n";

int config_default(const char *base_dir, struct dc_config **cfg, struct cfg_diags *diags)
{
    return load_mem(default_yaml, sizeof(default_yaml) - 1, "(built-in config)",
                    base_dir && *base_dir ? base_dir : ".", cfg, diags);
}

/* ------------------------------------------------------------------------
 * Plugin-dependent checks.
 */
static const void *field_at(const void *vt, size_t off, size_t len)
{
    size_t sz;
    memcpy(&sz, vt, sizeof(sz));
    if (sz < off + len)
        return NULL;
    return (const char *)vt + off;
}

static const struct dc_option *vtable_options(int kind, const void *vt)
{
    const void *f = NULL;
    const struct dc_option *o = NULL;
    if (!vt)
        return NULL;
    switch (kind) {
    case DC_KIND_CONNECTOR:
        f = field_at(vt, offsetof(struct dc_connector_vtable, options), sizeof(o));
        break;
    case DC_KIND_LLM:
        f = field_at(vt, offsetof(struct dc_llm_vtable, options), sizeof(o));
        break;
    case DC_KIND_STAGE:
        f = field_at(vt, offsetof(struct dc_stage_vtable, options), sizeof(o));
        break;
    case DC_KIND_TOOL:
        f = field_at(vt, offsetof(struct dc_tool_vtable, options), sizeof(o));
        break;
    default:
        break;
    }
    if (f)
        memcpy(&o, f, sizeof(o));
    return o;
}

static const char *const *stage_outcomes(const void *vt)
{
    const char *const *out = NULL;
    const void *f;
    if (!vt)
        return NULL;
    f = field_at(vt, offsetof(struct dc_stage_vtable, outcomes), sizeof(out));
    if (f)
        memcpy(&out, f, sizeof(out));
    return out;
}

static const struct dc_option *decl_find(const struct dc_option *decl, const char *key)
{
    for (size_t i = 0; decl && decl[i].name; i++)
        if (strcmp(decl[i].name, key) == 0)
            return &decl[i];
    return NULL;
}

static const char *opt_type_name(int t)
{
    switch (t) {
    case DC_OPT_STRING: return "a string";
    case DC_OPT_INT: return "an integer";
    case DC_OPT_BOOL: return "a boolean (true/false)";
    case DC_OPT_NUMBER: return "a number";
    case DC_OPT_PATH: return "a path";
    case DC_OPT_ENV: return "an environment variable name";
    case DC_OPT_LIST: return "a list";
    default: return "a value";
    }
}

static void check_opt(struct loader *ld, struct cfg_opt *o, const struct dc_option *d,
                      const char *path)
{
    int64_t i;
    double x;
    int b;
    const char *bad = NULL;

    if (d->type == DC_OPT_LIST) {
        if (!o->is_list)
            diag_add(ld, o->line, o->col, "E-CFG-TYPE", "write a list, e.g. [a, b]",
                     "%s.%s must be a list", path, o->key);
        return;
    }
    if (o->is_list) {
        diag_add(ld, o->line, o->col, "E-CFG-TYPE", "write a single value, not a list",
                 "%s.%s must be %s, got a list", path, o->key, opt_type_name(d->type));
        return;
    }
    switch (d->type) {
    case DC_OPT_INT:
        if (parse_int_strict(o->value, &i) != DC_OK)
            bad = "write a whole number, e.g. 10";
        break;
    case DC_OPT_NUMBER:
        if (parse_number_strict(o->value, &x) != DC_OK)
            bad = "write a number, e.g. 0.5";
        break;
    case DC_OPT_BOOL:
        if (parse_bool_text(o->value, &b) != DC_OK)
            bad = "write true or false";
        break;
    case DC_OPT_ENV:
        if (!ends_with_env(o->key))
            bad = "this option is declared as an environment variable name, but its key does "
                  "not end in _env; the plugin is inconsistent";
        else if (!valid_env_name(o->value))
            bad = "write the NAME of an environment variable, e.g. WAREHOUSE_DSN";
        break;
    case DC_OPT_PATH: {
        const char *why;
        if (!*o->value) {
            bad = "write a path, absolute or relative to the config file";
            break;
        }
        char *abs = resolve_path(ld->cfg->dir, o->value, &why);
        if (!abs) {
            if (why)
                diag_add(ld, o->line, o->col, "E-CFG-TYPE",
                         "write an absolute path or one relative to the config file", "%s.%s: %s",
                         path, o->key, why);
            else
                diag_oom(ld);
            return;
        }
        free(o->value);
        o->value = abs;
        break;
    }
    default:
        break;
    }
    if (bad)
        diag_add(ld, o->line, o->col, "E-CFG-TYPE", bad, "%s.%s must be %s, got '%s'", path,
                 o->key, opt_type_name(d->type), o->value);
}

/* Whole-number options of bundled plugins whose range is known: checked
 * here so that a value out of range is a config error with file:line:col
 * (exit 2), not a failure at the first query. The plugin checks again when
 * it opens. */
static const struct {
    const char *plugin, *key;
    int64_t min, max;
} opt_ranges[] = {
    {"postgres", "pool_size", 1, 64},
    {"postgres", "connect_timeout_s", 1, 600},
};

static void check_opt_range(struct loader *ld, const struct cfg_opt *o, const char *path,
                            const char *plugin)
{
    int64_t v;
    for (size_t i = 0; i < sizeof(opt_ranges) / sizeof(opt_ranges[0]); i++) {
        if (!plugin || strcmp(opt_ranges[i].plugin, plugin) != 0 ||
            strcmp(opt_ranges[i].key, o->key) != 0 || o->is_list ||
            parse_int_strict(o->value, &v) != DC_OK)
            continue;
        if (v < opt_ranges[i].min || v > opt_ranges[i].max) {
            char hint[96];
            snprintf(hint, sizeof(hint), "write a whole number from %lld to %lld",
                     (long long)opt_ranges[i].min, (long long)opt_ranges[i].max);
            diag_add(ld, o->line, o->col, "E-CFG-RANGE", hint,
                     "%s.%s is %s, outside %lld..%lld", path, o->key, o->value,
                     (long long)opt_ranges[i].min, (long long)opt_ranges[i].max);
        }
    }
}

static void check_opts(struct loader *ld, struct dc_opts *opts, const struct dc_option *decl,
                       const char *path, int line, int col, const char *plugin)
{
    const char *names[32];
    size_t nn = 0;
    for (size_t i = 0; decl && decl[i].name && nn < 32; i++)
        names[nn++] = decl[i].name;
    for (size_t i = 0; i < opts->nopts; i++) {
        struct cfg_opt *o = &opts->opts[i];
        if (!o->key)
            continue;
        const struct dc_option *d = decl_find(decl, o->key);
        if (!d) {
            char hint[256];
            hint_for_names(hint, sizeof(hint), o->key, "declared options",
                           "this plugin declares no options; remove the key", names, nn);
            diag_add(ld, o->line, o->col, "E-CFG-UNKNOWN-KEY", hint,
                     "%s: plugin '%s' has no option '%s'", path, plugin, o->key);
            continue;
        }
        check_opt(ld, o, d, path);
        check_opt_range(ld, o, path, plugin);
    }
    for (size_t i = 0; decl && decl[i].name; i++) {
        if (!decl[i].required || decl[i].default_value)
            continue;
        int found = 0;
        for (size_t j = 0; j < opts->nopts && !found; j++)
            found = opts->opts[j].key && strcmp(opts->opts[j].key, decl[i].name) == 0;
        if (!found) {
            char hint[256];
            snprintf(hint, sizeof(hint), "add `%s:`%s%s", decl[i].name,
                     decl[i].help ? " - " : "", decl[i].help ? decl[i].help : "");
            diag_add(ld, line, col, "E-CFG-MISSING", hint,
                     "%s: plugin '%s' requires option '%s'", path, plugin, decl[i].name);
        }
    }
    opts->decl = decl;
}

static const void *resolve_plugin(struct loader *ld, cfg_lookup_fn lookup, void *arg, int kind,
                                  const char *name, const char *path, int line, int col)
{
    if (!name)
        return NULL; /* a missing name was reported by config_load */
    const struct dc_plugin_descriptor *d = lookup(arg, kind, name);
    if (!d || d->kind != kind || !d->vtable) {
        char hint[256];
        snprintf(hint, sizeof(hint),
                 "no %s plugin named '%s' is loaded; check the name, or add its directory to "
                 "plugins.dirs (`datachat plugins list` shows what is loaded)",
                 dc_kind_name(kind), name);
        diag_add(ld, line, col, "E-CFG-UNKNOWN-PLUGIN", hint, "%s uses unknown %s plugin '%s'",
                 path, dc_kind_name(kind), name);
        return NULL;
    }
    return d->vtable;
}

static void check_outcome_list(struct loader *ld, const struct cfg_stage *st,
                               const char *const *outs, const char *path)
{
    size_t nout = names_count(outs);
    for (size_t e = 0; e < st->nedges; e++) {
        const struct cfg_edge *ed = &st->edges[e];
        if (!ed->label || (outs && in_list(ed->label, outs)))
            continue;
        char hint[256];
        hint_for_names(hint, sizeof(hint), ed->label, "declared outcomes",
                       "this stage declares no outcomes, so it can only end the pipeline", outs,
                       nout);
        diag_add(ld, ed->line, ed->col, "E-CFG-UNKNOWN-OUTCOME", hint,
                 "%s: stage plugin '%s' never returns outcome '%s'", path, st->use, ed->label);
    }
}

static void check_outcomes(struct loader *ld, const struct cfg_stage *st, const void *vt,
                           const char *path)
{
    check_outcome_list(ld, st, stage_outcomes(vt), path);
}

/* A Lua stage or tool: the script compiles, its top level runs within the
 * sandbox's limits (a sandboxed script's in datachat-worker), it defines the entry point (fn) and, for stages, every
 * `on:` label is one of its declared `outcomes`, and `with:` matches the
 * script's declared `options` as a .so plugin's would. */
static void check_lua(struct loader *ld, const char *use, const char *fn,
                      const struct cfg_stage *st, struct dc_opts *with, const char *path,
                      int line, int col, int sandboxed)
{
    char err[1024] = "";
    struct luart *lr = NULL;
    struct sandbox_lua_desc *desc = NULL;
    char *file = luart_script_path(ld->cfg->dir, use);
    char *lib = luart_find_lib(file);
    if (!file) {
        diag_oom(ld);
        goto cleanup;
    }
    if (sandboxed) {
        /* Its top level is untrusted code: it runs in a worker under the
         * filter, never here, and only its declarations come back. */
        const struct sandbox_opts so = {.plugin_path = file, .tool = path, .lua_name = use + 4,
                                        .lua_lib = lib, .deadline_ms = 10000};
        if (sandbox_lua_describe(&so, &desc, err, sizeof(err)) != DC_OK) {
            diag_add(ld, line, col, "E-CFG-LUA-SCRIPT",
                     "fix the script; it is sandboxed, so `datachat config check` runs its "
                     "top level in datachat-worker, as requests will",
                     "%s: %s", path, err);
            goto cleanup;
        }
    } else if (luart_open(file, use + 4, lib, NULL, &lr, err, sizeof(err)) != DC_OK) {
        diag_add(ld, line, col, "E-CFG-LUA-SCRIPT",
                 "fix the script; `datachat config check` runs its top level the same way",
                 "%s: %s", path, err);
        goto cleanup;
    }
    if (desc ? !(strcmp(fn, "run") == 0 ? desc->defines_run : desc->defines_invoke)
             : !luart_defines(lr, fn)) {
        diag_add(ld, line, col, "E-CFG-LUA-SCRIPT",
                 strcmp(fn, "run") == 0 ? "define `function run(ctx) ... return \"label\" end`"
                                        : "define `function invoke(args) ... return {...} end`",
                 "%s: script %s defines no global function %s", path, use + 4, fn);
        goto cleanup;
    }
    if (st)
        check_outcome_list(ld, st, desc ? (const char *const *)desc->outcomes
                                        : luart_outcomes(lr), path);
    char wpath[340];
    snprintf(wpath, sizeof(wpath), "%s.with", path);
    check_opts(ld, with, desc ? desc->options : luart_options(lr), wpath, line, col, use);
    with->decl = NULL; /* the declaration dies with lr; the script reads `config` */
cleanup:
    luart_close(lr);
    sandbox_lua_desc_free(desc);
    free(file);
    free(lib);
}

int config_resolve(struct dc_config *cfg, cfg_lookup_fn lookup, void *arg,
                   struct cfg_diags *diags)
{
    struct loader ld;
    char path[320];
    const void *vt;

    memset(&ld, 0, sizeof(ld));
    ld.diags = diags;
    diags_reset(diags);
    if (!cfg || !lookup)
        return DC_EINVAL;
    ld.cfg = cfg;
    ld.file = cfg->path;

    for (size_t i = 0; i < cfg->ndbs; i++) {
        struct cfg_database *db = &cfg->dbs[i];
        snprintf(path, sizeof(path), "databases.%s", db->name ? db->name : "?");
        vt = resolve_plugin(&ld, lookup, arg, DC_KIND_CONNECTOR, db->connector, path, db->line,
                            db->col);
        if (vt)
            check_opts(&ld, &db->opts, vtable_options(DC_KIND_CONNECTOR, vt), path, db->line,
                       db->col, db->connector);
    }
    for (size_t i = 0; i < cfg->nllms; i++) {
        struct cfg_llm *l = &cfg->llms[i];
        snprintf(path, sizeof(path), "llm.%s", l->name ? l->name : "?");
        vt = resolve_plugin(&ld, lookup, arg, DC_KIND_LLM, l->provider, path, l->line, l->col);
        if (vt)
            check_opts(&ld, &l->opts, vtable_options(DC_KIND_LLM, vt), path, l->line, l->col,
                       l->provider);
    }
    for (size_t i = 0; i < cfg->nstages; i++) {
        struct cfg_stage *st = &cfg->stages[i];
        snprintf(path, sizeof(path), "pipeline.stages.%s", st->name ? st->name : "?");
        if (luart_is_lua_use(st->use)) {
            check_lua(&ld, st->use, "run", st, &st->with, path, st->line, st->col,
                      st->sandbox);
            continue;
        }
        vt = resolve_plugin(&ld, lookup, arg, DC_KIND_STAGE, st->use, path, st->line, st->col);
        if (!vt)
            continue;
        char wpath[340];
        snprintf(wpath, sizeof(wpath), "%s.with", path);
        add_intent_llm(&ld, st, vtable_options(DC_KIND_STAGE, vt));
        check_opts(&ld, &st->with, vtable_options(DC_KIND_STAGE, vt), wpath, st->line, st->col,
                   st->use);
        check_outcomes(&ld, st, vt, path);
    }
    for (size_t i = 0; i < cfg->ntools; i++) {
        struct cfg_tool *t = &cfg->tools[i];
        snprintf(path, sizeof(path), "tools.%s", t->name ? t->name : "?");
        if (luart_is_lua_use(t->use)) {
            /* a Lua tool is sandboxed unless it says `sandbox: false` */
            check_lua(&ld, t->use, "invoke", NULL, &t->with, path, t->line, t->col,
                      !t->sandbox_set || t->sandbox);
            continue;
        }
        if (httptool_is_use(t->use)) { /* built into the core, not a plugin */
            char hpath[340];
            snprintf(hpath, sizeof(hpath), "%s.with", path);
            check_opts(&ld, &t->with, httptool_options(), hpath, t->line, t->col, t->use);
            continue;
        }
        vt = resolve_plugin(&ld, lookup, arg, DC_KIND_TOOL, t->use, path, t->line, t->col);
        if (!vt)
            continue;
        char wpath[340];
        snprintf(wpath, sizeof(wpath), "%s.with", path);
        check_opts(&ld, &t->with, vtable_options(DC_KIND_TOOL, vt), wpath, t->line, t->col,
                   t->use);
    }
    diags_sort(diags);
    if (ld.oom)
        return DC_ENOMEM;
    return ld.nerr > 0 ? DC_EINVAL : DC_OK;
}

/* ------------------------------------------------------------------------
 * Lifetime, lookup, output.
 */
void config_free(struct dc_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->dir);
    for (size_t i = 0; i < cfg->nplugin_dirs; i++)
        free(cfg->plugin_dirs[i]);
    free(cfg->plugin_dirs);
    for (size_t i = 0; i < cfg->ndbs; i++) {
        free(cfg->dbs[i].name);
        free(cfg->dbs[i].connector);
        opts_clear(&cfg->dbs[i].opts);
    }
    free(cfg->dbs);
    free(cfg->default_database);
    for (size_t i = 0; i < cfg->nllms; i++) {
        free(cfg->llms[i].name);
        free(cfg->llms[i].provider);
        opts_clear(&cfg->llms[i].opts);
    }
    free(cfg->llms);
    free(cfg->entry);
    for (size_t i = 0; i < cfg->nstages; i++) {
        struct cfg_stage *st = &cfg->stages[i];
        free(st->name);
        free(st->use);
        opts_clear(&st->with);
        for (size_t e = 0; e < st->nedges; e++) {
            free(st->edges[e].label);
            free(st->edges[e].target);
        }
        free(st->edges);
    }
    free(cfg->stages);
    for (size_t i = 0; i < cfg->ntools; i++) {
        free(cfg->tools[i].name);
        free(cfg->tools[i].use);
        for (size_t j = 0; j < cfg->tools[i].nhttp_allow; j++)
            free(cfg->tools[i].http_allow[j]);
        free(cfg->tools[i].http_allow);
        opts_clear(&cfg->tools[i].with);
    }
    free(cfg->tools);
    free(cfg->policies);
    free(cfg->default_principal);
    free(cfg->audit_path);
    free(cfg->store_url);
    for (size_t i = 0; i < cfg->ndp_user_dirs; i++)
        free(cfg->dp_user_dirs[i]);
    free(cfg->dp_user_dirs);
    free(cfg->dp_managed_dir);
    free(cfg->server.listen);
    for (size_t i = 0; i < cfg->server.ntokens; i++)
        free(cfg->server.tokens[i].principal);
    free(cfg->server.tokens);
    free(cfg);
}

const struct cfg_database *config_find_db(const struct dc_config *cfg, const char *name)
{
    for (size_t i = 0; cfg && name && i < cfg->ndbs; i++)
        if (cfg->dbs[i].name && strcmp(cfg->dbs[i].name, name) == 0)
            return &cfg->dbs[i];
    return NULL;
}

const struct cfg_stage *config_find_stage(const struct dc_config *cfg, const char *name)
{
    for (size_t i = 0; cfg && name && i < cfg->nstages; i++)
        if (cfg->stages[i].name && strcmp(cfg->stages[i].name, name) == 0)
            return &cfg->stages[i];
    return NULL;
}

void config_diag_format(const struct cfg_diag *d, char *out, size_t outlen)
{
    if (!out || !outlen)
        return;
    if (!d) {
        out[0] = '\0';
        return;
    }
    char where[300];
    if (d->line > 0)
        snprintf(where, sizeof(where), "%s:%d:%d", d->file, d->line, d->col > 0 ? d->col : 1);
    else
        snprintf(where, sizeof(where), "%s", d->file);
    if (d->hint[0])
        snprintf(out, outlen, "%s: %s: %s (hint: %s)", where, d->code, d->msg, d->hint);
    else
        snprintf(out, outlen, "%s: %s: %s", where, d->code, d->msg);
}

char *config_graph_text(const struct dc_config *cfg)
{
    struct sbuf b;
    if (!cfg)
        return NULL;
    sbuf_init(&b);
    sbuf_addf(&b, "entry: %s", cfg->entry ? cfg->entry : "(none)");
    if (cfg->max_steps)
        sbuf_addf(&b, " (max_steps %d)", cfg->max_steps);
    sbuf_adds(&b, "\n");
    for (size_t i = 0; i < cfg->nstages; i++) {
        const struct cfg_stage *st = &cfg->stages[i];
        if (st->nedges == 0)
            sbuf_addf(&b, "%s [terminal]\n", st->name);
        for (size_t e = 0; e < st->nedges; e++)
            sbuf_addf(&b, "%s --%s--> %s\n", st->name, st->edges[e].label, st->edges[e].target);
    }
    return sbuf_detach(&b);
}

static void dot_quoted(struct sbuf *b, const char *s)
{
    sbuf_adds(b, "\"");
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\')
            sbuf_addf(b, "\\%c", *s);
        else if (*s == '\n')
            sbuf_adds(b, "\\n");
        else
            sbuf_add(b, s, 1);
    }
    sbuf_adds(b, "\"");
}

char *config_graph_dot(const struct dc_config *cfg)
{
    struct sbuf b;
    if (!cfg)
        return NULL;
    sbuf_init(&b);
    sbuf_adds(&b, "digraph pipeline {\n  rankdir=LR;\n  node [shape=box];\n");
    /* '<' cannot occur in a stage name, so this id never collides */
    if (cfg->entry) {
        sbuf_adds(&b, "  \"<entry>\" [shape=point, label=\"\"];\n  \"<entry>\" -> ");
        dot_quoted(&b, cfg->entry);
        sbuf_adds(&b, " [label=\"entry\"];\n");
    }
    for (size_t i = 0; i < cfg->nstages; i++) {
        const struct cfg_stage *st = &cfg->stages[i];
        struct sbuf lbl;
        sbuf_init(&lbl);
        sbuf_addf(&lbl, "%s\n(%s)", st->name, st->use ? st->use : "?");
        sbuf_adds(&b, "  ");
        dot_quoted(&b, st->name);
        sbuf_adds(&b, " [label=");
        dot_quoted(&b, lbl.p);
        sbuf_free(&lbl);
        if (cfg->entry && strcmp(cfg->entry, st->name) == 0)
            sbuf_adds(&b, ", style=bold, penwidth=2");
        if (st->nedges == 0)
            sbuf_adds(&b, ", peripheries=2");
        sbuf_adds(&b, "];\n");
    }
    for (size_t i = 0; i < cfg->nstages; i++) {
        const struct cfg_stage *st = &cfg->stages[i];
        for (size_t e = 0; e < st->nedges; e++) {
            sbuf_adds(&b, "  ");
            dot_quoted(&b, st->name);
            sbuf_adds(&b, " -> ");
            dot_quoted(&b, st->edges[e].target);
            sbuf_adds(&b, " [label=");
            dot_quoted(&b, st->edges[e].label);
            sbuf_adds(&b, "];\n");
        }
    }
    sbuf_adds(&b, "}\n");
    return sbuf_detach(&b);
}

/* ------------------------------------------------------------------------
 * Option accessors.
 */
static const struct cfg_opt *opt_find(const struct dc_opts *o, const char *key)
{
    for (size_t i = 0; o && key && i < o->nopts; i++)
        if (o->opts[i].key && strcmp(o->opts[i].key, key) == 0)
            return &o->opts[i];
    return NULL;
}

/* The text of a scalar option, or its declared default. */
static const char *opt_text(const struct dc_opts *o, const char *key)
{
    const struct cfg_opt *c = opt_find(o, key);
    if (c)
        return c->is_list ? NULL : c->value;
    const struct dc_option *d = o ? decl_find(o->decl, key) : NULL;
    return d ? d->default_value : NULL;
}

const char *opts_str(const struct dc_opts *o, const char *key)
{
    return opt_text(o, key);
}

int opts_int(const struct dc_opts *o, const char *key, int64_t *out)
{
    const char *s = opt_text(o, key);
    int64_t v;
    if (!s)
        return opt_find(o, key) ? DC_EINVAL : DC_ENOTFOUND;
    if (parse_int_strict(s, &v) != DC_OK)
        return DC_EINVAL;
    if (out)
        *out = v;
    return DC_OK;
}

int opts_bool(const struct dc_opts *o, const char *key, int *out)
{
    const char *s = opt_text(o, key);
    int v;
    if (!s)
        return opt_find(o, key) ? DC_EINVAL : DC_ENOTFOUND;
    if (parse_bool_text(s, &v) != DC_OK)
        return DC_EINVAL;
    if (out)
        *out = v;
    return DC_OK;
}

int opts_number(const struct dc_opts *o, const char *key, double *out)
{
    const char *s = opt_text(o, key);
    double v;
    if (!s)
        return opt_find(o, key) ? DC_EINVAL : DC_ENOTFOUND;
    if (parse_number_strict(s, &v) != DC_OK)
        return DC_EINVAL;
    if (out)
        *out = v;
    return DC_OK;
}

size_t opts_list_len(const struct dc_opts *o, const char *key)
{
    const struct cfg_opt *c = opt_find(o, key);
    return c && c->is_list ? c->nitems : 0;
}

const char *opts_list_item(const struct dc_opts *o, const char *key, size_t i)
{
    const struct cfg_opt *c = opt_find(o, key);
    if (!c || !c->is_list || i >= c->nitems)
        return NULL;
    return c->items[i];
}

int config_add_database(struct dc_config *cfg, const char *name, const char *connector,
                        const char *const *kv, size_t nkv, char *err, size_t errlen)
{
    if (!cfg || !name || !connector || (nkv % 2) != 0)
        return util_err(err, errlen, DC_EINVAL, "bad arguments");
    if (!valid_name(name))
        return util_err(err, errlen, DC_EINVAL,
                        "'%s' is not a valid database name (letters, digits, '_' and '-')",
                        name);
    if (config_find_db(cfg, name))
        return util_err(err, errlen, DC_EINVAL,
                        "a database named '%s' is already configured in %s", name, cfg->path);
    struct cfg_database *dbs = realloc(cfg->dbs, (cfg->ndbs + 1) * sizeof(*dbs));
    if (!dbs)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    cfg->dbs = dbs;
    struct cfg_database *db = &cfg->dbs[cfg->ndbs];
    memset(db, 0, sizeof(*db));
    db->name = strdup(name);
    db->connector = strdup(connector);
    db->opts.opts = calloc(nkv / 2 + 1, sizeof(*db->opts.opts));
    int ok = db->name && db->connector && db->opts.opts;
    for (size_t i = 0; ok && i < nkv; i += 2) {
        struct cfg_opt *o = &db->opts.opts[db->opts.nopts];
        o->key = strdup(kv[i]);
        o->value = strdup(kv[i + 1]);
        ok = o->key && o->value;
        db->opts.nopts++;
    }
    cfg->ndbs++; /* counted even on failure so config_free releases it */
    return ok ? DC_OK : util_err(err, errlen, DC_ENOMEM, "out of memory");
}
