/*
 * test_registry - the plugin loader refuses every broken or unsafe plugin
 * with a message naming the file and the reason, and keeps good ones by
 * kind and name. Test plugins are copied into a private temp directory so
 * the results do not depend on the build tree's umask or owner.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <datachat/plugin.h>

#include "registry.h"

struct plugin_src {
    const char *file; /* name inside the temp dir */
    const char *built;
};

static const struct plugin_src plugins[] = {
    {"good.so", REG_PLUGIN_GOOD},
    {"good_dup.so", REG_PLUGIN_GOOD_DUP},
    {"good_tool.so", REG_PLUGIN_GOOD_TOOL},
    {"no_symbol.so", REG_PLUGIN_NO_SYMBOL},
    {"null_descriptor.so", REG_PLUGIN_NULL_DESCRIPTOR},
    {"bad_magic.so", REG_PLUGIN_BAD_MAGIC},
    {"small_descriptor.so", REG_PLUGIN_SMALL_DESCRIPTOR},
    {"abi_major2.so", REG_PLUGIN_ABI_MAJOR2},
    {"abi_minor_newer.so", REG_PLUGIN_ABI_MINOR_NEWER},
    {"small_vtable.so", REG_PLUGIN_SMALL_VTABLE},
    {"bad_name.so", REG_PLUGIN_BAD_NAME},
    {"unknown_kind.so", REG_PLUGIN_UNKNOWN_KIND},
    {"unresolved.so", REG_PLUGIN_UNRESOLVED},
    {"unknown_caps.so", REG_PLUGIN_UNKNOWN_CAPS},
};
#define NPLUGINS (sizeof(plugins) / sizeof(plugins[0]))

struct fixture {
    char base[64];      /* private temp root, removed at the end */
    char all[PATH_MAX]; /* every test plugin, mode 0755, dir 0755 */
};

static void copy_file(const char *src, const char *dst, mode_t mode)
{
    char buf[65536];
    int in = open(src, O_RDONLY | O_CLOEXEC);
    assert_true(in >= 0);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(out >= 0);
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        assert_true(n >= 0);
        if (n == 0)
            break;
        assert_int_equal(write(out, buf, (size_t)n), n);
    }
    assert_int_equal(close(in), 0);
    assert_int_equal(close(out), 0);
    assert_int_equal(chmod(dst, mode), 0);
}

static void path_in(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    assert_true(n > 0 && n < PATH_MAX);
}

/* A fresh subdirectory of the fixture with an exact mode. */
static void make_dir(const struct fixture *f, const char *name, mode_t mode, char *out)
{
    path_in(out, f->base, name);
    assert_int_equal(mkdir(out, 0700), 0);
    assert_int_equal(chmod(out, mode), 0);
}

static const char *built_path(const char *file)
{
    for (size_t i = 0; i < NPLUGINS; i++)
        if (strcmp(plugins[i].file, file) == 0)
            return plugins[i].built;
    fail_msg("no test plugin %s", file);
    return NULL;
}

static void put_plugin(const char *dir, const char *file, mode_t mode, char *out)
{
    path_in(out, dir, file);
    copy_file(built_path(file), out, mode);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->base, sizeof(f->base), "/tmp/dc-test-registry.XXXXXX");
    if (!mkdtemp(f->base)) {
        free(f);
        return -1;
    }
    if (chmod(f->base, 0755) != 0)
        return -1;
    snprintf(f->all, sizeof(f->all), "%s/all", f->base);
    if (mkdir(f->all, 0700) != 0 || chmod(f->all, 0755) != 0)
        return -1;
    *state = f;
    for (size_t i = 0; i < NPLUGINS; i++) {
        char p[PATH_MAX];
        put_plugin(f->all, plugins[i].file, 0755, p);
    }
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int rc = nftw(f->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, hay ? hay : "(null)");
}

/* Loads path into a fresh registry and checks the refusal: code, message
 * naming the file, the distinctive reason, and the recorded refusal. */
static void expect_refusal(const char *path, int code, const char *reason)
{
    struct registry *r = NULL;
    char err[8192] = "";
    const struct dc_plugin_ref *ref = (const struct dc_plugin_ref *)1;
    assert_int_equal(registry_new(&r), DC_OK);
    int rc = registry_load_file(r, path, &ref, err, sizeof(err));
    assert_int_equal(rc, code);
    assert_null(ref);
    char prefix[PATH_MAX + 4];
    snprintf(prefix, sizeof(prefix), "%s: ", path);
    assert_true(strncmp(err, prefix, strlen(prefix)) == 0);
    assert_contains(err, reason);
    assert_int_equal(registry_count(r), 0);
    assert_int_equal(registry_nrefusals(r), 1);
    const struct dc_plugin_refusal *x = registry_refusal_at(r, 0);
    assert_non_null(x);
    assert_string_equal(x->path, path);
    assert_string_equal(x->reason, err);
    registry_free(r);
}

static void refuse_all_file(void **state, const char *file, int code, const char *reason)
{
    struct fixture *f = *state;
    char p[PATH_MAX];
    path_in(p, f->all, file);
    expect_refusal(p, code, reason);
}

static void test_registry_loads_good_stage_plugin(void **state)
{
    struct fixture *f = *state;
    struct registry *r = NULL;
    char p[PATH_MAX], err[4096] = "";
    const struct dc_plugin_ref *ref = NULL;
    path_in(p, f->all, "good.so");
    assert_int_equal(registry_new(&r), DC_OK);
    assert_int_equal(registry_load_file(r, p, &ref, err, sizeof(err)), DC_OK);
    assert_non_null(ref);
    assert_string_equal(ref->name, "good");
    assert_string_equal(ref->version, "1.2.3");
    assert_string_equal(ref->license, "MIT");
    assert_string_equal(ref->description, "a well-formed test stage");
    assert_contains(ref->build_sig, "sdk " DC_SDK_VERSION);
    assert_int_equal(ref->kind, DC_KIND_STAGE);
    assert_int_equal(ref->abi_major, DC_ABI_MAJOR);
    assert_int_equal(ref->abi_minor, DC_ABI_MINOR);
    assert_non_null(ref->dl);
    assert_non_null(ref->desc);
    assert_ptr_equal(ref->vtable, ref->desc->vtable);
    const struct dc_stage_vtable *vt = ref->vtable;
    assert_string_equal(vt->outcomes[0], "ok");
    /* The stored strings are copies, not pointers into the .so. */
    assert_ptr_not_equal(ref->name, ref->desc->name);
    char *real = realpath(p, NULL);
    assert_non_null(real);
    assert_string_equal(ref->path, real);
    free(real);
    assert_ptr_equal(registry_find(r, DC_KIND_STAGE, "good"), ref);
    assert_null(registry_find(r, DC_KIND_TOOL, "good"));
    assert_null(registry_find(r, DC_KIND_STAGE, "other"));
    assert_int_equal(registry_count(r), 1);
    assert_ptr_equal(registry_at(r, 0), ref);
    assert_null(registry_at(r, 1));
    assert_int_equal(registry_nrefusals(r), 0);
    registry_free(r);
}

static void test_registry_refuses_plugin_without_symbol(void **state)
{
    refuse_all_file(state, "no_symbol.so", DC_EABI,
                    "does not export dc_plugin_describe (build it with DC_PLUGIN_DEFINE)");
}

static void test_registry_refuses_null_descriptor(void **state)
{
    refuse_all_file(state, "null_descriptor.so", DC_EABI, "returned no descriptor");
}

static void test_registry_refuses_unknown_capability_bits(void **state)
{
    refuse_all_file(state, "unknown_caps.so", DC_EABI,
                    "declares capability bits 0x10000000000 this host does not know");
}

/* ABI 1.3: what the descriptor declares is kept; DC_PLUGIN_DEFINE means
 * the whole table. */
static void test_registry_keeps_declared_capabilities(void **state)
{
    struct fixture *f = *state;
    struct dc_plugin_ref info;
    char p[PATH_MAX], err[1024] = "";
    memset(&info, 0, sizeof(info));
    path_in(p, f->all, "good.so");
    assert_int_equal(registry_check_file(NULL, p, &info, err, sizeof(err)), DC_OK);
    assert_true(info.caps == DC_CAP_UNDECLARED);
    registry_ref_clear(&info);
}

/* Several exported definitions of the one symbol (symbol versions) are
 * counted from the file, so the loader can refuse them. */
static void test_registry_counts_exports_of_the_symbol(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        int rc, count;
    } cases[] = {{"twice_versions.so", DC_OK, 2}, {"one_export.so", DC_OK, 1},
                 {"truncated.so", DC_EINVAL, 0}, {"text", DC_EINVAL, 0},
                 {"empty", DC_EINVAL, 0},
                 {"elf32_ident", DC_EUNSUPPORTED, 0}};
    const char *srcdir = getenv("DC_SOURCE_DIR");
    assert_non_null(srcdir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/elfsyms/%s", srcdir, cases[i].file);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        static unsigned char buf[1 << 16];
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        int count = -1;
        int rc = registry_elf_count_exports(buf, n, DC_PLUGIN_SYMBOL, &count);
        if (rc != cases[i].rc || (rc == DC_OK && count != cases[i].count))
            fail_msg("%s: rc %d count %d, wanted rc %d count %d", cases[i].file, rc, count,
                     cases[i].rc, cases[i].count);
    }
}

static void test_registry_refuses_bad_magic(void **state)
{
    refuse_all_file(state, "bad_magic.so", DC_EABI,
                    "descriptor magic is 0x12345678, expected 0x44435047");
}

static void test_registry_refuses_descriptor_smaller_than_abi_1_0(void **state)
{
    char want[128];
    snprintf(want, sizeof(want), "descriptor struct_size 12 smaller than ABI 1.0's %zu",
             offsetof(struct dc_plugin_descriptor, description) + sizeof(const char *));
    refuse_all_file(state, "small_descriptor.so", DC_EABI, want);
}

static void test_registry_refuses_other_abi_major(void **state)
{
    char want[128];
    snprintf(want, sizeof(want),
             "built for ABI 2.0, this host speaks %d.%d; rebuild against the installed SDK",
             DC_ABI_MAJOR, DC_ABI_MINOR);
    refuse_all_file(state, "abi_major2.so", DC_EABI, want);
}

static void test_registry_refuses_newer_abi_minor(void **state)
{
    char want[128];
    snprintf(want, sizeof(want), "needs ABI 1.99, host provides %d.%d; upgrade datachat",
             DC_ABI_MAJOR, DC_ABI_MINOR);
    refuse_all_file(state, "abi_minor_newer.so", DC_EABI, want);
}

static void test_registry_refuses_vtable_smaller_than_abi_1_0(void **state)
{
    char want[128];
    snprintf(want, sizeof(want), "stage vtable struct_size %zu smaller than ABI 1.0's %zu",
             sizeof(size_t), registry_min_vtable_size(DC_KIND_STAGE));
    refuse_all_file(state, "small_vtable.so", DC_EABI, want);
}

static void test_registry_refuses_invalid_name(void **state)
{
    refuse_all_file(state, "bad_name.so", DC_EINVAL, "plugin name \"Bad Name!\" is invalid");
}

static void test_registry_refuses_unknown_kind(void **state)
{
    refuse_all_file(state, "unknown_kind.so", DC_EABI, "unknown plugin kind 99");
}

static void test_registry_refuses_unresolved_symbol_at_dlopen(void **state)
{
    refuse_all_file(state, "unresolved.so", DC_EIO, "dc_regtest_missing_function");
    refuse_all_file(state, "unresolved.so", DC_EIO, "cannot load: ");
}

static void test_registry_refuses_missing_file(void **state)
{
    refuse_all_file(state, "nonexistent.so", DC_ENOTFOUND, "cannot resolve the path");
}

static void test_registry_refuses_directory_as_plugin(void **state)
{
    struct fixture *f = *state;
    expect_refusal(f->all, DC_EINVAL, "is not a regular file");
}

static void test_registry_refuses_duplicate_kind_and_name(void **state)
{
    struct fixture *f = *state;
    struct registry *r = NULL;
    char good[PATH_MAX], dup[PATH_MAX], err[8192] = "";
    const struct dc_plugin_ref *ref = NULL;
    path_in(good, f->all, "good.so");
    path_in(dup, f->all, "good_dup.so");
    assert_int_equal(registry_new(&r), DC_OK);
    assert_int_equal(registry_load_file(r, good, NULL, err, sizeof(err)), DC_OK);
    assert_int_equal(registry_load_file(r, dup, &ref, err, sizeof(err)), DC_EINVAL);
    assert_null(ref);
    char want[PATH_MAX * 2 + 128];
    snprintf(want, sizeof(want), "%s: a stage plugin named \"good\" is already loaded from %s",
             dup, good);
    assert_contains(err, want);
    assert_int_equal(registry_count(r), 1);
    assert_int_equal(registry_nrefusals(r), 1);
    assert_string_equal(registry_refusal_at(r, 0)->path, dup);
    /* The survivor is still the first one. */
    assert_string_equal(registry_find(r, DC_KIND_STAGE, "good")->version, "1.2.3");
    registry_free(r);
}

static void test_registry_keys_by_kind_and_name(void **state)
{
    struct fixture *f = *state;
    struct registry *r = NULL;
    char good[PATH_MAX], tool[PATH_MAX], err[4096] = "";
    path_in(good, f->all, "good.so");
    path_in(tool, f->all, "good_tool.so");
    assert_int_equal(registry_new(&r), DC_OK);
    assert_int_equal(registry_load_file(r, good, NULL, err, sizeof(err)), DC_OK);
    assert_int_equal(registry_load_file(r, tool, NULL, err, sizeof(err)), DC_OK);
    assert_int_equal(registry_count(r), 2);
    const struct dc_plugin_ref *s = registry_find(r, DC_KIND_STAGE, "good");
    const struct dc_plugin_ref *t = registry_find(r, DC_KIND_TOOL, "good");
    assert_non_null(s);
    assert_non_null(t);
    assert_ptr_not_equal(s, t);
    assert_string_equal(t->version, "0.1.0");
    assert_string_equal(t->description, "");
    const struct dc_tool_vtable *vt = t->vtable;
    assert_string_equal(vt->description, "does nothing");
    assert_null(registry_find(r, DC_KIND_CONNECTOR, "good"));
    registry_free(r);
}

static void test_registry_same_file_twice_is_not_a_duplicate(void **state)
{
    struct fixture *f = *state;
    struct registry *r = NULL;
    char good[PATH_MAX], err[4096] = "";
    const struct dc_plugin_ref *a = NULL, *b = NULL;
    path_in(good, f->all, "good.so");
    assert_int_equal(registry_new(&r), DC_OK);
    assert_int_equal(registry_load_file(r, good, &a, err, sizeof(err)), DC_OK);
    assert_int_equal(registry_load_file(r, good, &b, err, sizeof(err)), DC_OK);
    assert_ptr_equal(a, b);
    assert_int_equal(registry_count(r), 1);
    assert_int_equal(registry_nrefusals(r), 0);
    registry_free(r);
}

static void test_registry_refuses_world_writable_file(void **state)
{
    struct fixture *f = *state;
    char dir[PATH_MAX], p[PATH_MAX];
    make_dir(f, "ww", 0755, dir);
    put_plugin(dir, "good.so", 0666, p);
    expect_refusal(p, DC_EDENIED, "has mode 0666 and is world-writable");
    expect_refusal(p, DC_EDENIED, "chmod go-w");
}

static void test_registry_refuses_group_writable_file(void **state)
{
    struct fixture *f = *state;
    char dir[PATH_MAX], p[PATH_MAX];
    make_dir(f, "gw", 0755, dir);
    put_plugin(dir, "good.so", 0664, p);
    expect_refusal(p, DC_EDENIED, "has mode 0664 and is group-writable");
}

static void test_registry_refuses_world_writable_directory(void **state)
{
    struct fixture *f = *state;
    char dir[PATH_MAX], p[PATH_MAX], want[PATH_MAX + 64];
    make_dir(f, "wwdir", 0777, dir);
    put_plugin(dir, "good.so", 0755, p);
    snprintf(want, sizeof(want), "directory %s has mode 0777 and is world-writable", dir);
    expect_refusal(p, DC_EDENIED, want);
}

static void test_registry_refuses_symlink_to_writable_file(void **state)
{
    struct fixture *f = *state;
    char safe[PATH_MAX], other[PATH_MAX], target[PATH_MAX], link[PATH_MAX];
    char want[PATH_MAX + 64];
    make_dir(f, "linkdir", 0755, safe);
    make_dir(f, "targetdir", 0755, other);
    put_plugin(other, "good.so", 0666, target);
    path_in(link, safe, "good.so");
    assert_int_equal(symlink(target, link), 0);
    snprintf(want, sizeof(want), "file %s has mode 0666", target);
    expect_refusal(link, DC_EDENIED, want);
}

static void test_registry_follows_symlink_to_safe_file(void **state)
{
    struct fixture *f = *state;
    struct registry *r = NULL;
    char safe[PATH_MAX], link[PATH_MAX], target[PATH_MAX], err[4096] = "";
    const struct dc_plugin_ref *ref = NULL;
    make_dir(f, "goodlink", 0755, safe);
    path_in(target, f->all, "good.so");
    path_in(link, safe, "renamed.so");
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(registry_new(&r), DC_OK);
    assert_int_equal(registry_load_file(r, link, &ref, err, sizeof(err)), DC_OK);
    char *real = realpath(target, NULL);
    assert_non_null(real);
    assert_string_equal(ref->path, real);
    free(real);
    registry_free(r);
}

static void test_registry_refuses_file_of_another_owner(void **state)
{
    struct fixture *f = *state;
    char dir[PATH_MAX], p[PATH_MAX], want[PATH_MAX + 64];
    if (geteuid() != 0)
        skip();
    make_dir(f, "foreignfile", 0755, dir);
    put_plugin(dir, "good.so", 0755, p);
    assert_int_equal(chown(p, 12345, 12345), 0);
    snprintf(want, sizeof(want), "file %s is owned by uid 12345", p);
    expect_refusal(p, DC_EDENIED, want);
    expect_refusal(p, DC_EDENIED, "chown");
}

static void test_registry_refuses_directory_of_another_owner(void **state)
{
    struct fixture *f = *state;
    char dir[PATH_MAX], p[PATH_MAX], want[PATH_MAX + 64];
    if (geteuid() != 0)
        skip();
    make_dir(f, "foreigndir", 0755, dir);
    put_plugin(dir, "good.so", 0755, p);
    assert_int_equal(chown(dir, 12345, 12345), 0);
    snprintf(want, sizeof(want), "directory %s is owned by uid 12345", dir);
    expect_refusal(p, DC_EDENIED, want);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void test_registry_load_dir_loads_good_and_records_refusals_sorted(void **state)
{
    struct fixture *f = *state;
    struct registry *r = NULL;
    char notes[PATH_MAX];
    path_in(notes, f->all, "README.txt");
    FILE *fp = fopen(notes, "w");
    assert_non_null(fp);
    fputs("not a plugin\n", fp);
    assert_int_equal(fclose(fp), 0);

    assert_int_equal(registry_new(&r), DC_OK);
    assert_int_equal(registry_load_dir(r, f->all), 2);
    assert_int_equal(registry_count(r), 2);
    assert_true(ends_with(registry_at(r, 0)->path, "/good.so"));
    assert_true(ends_with(registry_at(r, 1)->path, "/good_tool.so"));
    assert_non_null(registry_find(r, DC_KIND_STAGE, "good"));
    assert_non_null(registry_find(r, DC_KIND_TOOL, "good"));
    /* Every other .so was refused, once, in name order; README.txt ignored. */
    assert_int_equal(registry_nrefusals(r), NPLUGINS - 2);
    for (size_t i = 0; i < registry_nrefusals(r); i++) {
        const struct dc_plugin_refusal *x = registry_refusal_at(r, i);
        assert_true(ends_with(x->path, ".so"));
        assert_true(strncmp(x->reason, x->path, strlen(x->path)) == 0);
        if (i > 0)
            assert_true(strcmp(registry_refusal_at(r, i - 1)->path, x->path) < 0);
    }
    assert_true(ends_with(registry_refusal_at(r, 0)->path, "/abi_major2.so"));
    /* Loading the same directory again adds nothing and refuses only the
     * bad files again. */
    assert_int_equal(registry_load_dir(r, f->all), 0);
    assert_int_equal(registry_count(r), 2);
    registry_free(r);
    assert_int_equal(remove(notes), 0);
}

static void test_registry_load_dir_missing_is_not_an_error(void **state)
{
    struct fixture *f = *state;
    struct registry *r = NULL;
    char p[PATH_MAX];
    path_in(p, f->base, "no-such-dir");
    assert_int_equal(registry_new(&r), DC_OK);
    assert_int_equal(registry_load_dir(r, p), 0);
    assert_int_equal(registry_count(r), 0);
    assert_int_equal(registry_nrefusals(r), 0);
    registry_free(r);
}

static void test_registry_load_dir_refuses_unsafe_dir_whole(void **state)
{
    struct fixture *f = *state;
    struct registry *r = NULL;
    char dir[PATH_MAX], p[PATH_MAX];
    make_dir(f, "unsafe", 0777, dir);
    put_plugin(dir, "good.so", 0755, p);
    assert_int_equal(registry_new(&r), DC_OK);
    assert_int_equal(registry_load_dir(r, dir), 0);
    assert_int_equal(registry_count(r), 0);
    assert_int_equal(registry_nrefusals(r), 1);
    const struct dc_plugin_refusal *x = registry_refusal_at(r, 0);
    assert_string_equal(x->path, dir);
    assert_contains(x->reason, "mode 0777 and is world-writable");
    assert_contains(x->reason, "no plugin in it was loaded");
    registry_free(r);
}

static void test_registry_check_file_copies_without_keeping(void **state)
{
    struct fixture *f = *state;
    struct registry *r = NULL;
    struct dc_plugin_ref info;
    char good[PATH_MAX], dup[PATH_MAX], err[8192] = "";
    path_in(good, f->all, "good.so");
    path_in(dup, f->all, "good_dup.so");

    assert_int_equal(registry_check_file(NULL, good, &info, err, sizeof(err)), DC_OK);
    assert_string_equal(info.name, "good");
    assert_string_equal(info.version, "1.2.3");
    assert_string_equal(info.license, "MIT");
    assert_int_equal(info.kind, DC_KIND_STAGE);
    assert_null(info.dl);
    assert_null(info.desc);
    assert_null(info.vtable);
    registry_ref_clear(&info);
    assert_null(info.name);

    assert_int_equal(registry_new(&r), DC_OK);
    assert_int_equal(registry_load_file(r, good, NULL, err, sizeof(err)), DC_OK);
    /* The loaded file itself checks fine; a second file of that name does not. */
    assert_int_equal(registry_check_file(r, good, &info, err, sizeof(err)), DC_OK);
    registry_ref_clear(&info);
    assert_int_equal(registry_check_file(r, dup, &info, err, sizeof(err)), DC_EINVAL);
    assert_contains(err, "already loaded from");
    assert_null(info.name);
    /* Checking keeps nothing and records nothing. */
    assert_int_equal(registry_count(r), 1);
    assert_int_equal(registry_nrefusals(r), 0);

    assert_int_equal(registry_check_file(NULL, dup, NULL, err, sizeof(err)), DC_OK);
    char bad[PATH_MAX];
    path_in(bad, f->all, "abi_major2.so");
    assert_int_equal(registry_check_file(NULL, bad, &info, err, sizeof(err)), DC_EABI);
    assert_contains(err, "built for ABI 2.0");
    registry_free(r);
}

static void test_registry_min_vtable_sizes_match_abi_1_0(void **state)
{
    (void)state;
    assert_int_equal(registry_min_vtable_size(DC_KIND_STAGE), sizeof(struct dc_stage_vtable));
    assert_int_equal(registry_min_vtable_size(DC_KIND_TOOL), sizeof(struct dc_tool_vtable));
    assert_int_equal(registry_min_vtable_size(DC_KIND_LLM), sizeof(struct dc_llm_vtable));
    /* ABI 1.0's connector vtable ends at introspect; session came later. */
    assert_int_equal(registry_min_vtable_size(DC_KIND_CONNECTOR),
                     offsetof(struct dc_connector_vtable, introspect) +
                         sizeof(((struct dc_connector_vtable *)0)->introspect));
    assert_int_equal(registry_min_vtable_size(0), 0);
    assert_int_equal(registry_min_vtable_size(99), 0);
}

static void test_registry_tolerates_null_arguments(void **state)
{
    (void)state;
    struct registry *r = NULL;
    assert_int_equal(registry_new(&r), DC_OK);
    assert_int_equal(registry_load_file(r, NULL, NULL, NULL, 0), DC_EINVAL);
    assert_int_equal(registry_load_file(r, "", NULL, NULL, 0), DC_EINVAL);
    assert_null(registry_find(r, DC_KIND_STAGE, NULL));
    assert_null(registry_find(NULL, DC_KIND_STAGE, "good"));
    assert_int_equal(registry_count(NULL), 0);
    assert_null(registry_refusal_at(r, 99));
    registry_free(r);
    registry_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_loads_good_stage_plugin),
        cmocka_unit_test(test_registry_refuses_plugin_without_symbol),
        cmocka_unit_test(test_registry_refuses_null_descriptor),
        cmocka_unit_test(test_registry_refuses_bad_magic),
        cmocka_unit_test(test_registry_refuses_descriptor_smaller_than_abi_1_0),
        cmocka_unit_test(test_registry_refuses_other_abi_major),
        cmocka_unit_test(test_registry_refuses_newer_abi_minor),
        cmocka_unit_test(test_registry_refuses_vtable_smaller_than_abi_1_0),
        cmocka_unit_test(test_registry_refuses_invalid_name),
        cmocka_unit_test(test_registry_refuses_unknown_kind),
        cmocka_unit_test(test_registry_refuses_unresolved_symbol_at_dlopen),
        cmocka_unit_test(test_registry_refuses_missing_file),
        cmocka_unit_test(test_registry_refuses_directory_as_plugin),
        cmocka_unit_test(test_registry_refuses_duplicate_kind_and_name),
        cmocka_unit_test(test_registry_keys_by_kind_and_name),
        cmocka_unit_test(test_registry_same_file_twice_is_not_a_duplicate),
        cmocka_unit_test(test_registry_refuses_world_writable_file),
        cmocka_unit_test(test_registry_refuses_group_writable_file),
        cmocka_unit_test(test_registry_refuses_world_writable_directory),
        cmocka_unit_test(test_registry_refuses_symlink_to_writable_file),
        cmocka_unit_test(test_registry_follows_symlink_to_safe_file),
        cmocka_unit_test(test_registry_refuses_file_of_another_owner),
        cmocka_unit_test(test_registry_refuses_directory_of_another_owner),
        cmocka_unit_test(test_registry_load_dir_loads_good_and_records_refusals_sorted),
        cmocka_unit_test(test_registry_load_dir_missing_is_not_an_error),
        cmocka_unit_test(test_registry_load_dir_refuses_unsafe_dir_whole),
        cmocka_unit_test(test_registry_check_file_copies_without_keeping),
        cmocka_unit_test(test_registry_min_vtable_sizes_match_abi_1_0),
        cmocka_unit_test(test_registry_tolerates_null_arguments),
        cmocka_unit_test(test_registry_refuses_unknown_capability_bits),
        cmocka_unit_test(test_registry_keeps_declared_capabilities),
        cmocka_unit_test(test_registry_counts_exports_of_the_symbol),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
