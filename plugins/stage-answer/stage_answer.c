/*
 * stage-answer - the last pipeline stage: renders what the earlier stages
 * found into "output", the text a terminal shows: the answer sentence, the
 * result as an aligned table, and the SQL that ran.
 * When nothing answered the question it records E-NO-ANSWER and says what
 * DataChat can answer today. It never runs SQL and never changes the result
 * or the answer it renders.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#define DEFAULT_MAX_ROWS 20
#define DEFAULT_CELL_WIDTH 40
#define CELL_BYTES_MAX 4096 /* bytes of one cell looked at before truncating */

struct answer_state {
    const struct dc_host *h;
    int64_t max_rows;
    int64_t max_width;
};

static const struct dc_option answer_options[] = {
    {"max_rows", DC_OPT_INT, 0, "20", "rows of a result shown in text output"},
    {"max_cell_width", DC_OPT_INT, 0, "40", "display columns of one cell before it is cut"},
    DC_OPTIONS_END};
static const char *const answer_outcomes[] = {"done", NULL};

static int answer_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                       char *err, size_t errlen)
{
    int64_t rows = DEFAULT_MAX_ROWS, width = DEFAULT_CELL_WIDTH;
    if (opts) {
        int rc = h->opt_int(opts, "max_rows", &rows);
        if (rc != DC_OK && rc != DC_ENOTFOUND) {
            snprintf(err, errlen, "answer: option max_rows must be a whole number");
            return DC_EINVAL;
        }
        rc = h->opt_int(opts, "max_cell_width", &width);
        if (rc != DC_OK && rc != DC_ENOTFOUND) {
            snprintf(err, errlen, "answer: option max_cell_width must be a whole number");
            return DC_EINVAL;
        }
    }
    if (rows < 0 || rows > 100000) {
        snprintf(err, errlen, "answer: max_rows is %lld; use 0 to 100000", (long long)rows);
        return DC_EINVAL;
    }
    if (width < 4 || width > 1000) {
        snprintf(err, errlen, "answer: max_cell_width is %lld; use 4 to 1000",
                 (long long)width);
        return DC_EINVAL;
    }
    struct answer_state *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "answer: out of memory");
        return DC_ENOMEM;
    }
    st->h = h;
    st->max_rows = rows;
    st->max_width = width;
    *state = st;
    return DC_OK;
}

static void answer_fini(void *state)
{
    free(state);
}

/* ---- growable text ------------------------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
    int oom;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_adds(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_addf(struct buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    buf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void buf_pad(struct buf *b, size_t n)
{
    static const char spaces[] = "                                ";
    while (n > 0) {
        size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
        buf_add(b, spaces, k);
        n -= k;
    }
}

/* ---- UTF-8 display width ----------------------------------------------------- */

/* Decodes one code point; invalid or truncated sequences give -1, len 1. */
static long utf8_next(const unsigned char *s, size_t n, size_t *len)
{
    unsigned char c = s[0];
    *len = 1;
    if (c < 0x80)
        return c;
    size_t need;
    long cp;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        cp = c & 0x07;
    } else {
        return -1;
    }
    if (n < need)
        return -1;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *len = need;
    return cp;
}

/* Terminal columns of a code point: 0 for combining marks and zero-width
 * characters, 2 for East Asian wide and emoji ranges, else 1. */
static int cp_width(long cp)
{
    if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x200B && cp <= 0x200F) ||
        (cp >= 0x20D0 && cp <= 0x20FF) || (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0xFEFF)
        return 0;
    if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) ||
        (cp >= 0x3041 && cp <= 0x33FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
        (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
        (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
        (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
        (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD))
        return 2;
    return 1;
}

/* A cell made safe and short for a terminal: control characters become
 * spaces, invalid UTF-8 becomes U+FFFD, and text wider than max is cut with
 * an ellipsis. Returns its display width. */
static size_t cell_clean(const char *s, size_t n, size_t max, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, width = 0;
    if (n > CELL_BYTES_MAX)
        n = CELL_BYTES_MAX;
    size_t total = 0;
    for (size_t k = 0; k < n;) {
        size_t l;
        long cp = utf8_next(p + k, n - k, &l);
        total += cp < 0 ? 1 : (cp < 0x20 || cp == 0x7F) ? 1 : (size_t)cp_width(cp);
        k += l;
    }
    int cut = total > max;
    size_t room = cut ? max - 1 : max;
    while (i < n) {
        size_t l;
        long cp = utf8_next(p + i, n - i, &l);
        size_t w = cp < 0 ? 1 : (cp < 0x20 || cp == 0x7F) ? 1 : (size_t)cp_width(cp);
        if (width + w > room)
            break;
        if (cp < 0)
            buf_adds(out, "\xEF\xBF\xBD");
        else if (cp < 0x20 || cp == 0x7F)
            buf_adds(out, " ");
        else
            buf_add(out, s + i, l);
        width += w;
        i += l;
    }
    if (cut) {
        buf_adds(out, "\xE2\x80\xA6");
        width += 1;
    }
    return width;
}

/* ---- values ---------------------------------------------------------------------- */

static int is_numeric_type(int t)
{
    return t == DC_INT || t == DC_REAL || t == DC_NUMERIC;
}

/* The text of a value for display; tmp holds numbers. */
static void value_text(const struct dc_value *v, char *tmp, size_t cap, const char **s,
                       size_t *n)
{
    if (!v || v->type == DC_NULL) {
        *s = "NULL";
        *n = 4;
        return;
    }
    switch (v->type) {
    case DC_INT:
        snprintf(tmp, cap, "%lld", (long long)v->v.i);
        break;
    case DC_REAL:
        snprintf(tmp, cap, "%.15g", v->v.d);
        break;
    case DC_BOOL:
        snprintf(tmp, cap, "%s", v->v.i ? "true" : "false");
        break;
    case DC_BLOB:
        snprintf(tmp, cap, "<%zu bytes>", v->v.s.n);
        break;
    default:
        *s = v->v.s.p ? v->v.s.p : "";
        *n = v->v.s.p ? v->v.s.n : 0;
        return;
    }
    *s = tmp;
    *n = strlen(tmp);
}

/* ---- the table -------------------------------------------------------------------- */

static void render_table(const struct answer_state *st, const struct dc_result *r,
                         struct buf *out)
{
    const struct dc_host *h = st->h;
    size_t ncols = h->result_ncols(r), nrows = h->result_nrows(r);
    size_t shown = nrows < (size_t)st->max_rows ? nrows : (size_t)st->max_rows;
    size_t maxw = (size_t)st->max_width;
    if (ncols == 0) {
        buf_adds(out, "(no columns)\n");
        return;
    }
    size_t *width = calloc(ncols, sizeof(*width));
    int *right = calloc(ncols, sizeof(*right));
    struct buf cell = {0};
    char tmp[64];
    if (!width || !right) {
        out->oom = 1;
        goto cleanup;
    }
    for (size_t c = 0; c < ncols; c++) {
        const char *name = h->result_col_name(r, c);
        cell.len = 0;
        width[c] = cell_clean(name ? name : "", name ? strlen(name) : 0, maxw, &cell);
        /* Numbers align right: by declared type, or when every shown value
         * is a number. */
        int numeric = is_numeric_type(h->result_col_type(r, c)), seen = 0, other = 0;
        for (size_t i = 0; i < shown; i++) {
            const struct dc_value *v = h->result_get(r, i, c);
            if (!v || v->type == DC_NULL)
                continue;
            seen = 1;
            if (!is_numeric_type(v->type))
                other = 1;
        }
        right[c] = seen ? !other : numeric;
        if (!seen && !numeric)
            right[c] = 0;
        for (size_t i = 0; i < shown; i++) {
            const char *s;
            size_t n;
            value_text(h->result_get(r, i, c), tmp, sizeof(tmp), &s, &n);
            cell.len = 0;
            size_t w = cell_clean(s, n, maxw, &cell);
            if (w > width[c])
                width[c] = w;
        }
    }
    for (int line = 0; line < 2; line++) {
        for (size_t c = 0; c < ncols; c++) {
            if (c)
                buf_adds(out, "  ");
            if (line == 1) {
                for (size_t k = 0; k < width[c]; k++)
                    buf_adds(out, "-");
                continue;
            }
            const char *name = h->result_col_name(r, c);
            cell.len = 0;
            size_t w = cell_clean(name ? name : "", name ? strlen(name) : 0, maxw, &cell);
            if (right[c])
                buf_pad(out, width[c] - w);
            buf_add(out, cell.p ? cell.p : "", cell.len);
            if (!right[c] && c + 1 < ncols)
                buf_pad(out, width[c] - w);
        }
        buf_adds(out, "\n");
    }
    for (size_t i = 0; i < shown; i++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *s;
            size_t n;
            value_text(h->result_get(r, i, c), tmp, sizeof(tmp), &s, &n);
            cell.len = 0;
            size_t w = cell_clean(s, n, maxw, &cell);
            if (c)
                buf_adds(out, "  ");
            if (right[c])
                buf_pad(out, width[c] - w);
            buf_add(out, cell.p ? cell.p : "", cell.len);
            if (!right[c] && c + 1 < ncols)
                buf_pad(out, width[c] - w);
        }
        buf_adds(out, "\n");
    }
    if (nrows == 0)
        buf_adds(out, "(no rows)\n");
    if (nrows > shown)
        buf_addf(out, "(%zu more row%s)\n", nrows - shown, nrows - shown == 1 ? "" : "s");
    if (h->result_truncated(r))
        buf_adds(out, "(truncated at the row cap)\n");
    if (cell.oom)
        out->oom = 1;
cleanup:
    free(width);
    free(right);
    free(cell.p);
}

/* ---- run ---------------------------------------------------------------------------- */

static const char no_answer_text[] =
    "DataChat can't answer this kind of question yet: it needs the query compiler, which "
    "this pipeline does not have. It can answer questions about the database itself: which "
    "tables there are (\"what tables are there?\"), what a table holds (\"describe "
    "orders\"), sample rows (\"show me 5 rows from orders\") and row counts (\"how many rows "
    "are in orders?\").";

static int answer_run(void *state, struct dc_ctx *ctx, const char **outcome)
{
    struct answer_state *st = state;
    const struct dc_host *h = st->h;
    const char *answer = h->ctx_get(ctx, "answer");
    const char *intent = h->ctx_get(ctx, "intent");
    const char *refused = h->ctx_get(ctx, "refused");
    const char *sql = h->ctx_get(ctx, "sql");
    const struct dc_result *r = h->ctx_result(ctx);
    struct buf out = {0};

    if (refused || (intent && strcmp(intent, "refuse") == 0)) {
        /* A refusal shows its reason only: no table, no SQL. */
        buf_adds(&out, answer ? answer : "I can't do that: the request was refused.");
        buf_adds(&out, "\n");
        h->ctx_trace(ctx, "rendered a refusal (%s)", refused ? refused : "refuse");
    } else if (!answer && !r) {
        /* The message travels as the error (stderr, the JSON "error"), not
         * as an answer: nothing was answered. */
        h->ctx_fail(ctx, "E-NO-ANSWER", "%s", no_answer_text);
        h->ctx_trace(ctx, "nothing answered a '%s' question", intent ? intent : "unknown");
        return DC_EUNSUPPORTED;
    } else {
        if (answer) {
            buf_adds(&out, answer);
            buf_adds(&out, "\n");
        }
        if (r) {
            if (answer)
                buf_adds(&out, "\n");
            render_table(st, r, &out);
            size_t n = h->result_nrows(r);
            h->ctx_trace(ctx, "rendered %zu of %zu rows",
                         n < (size_t)st->max_rows ? n : (size_t)st->max_rows, n);
        }
        if (sql) {
            buf_adds(&out, "\nSQL: ");
            buf_adds(&out, sql);
            buf_adds(&out, "\n");
        }
    }
    if (out.oom) {
        free(out.p);
        h->ctx_fail(ctx, "E-INTERNAL", "answer: out of memory rendering the output");
        return DC_ENOMEM;
    }
    int src = h->ctx_set(ctx, "output", out.p ? out.p : "");
    free(out.p);
    if (src != DC_OK) {
        h->ctx_fail(ctx, "E-INTERNAL", "answer: cannot record the output (%d)", src);
        return src;
    }
    *outcome = "done";
    return DC_OK;
}

static const struct dc_stage_vtable answer_vtable = {
    sizeof(struct dc_stage_vtable), answer_options, answer_outcomes, answer_init,
    answer_fini, answer_run};

DC_PLUGIN_DEFINE(DC_KIND_STAGE, "answer", "0.1.0", "MIT",
                 "Renders the answer sentence, the result table and the SQL as text",
                 &answer_vtable)
