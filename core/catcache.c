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

#define CATCACHE_VERSION 1
#define CATCACHE_MAX_BYTES ((size_t)64 << 20)

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *table_json(const struct dc_table_info *t)
{
    json_t *cols = json_array(), *fks = json_array();
    for (size_t i = 0; i < t->ncolumns; i++) {
        const struct dc_column_info *c = &t->columns[i];
        json_array_append_new(
            cols, json_pack("{s:s, s:o, s:i, s:b, s:i, s:o, s:o}", "name", c->name, "decl",
                            str_or_null(c->decl_type), "type", c->type, "notnull", c->notnull,
                            "pk", c->pk, "default", str_or_null(c->default_value), "comment",
                            str_or_null(c->comment)));
    }
    for (size_t i = 0; i < t->nfks; i++) {
        const struct dc_fk_info *f = &t->fks[i];
        json_array_append_new(fks, json_pack("{s:s, s:s, s:o}", "from", f->from_column, "table",
                                             f->to_table, "to", str_or_null(f->to_column)));
    }
    return json_pack("{s:o, s:s, s:o, s:I, s:o, s:o, s:o}", "schema", str_or_null(t->schema_name),
                     "name", t->name, "kind", str_or_null(t->kind), "rows",
                     (json_int_t)t->row_count, "comment", str_or_null(t->comment), "columns",
                     cols, "fks", fks);
}

int catcache_save(const char *path, const char *fp, const struct dc_schema *s, char *err,
                  size_t errlen)
{
    int rc = DC_OK;
    char *dir = util_dirname(path);
    char *tmp = NULL, *text = NULL;
    int fd = -1;
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
    struct sbuf b;
    sbuf_init(&b);
    sbuf_addf(&b, "%s.%ld.tmp", path, (long)getpid());
    tmp = sbuf_detach(&b);
    if (!tmp) {
        rc = util_err(err, errlen, DC_ENOMEM, "catalog cache %s: out of memory", path);
        goto cleanup;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = util_err(err, errlen, DC_EIO, "catalog cache %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = util_err(err, errlen, DC_EIO, "catalog cache %s: write failed: %s", tmp,
                          strerror(errno));
            goto cleanup;
        }
        done += (size_t)w;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = util_err(err, errlen, DC_EIO, "catalog cache %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        rc = util_err(err, errlen, DC_EIO, "catalog cache %s: %s", path, strerror(errno));
cleanup:
    if (fd >= 0)
        close(fd);
    if (tmp && rc != DC_OK)
        unlink(tmp);
    free(tmp);
    free(text);
    free(dir);
    return rc;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Rebuilds one table; 0 when the entry is malformed. */
static int table_from_json(struct dc_schema *s, json_t *t)
{
    json_t *cols = json_object_get(t, "columns"), *fks = json_object_get(t, "fks");
    json_t *rows = json_object_get(t, "rows");
    if (!jstr(t, "name") || !json_is_array(cols) || !json_is_array(fks) || !json_is_integer(rows))
        return 0;
    size_t nc = json_array_size(cols), nf = json_array_size(fks);
    struct dc_column_info *ci = calloc(nc ? nc : 1, sizeof(*ci));
    struct dc_fk_info *fi = calloc(nf ? nf : 1, sizeof(*fi));
    int ok = ci && fi;
    for (size_t i = 0; ok && i < nc; i++) {
        json_t *c = json_array_get(cols, i);
        json_t *type = json_object_get(c, "type"), *pk = json_object_get(c, "pk");
        ci[i].struct_size = sizeof(ci[i]);
        ci[i].name = jstr(c, "name");
        ci[i].decl_type = jstr(c, "decl");
        ci[i].type = json_is_integer(type) ? (int)json_integer_value(type) : -1;
        ci[i].notnull = json_is_true(json_object_get(c, "notnull"));
        ci[i].pk = json_is_integer(pk) ? (int)json_integer_value(pk) : 0;
        ci[i].default_value = jstr(c, "default");
        ci[i].comment = jstr(c, "comment");
        ok = ci[i].name && ci[i].type >= 0;
    }
    for (size_t i = 0; ok && i < nf; i++) {
        json_t *f = json_array_get(fks, i);
        fi[i].struct_size = sizeof(fi[i]);
        fi[i].from_column = jstr(f, "from");
        fi[i].to_table = jstr(f, "table");
        fi[i].to_column = jstr(f, "to");
        ok = fi[i].from_column && fi[i].to_table;
    }
    if (ok) {
        struct dc_table_info ti = {sizeof(ti),        jstr(t, "schema"),
                                   jstr(t, "name"),   jstr(t, "kind"),
                                   json_integer_value(rows), jstr(t, "comment"),
                                   nc,                ci,
                                   nf,                fi};
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
