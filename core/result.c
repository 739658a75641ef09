#include "result.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "render.h"
#include "sha256.h"
#include "util.h"

struct result_col {
    char *name;
    char *decl;
    int type;
};

struct dc_result {
    struct result_col *cols;
    size_t ncols, capcols;
    struct dc_value **rows; /* each row: one block, values then their bytes */
    size_t nrows, caprows;
    size_t bytes;
    int truncated;
    char *rendered; /* the last result_render() text, owned here */
};

struct dc_result *result_new(void)
{
    return calloc(1, sizeof(struct dc_result));
}

void result_free(struct dc_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ncols; i++) {
        free(r->cols[i].name);
        free(r->cols[i].decl);
    }
    free(r->cols);
    for (size_t i = 0; i < r->nrows; i++)
        free(r->rows[i]);
    free(r->rows);
    free(r->rendered);
    free(r);
}

int result_add_column(struct dc_result *r, const char *name, int type, const char *decl_type)
{
    if (!r || !name)
        return DC_EINVAL;
    if (r->nrows)
        return DC_EINVAL; /* columns are fixed once rows exist */
    if (r->ncols == r->capcols) {
        size_t cap = r->capcols ? r->capcols * 2 : 8;
        struct result_col *c = realloc(r->cols, cap * sizeof(*c));
        if (!c)
            return DC_ENOMEM;
        r->cols = c;
        r->capcols = cap;
    }
    struct result_col *c = &r->cols[r->ncols];
    c->name = strdup(name);
    c->decl = decl_type ? strdup(decl_type) : NULL;
    c->type = type;
    if (!c->name || (decl_type && !c->decl)) {
        free(c->name);
        free(c->decl);
        return DC_ENOMEM;
    }
    r->ncols++;
    return DC_OK;
}

static int value_has_bytes(int type)
{
    return type == DC_TEXT || type == DC_BLOB || type == DC_DATE || type == DC_TIMESTAMP ||
           type == DC_NUMERIC || type == DC_JSON;
}

int result_append_row(struct dc_result *r, const struct dc_value *vals, size_t n)
{
    if (!r || n != r->ncols || (n && !vals))
        return DC_EINVAL;
    size_t extra = 0;
    for (size_t i = 0; i < n; i++) {
        if (value_has_bytes(vals[i].type)) {
            if (vals[i].v.s.n && !vals[i].v.s.p)
                return DC_EINVAL;
            extra += vals[i].v.s.n + 1;
        }
    }
    if (r->nrows == r->caprows) {
        size_t cap = r->caprows ? r->caprows * 2 : 16;
        struct dc_value **rows = realloc(r->rows, cap * sizeof(*rows));
        if (!rows)
            return DC_ENOMEM;
        r->rows = rows;
        r->caprows = cap;
    }
    struct dc_value *row = malloc(n * sizeof(*row) + extra + 1);
    if (!row)
        return DC_ENOMEM;
    char *bytes = (char *)(row + n);
    for (size_t i = 0; i < n; i++) {
        row[i] = vals[i];
        if (value_has_bytes(vals[i].type)) {
            if (vals[i].v.s.n)
                memcpy(bytes, vals[i].v.s.p, vals[i].v.s.n);
            bytes[vals[i].v.s.n] = '\0';
            row[i].v.s.p = bytes;
            bytes += vals[i].v.s.n + 1;
        }
    }
    r->rows[r->nrows++] = row;
    r->bytes += n * sizeof(*row) + extra;
    return DC_OK;
}

void result_set_truncated(struct dc_result *r, int truncated)
{
    if (r)
        r->truncated = truncated ? 1 : 0;
}

size_t result_ncols(const struct dc_result *r)
{
    return r ? r->ncols : 0;
}

size_t result_nrows(const struct dc_result *r)
{
    return r ? r->nrows : 0;
}

const char *result_col_name(const struct dc_result *r, size_t col)
{
    return r && col < r->ncols ? r->cols[col].name : NULL;
}

int result_col_type(const struct dc_result *r, size_t col)
{
    return r && col < r->ncols ? r->cols[col].type : DC_NULL;
}

const struct dc_value *result_get(const struct dc_result *r, size_t row, size_t col)
{
    if (!r || row >= r->nrows || col >= r->ncols)
        return NULL;
    return &r->rows[row][col];
}

int result_truncated(const struct dc_result *r)
{
    return r ? r->truncated : 0;
}

size_t result_bytes(const struct dc_result *r)
{
    return r ? r->bytes : 0;
}

/* Canonical encoding: every field as type byte, length, bytes; so two
 * results hash equal exactly when their columns and values are equal. */
static void hash_field(struct sha256 *md, int type, const void *p, size_t n)
{
    unsigned char hdr[9];
    hdr[0] = (unsigned char)type;
    for (int i = 0; i < 8; i++)
        hdr[1 + i] = (unsigned char)((uint64_t)n >> (8 * i));
    sha256_update(md, hdr, sizeof(hdr));
    if (n)
        sha256_update(md, p, n);
}

int result_hash(const struct dc_result *r, char out[65])
{
    struct sha256 md;
    unsigned char digest[32];
    if (!r) {
        out[0] = '\0';
        return DC_EINVAL;
    }
    sha256_init(&md);
    for (size_t c = 0; c < r->ncols; c++)
        hash_field(&md, 0xff, r->cols[c].name, strlen(r->cols[c].name));
    for (size_t i = 0; i < r->nrows; i++) {
        for (size_t c = 0; c < r->ncols; c++) {
            const struct dc_value *v = &r->rows[i][c];
            if (value_has_bytes(v->type))
                hash_field(&md, v->type, v->v.s.p, v->v.s.n);
            else if (v->type == DC_REAL)
                hash_field(&md, v->type, &v->v.d, sizeof(v->v.d));
            else if (v->type == DC_NULL)
                hash_field(&md, v->type, NULL, 0);
            else
                hash_field(&md, v->type, &v->v.i, sizeof(v->v.i));
        }
    }
    sha256_final(&md, digest);
    sha256_hex(digest, out);
    return DC_OK;
}

char *result_value_text(const struct dc_value *v)
{
    char buf[64];
    if (!v)
        return NULL;
    switch (v->type) {
    case DC_NULL:
        return strdup("");
    case DC_INT:
        snprintf(buf, sizeof(buf), "%" PRId64, v->v.i);
        return strdup(buf);
    case DC_BOOL:
        return strdup(v->v.i ? "true" : "false");
    case DC_REAL:
        /* Shortest text that reads back as the same double. */
        for (int prec = 6; prec <= 17; prec++) {
            snprintf(buf, sizeof(buf), "%.*g", prec, v->v.d);
            if (strtod(buf, NULL) == v->v.d)
                break;
        }
        return strdup(buf);
    case DC_BLOB: {
        struct sbuf b;
        sbuf_init(&b);
        sbuf_adds(&b, "x'");
        for (size_t i = 0; i < v->v.s.n; i++)
            sbuf_addf(&b, "%02x", (unsigned char)v->v.s.p[i]);
        sbuf_adds(&b, "'");
        return sbuf_detach(&b);
    }
    default:
        return strndup(v->v.s.p ? v->v.s.p : "", v->v.s.n);
    }
}

const char *result_render(const struct dc_result *r, size_t max_rows, size_t max_width)
{
    if (!r)
        return NULL;
    struct sbuf b;
    sbuf_init(&b);
    if (render_table(r, max_rows, max_width, &b) != DC_OK) {
        sbuf_free(&b);
        return NULL;
    }
    /* The text is a cache hanging off the result, not part of its value. */
    struct dc_result *m = (struct dc_result *)r;
    free(m->rendered);
    m->rendered = sbuf_detach(&b);
    return m->rendered;
}
