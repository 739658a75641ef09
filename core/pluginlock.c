#include "pluginlock.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <datachat/value.h>

#include "sha256.h"
#include "util.h"

/* A lock file lists installed plugins; anything near this size is not one. */
#define LOCK_MAX_BYTES (4u << 20)
#define LOCK_FIELD_MAX 4096

static const char *const lock_string_fields[] = {"name", "kind", "version", "abi",
                                                 "license", "sha256", "file", "installed"};

static char **entry_field(struct pluginlock_entry *e, size_t i)
{
    char **f[] = {&e->name, &e->kind, &e->version, &e->abi,
                  &e->license, &e->sha256, &e->file, &e->installed};
    return f[i];
}

#define LOCK_NFIELDS (sizeof(lock_string_fields) / sizeof(lock_string_fields[0]))

static void entry_clear(struct pluginlock_entry *e)
{
    for (size_t i = 0; i < LOCK_NFIELDS; i++) {
        free(*entry_field(e, i));
        *entry_field(e, i) = NULL;
    }
    e->sandbox = 0;
}

int pluginlock_new(struct pluginlock **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? DC_OK : DC_ENOMEM;
}

void pluginlock_free(struct pluginlock *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        entry_clear(&l->entries[i]);
    free(l->entries);
    free(l);
}

static int valid_kind(const char *k)
{
    return strcmp(k, "connector") == 0 || strcmp(k, "llm") == 0 || strcmp(k, "stage") == 0 ||
           strcmp(k, "tool") == 0;
}

static int valid_hex64(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return i == 64;
}

static int valid_abi(const char *s)
{
    unsigned a, b;
    char tail;
    return sscanf(s, "%u.%u%c", &a, &b, &tail) == 2 && a < 65536 && b < 65536;
}

static int grow(struct pluginlock *l)
{
    if (l->n < l->cap)
        return DC_OK;
    size_t cap = l->cap ? l->cap * 2 : 8;
    struct pluginlock_entry *p = realloc(l->entries, cap * sizeof(*p));
    if (!p)
        return DC_ENOMEM;
    l->entries = p;
    l->cap = cap;
    return DC_OK;
}

/* One record: known keys only, the right types, every required field. */
static int parse_entry(json_t *o, size_t idx, const char *origin, struct pluginlock_entry *e,
                       char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    memset(e, 0, sizeof(*e));
    if (!json_is_object(o))
        return util_err(err, errlen, DC_EINVAL,
                        "%s: E-LOCK-FIELD: plugins[%zu] is not an object; re-install the "
                        "plugin or delete the record",
                        origin, idx);
    json_object_foreach(o, key, v) {
        size_t f = 0;
        for (; f < LOCK_NFIELDS; f++)
            if (strcmp(key, lock_string_fields[f]) == 0)
                break;
        if (f < LOCK_NFIELDS) {
            const char *s = json_string_value(v);
            if (!s || strlen(s) != json_string_length(v) || strlen(s) > LOCK_FIELD_MAX)
                return util_err(err, errlen, DC_EINVAL,
                                "%s: E-LOCK-FIELD: plugins[%zu].%s must be a string of at "
                                "most %d bytes without NUL",
                                origin, idx, key, LOCK_FIELD_MAX);
            *entry_field(e, f) = strdup(s);
            if (!*entry_field(e, f))
                return util_err(err, errlen, DC_ENOMEM, "out of memory");
        } else if (strcmp(key, "sandbox") == 0) {
            if (!json_is_boolean(v))
                return util_err(err, errlen, DC_EINVAL,
                                "%s: E-LOCK-FIELD: plugins[%zu].sandbox must be true or false",
                                origin, idx);
            e->sandbox = json_is_true(v);
        } else {
            char shown[64];
            size_t n = 0;
            for (; key[n] && n + 1 < sizeof(shown); n++)
                shown[n] = (key[n] >= 0x20 && key[n] < 0x7f) ? key[n] : '?';
            shown[n] = '\0';
            return util_err(err, errlen, DC_EINVAL,
                            "%s: E-LOCK-UNKNOWN-KEY: plugins[%zu] has unknown key \"%s\"; "
                            "the lock file is written by `datachat plugins install`, do not "
                            "edit it by hand",
                            origin, idx, shown);
        }
    }
    /* installed is informative; everything else is needed to pin a file. */
    for (size_t f = 0; f < LOCK_NFIELDS; f++)
        if (!*entry_field(e, f) && strcmp(lock_string_fields[f], "installed") != 0)
            return util_err(err, errlen, DC_EINVAL,
                            "%s: E-LOCK-FIELD: plugins[%zu] has no \"%s\"; re-install the "
                            "plugin to rewrite its record",
                            origin, idx, lock_string_fields[f]);
    if (!valid_kind(e->kind))
        return util_err(err, errlen, DC_EINVAL,
                        "%s: E-LOCK-FIELD: plugins[%zu].kind must be connector, llm, stage "
                        "or tool",
                        origin, idx);
    if (!valid_hex64(e->sha256))
        return util_err(err, errlen, DC_EINVAL,
                        "%s: E-LOCK-FIELD: plugins[%zu].sha256 must be 64 lowercase hex "
                        "digits",
                        origin, idx);
    if (e->file[0] != '/')
        return util_err(err, errlen, DC_EINVAL,
                        "%s: E-LOCK-FIELD: plugins[%zu].file must be an absolute path", origin,
                        idx);
    if (!valid_abi(e->abi))
        return util_err(err, errlen, DC_EINVAL,
                        "%s: E-LOCK-FIELD: plugins[%zu].abi must look like 1.1", origin, idx);
    if (!e->name[0])
        return util_err(err, errlen, DC_EINVAL,
                        "%s: E-LOCK-FIELD: plugins[%zu].name is empty", origin, idx);
    return DC_OK;
}

int pluginlock_parse(const char *text, size_t len, const char *origin,
                     struct pluginlock **out, char *err, size_t errlen)
{
    int rc;
    json_error_t je;
    struct pluginlock *l = NULL;
    json_t *root = NULL;
    *out = NULL;
    if (!origin)
        origin = PLUGINLOCK_FILE;
    if (len > LOCK_MAX_BYTES)
        return util_err(err, errlen, DC_ELIMIT,
                        "%s: E-LOCK-SIZE: larger than %u bytes; this is not a lock file",
                        origin, LOCK_MAX_BYTES);
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        rc = util_err(err, errlen, DC_EINVAL,
                      "%s:%d:%d: E-LOCK-SYNTAX: %s; restore the file or delete it and "
                      "re-install your plugins",
                      origin, je.line, je.column, je.text);
        goto cleanup;
    }
    if (!json_is_object(root)) {
        rc = util_err(err, errlen, DC_EINVAL,
                      "%s: E-LOCK-SYNTAX: the top level must be an object with \"version\" "
                      "and \"plugins\"",
                      origin);
        goto cleanup;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "version") != 0 && strcmp(key, "plugins") != 0) {
            rc = util_err(err, errlen, DC_EINVAL,
                          "%s: E-LOCK-UNKNOWN-KEY: unknown top-level key; only \"version\" "
                          "and \"plugins\" are allowed",
                          origin);
            goto cleanup;
        }
    }
    json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != PLUGINLOCK_VERSION) {
        rc = util_err(err, errlen, DC_EINVAL,
                      "%s: E-LOCK-VERSION: \"version\" must be %d; this lock file was "
                      "written by another datachat version",
                      origin, PLUGINLOCK_VERSION);
        goto cleanup;
    }
    json_t *arr = json_object_get(root, "plugins");
    if (!json_is_array(arr)) {
        rc = util_err(err, errlen, DC_EINVAL,
                      "%s: E-LOCK-FIELD: \"plugins\" must be an array", origin);
        goto cleanup;
    }
    rc = pluginlock_new(&l);
    if (rc != DC_OK) {
        rc = util_err(err, errlen, rc, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        struct pluginlock_entry e;
        rc = parse_entry(json_array_get(arr, i), i, origin, &e, err, errlen);
        if (rc == DC_OK && pluginlock_find(l, e.kind, e.name) >= 0)
            rc = util_err(err, errlen, DC_EINVAL,
                          "%s: E-LOCK-DUPLICATE: plugins[%zu] records %s \"%s\" a second "
                          "time",
                          origin, i, e.kind, e.name);
        if (rc == DC_OK && pluginlock_find_file(l, e.file))
            rc = util_err(err, errlen, DC_EINVAL,
                          "%s: E-LOCK-DUPLICATE: plugins[%zu] records file %s a second time",
                          origin, i, e.file);
        if (rc == DC_OK && grow(l) != DC_OK)
            rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
        if (rc != DC_OK) {
            entry_clear(&e);
            goto cleanup;
        }
        l->entries[l->n++] = e;
    }
    *out = l;
    l = NULL;
    rc = DC_OK;

cleanup:
    pluginlock_free(l);
    json_decref(root);
    return rc;
}

int pluginlock_load(const char *path, struct pluginlock **out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    *out = NULL;
    if (stat(path, &st) != 0 && errno == ENOENT)
        return pluginlock_new(out) == DC_OK
                   ? DC_OK
                   : util_err(err, errlen, DC_ENOMEM, "out of memory");
    int rc = util_read_file(path, LOCK_MAX_BYTES, &text, &len, err, errlen);
    if (rc != DC_OK)
        return rc;
    rc = pluginlock_parse(text, len, path, out, err, errlen);
    free(text);
    return rc;
}

static json_t *lock_json(const struct pluginlock *l)
{
    json_t *arr = json_array();
    json_t *root = json_pack("{s:i, s:o}", "version", PLUGINLOCK_VERSION, "plugins", arr);
    if (!root)
        return NULL;
    for (size_t i = 0; i < l->n; i++) {
        struct pluginlock_entry *e = &l->entries[i];
        json_t *o = json_object();
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(root);
            return NULL;
        }
        for (size_t f = 0; f < LOCK_NFIELDS; f++) {
            const char *s = *entry_field(e, f);
            if (s && json_object_set_new(o, lock_string_fields[f], json_string(s)) != 0) {
                json_decref(root);
                return NULL;
            }
        }
        if (json_object_set_new(o, "sandbox", json_boolean(e->sandbox)) != 0) {
            json_decref(root);
            return NULL;
        }
    }
    return root;
}

int pluginlock_save(const struct pluginlock *l, const char *path, char *err, size_t errlen)
{
    int rc = DC_OK;
    char *text = NULL;
    json_t *root = lock_json(l);
    struct sbuf b;
    sbuf_init(&b);
    if (!root || !(text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) ||
        sbuf_adds(&b, text) != DC_OK || sbuf_add(&b, "\n", 1) != DC_OK) {
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = util_write_file_atomic(path, b.p, b.len, 0644, 1, err, errlen);
cleanup:
    sbuf_free(&b);
    free(text);
    json_decref(root);
    return rc;
}

const struct pluginlock_entry *pluginlock_find_file(const struct pluginlock *l,
                                                    const char *file)
{
    for (size_t i = 0; l && file && i < l->n; i++)
        if (strcmp(l->entries[i].file, file) == 0)
            return &l->entries[i];
    return NULL;
}

long pluginlock_find(const struct pluginlock *l, const char *kind, const char *name)
{
    for (size_t i = 0; l && name && i < l->n; i++)
        if (strcmp(l->entries[i].name, name) == 0 &&
            (!kind || strcmp(l->entries[i].kind, kind) == 0))
            return (long)i;
    return -1;
}

int pluginlock_put(struct pluginlock *l, const struct pluginlock_entry *e)
{
    struct pluginlock_entry c;
    memset(&c, 0, sizeof(c));
    for (size_t f = 0; f < LOCK_NFIELDS; f++) {
        const char *s = *entry_field((struct pluginlock_entry *)e, f);
        if (s && !(*entry_field(&c, f) = strdup(s))) {
            entry_clear(&c);
            return DC_ENOMEM;
        }
    }
    c.sandbox = e->sandbox;
    long at = pluginlock_find(l, e->kind, e->name);
    if (at >= 0) {
        entry_clear(&l->entries[at]);
        l->entries[at] = c;
        return DC_OK;
    }
    if (grow(l) != DC_OK) {
        entry_clear(&c);
        return DC_ENOMEM;
    }
    l->entries[l->n++] = c;
    return DC_OK;
}

void pluginlock_remove_at(struct pluginlock *l, size_t i)
{
    if (!l || i >= l->n)
        return;
    entry_clear(&l->entries[i]);
    memmove(&l->entries[i], &l->entries[i + 1], (l->n - i - 1) * sizeof(l->entries[0]));
    l->n--;
}

char *pluginlock_path_for(const char *config_path)
{
    char *dir = util_dirname(config_path);
    if (!dir)
        return NULL;
    /* Absolute, so messages name the file wherever the user stands. */
    char *real = realpath(dir, NULL);
    char *p = util_join_path(real ? real : dir, PLUGINLOCK_FILE);
    free(real);
    free(dir);
    return p;
}

int pluginlock_hash_file(const char *path, char out[65], char *err, size_t errlen)
{
    int rc = DC_OK;
    unsigned char buf[65536], digest[32];
    struct sha256 s;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return util_err(err, errlen, DC_EIO, "%s: cannot open: %s", path, strerror(errno));
    sha256_init(&s);
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = util_err(err, errlen, DC_EIO, "%s: cannot read: %s", path, strerror(errno));
            goto cleanup;
        }
        if (r == 0)
            break;
        sha256_update(&s, buf, (size_t)r);
    }
    sha256_final(&s, digest);
    sha256_hex(digest, out);

cleanup:
    close(fd);
    return rc;
}
