/*
 * registry - loads plugins and keeps them by kind and name.
 * It owns dlopen/dlclose and every check made before a plugin's code is
 * trusted: file and directory ownership and modes (after resolving
 * symlinks), the ELF header (a shared object for this machine), the
 * SHA-256 pinned in the lock file for installed plugins, the one exported
 * symbol, descriptor magic and size, ABI major/minor, kind and vtable
 * size, name syntax and uniqueness.
 * It never runs a plugin's init; callers do that with the host table.
 */
#ifndef DC_REGISTRY_H
#define DC_REGISTRY_H

#include <stddef.h>

#include <datachat/plugin.h>

struct dc_plugin_ref {
    char *path;     /* resolved absolute path */
    char *name;     /* copied from the descriptor */
    char *version;
    char *license;
    char *build_sig;
    char *description;
    int kind;
    uint16_t abi_major, abi_minor;
    /* ABI 1.3: the DC_CAP_* groups it declares; DC_CAP_UNDECLARED for a
     * plugin built before 1.3 or with DC_PLUGIN_DEFINE (the whole table). */
    uint64_t caps;
    const struct dc_plugin_descriptor *desc; /* valid while loaded */
    const void *vtable;
    void *dl;       /* dlopen handle */
};

/* A plugin file that was refused, kept so `plugins list` can say why. */
struct dc_plugin_refusal {
    char *path;
    char *reason;   /* names the file and the reason */
};

struct registry;

int registry_new(struct registry **out);
void registry_free(struct registry *r); /* dlcloses everything */

/* Loads one file; every check above. On refusal returns a negative code,
 * writes "FILE: reason" to err and records the refusal. */
int registry_load_file(struct registry *r, const char *path,
                       const struct dc_plugin_ref **out, char *err, size_t errlen);

/* Loads every *.so in dir (sorted by name); refusals are recorded, not
 * fatal. A missing dir is not an error; an unsafe dir (group/world
 * writable, wrong owner) is refused as a whole. Returns the count loaded. */
int registry_load_dir(struct registry *r, const char *dir);

/* Checks a file without keeping it: same checks as registry_load_file,
 * plus the descriptor copied into *info (strings owned by info; free with
 * registry_ref_clear). Duplicate-name checks apply against r if non-NULL. */
int registry_check_file(struct registry *r, const char *path, struct dc_plugin_ref *info,
                        char *err, size_t errlen);
void registry_ref_clear(struct dc_plugin_ref *info);

/* Plugin directories searched on demand: registry_resolve loads only the
 * plugins asked for (a process that needs four plugins does not dlopen,
 * relocate and initialise every library of every installed plugin). */
int registry_add_dir(struct registry *r, const char *dir);
/* Loads every plugin file of every added directory (plugins list, doctor). */
int registry_load_all(struct registry *r);
/* A loaded plugin, or the one loaded now: first the conventional file name
 * <kind>-<name>.so in each directory, then every file. NULL if none. */
const struct dc_plugin_ref *registry_resolve(struct registry *r, int kind, const char *name);

const struct dc_plugin_ref *registry_find(const struct registry *r, int kind,
                                          const char *name);
size_t registry_count(const struct registry *r);
const struct dc_plugin_ref *registry_at(const struct registry *r, size_t i);
size_t registry_nrefusals(const struct registry *r);
const struct dc_plugin_refusal *registry_refusal_at(const struct registry *r, size_t i);

/* Pins: files recorded in the lock (pluginlock.h) load only while their
 * SHA-256 matches the record. The registry takes ownership of lock. */
struct pluginlock;
void registry_set_lock(struct registry *r, struct pluginlock *lock);
const struct pluginlock *registry_lock(const struct registry *r);

/* The checks made before dlopen, without loading anything: owner and mode
 * of a file and its directory plus its ELF header (is_dir = 0), or of a
 * plugin directory (is_dir = 1). Used by `plugins install`. */
int registry_check_safety(const char *path, int is_dir, char *err, size_t errlen);

/* How many defined, exported entries of a 64-bit little-endian ELF image's
 * dynamic symbol table are named name (each symbol version counts). DC_OK;
 * DC_ENOTFOUND when it has no section headers or no .dynsym (nothing to
 * count); DC_EUNSUPPORTED for another ELF class or byte order; DC_EINVAL
 * when a table lies outside the n bytes. Reads nothing outside img. */
int registry_elf_count_exports(const void *img, size_t n, const char *name, int *count);

/* Size a vtable of this kind must at least have for ABI 1.0. */
size_t registry_min_vtable_size(int kind);

#endif
