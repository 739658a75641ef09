#include "schema.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Each table is one heap block holding the info struct, its arrays and
 * every string, so freeing a table is one free(). */
struct dc_schema {
    struct dc_table_info **tables;
    size_t n, cap;
};

struct dc_schema *schema_new(void)
{
    return calloc(1, sizeof(struct dc_schema));
}

void schema_free(struct dc_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->tables[i]);
    free(s->tables);
    free(s);
}

static size_t slen(const char *p)
{
    return p ? strlen(p) + 1 : 0;
}

static const char *scopy(char **cursor, const char *p)
{
    if (!p)
        return NULL;
    size_t n = strlen(p) + 1;
    char *dst = *cursor;
    memcpy(dst, p, n);
    *cursor += n;
    return dst;
}

int schema_add_table(struct dc_schema *s, const struct dc_table_info *t)
{
    if (!s || !t || !t->name || t->struct_size < sizeof(struct dc_table_info))
        return DC_EINVAL;
    if ((t->ncolumns && !t->columns) || (t->nfks && !t->fks))
        return DC_EINVAL;
    size_t strbytes = slen(t->schema_name) + slen(t->name) + slen(t->kind) + slen(t->comment);
    for (size_t i = 0; i < t->ncolumns; i++) {
        const struct dc_column_info *c = &t->columns[i];
        if (!c->name)
            return DC_EINVAL;
        strbytes += slen(c->name) + slen(c->decl_type) + slen(c->default_value) + slen(c->comment);
    }
    for (size_t i = 0; i < t->nfks; i++) {
        const struct dc_fk_info *f = &t->fks[i];
        if (!f->from_column || !f->to_table)
            return DC_EINVAL;
        strbytes += slen(f->from_column) + slen(f->to_table) + slen(f->to_column);
    }
    size_t head = sizeof(struct dc_table_info) + t->ncolumns * sizeof(struct dc_column_info) +
                  t->nfks * sizeof(struct dc_fk_info);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct dc_table_info **tables = realloc(s->tables, cap * sizeof(*tables));
        if (!tables)
            return DC_ENOMEM;
        s->tables = tables;
        s->cap = cap;
    }
    char *block = calloc(1, head + strbytes);
    if (!block)
        return DC_ENOMEM;
    struct dc_table_info *nt = (struct dc_table_info *)block;
    struct dc_column_info *cols = (struct dc_column_info *)(nt + 1);
    struct dc_fk_info *fks = (struct dc_fk_info *)(cols + t->ncolumns);
    char *cur = block + head;
    nt->struct_size = sizeof(*nt);
    nt->schema_name = scopy(&cur, t->schema_name);
    nt->name = scopy(&cur, t->name);
    nt->kind = t->kind ? scopy(&cur, t->kind) : "table";
    nt->row_count = t->row_count;
    nt->comment = scopy(&cur, t->comment);
    nt->ncolumns = t->ncolumns;
    nt->columns = t->ncolumns ? cols : NULL;
    nt->nfks = t->nfks;
    nt->fks = t->nfks ? fks : NULL;
    for (size_t i = 0; i < t->ncolumns; i++) {
        const struct dc_column_info *c = &t->columns[i];
        cols[i].struct_size = sizeof(cols[i]);
        cols[i].name = scopy(&cur, c->name);
        cols[i].decl_type = scopy(&cur, c->decl_type);
        cols[i].type = c->type;
        cols[i].notnull = c->notnull;
        cols[i].pk = c->pk;
        cols[i].default_value = scopy(&cur, c->default_value);
        cols[i].comment = scopy(&cur, c->comment);
    }
    for (size_t i = 0; i < t->nfks; i++) {
        const struct dc_fk_info *f = &t->fks[i];
        fks[i].struct_size = sizeof(fks[i]);
        fks[i].from_column = scopy(&cur, f->from_column);
        fks[i].to_table = scopy(&cur, f->to_table);
        fks[i].to_column = scopy(&cur, f->to_column);
    }
    s->tables[s->n++] = nt;
    return DC_OK;
}

size_t schema_ntables(const struct dc_schema *s)
{
    return s ? s->n : 0;
}

const struct dc_table_info *schema_table(const struct dc_schema *s, size_t i)
{
    return s && i < s->n ? s->tables[i] : NULL;
}

const struct dc_table_info *schema_find(const struct dc_schema *s, const char *name)
{
    if (!s || !name)
        return NULL;
    /* An exact match wins over a case-insensitive one ("Order" vs "order"). */
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->tables[i]->name, name) == 0)
            return s->tables[i];
    for (size_t i = 0; i < s->n; i++)
        if (strcasecmp(s->tables[i]->name, name) == 0)
            return s->tables[i];
    return NULL;
}
