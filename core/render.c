#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "result.h"

#define CELL_BYTES_MAX 4096 /* bytes of one cell looked at before truncating */

static void pad(struct sbuf *b, size_t n)
{
    static const char spaces[] = "                                ";
    while (n > 0) {
        size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
        sbuf_add(b, spaces, k);
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
static size_t cell_clean(const char *s, size_t n, size_t max, struct sbuf *out)
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
            sbuf_adds(out, "\xEF\xBF\xBD");
        else if (cp < 0x20 || cp == 0x7F)
            sbuf_adds(out, " ");
        else
            sbuf_add(out, s + i, l);
        width += w;
        i += l;
    }
    if (cut) {
        sbuf_adds(out, "\xE2\x80\xA6");
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

int render_table(const struct dc_result *r, size_t max_rows, size_t max_width,
                 struct sbuf *out)
{
    size_t ncols = result_ncols(r), nrows = result_nrows(r);
    size_t shown = nrows < max_rows ? nrows : max_rows;
    size_t maxw = max_width < 4 ? 4 : max_width;
    if (ncols == 0) {
        sbuf_adds(out, "(no columns)\n");
        return out->oom ? DC_ENOMEM : DC_OK;
    }
    size_t *width = calloc(ncols, sizeof(*width));
    int *right = calloc(ncols, sizeof(*right));
    struct sbuf cell;
    sbuf_init(&cell);
    char tmp[64];
    if (!width || !right) {
        out->oom = 1;
        goto cleanup;
    }
    for (size_t c = 0; c < ncols; c++) {
        const char *name = result_col_name(r, c);
        sbuf_reset(&cell);
        width[c] = cell_clean(name ? name : "", name ? strlen(name) : 0, maxw, &cell);
        /* Numbers align right: by declared type, or when every shown value
         * is a number. */
        int numeric = is_numeric_type(result_col_type(r, c)), seen = 0, other = 0;
        for (size_t i = 0; i < shown; i++) {
            const struct dc_value *v = result_get(r, i, c);
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
            value_text(result_get(r, i, c), tmp, sizeof(tmp), &s, &n);
            sbuf_reset(&cell);
            size_t w = cell_clean(s, n, maxw, &cell);
            if (w > width[c])
                width[c] = w;
        }
    }
    for (int line = 0; line < 2; line++) {
        for (size_t c = 0; c < ncols; c++) {
            if (c)
                sbuf_adds(out, "  ");
            if (line == 1) {
                for (size_t k = 0; k < width[c]; k++)
                    sbuf_adds(out, "-");
                continue;
            }
            const char *name = result_col_name(r, c);
            sbuf_reset(&cell);
            size_t w = cell_clean(name ? name : "", name ? strlen(name) : 0, maxw, &cell);
            if (right[c])
                pad(out, width[c] - w);
            sbuf_add(out, cell.p ? cell.p : "", cell.len);
            if (!right[c] && c + 1 < ncols)
                pad(out, width[c] - w);
        }
        sbuf_adds(out, "\n");
    }
    for (size_t i = 0; i < shown; i++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *s;
            size_t n;
            value_text(result_get(r, i, c), tmp, sizeof(tmp), &s, &n);
            sbuf_reset(&cell);
            size_t w = cell_clean(s, n, maxw, &cell);
            if (c)
                sbuf_adds(out, "  ");
            if (right[c])
                pad(out, width[c] - w);
            sbuf_add(out, cell.p ? cell.p : "", cell.len);
            if (!right[c] && c + 1 < ncols)
                pad(out, width[c] - w);
        }
        sbuf_adds(out, "\n");
    }
    if (nrows == 0)
        sbuf_adds(out, "(no rows)\n");
    if (nrows > shown)
        sbuf_addf(out, "(%zu more row%s)\n", nrows - shown, nrows - shown == 1 ? "" : "s");
    if (result_truncated(r))
        sbuf_adds(out, "(truncated at the row cap)\n");
    if (cell.oom)
        out->oom = 1;
cleanup:
    free(width);
    free(right);
    sbuf_free(&cell);
    return out->oom ? DC_ENOMEM : DC_OK;
}

