/* The plugin lock file: parsing (every malformed shape is one clear error),
 * editing, the atomic save round trip, hashing, and the registry refusing a
 * pinned file whose bytes changed. */
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

#include <datachat/value.h>

#include "pluginlock.h"
#include "registry.h"
#include "util.h"

#define HASH_A "ea98f76aff10d4f60f2cb0bf16218bfe954997a63767a02e563314e61127661e"
#define HASH_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char good_lock[] =
    "{\"version\": 1, \"plugins\": [{\"name\": \"hello\", \"kind\": \"tool\", \"version\": "
    "\"1.0.0\", \"abi\": \"1.1\", \"license\": \"MIT\", \"sha256\": \"" HASH_A "\", \"file\": "
    "\"/opt/p/tool-hello.so\", \"installed\": \"2026-01-01T00:00:00Z\", \"sandbox\": true}]}";

static int parse(const char *text, struct pluginlock **l, char *err, size_t errlen)
{
    return pluginlock_parse(text, strlen(text), "t.lock", l, err, errlen);
}

static void test_pluginlock_parses_a_written_record(void **state)
{
    (void)state;
    struct pluginlock *l = NULL;
    char err[1024] = "";
    assert_int_equal(parse(good_lock, &l, err, sizeof(err)), DC_OK);
    assert_non_null(l);
    assert_int_equal(l->n, 1);
    assert_string_equal(l->entries[0].name, "hello");
    assert_string_equal(l->entries[0].kind, "tool");
    assert_string_equal(l->entries[0].sha256, HASH_A);
    assert_int_equal(l->entries[0].sandbox, 1);
    assert_int_equal(pluginlock_find(l, "tool", "hello"), 0);
    assert_int_equal(pluginlock_find(l, "stage", "hello"), -1);
    assert_int_equal(pluginlock_find(l, NULL, "hello"), 0);
    assert_non_null(pluginlock_find_file(l, "/opt/p/tool-hello.so"));
    assert_null(pluginlock_find_file(l, "/opt/p/other.so"));
    pluginlock_free(l);
}

static void test_pluginlock_rejects_each_malformed_shape_with_its_code(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *want;
    } bad[] = {
        {"{\"version\": 1, \"plugins\": [", "t.lock:1:"},
        {"", "E-LOCK-SYNTAX"},
        {"[]", "E-LOCK-SYNTAX"},
        {"{\"version\": 2, \"plugins\": []}", "E-LOCK-VERSION"},
        {"{\"version\": 1}", "\"plugins\" must be an array"},
        {"{\"version\": 1, \"plugins\": [], \"extra\": 0}", "E-LOCK-UNKNOWN-KEY"},
        {"{\"version\": 1, \"version\": 1, \"plugins\": []}", "E-LOCK-SYNTAX"},
        {"{\"version\": 1, \"plugins\": [7]}", "plugins[0] is not an object"},
        {"{\"version\": 1, \"plugins\": [{\"name\": \"a\"}]}", "has no \"kind\""},
        {"{\"version\": 1, \"plugins\": [{\"name\": \"a\", \"kind\": \"tool\", \"version\": "
         "\"1\", \"abi\": \"1.1\", \"license\": \"MIT\", \"sha256\": \"abc\", \"file\": "
         "\"/a.so\"}]}",
         "sha256 must be 64"},
        {"{\"version\": 1, \"plugins\": [{\"name\": \"a\", \"kind\": \"gadget\", \"version\": "
         "\"1\", \"abi\": \"1.1\", \"license\": \"MIT\", \"sha256\": \"" HASH_A "\", \"file\": "
         "\"/a.so\"}]}",
         "kind must be"},
        {"{\"version\": 1, \"plugins\": [{\"name\": \"a\", \"kind\": \"tool\", \"version\": "
         "\"1\", \"abi\": \"1.1\", \"license\": \"MIT\", \"sha256\": \"" HASH_A "\", \"file\": "
         "\"a.so\"}]}",
         "absolute path"},
        {"{\"version\": 1, \"plugins\": [{\"name\": \"a\", \"kind\": \"tool\", \"version\": "
         "\"1\", \"abi\": \"one\", \"license\": \"MIT\", \"sha256\": \"" HASH_A "\", \"file\": "
         "\"/a.so\"}]}",
         "abi must look like"},
        {"{\"version\": 1, \"plugins\": [{\"name\": \"a\", \"kind\": \"tool\", \"version\": "
         "\"1\", \"abi\": \"1.1\", \"license\": \"MIT\", \"sha256\": \"" HASH_A "\", \"file\": "
         "\"/a.so\", \"sandbox\": \"yes\"}]}",
         "sandbox must be true or false"},
        {"{\"version\": 1, \"plugins\": [{\"name\": \"a\", \"kind\": \"tool\", \"version\": "
         "\"1\", \"abi\": \"1.1\", \"license\": \"MIT\", \"sha256\": \"" HASH_A "\", \"file\": "
         "\"/a.so\", \"color\": 1}]}",
         "unknown key \"color\""},
        {"{\"version\": 1, \"plugins\": [{\"name\": \"a\", \"kind\": \"tool\", \"version\": "
         "\"1\", \"abi\": \"1.1\", \"license\": \"MIT\", \"sha256\": \"" HASH_A "\", \"file\": "
         "\"/a.so\"}, {\"name\": \"a\", \"kind\": \"tool\", \"version\": \"1\", \"abi\": "
         "\"1.1\", \"license\": \"MIT\", \"sha256\": \"" HASH_A "\", \"file\": \"/b.so\"}]}",
         "E-LOCK-DUPLICATE"},
        {"{\"version\": 1, \"plugins\": [{\"name\": \"a\", \"kind\": \"tool\", \"version\": "
         "\"1\", \"abi\": \"1.1\", \"license\": \"MIT\", \"sha256\": \"" HASH_A "\", \"file\": "
         "\"/a.so\"}, {\"name\": \"b\", \"kind\": \"tool\", \"version\": \"1\", \"abi\": "
         "\"1.1\", \"license\": \"MIT\", \"sha256\": \"" HASH_A "\", \"file\": \"/a.so\"}]}",
         "file /a.so a second time"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct pluginlock *l = (struct pluginlock *)1;
        char err[1024] = "";
        int rc = parse(bad[i].text, &l, err, sizeof(err));
        if (rc == DC_OK || !strstr(err, bad[i].want))
            fail_msg("case %zu: rc %d, error \"%s\", wanted \"%s\"", i, rc, err, bad[i].want);
        assert_null(l);
    }
}

static void test_pluginlock_save_and_load_round_trip_atomically(void **state)
{
    (void)state;
    char dir[] = "/tmp/dc-test-lock-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *cfg = util_join_path(dir, "datachat.yaml");
    char *path = pluginlock_path_for(cfg);
    assert_non_null(path);
    assert_non_null(strstr(path, "/datachat.lock"));

    struct pluginlock *l = NULL;
    char err[1024] = "";
    /* A missing lock file is an empty lock. */
    assert_int_equal(pluginlock_load(path, &l, err, sizeof(err)), DC_OK);
    assert_int_equal(l->n, 0);
    struct pluginlock_entry e = {.name = "x", .kind = "stage", .version = "2.0",
                                 .abi = "1.0", .license = "BSD-2-Clause",
                                 .sha256 = HASH_A, .file = "/p/stage-x.so", .sandbox = 0};
    assert_int_equal(pluginlock_put(l, &e), DC_OK);
    e.name = "y";
    e.file = "/p/stage-y.so";
    assert_int_equal(pluginlock_put(l, &e), DC_OK);
    /* Same kind and name replaces. */
    e.version = "2.1";
    assert_int_equal(pluginlock_put(l, &e), DC_OK);
    assert_int_equal(l->n, 2);
    assert_int_equal(pluginlock_save(l, path, err, sizeof(err)), DC_OK);
    pluginlock_free(l);

    l = NULL;
    assert_int_equal(pluginlock_load(path, &l, err, sizeof(err)), DC_OK);
    assert_int_equal(l->n, 2);
    assert_string_equal(l->entries[1].version, "2.1");
    assert_null(l->entries[0].installed);
    pluginlock_remove_at(l, 0);
    assert_int_equal(l->n, 1);
    assert_string_equal(l->entries[0].name, "y");
    assert_int_equal(pluginlock_save(l, path, err, sizeof(err)), DC_OK);
    pluginlock_free(l);

    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    /* Nothing but the lock itself is left in the directory. */
    char *tmpname = NULL;
    struct sbuf b;
    sbuf_init(&b);
    sbuf_addf(&b, "%s.tmp.%ld", path, (long)getpid());
    tmpname = sbuf_detach(&b);
    assert_int_not_equal(stat(tmpname, &st), 0);

    /* A lock that cannot be written leaves the old file untouched. */
    char *nodir = util_join_path(dir, "missing/datachat.lock");
    struct pluginlock *empty = NULL;
    assert_int_equal(pluginlock_new(&empty), DC_OK);
    assert_int_not_equal(pluginlock_save(empty, nodir, err, sizeof(err)), DC_OK);
    assert_non_null(strstr(err, "cannot create"));
    pluginlock_free(empty);

    unlink(path);
    rmdir(dir);
    free(nodir);
    free(tmpname);
    free(path);
    free(cfg);
}

static void test_pluginlock_hashes_a_file(void **state)
{
    (void)state;
    char path[] = "/tmp/dc-test-hash-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char hex[65], err[256] = "";
    assert_int_equal(pluginlock_hash_file(path, hex, err, sizeof(err)), DC_OK);
    assert_string_equal(hex, HASH_EMPTY);
    unlink(path);
    assert_int_equal(pluginlock_hash_file(path, hex, err, sizeof(err)), DC_EIO);
    assert_non_null(strstr(err, path));
}

/* The registry pins: the same file loads while its hash matches the record
 * and is refused with the re-install hint after one byte changes. */
static void test_registry_refuses_a_pinned_file_that_changed(void **state)
{
    (void)state;
    const char *bin = getenv("DC_BINARY_DIR");
    if (!bin)
        skip();
    char *so = NULL;
    struct sbuf b;
    sbuf_init(&b);
    sbuf_addf(&b, "%s/plugins/stage-answer.so", bin);
    so = sbuf_detach(&b);
    struct stat st;
    if (stat(so, &st) != 0) {
        free(so);
        skip();
    }
    char dir[] = "/tmp/dc-test-pin-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *copy = util_join_path(dir, "stage-answer.so");
    char *text = NULL;
    size_t len = 0;
    char err[2048] = "";
    assert_int_equal(util_read_file(so, 64u << 20, &text, &len, err, sizeof(err)), DC_OK);
    FILE *f = fopen(copy, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    chmod(copy, 0755);
    char *real = realpath(copy, NULL);
    char hex[65];
    assert_int_equal(pluginlock_hash_file(real, hex, err, sizeof(err)), DC_OK);

    struct pluginlock *l = NULL;
    assert_int_equal(pluginlock_new(&l), DC_OK);
    struct pluginlock_entry e = {.name = "answer", .kind = "stage", .version = "0.1.0",
                                 .abi = "1.1", .license = "MIT", .sha256 = hex,
                                 .file = real};
    assert_int_equal(pluginlock_put(l, &e), DC_OK);

    struct registry *r = NULL;
    assert_int_equal(registry_new(&r), DC_OK);
    registry_set_lock(r, l);
    const struct dc_plugin_ref *ref = NULL;
    assert_int_equal(registry_load_file(r, copy, &ref, err, sizeof(err)), DC_OK);
    registry_free(r);

    f = fopen(copy, "ab");
    assert_non_null(f);
    fputc('x', f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(registry_new(&r), DC_OK);
    l = NULL;
    assert_int_equal(pluginlock_new(&l), DC_OK);
    assert_int_equal(pluginlock_put(l, &e), DC_OK);
    registry_set_lock(r, l);
    assert_int_equal(registry_load_file(r, copy, &ref, err, sizeof(err)), DC_EDENIED);
    assert_non_null(strstr(err, "E-PLUGIN-PIN"));
    assert_non_null(strstr(err, "re-install to accept the new file"));
    assert_int_equal(registry_nrefusals(r), 1);
    registry_free(r);

    unlink(copy);
    rmdir(dir);
    free(real);
    free(text);
    free(copy);
    free(so);
}

/* The ELF header is read before dlopen: text and foreign machines get
 * their own message. */
static void test_registry_checks_the_elf_header_before_loading(void **state)
{
    (void)state;
    char dir[] = "/tmp/dc-test-elf-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *p = util_join_path(dir, "x.so");
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs("#!/bin/sh\necho not a plugin\n", f);
    assert_int_equal(fclose(f), 0);
    char err[2048] = "";
    assert_int_equal(registry_check_safety(p, 0, err, sizeof(err)), DC_EABI);
    assert_non_null(strstr(err, "not an ELF shared object"));

    /* A 64-bit little-endian ELF header for s390 (machine 22). */
    unsigned char eh[64];
    memset(eh, 0, sizeof(eh));
    memcpy(eh, "\177ELF", 4);
    eh[4] = sizeof(void *) == 8 ? 2 : 1;
    eh[5] = 1;
    eh[6] = 1;
    eh[16] = 3; /* ET_DYN */
    eh[18] = 22;
    f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(eh, 1, sizeof(eh), f), sizeof(eh));
    assert_int_equal(fclose(f), 0);
    assert_int_equal(registry_check_safety(p, 0, err, sizeof(err)), DC_EABI);
    assert_non_null(strstr(err, "built for s390"));
    unlink(p);
    rmdir(dir);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pluginlock_parses_a_written_record),
        cmocka_unit_test(test_pluginlock_rejects_each_malformed_shape_with_its_code),
        cmocka_unit_test(test_pluginlock_save_and_load_round_trip_atomically),
        cmocka_unit_test(test_pluginlock_hashes_a_file),
        cmocka_unit_test(test_registry_refuses_a_pinned_file_that_changed),
        cmocka_unit_test(test_registry_checks_the_elf_header_before_loading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
