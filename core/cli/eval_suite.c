/* Suite files of `datachat eval`: see eval_suite.h and docs/EVAL.md. */
#include "eval_suite.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <datachat/value.h>

#include "util.h"

#define SUITE_MAX_BYTES (16u << 20)
#define LABEL_MAX 64

static const char *const catalog_ops[] = {"tables", "columns", "sample", "count", "find"};

static int fail(char *err, size_t errlen, const char *path, int line, size_t col,
                const char *code, const char *msg)
{
    return util_err(err, errlen, DC_EINVAL, "%s:%d:%zu: %s: %s", path, line, col, code, msg);
}

int eval_valid_day(const char *s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return 0;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && d == 29 && !leap);
}

/* Trims ASCII blanks from both ends, in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static int label_ok(const char *s, int upper)
{
    size_t n = strlen(s);
    if (n == 0 || n > LABEL_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int ok = upper ? (isupper(ch) || isdigit(ch) || ch == '-' || ch == '_')
                       : (islower(ch) || isdigit(ch) || ch == '_' || ch == '-');
        if (!ok)
            return 0;
    }
    return 1;
}

/* A table or database name: letters, digits and the punctuation of
 * schema-qualified or generated names, nothing a shell or SQL would read. */
static int name_ok(const char *s, const char *extra)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!(isalnum(ch) || ch == '_' || strchr(extra, ch)))
            return 0;
    }
    return 1;
}

/* A SELECT or WITH statement written directly in the expect column. */
static int looks_like_sql(const char *s)
{
    static const char *const heads[] = {"SELECT", "WITH", "VALUES"};
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        size_t n = strlen(heads[i]);
        if (strncasecmp(s, heads[i], n) == 0 && (s[n] == ' ' || s[n] == '(' || s[n] == '\t'))
            return 1;
    }
    return 0;
}

/* The expect column into it; on error a message for the caller's location. */
static int parse_expect(struct eval_item *it, const char *e, const char **why)
{
    const char *arg = NULL;
    if (strncasecmp(e, "sql:", 4) == 0) {
        it->kind = EVAL_GOLD;
        arg = e + 4;
        while (*arg == ' ')
            arg++;
        if (!*arg) {
            *why = "'sql:' needs the gold statement after it";
            return DC_EINVAL;
        }
    } else if (looks_like_sql(e)) {
        it->kind = EVAL_GOLD;
        arg = e;
    } else if (strcmp(e, "UNSURE") == 0) {
        it->kind = EVAL_UNSURE;
    } else if (strcmp(e, "refuse") == 0) {
        it->kind = EVAL_REFUSE;
    } else if (strncmp(e, "refuse:", 7) == 0) {
        it->kind = EVAL_REFUSE;
        arg = e + 7;
        if (!label_ok(arg, 1)) {
            *why = "a refusal code is upper case, e.g. refuse:E-INTENT-DESTRUCTIVE";
            return DC_EINVAL;
        }
    } else if (strcmp(e, "clarify") == 0) {
        it->kind = EVAL_CLARIFY;
    } else if (strncmp(e, "intent:", 7) == 0) {
        it->kind = EVAL_INTENT;
        arg = e + 7;
        if (!label_ok(arg, 0)) {
            *why = "an intent label is lower case, e.g. intent:metric";
            return DC_EINVAL;
        }
    } else if (strncmp(e, "catalog:", 8) == 0) {
        it->kind = EVAL_CATALOG;
        const char *op = e + 8;
        const char *colon = strchr(op, ':');
        size_t oplen = colon ? (size_t)(colon - op) : strlen(op);
        int known = 0;
        for (size_t i = 0; i < sizeof(catalog_ops) / sizeof(catalog_ops[0]); i++)
            if (strlen(catalog_ops[i]) == oplen && strncmp(op, catalog_ops[i], oplen) == 0)
                known = 1;
        if (!known) {
            *why = "unknown catalog operation; use catalog:tables, catalog:columns:TABLE, "
                   "catalog:sample:TABLE, catalog:count:TABLE or catalog:find:NAME";
            return DC_EINVAL;
        }
        if (!colon && oplen == 4 && strncmp(op, "find", 4) == 0) {
            *why = "catalog:find needs the table, table.column or DataPoint id the answer must "
                   "name, e.g. catalog:find:customers.email";
            return DC_EINVAL;
        }
        if (colon) {
            if (!name_ok(colon + 1, ".$")) {
                *why = "the table after the catalog operation must be a plain name";
                return DC_EINVAL;
            }
            it->table = util_strdup(colon + 1);
            if (!it->table)
                return DC_ENOMEM;
        }
        it->arg = util_strndup(op, oplen);
        return it->arg ? DC_OK : DC_ENOMEM;
    } else {
        *why = "unknown expectation; use gold SQL (SELECT ...), UNSURE, refuse[:CODE], "
               "clarify, intent:LABEL or catalog:OP[:TABLE]";
        return DC_EINVAL;
    }
    if (arg) {
        it->arg = util_strdup(arg);
        if (!it->arg)
            return DC_ENOMEM;
    }
    return DC_OK;
}

static int parse_flags(struct eval_item *it, char *f, const char **why)
{
    char *save = NULL;
    for (char *t = strtok_r(f, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (strcmp(t, "ordered") == 0) {
            it->ordered = 1;
        } else if (strcmp(t, "metric") == 0) {
            it->metric = 1;
        } else if (strncmp(t, "rows=", 5) == 0) {
            char *end = NULL;
            long v = strtol(t + 5, &end, 10);
            if (!isdigit((unsigned char)t[5]) || *end || v < 0 || v > 100000000) {
                *why = "rows=N needs a non-negative whole number";
                return DC_EINVAL;
            }
            it->rows = v;
        } else {
            *why = "unknown flag; the flags are ordered, metric and rows=N";
            return DC_EINVAL;
        }
    }
    return DC_OK;
}

static void item_free(struct eval_item *it)
{
    free(it->question);
    free(it->expect);
    free(it->arg);
    free(it->table);
}

void eval_suite_free(struct eval_suite *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        item_free(&s->items[i]);
    free(s->items);
    free(s->path);
    free(s->name);
    free(s->today);
    free(s->database);
    free(s);
}

/* `key: value` before the first question. */
static int parse_header(struct eval_suite *s, char *line, int lineno, char *err, size_t errlen)
{
    char *colon = strchr(line, ':');
    char *key = line;
    if (!colon)
        return fail(err, errlen, s->path, lineno, 1, "E-EVAL-NO-TAB",
                    "expected question<TAB>expect[<TAB>flags] (a header line is `today: "
                    "YYYY-MM-DD` or `database: NAME`)");
    *colon = '\0';
    char *val = trim(colon + 1);
    char **slot = NULL;
    if (strcmp(key, "today") == 0)
        slot = &s->today;
    else if (strcmp(key, "database") == 0)
        slot = &s->database;
    if (!slot)
        return fail(err, errlen, s->path, lineno, 1, "E-EVAL-NO-TAB",
                    "expected question<TAB>expect[<TAB>flags]; the only header lines are "
                    "`today:` and `database:`");
    if (s->n)
        return fail(err, errlen, s->path, lineno, 1, "E-EVAL-HEADER",
                    "header lines come before the first question; move it to the top");
    if (*slot)
        return fail(err, errlen, s->path, lineno, 1, "E-EVAL-HEADER",
                    "this header is given twice; keep one");
    size_t vcol = (size_t)(val - line) + 1;
    if (!*val)
        return fail(err, errlen, s->path, lineno, vcol, "E-EVAL-HEADER",
                    "the header has no value");
    if (slot == &s->today && !eval_valid_day(val))
        return fail(err, errlen, s->path, lineno, vcol, "E-EVAL-TODAY",
                    "`today:` must be a real date written YYYY-MM-DD, e.g. 2026-06-30");
    if (slot == &s->database && !name_ok(val, ".-"))
        return fail(err, errlen, s->path, lineno, vcol, "E-EVAL-HEADER",
                    "`database:` names a configured database, e.g. demo");
    *slot = util_strdup(val);
    return *slot ? DC_OK : util_err(err, errlen, DC_ENOMEM, "out of memory");
}

static int parse_item(struct eval_suite *s, char *line, int lineno, char *err, size_t errlen)
{
    char *tab1 = strchr(line, '\t');
    char *expect = tab1 + 1;
    char *tab2 = strchr(expect, '\t');
    char *flags = NULL;
    *tab1 = '\0';
    if (tab2) {
        *tab2 = '\0';
        flags = tab2 + 1;
        if (strchr(flags, '\t'))
            return fail(err, errlen, s->path, lineno, (size_t)(strchr(flags, '\t') - line) + 1,
                        "E-EVAL-FIELDS",
                        "more than three tab-separated fields; a line is "
                        "question<TAB>expect[<TAB>flags]");
    }
    char *q = trim(line);
    if (!*q)
        return fail(err, errlen, s->path, lineno, 1, "E-EVAL-QUESTION",
                    "the question is empty");
    size_t ecol = (size_t)(expect - line) + 1;
    char *e = trim(expect);
    if (!*e)
        return fail(err, errlen, s->path, lineno, ecol, "E-EVAL-EXPECT",
                    "the expect field is empty; give gold SQL, UNSURE, refuse, clarify, "
                    "intent:LABEL or catalog:OP[:TABLE]");
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct eval_item *p = realloc(s->items, cap * sizeof(*p));
        if (!p)
            return util_err(err, errlen, DC_ENOMEM, "out of memory");
        s->items = p;
        s->cap = cap;
    }
    struct eval_item *it = &s->items[s->n];
    memset(it, 0, sizeof(*it));
    it->line = lineno;
    it->rows = -1;
    const char *why = NULL;
    int rc = DC_OK;
    it->question = util_strdup(q);
    it->expect = util_strdup(e);
    if (!it->question || !it->expect)
        rc = DC_ENOMEM;
    if (rc == DC_OK)
        rc = parse_expect(it, e, &why);
    if (rc == DC_EINVAL) {
        fail(err, errlen, s->path, lineno, ecol, "E-EVAL-EXPECT", why);
    } else if (rc == DC_OK && flags) {
        size_t fcol = (size_t)(flags - line) + 1;
        rc = parse_flags(it, flags, &why);
        if (rc == DC_EINVAL)
            fail(err, errlen, s->path, lineno, fcol, "E-EVAL-FLAG", why);
    }
    if (rc == DC_OK && it->rows >= 0 && it->kind != EVAL_GOLD && it->kind != EVAL_CATALOG) {
        rc = fail(err, errlen, s->path, lineno, ecol, "E-EVAL-FLAG",
                  "rows=N checks an answer's rows; it needs gold SQL or a catalog expectation");
    }
    if (rc != DC_OK) {
        if (rc == DC_ENOMEM)
            util_err(err, errlen, DC_ENOMEM, "out of memory");
        item_free(it);
        return rc;
    }
    s->n++;
    return DC_OK;
}

int eval_suite_parse(const char *path, const char *text, size_t len, struct eval_suite **out,
                     char *err, size_t errlen)
{
    int rc = DC_OK;
    char *buf = NULL;
    *out = NULL;
    struct eval_suite *s = calloc(1, sizeof(*s));
    if (!s)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    if (!path)
        path = "<suite>";
    s->path = util_strdup(path);
    const char *slash = strrchr(path, '/');
    s->name = util_strdup(slash ? slash + 1 : path);
    buf = util_strndup(text ? text : "", text ? len : 0);
    if (!s->path || !s->name || !buf) {
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
        goto cleanup;
    }
    if (text && memchr(text, '\0', len)) {
        size_t at = (size_t)((const char *)memchr(text, '\0', len) - text);
        int line = 1;
        for (size_t i = 0; i < at; i++)
            line += text[i] == '\n';
        rc = fail(err, errlen, s->path, line, 1, "E-EVAL-BINARY",
                  "the file holds a NUL byte; a suite is UTF-8 text");
        goto cleanup;
    }
    int lineno = 0;
    char *p = buf;
    while (*p) {
        lineno++;
        char *nl = strchr(p, '\n');
        char *next = nl ? nl + 1 : p + strlen(p);
        if (nl)
            *nl = '\0';
        size_t n = strlen(p);
        if (n && p[n - 1] == '\r')
            p[--n] = '\0';
        char *lead = p;
        while (*lead == ' ')
            lead++;
        if (*lead == '\0' || *lead == '#') {
            p = next;
            continue;
        }
        rc = strchr(p, '\t') ? parse_item(s, p, lineno, err, errlen)
                             : parse_header(s, p, lineno, err, errlen);
        if (rc != DC_OK)
            goto cleanup;
        p = next;
    }
    if (s->n == 0) {
        rc = fail(err, errlen, s->path, lineno ? lineno : 1, 1, "E-EVAL-EMPTY",
                  "the suite has no questions; add lines question<TAB>expect");
        goto cleanup;
    }
    *out = s;
    s = NULL;
cleanup:
    free(buf);
    eval_suite_free(s);
    return rc;
}

int eval_suite_load(const char *path, struct eval_suite **out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    char rerr[512];
    *out = NULL;
    int rc = util_read_file(path, SUITE_MAX_BYTES, &text, &len, rerr, sizeof(rerr));
    if (rc != DC_OK)
        return util_err(err, errlen, rc == DC_ENOMEM ? DC_ENOMEM : DC_EINVAL,
                        "%s: E-EVAL-READ: %s", path, rerr);
    rc = eval_suite_parse(path, text, len, out, err, errlen);
    free(text);
    return rc;
}
