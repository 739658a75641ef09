/* util_write_file_atomic, which the lock file, the approvals file and the
 * catalog cache all write through: it replaces the whole file, leaves no
 * temporary file behind (also when it fails), never follows a symlink
 * planted at its temporary name, and names the file in its errors. */
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

#include "util.h"

static char dir[512], path[600], tmp[700];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "%s/test-util-%ld", DC_BINARY_DIR, (long)getpid());
    mkdir(dir, 0700);
    snprintf(path, sizeof(path), "%s/file.json", dir);
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(tmp);
    unlink(path);
    char victim[620];
    snprintf(victim, sizeof(victim), "%s/victim", dir);
    unlink(victim);
    rmdir(dir);
    return 0;
}

static void read_back(const char *want)
{
    char *text = NULL, err[256];
    size_t len = 0;
    assert_int_equal(util_read_file(path, 1 << 20, &text, &len, err, sizeof(err)), DC_OK);
    assert_string_equal(text, want);
    free(text);
}

static void test_write_atomic_replaces_the_whole_file(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(util_write_file_atomic(path, "first, longer text", 18, 0600, 1, err,
                                            sizeof(err)),
                     DC_OK);
    read_back("first, longer text");
    assert_int_equal(util_write_file_atomic(path, "second", 6, 0600, 0, err, sizeof(err)), DC_OK);
    read_back("second");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_not_equal(access(tmp, F_OK), 0);
}

static void test_write_atomic_fails_cleanly_naming_the_file(void **state)
{
    (void)state;
    char err[256] = "", missing[700];
    snprintf(missing, sizeof(missing), "%s/no/such/dir/file.json", dir);
    assert_int_equal(util_write_file_atomic(missing, "x", 1, 0600, 1, err, sizeof(err)), DC_EIO);
    assert_non_null(strstr(err, "no/such/dir/file.json"));
    assert_non_null(strstr(err, "cannot create"));
}

static void test_write_atomic_never_follows_a_planted_symlink(void **state)
{
    (void)state;
    char err[256], victim[620];
    snprintf(victim, sizeof(victim), "%s/victim", dir);
    FILE *f = fopen(victim, "w");
    assert_non_null(f);
    fputs("untouched", f);
    fclose(f);
    assert_int_equal(symlink(victim, tmp), 0);
    /* The stale name is removed and the file created fresh, so the
     * symlink's target is never written. */
    assert_int_equal(util_write_file_atomic(path, "new", 3, 0600, 0, err, sizeof(err)), DC_OK);
    read_back("new");
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(util_read_file(victim, 1 << 20, &text, &len, err, sizeof(err)), DC_OK);
    assert_string_equal(text, "untouched");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_atomic_replaces_the_whole_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_atomic_fails_cleanly_naming_the_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_atomic_never_follows_a_planted_symlink, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
