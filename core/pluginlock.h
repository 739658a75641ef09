/*
 * pluginlock - the plugin lock file (datachat.lock, JSON, next to the
 * config): one record per plugin installed with `datachat plugins install`
 * (name, kind, version, ABI, licence, SHA-256 of the installed file, its
 * path, whether it was installed sandboxed).
 * It owns parsing, validating, editing and atomically writing that file,
 * and hashing plugin files. It never loads a plugin or decides whether one
 * may run: the registry compares hashes against the records it is given.
 */
#ifndef DC_PLUGINLOCK_H
#define DC_PLUGINLOCK_H

#include <stddef.h>

#define PLUGINLOCK_VERSION 1
#define PLUGINLOCK_FILE "datachat.lock"

struct pluginlock_entry {
    char *name;
    char *kind;      /* "connector", "llm", "stage", "tool" */
    char *version;
    char *abi;       /* "MAJOR.MINOR" the plugin was built for */
    char *license;
    char *sha256;    /* 64 lowercase hex digits */
    char *file;      /* absolute path of the installed copy */
    char *installed; /* RFC 3339 time of the install */
    int sandbox;
};

struct pluginlock {
    struct pluginlock_entry *entries;
    size_t n, cap;
};

/* Parses the lock file's text. Every problem is an error (E-LOCK-SYNTAX,
 * E-LOCK-FIELD...) naming where it is; origin names the file in messages.
 * *out is NULL on failure. */
int pluginlock_parse(const char *text, size_t len, const char *origin,
                     struct pluginlock **out, char *err, size_t errlen);
/* Reads path; a missing file is an empty lock, not an error. */
int pluginlock_load(const char *path, struct pluginlock **out, char *err, size_t errlen);
/* Writes the lock to a temporary file in the same directory, fsyncs it and
 * renames it over path, so readers see the old or the new file, never half. */
int pluginlock_save(const struct pluginlock *l, const char *path, char *err, size_t errlen);
void pluginlock_free(struct pluginlock *l);
int pluginlock_new(struct pluginlock **out);

/* The record for an installed file (absolute, resolved path), or NULL. */
const struct pluginlock_entry *pluginlock_find_file(const struct pluginlock *l,
                                                    const char *file);
/* The index of the record with this name (and kind, if kind is non-NULL),
 * or -1. */
long pluginlock_find(const struct pluginlock *l, const char *kind, const char *name);
/* Adds a record, replacing one with the same kind and name; the strings
 * are copied. */
int pluginlock_put(struct pluginlock *l, const struct pluginlock_entry *e);
void pluginlock_remove_at(struct pluginlock *l, size_t i);

/* <directory of config_path>/datachat.lock; caller frees. NULL on OOM. */
char *pluginlock_path_for(const char *config_path);
/* Lowercase hex SHA-256 of a file's bytes into out[65]. */
int pluginlock_hash_file(const char *path, char out[65], char *err, size_t errlen);

#endif
