#include "sqlgen_text.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <datachat/value.h>

static int in_list(const char *const *list, const char *s, size_t n)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strlen(list[i]) == n && strncmp(list[i], s, n) == 0)
            return 1;
    return 0;
}

/* Calls fn for each {{name}} in text; stops at the first non-zero return. */
typedef int (*tpl_fn)(void *arg, const char *name, size_t n, int line, int col);

static int tpl_scan(const char *text, tpl_fn fn, void *arg)
{
    int line = 1, col = 1;
    for (const char *p = text; *p; p++) {
        if (p[0] == '{' && p[1] == '{') {
            const char *end = strstr(p + 2, "}}");
            if (end) {
                int rc = fn(arg, p + 2, (size_t)(end - p - 2), line, col);
                if (rc)
                    return rc;
            }
        }
        if (*p == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return 0;
}

struct tpl_check {
    const char *path;
    const char *const *allowed;
    char *err;
    size_t errlen;
};

static int check_one(void *arg, const char *name, size_t n, int line, int col)
{
    struct tpl_check *tc = arg;
    if (in_list(tc->allowed, name, n))
        return 0;
    snprintf(tc->err, tc->errlen,
             "%s:%d:%d: E-SQLGEN-PROMPT-PLACEHOLDER: unknown placeholder {{%.*s}}; this "
             "template may use only the placeholders docs/LLM.md lists",
             tc->path, line, col, (int)(n > 40 ? 40 : n), name);
    return DC_EINVAL;
}

struct tpl_find {
    const char *name;
    int found;
};

static int find_one(void *arg, const char *name, size_t n, int line, int col)
{
    struct tpl_find *tf = arg;
    (void)line;
    (void)col;
    if (strlen(tf->name) == n && strncmp(tf->name, name, n) == 0)
        tf->found = 1;
    return 0;
}

int sqlgen_tpl_check(const char *path, const char *text, const char *const *allowed,
                     const char *const *required, char *err, size_t errlen)
{
    struct tpl_check tc = {path, allowed, err, errlen};
    int rc = tpl_scan(text, check_one, &tc);
    if (rc)
        return rc;
    for (size_t i = 0; required && required[i]; i++) {
        struct tpl_find tf = {required[i], 0};
        tpl_scan(text, find_one, &tf);
        if (!tf.found) {
            snprintf(err, errlen,
                     "%s: E-SQLGEN-PROMPT-MISSING: the template lacks the placeholder {{%s}}, "
                     "without which the model cannot do its job; add it",
                     path, required[i]);
            return DC_EINVAL;
        }
    }
    return DC_OK;
}

int sqlgen_tpl_load(const char *path, const char *const *allowed, const char *const *required,
                    struct sqlgen_tpl *t, char *err, size_t errlen)
{
    int rc = DC_OK;
    char *text = NULL;
    size_t len = 0;
    memset(t, 0, sizeof(*t));
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: E-SQLGEN-PROMPT-IO: cannot read the prompt template: %s; "
                              "check the sqlgen `prompts` option",
                 path, strerror(errno));
        return DC_ENOTFOUND;
    }
    text = malloc(SQLGEN_TPL_MAX_BYTES + 1);
    if (!text) {
        rc = DC_ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto cleanup;
    }
    len = fread(text, 1, SQLGEN_TPL_MAX_BYTES + 1, f);
    if (ferror(f) || len > SQLGEN_TPL_MAX_BYTES) {
        rc = DC_EINVAL;
        snprintf(err, errlen, "%s: E-SQLGEN-PROMPT-IO: %s", path,
                 ferror(f) ? "read error" : "the template is over 64 KiB; shorten it");
        goto cleanup;
    }
    text[len] = '\0';
    if (strlen(text) != len) {
        rc = DC_EINVAL;
        snprintf(err, errlen, "%s: E-SQLGEN-PROMPT-IO: the template holds a NUL byte", path);
        goto cleanup;
    }
    rc = sqlgen_tpl_check(path, text, allowed, required, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    t->path = strdup(path);
    if (!t->path) {
        rc = DC_ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto cleanup;
    }
    t->text = text;
    text = NULL;
cleanup:
    free(text);
    fclose(f);
    return rc;
}

void sqlgen_tpl_free(struct sqlgen_tpl *t)
{
    if (!t)
        return;
    free(t->text);
    free(t->path);
    memset(t, 0, sizeof(*t));
}

void sqlgen_tpl_fill(const char *text, const char *const *names, const char *const *values,
                     size_t n, struct textbuf *out)
{
    const char *p = text;
    while (*p) {
        const char *open = strstr(p, "{{");
        const char *end = open ? strstr(open + 2, "}}") : NULL;
        if (!open || !end) {
            textbuf_puts(out, p);
            return;
        }
        size_t nl = (size_t)(end - open - 2);
        size_t i = 0;
        while (i < n && !(strlen(names[i]) == nl && strncmp(names[i], open + 2, nl) == 0))
            i++;
        textbuf_add(out, p, (size_t)(open - p));
        if (i < n)
            textbuf_puts(out, values[i] ? values[i] : "");
        else
            textbuf_add(out, open, nl + 4); /* checked at load; kept verbatim */
        p = end + 2;
    }
}

static int starts_word(const char *p, const char *end, const char *kw)
{
    size_t n = strlen(kw);
    if ((size_t)(end - p) < n || strncasecmp(p, kw, n) != 0)
        return 0;
    return p + n == end || !(isalnum((unsigned char)p[n]) || p[n] == '_');
}

static int trim_out(const char *b, const char *e, char **sql)
{
    while (b < e && isspace((unsigned char)*b))
        b++;
    while (e > b && isspace((unsigned char)e[-1]))
        e--;
    if (e > b && e[-1] == ';')
        e--;
    while (e > b && isspace((unsigned char)e[-1]))
        e--;
    if (e == b)
        return DC_ENOTFOUND;
    *sql = strndup(b, (size_t)(e - b));
    return *sql ? DC_OK : DC_ENOMEM;
}

/* The next ``` fence at or after p within [p, end); NULL if none. */
static const char *find_fence(const char *p, const char *end)
{
    for (; p + 3 <= end; p++)
        if (p[0] == '`' && p[1] == '`' && p[2] == '`')
            return p;
    return NULL;
}

int sqlgen_extract_sql(const char *reply, size_t len, char **sql)
{
    *sql = NULL;
    if (!reply)
        return DC_ENOTFOUND;
    const char *end = reply + len;
    const char *first_b = NULL, *first_e = NULL;
    const char *p = reply;
    for (;;) {
        const char *open = find_fence(p, end);
        if (!open)
            break;
        const char *info = open + 3;
        const char *nl = memchr(info, '\n', (size_t)(end - info));
        if (!nl)
            break;
        const char *body = nl + 1;
        const char *close = find_fence(body, end);
        const char *body_end = close ? close : end;
        const char *ib = info;
        while (ib < nl && isspace((unsigned char)*ib))
            ib++;
        if (starts_word(ib, nl, "sql") || starts_word(ib, nl, "postgresql") ||
            starts_word(ib, nl, "sqlite"))
            return trim_out(body, body_end, sql);
        if (!first_b) {
            first_b = body;
            first_e = body_end;
        }
        if (!close)
            break;
        p = close + 3;
    }
    if (first_b)
        return trim_out(first_b, first_e, sql);
    /* Plain text: from the first line that opens a query. */
    for (p = reply; p < end;) {
        const char *q = p;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (starts_word(q, end, "select") || starts_word(q, end, "with")) {
            /* A blank line ends the statement: prose after it is not SQL. */
            const char *stop = q;
            while (stop < end) {
                const char *nl = memchr(stop, '\n', (size_t)(end - stop));
                if (!nl)
                    break;
                const char *r = nl + 1;
                while (r < end && (*r == ' ' || *r == '\t' || *r == '\r'))
                    r++;
                if (r < end && *r == '\n') {
                    end = nl;
                    break;
                }
                stop = nl + 1;
            }
            return trim_out(q, end, sql);
        }
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        p = nl + 1;
    }
    return DC_ENOTFOUND;
}
