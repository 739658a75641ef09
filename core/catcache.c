#include "catcache.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <datachat/host.h>

#include "schema.h"
#include "util.h"

#define CATCACHE_VERSION 2
#define CATCACHE_MAX_BYTES ((size_t)64 << 20)

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* Positional arrays, not objects: parsing objects costs jansson a hash
 * table each, which made reading the cache as slow as introspecting.
 * table:  [schema, name, kind, rows, comment, [column...], [fk...]]
 * column: [name, decl, type, notnull, pk, default, comment]
 * fk:     [from, table, to] */
static json_t *table_json(const struct dc_table_info *t)
{
    json_t *cols = json_array(), *fks = json_array();
    for (size_t i = 0; i < t->ncolumns; i++) {
        const struct dc_column_info *c = &t->columns[i];
        json_array_append_new(cols, json_pack("[s, o, i, b, i, o, o]", c->name,
                                              str_or_null(c->decl_type), c->type, c->notnull,
                                              c->pk, str_or_null(c->default_value),
                                              str_or_null(c->comment)));
    }
    for (size_t i = 0; i < t->nfks; i++) {
        const struct dc_fk_info *f = &t->fks[i];
        json_array_append_new(fks, json_pack("[s, s, o]", f->from_column, f->to_table,
                                             str_or_null(f->to_column)));
    }
    return json_pack("[o, s, o, I, o, o, o]", str_or_null(t->schema_name), t->name,
                     str_or_null(t->kind), (json_int_t)t->row_count, str_or_null(t->comment),
                     cols, fks);
}

int catcache_save(const char *path, const char *fp, const struct dc_schema *s, char *err,
                  size_t errlen)
{
    int rc = DC_OK;
    char *dir = util_dirname(path);
    char *text = NULL;
    json_t *tables = json_array();
    for (size_t i = 0; i < schema_ntables(s); i++)
        json_array_append_new(tables, table_json(schema_table(s, i)));
    json_t *root = json_pack("{s:i, s:s, s:o}", "version", CATCACHE_VERSION, "fingerprint", fp,
                             "tables", tables);
    text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!dir || !text) {
        rc = util_err(err, errlen, DC_ENOMEM, "catalog cache %s: out of memory", path);
        goto cleanup;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        rc = util_err(err, errlen, DC_EIO, "catalog cache %s: cannot create %s: %s", path, dir,
                      strerror(errno));
        goto cleanup;
    }
    char werr[512];
    rc = util_write_file_atomic(path, text, strlen(text), 0600, 0, werr, sizeof(werr));
    if (rc != DC_OK)
        util_err(err, errlen, rc, "catalog cache: %s", werr);
cleanup:
    free(text);
    free(dir);
    return rc;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *astr(json_t *a, size_t i)
{
    json_t *v = json_array_get(a, i);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Rebuilds one table; 0 when the entry is malformed. */
static int table_from_json(struct dc_schema *s, json_t *t)
{
    json_t *rows = json_array_get(t, 3), *cols = json_array_get(t, 5), *fks = json_array_get(t, 6);
    if (json_array_size(t) != 7 || !astr(t, 1) || !json_is_integer(rows) || !json_is_array(cols) ||
        !json_is_array(fks))
        return 0;
    size_t nc = json_array_size(cols), nf = json_array_size(fks);
    struct dc_column_info *ci = calloc(nc ? nc : 1, sizeof(*ci));
    struct dc_fk_info *fi = calloc(nf ? nf : 1, sizeof(*fi));
    int ok = ci && fi;
    for (size_t i = 0; ok && i < nc; i++) {
        json_t *c = json_array_get(cols, i);
        json_t *type = json_array_get(c, 2), *pk = json_array_get(c, 4);
        ci[i].struct_size = sizeof(ci[i]);
        ci[i].name = astr(c, 0);
        ci[i].decl_type = astr(c, 1);
        ci[i].type = json_is_integer(type) ? (int)json_integer_value(type) : -1;
        ci[i].notnull = json_is_true(json_array_get(c, 3));
        ci[i].pk = json_is_integer(pk) ? (int)json_integer_value(pk) : 0;
        ci[i].default_value = astr(c, 5);
        ci[i].comment = astr(c, 6);
        ok = json_array_size(c) == 7 && ci[i].name && ci[i].type >= 0;
    }
    for (size_t i = 0; ok && i < nf; i++) {
        json_t *f = json_array_get(fks, i);
        fi[i].struct_size = sizeof(fi[i]);
        fi[i].from_column = astr(f, 0);
        fi[i].to_table = astr(f, 1);
        fi[i].to_column = astr(f, 2);
        ok = json_array_size(f) == 3 && fi[i].from_column && fi[i].to_table;
    }
    if (ok) {
        struct dc_table_info ti = {sizeof(ti),  astr(t, 0),  astr(t, 1), astr(t, 2),
                                   json_integer_value(rows), astr(t, 4), nc, ci,
                                   nf,          fi};
        ok = schema_add_table(s, &ti) == DC_OK;
    }
    free(ci);
    free(fi);
    return ok;
}

struct dc_schema *catcache_load(const char *path, const char *fp)
{
    char *text = NULL;
    size_t len = 0;
    struct dc_schema *s = NULL;
    json_t *root = NULL;
    if (!path || !fp || util_read_file(path, CATCACHE_MAX_BYTES, &text, &len, NULL, 0) != DC_OK)
        return NULL;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *ver = json_object_get(root, "version");
    json_t *tables = json_object_get(root, "tables");
    const char *have = jstr(root, "fingerprint");
    if (!json_is_integer(ver) || json_integer_value(ver) != CATCACHE_VERSION || !have ||
        strcmp(have, fp) != 0 || !json_is_array(tables))
        goto cleanup;
    s = schema_new();
    for (size_t i = 0; s && i < json_array_size(tables); i++) {
        if (!table_from_json(s, json_array_get(tables, i))) {
            schema_free(s);
            s = NULL;
        }
    }
cleanup:
    json_decref(root);
    free(text);
    return s;
}
