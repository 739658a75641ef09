/* Tests for the hash-chained audit log: record format, chain continuity
 * across reopen, tamper detection, forged records, fail-closed writes and
 * concurrent appends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <datachat/value.h>

#include "audit.h"
#include "util.h"

struct fixture {
    char dir[512];
    char path[600];
    char head[620];
};

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    const char *bin = getenv("DC_BINARY_DIR");
    snprintf(f->dir, sizeof(f->dir), "%s/test-audit-XXXXXX", bin && *bin ? bin : DC_BINARY_DIR);
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/logs/audit.jsonl", f->dir);
    snprintf(f->head, sizeof(f->head), "%s.head", f->path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static struct audit_record sample(const char *sql)
{
    static const char *const tables[] = {"orders", "customers"};
    struct audit_record r = {
        .event = "query",
        .principal = "alice",
        .database = "demo",
        .sql = sql,
        .tables = tables,
        .ntables = 2,
        .rows = 3,
        .duration_us = 1200,
        .outcome = "ok",
        .result_hash = "abc123",
        .question = "how many orders?",
    };
    return r;
}

static void append_n(const char *path, int mode, int first, int n)
{
    struct audit *a = NULL;
    char err[512] = "";
    int rc = audit_open(path, mode, &a, err, sizeof(err));
    if (rc != DC_OK)
        fail_msg("audit_open: %s", err);
    for (int i = 0; i < n; i++) {
        char sql[64];
        snprintf(sql, sizeof(sql), "SELECT %d FROM orders", first + i);
        struct audit_record r = sample(sql);
        rc = audit_append(a, &r, err, sizeof(err));
        if (rc != DC_OK)
            fail_msg("audit_append: %s", err);
    }
    audit_close(a);
}

static char *slurp(const char *path, size_t *len)
{
    char *text = NULL;
    char err[256];
    size_t n = 0;
    assert_int_equal(util_read_file(path, 64 << 20, &text, &n, err, sizeof(err)), DC_OK);
    if (len)
        *len = n;
    return text;
}

static void spit(const char *path, const char *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Byte offsets of the start of each line; returns the line count. */
static int line_starts(const char *text, size_t len, size_t *starts, int max)
{
    int n = 0;
    size_t pos = 0;
    while (pos < len && n < max) {
        starts[n++] = pos;
        const char *nl = memchr(text + pos, '\n', len - pos);
        if (!nl)
            break;
        pos = (size_t)(nl - text) + 1;
    }
    return n;
}

static size_t count_char(const char *s, size_t len, char c)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += s[i] == c;
    return n;
}

static struct audit_verify_report verify(const char *path)
{
    struct audit_verify_report rep;
    assert_int_equal(audit_verify(path, &rep), DC_OK);
    return rep;
}

static void assert_bad(const char *path, uint64_t line, const char *reason_part)
{
    struct audit_verify_report rep = verify(path);
    if (rep.ok || rep.bad_line != line || !strstr(rep.reason, reason_part))
        fail_msg("expected bad line %llu with \"%s\", got ok=%d line %llu: %s",
                 (unsigned long long)line, reason_part, rep.ok,
                 (unsigned long long)rep.bad_line, rep.reason);
}

static json_t *load_line(const char *text, size_t start)
{
    const char *nl = strchr(text + start, '\n');
    assert_non_null(nl);
    json_error_t jerr;
    json_t *o = json_loadb(text + start, (size_t)(nl - (text + start)), JSON_ALLOW_NUL, &jerr);
    assert_non_null(o);
    return o;
}

static void test_audit_append_and_verify_ok(void **state)
{
    struct fixture *f = *state;
    append_n(f->path, AUDIT_FSYNC_ALWAYS, 1, 3);

    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/logs", f->dir);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    struct audit_verify_report rep = verify(f->path);
    assert_true(rep.ok);
    assert_int_equal(rep.records, 3);
    assert_int_equal(rep.bad_line, 0);

    size_t len, starts[8];
    char *text = slurp(f->path, &len);
    assert_int_equal(line_starts(text, len, starts, 8), 3);
    assert_int_equal(count_char(text, len, '\n'), 3);

    json_t *o = load_line(text, starts[0]);
    assert_int_equal(json_integer_value(json_object_get(o, "seq")), 1);
    assert_string_equal(json_string_value(json_object_get(o, "prev")),
                        "0000000000000000000000000000000000000000000000000000000000000000");
    assert_string_equal(json_string_value(json_object_get(o, "event")), "query");
    assert_string_equal(json_string_value(json_object_get(o, "principal")), "alice");
    assert_string_equal(json_string_value(json_object_get(o, "database")), "demo");
    assert_string_equal(json_string_value(json_object_get(o, "sql")), "SELECT 1 FROM orders");
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "tables"), 1)),
                        "customers");
    assert_int_equal(json_integer_value(json_object_get(o, "rows")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "duration_us")), 1200);
    assert_string_equal(json_string_value(json_object_get(o, "outcome")), "ok");
    assert_true(json_string_length(json_object_get(o, "os_user")) > 0);
    assert_true(json_string_length(json_object_get(o, "time")) > 20);
    assert_null(json_object_get(o, "code"));
    assert_null(json_object_get(o, "reason"));
    json_decref(o);

    char h1[65];
    assert_int_equal(util_sha256_hex(text, starts[1] - 1, h1), DC_OK);
    o = load_line(text, starts[1]);
    assert_int_equal(json_integer_value(json_object_get(o, "seq")), 2);
    assert_string_equal(json_string_value(json_object_get(o, "prev")), h1);
    json_decref(o);
    free(text);
}

static void test_audit_omits_null_fields_and_keeps_required(void **state)
{
    struct fixture *f = *state;
    struct audit *a = NULL;
    char err[512];
    assert_int_equal(audit_open(f->path, AUDIT_FSYNC_NEVER, &a, err, sizeof(err)), DC_OK);
    struct audit_record r = {.event = "refusal", .outcome = "refused", .code = "E-GATE-WRITE",
                             .reason = "writes are not allowed", .rows = -1, .duration_us = -1,
                             .os_user = "svc"};
    assert_int_equal(audit_append(a, &r, err, sizeof(err)), DC_OK);
    audit_close(a);
    char *text = slurp(f->path, NULL);
    json_t *o = load_line(text, 0);
    const char *key;
    json_t *v;
    int n = 0;
    static const char *const expect[] = {"seq", "time", "event", "os_user", "outcome",
                                         "code", "reason", "prev"};
    json_object_foreach(o, key, v) {
        assert_true(n < 8);
        assert_string_equal(key, expect[n]);
        n++;
    }
    assert_int_equal(n, 8);
    assert_string_equal(json_string_value(json_object_get(o, "os_user")), "svc");
    json_decref(o);
    free(text);
}

static void test_audit_continues_chain_across_reopen(void **state)
{
    struct fixture *f = *state;
    append_n(f->path, AUDIT_FSYNC_ALWAYS, 1, 2);
    append_n(f->path, AUDIT_FSYNC_NEVER, 3, 2);
    append_n(f->path, AUDIT_FSYNC_ALWAYS, 5, 1);
    struct audit_verify_report rep = verify(f->path);
    assert_true(rep.ok);
    assert_int_equal(rep.records, 5);
    size_t len, starts[8];
    char *text = slurp(f->path, &len);
    assert_int_equal(line_starts(text, len, starts, 8), 5);
    char h2[65];
    assert_int_equal(util_sha256_hex(text + starts[1], starts[2] - starts[1] - 1, h2), DC_OK);
    json_t *o = load_line(text, starts[2]);
    assert_int_equal(json_integer_value(json_object_get(o, "seq")), 3);
    assert_string_equal(json_string_value(json_object_get(o, "prev")), h2);
    json_decref(o);
    free(text);
}

static void test_audit_reopen_reads_long_last_record(void **state)
{
    struct fixture *f = *state;
    struct audit *a = NULL;
    char err[512];
    size_t big = 20000;
    char *sql = malloc(big + 1);
    assert_non_null(sql);
    memset(sql, 'x', big);
    sql[big] = '\0';
    memcpy(sql, "SELECT '", 8);
    assert_int_equal(audit_open(f->path, AUDIT_FSYNC_NEVER, &a, err, sizeof(err)), DC_OK);
    for (int i = 0; i < 3; i++) {
        struct audit_record r = sample(sql);
        assert_int_equal(audit_append(a, &r, err, sizeof(err)), DC_OK);
    }
    audit_close(a);
    free(sql);
    append_n(f->path, AUDIT_FSYNC_NEVER, 4, 1);
    struct audit_verify_report rep = verify(f->path);
    assert_true(rep.ok);
    assert_int_equal(rep.records, 4);
}

/* Changes one byte inside a string value of line 2: the line stays valid
 * JSON, so the break shows up in line 3's prev. */
static void test_audit_detects_flipped_byte_in_value(void **state)
{
    struct fixture *f = *state;
    append_n(f->path, AUDIT_FSYNC_ALWAYS, 1, 5);
    size_t len, starts[8];
    char *text = slurp(f->path, &len);
    assert_int_equal(line_starts(text, len, starts, 8), 5);
    char *p = strstr(text + starts[1], "SELECT 2");
    assert_non_null(p);
    assert_true((size_t)(p - text) < starts[2]);
    p[7] = '7';
    spit(f->path, text, len);
    free(text);
    assert_bad(f->path, 3, "prev mismatch: prev is not the SHA-256 of line 2");
}

static void test_audit_detects_flipped_structural_byte(void **state)
{
    struct fixture *f = *state;
    append_n(f->path, AUDIT_FSYNC_ALWAYS, 1, 5);
    size_t len, starts[8];
    char *text = slurp(f->path, &len);
    assert_int_equal(line_starts(text, len, starts, 8), 5);
    text[starts[1]] = '[';
    spit(f->path, text, len);
    free(text);
    assert_bad(f->path, 2, "invalid JSON");
}

static void test_audit_detects_flipped_byte_in_prev(void **state)
{
    struct fixture *f = *state;
    append_n(f->path, AUDIT_FSYNC_ALWAYS, 1, 5);
    size_t len, starts[8];
    char *text = slurp(f->path, &len);
    assert_int_equal(line_starts(text, len, starts, 8), 5);
    char *p = strstr(text + starts[1], "\"prev\":\"");
    assert_non_null(p);
    p += 8;
    *p = *p == 'a' ? 'b' : 'a';
    spit(f->path, text, len);
    free(text);
    assert_bad(f->path, 2, "prev mismatch");
}

static void test_audit_detects_deleted_middle_record(void **state)
{
    struct fixture *f = *state;
    append_n(f->path, AUDIT_FSYNC_ALWAYS, 1, 5);
    size_t len, starts[8];
    char *text = slurp(f->path, &len);
    assert_int_equal(line_starts(text, len, starts, 8), 5);
    size_t cut = starts[3] - starts[2];
    memmove(text + starts[2], text + starts[3], len - starts[3]);
    spit(f->path, text, len - cut);
    free(text);
    assert_bad(f->path, 3, "seq 4 where 3 was expected");
}

static void test_audit_detects_reordered_records(void **state)
{
    struct fixture *f = *state;
    append_n(f->path, AUDIT_FSYNC_ALWAYS, 1, 5);
    size_t len, starts[8];
    char *text = slurp(f->path, &len);
    assert_int_equal(line_starts(text, len, starts, 8), 5);
    size_t l3 = starts[3] - starts[2], l4 = starts[4] - starts[3];
    char *swapped = malloc(len);
    assert_non_null(swapped);
    memcpy(swapped, text, starts[2]);
    memcpy(swapped + starts[2], text + starts[3], l4);
    memcpy(swapped + starts[2] + l4, text + starts[2], l3);
    memcpy(swapped + starts[4], text + starts[4], len - starts[4]);
    spit(f->path, swapped, len);
    free(swapped);
    free(text);
    assert_bad(f->path, 3, "seq 4 where 3 was expected");
}

static void test_audit_detects_renumbered_reorder_by_prev(void **state)
{
    struct fixture *f = *state;
    append_n(f->path, AUDIT_FSYNC_ALWAYS, 1, 5);
    size_t len, starts[8];
    char *text = slurp(f->path, &len);
    assert_int_equal(line_starts(text, len, starts, 8), 5);
    /* Swap the SQL of records 3 and 4 so seq stays consecutive. */
    char *p3 = strstr(text + starts[2], "SELECT 3");
    char *p4 = strstr(text + starts[3], "SELECT 4");
    assert_non_null(p3);
    assert_non_null(p4);
    p3[7] = '4';
    p4[7] = '3';
    spit(f->path, text, len);
    free(text);
    assert_bad(f->path, 4, "prev mismatch");
}

static void test_audit_detects_truncated_last_record(void **state)
{
    struct fixture *f = *state;
    append_n(f->path, AUDIT_FSYNC_ALWAYS, 1, 5);
    size_t len;
    char *text = slurp(f->path, &len);
    spit(f->path, text, len - 10);
    free(text);
    assert_bad(f->path, 5, "truncated last line");
}

static void test_audit_detects_deleted_last_record_via_checkpoint(void **state)
{
    struct fixture *f = *state;
    append_n(f->path, AUDIT_FSYNC_ALWAYS, 1, 5);
    size_t len, starts[8];
    char *text = slurp(f->path, &len);
    assert_int_equal(line_starts(text, len, starts, 8), 5);
    spit(f->path, text, starts[4]);
    free(text);
    assert_bad(f->path, 5, "checkpoint mismatch: the log ends after record 4");

    struct audit *a = NULL;
    char err[512] = "";
    assert_int_not_equal(audit_open(f->path, AUDIT_FSYNC_ALWAYS, &a, err, sizeof(err)), DC_OK);
    assert_null(a);
    assert_non_null(strstr(err, "removed from the end"));
    assert_non_null(strstr(err, "datachat audit verify"));

    /* Without a checkpoint only the chain is checked. */
    assert_int_equal(unlink(f->head), 0);
    struct audit_verify_report rep = verify(f->path);
    assert_true(rep.ok);
    assert_int_equal(rep.records, 4);
}

static void test_audit_detects_replaced_last_record_via_checkpoint(void **state)
{
    struct fixture *f = *state;
    append_n(f->path, AUDIT_FSYNC_ALWAYS, 1, 3);
    char *head = slurp(f->head, NULL);
    size_t hlen = strlen(head);
    /* Rebuild the log with a different third record but keep the old checkpoint. */
    size_t len, starts[8];
    char *text = slurp(f->path, &len);
    assert_int_equal(line_starts(text, len, starts, 8), 3);
    spit(f->path, text, starts[2]);
    assert_int_equal(unlink(f->head), 0);
    append_n(f->path, AUDIT_FSYNC_NEVER, 99, 1);
    spit(f->head, head, hlen);
    free(text);
    free(head);
    assert_bad(f->path, 3, "checkpoint mismatch: record 3 differs");
}

static void test_audit_reports_malformed_checkpoint(void **state)
{
    struct fixture *f = *state;
    append_n(f->path, AUDIT_FSYNC_ALWAYS, 1, 2);
    spit(f->head, "{\"seq\":\"two\"}", 13);
    assert_bad(f->path, 0, "malformed");
    struct audit *a = NULL;
    char err[512] = "";
    assert_int_equal(audit_open(f->path, AUDIT_FSYNC_ALWAYS, &a, err, sizeof(err)), DC_EIO);
    assert_non_null(strstr(err, "malformed"));
}

static void test_audit_never_mode_checkpoints_at_close(void **state)
{
    struct fixture *f = *state;
    append_n(f->path, AUDIT_FSYNC_NEVER, 1, 3);
    char *head = slurp(f->head, NULL);
    assert_non_null(strstr(head, "\"seq\":3"));
    free(head);
    struct stat st;
    assert_int_equal(stat(f->head, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_audit_forged_newline_cannot_forge_a_record(void **state)
{
    struct fixture *f = *state;
    static const char forged[] =
        "SELECT 1\n{\"seq\":2,\"time\":\"x\",\"event\":\"query\",\"outcome\":\"ok\",\"prev\":\""
        "0000000000000000000000000000000000000000000000000000000000000000\"}\n";
    struct audit *a = NULL;
    char err[512];
    assert_int_equal(audit_open(f->path, AUDIT_FSYNC_ALWAYS, &a, err, sizeof(err)), DC_OK);
    struct audit_record r = sample(forged);
    r.reason = "quote \" backslash \\ cr \r tab \t bell \x07 end";
    r.question = "line one\r\nline two\u2028";
    r.principal = "bob\"},{\"principal\":\"root";
    assert_int_equal(audit_append(a, &r, err, sizeof(err)), DC_OK);
    audit_close(a);

    size_t len;
    char *text = slurp(f->path, &len);
    assert_int_equal(count_char(text, len, '\n'), 1);
    assert_int_equal(text[len - 1], '\n');
    assert_int_equal(count_char(text, len, '\r'), 0);
    json_t *o = load_line(text, 0);
    assert_string_equal(json_string_value(json_object_get(o, "sql")), forged);
    assert_string_equal(json_string_value(json_object_get(o, "reason")), r.reason);
    assert_string_equal(json_string_value(json_object_get(o, "principal")), r.principal);
    assert_int_equal(json_integer_value(json_object_get(o, "seq")), 1);
    json_decref(o);
    free(text);

    struct audit_verify_report rep = verify(f->path);
    assert_true(rep.ok);
    assert_int_equal(rep.records, 1);
}

static void test_audit_replaces_invalid_utf8(void **state)
{
    struct fixture *f = *state;
    struct audit *a = NULL;
    char err[512];
    assert_int_equal(audit_open(f->path, AUDIT_FSYNC_NEVER, &a, err, sizeof(err)), DC_OK);
    struct audit_record r = sample("SELECT '\xff\xc0\x80' -- caf\xc3\xa9");
    assert_int_equal(audit_append(a, &r, err, sizeof(err)), DC_OK);
    audit_close(a);
    char *text = slurp(f->path, NULL);
    json_t *o = load_line(text, 0);
    assert_string_equal(json_string_value(json_object_get(o, "sql")),
                        "SELECT '\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd' -- caf\xc3\xa9");
    json_decref(o);
    free(text);
    assert_true(verify(f->path).ok);
}

static void test_audit_rejects_incomplete_record_without_writing(void **state)
{
    struct fixture *f = *state;
    struct audit *a = NULL;
    char err[512] = "";
    assert_int_equal(audit_open(f->path, AUDIT_FSYNC_NEVER, &a, err, sizeof(err)), DC_OK);
    struct audit_record r = sample("SELECT 1");
    r.event = NULL;
    assert_int_equal(audit_append(a, &r, err, sizeof(err)), DC_EINVAL);
    assert_non_null(strstr(err, "event"));
    r = sample("SELECT 1");
    r.tables = NULL;
    assert_int_equal(audit_append(a, &r, err, sizeof(err)), DC_EINVAL);
    r = sample("SELECT 1");
    assert_int_equal(audit_append(a, &r, err, sizeof(err)), DC_OK);
    audit_close(a);
    struct audit_verify_report rep = verify(f->path);
    assert_true(rep.ok);
    assert_int_equal(rep.records, 1);
}

static void test_audit_write_failure_fails_closed(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    struct audit *a = NULL;
    char err[512] = "";
    assert_int_equal(audit_open("/dev/full", AUDIT_FSYNC_ALWAYS, &a, err, sizeof(err)), DC_OK);
    struct audit_record r = sample("SELECT 1");
    assert_int_equal(audit_append(a, &r, err, sizeof(err)), DC_EIO);
    assert_non_null(strstr(err, "audit log /dev/full: write failed: "));
    assert_non_null(strstr(err, strerror(ENOSPC)));
    err[0] = '\0';
    assert_int_equal(audit_append(a, &r, err, sizeof(err)), DC_EIO);
    assert_non_null(strstr(err, "write failed"));
    audit_close(a);
}

/* A file size limit makes write() stop mid-record: the partial line must be
 * rolled back so the log still verifies, and the handle must stay failed. */
/* Regression: a checkpoint that could not be written used to be reported
 * as written, so the append succeeded with no tail protection. */
static void test_audit_checkpoint_failure_fails_closed(void **state)
{
    struct fixture *f = *state;
    char tmp[700], err[512] = "";
    struct audit *a = NULL;
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->head);
    assert_int_equal(audit_open(f->path, AUDIT_FSYNC_ALWAYS, &a, err, sizeof(err)), DC_OK);
    assert_int_equal(mkdir(tmp, 0700), 0); /* the temp file cannot be created */
    struct audit_record r = sample("SELECT 1");
    assert_int_equal(audit_append(a, &r, err, sizeof(err)), DC_EIO);
    assert_non_null(strstr(err, "checkpoint"));
    assert_int_equal(audit_append(a, &r, err, sizeof(err)), DC_EIO);
    audit_close(a);
    assert_int_equal(rmdir(tmp), 0);
}

static void test_audit_partial_write_is_rolled_back(void **state)
{
    struct fixture *f = *state;
    append_n(f->path, AUDIT_FSYNC_ALWAYS, 1, 2);
    size_t before;
    free(slurp(f->path, &before));

    struct audit *a = NULL;
    char err[512] = "";
    assert_int_equal(audit_open(f->path, AUDIT_FSYNC_ALWAYS, &a, err, sizeof(err)), DC_OK);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = (rlim_t)before + 40;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    struct audit_record r = sample("SELECT 3 FROM orders");
    int rc = audit_append(a, &r, err, sizeof(err));
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(rc, DC_EIO);
    assert_non_null(strstr(err, "write failed: "));
    assert_non_null(strstr(err, strerror(EFBIG)));
    assert_int_equal(audit_append(a, &r, err, sizeof(err)), DC_EIO);
    audit_close(a);

    size_t after;
    free(slurp(f->path, &after));
    assert_int_equal(after, before);
    struct audit_verify_report rep = verify(f->path);
    assert_true(rep.ok);
    assert_int_equal(rep.records, 2);
    append_n(f->path, AUDIT_FSYNC_ALWAYS, 3, 1);
    rep = verify(f->path);
    assert_true(rep.ok);
    assert_int_equal(rep.records, 3);
}

static void test_audit_refuses_to_append_after_torn_line(void **state)
{
    struct fixture *f = *state;
    append_n(f->path, AUDIT_FSYNC_ALWAYS, 1, 2);
    FILE *fp = fopen(f->path, "ab");
    assert_non_null(fp);
    fputs("{\"seq\":3,\"time\":\"2024-", fp);
    assert_int_equal(fclose(fp), 0);
    size_t before;
    free(slurp(f->path, &before));

    struct audit *a = NULL;
    char err[512] = "";
    assert_int_equal(audit_open(f->path, AUDIT_FSYNC_ALWAYS, &a, err, sizeof(err)), DC_EIO);
    assert_null(a);
    assert_non_null(strstr(err, "no trailing newline"));
    assert_non_null(strstr(err, "`datachat audit verify`"));
    size_t after;
    free(slurp(f->path, &after));
    assert_int_equal(before, after);
    assert_bad(f->path, 3, "truncated last line");
}

static void test_audit_refuses_damaged_last_record(void **state)
{
    struct fixture *f = *state;
    append_n(f->path, AUDIT_FSYNC_ALWAYS, 1, 2);
    FILE *fp = fopen(f->path, "ab");
    assert_non_null(fp);
    fputs("not json\n", fp);
    assert_int_equal(fclose(fp), 0);
    struct audit *a = NULL;
    char err[512] = "";
    assert_int_equal(audit_open(f->path, AUDIT_FSYNC_ALWAYS, &a, err, sizeof(err)), DC_EIO);
    assert_non_null(strstr(err, "last record is damaged"));
}

static void test_audit_refuses_second_writer(void **state)
{
    struct fixture *f = *state;
    struct audit *a = NULL, *b = NULL;
    char err[512] = "";
    assert_int_equal(audit_open(f->path, AUDIT_FSYNC_NEVER, &a, err, sizeof(err)), DC_OK);
    assert_int_equal(audit_open(f->path, AUDIT_FSYNC_NEVER, &b, err, sizeof(err)), DC_EIO);
    assert_null(b);
    assert_non_null(strstr(err, "only one writer"));
    audit_close(a);
    assert_int_equal(audit_open(f->path, AUDIT_FSYNC_NEVER, &b, err, sizeof(err)), DC_OK);
    audit_close(b);
}

static void test_audit_rejects_bad_arguments(void **state)
{
    struct fixture *f = *state;
    struct audit *a = NULL;
    char err[512] = "";
    assert_int_equal(audit_open(f->path, 7, &a, err, sizeof(err)), DC_EINVAL);
    assert_non_null(strstr(err, "fsync mode"));
    assert_int_equal(audit_open("", AUDIT_FSYNC_NEVER, &a, err, sizeof(err)), DC_EINVAL);
    assert_null(a);
}

struct worker {
    struct audit *a;
    int id;
    int failures;
};

static void *append_worker(void *arg)
{
    struct worker *w = arg;
    char err[512];
    for (int i = 0; i < 200; i++) {
        char sql[64];
        snprintf(sql, sizeof(sql), "SELECT %d, %d", w->id, i);
        struct audit_record r = sample(sql);
        if (audit_append(w->a, &r, err, sizeof(err)) != DC_OK)
            w->failures++;
    }
    return NULL;
}

static void test_audit_concurrent_appends_verify_clean(void **state)
{
    struct fixture *f = *state;
    struct audit *a = NULL;
    char err[512];
    assert_int_equal(audit_open(f->path, AUDIT_FSYNC_ALWAYS, &a, err, sizeof(err)), DC_OK);
    pthread_t th[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.a = a, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, append_worker, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
    }
    audit_close(a);
    struct audit_verify_report rep = verify(f->path);
    if (!rep.ok)
        fail_msg("line %llu: %s", (unsigned long long)rep.bad_line, rep.reason);
    assert_int_equal(rep.records, 800);
    char *head = slurp(f->head, NULL);
    assert_non_null(strstr(head, "\"seq\":800,"));
    free(head);
}

static void test_audit_empty_file_verifies_ok(void **state)
{
    struct fixture *f = *state;
    char empty[600];
    snprintf(empty, sizeof(empty), "%s/empty.jsonl", f->dir);
    spit(empty, "", 0);
    struct audit_verify_report rep = verify(empty);
    assert_true(rep.ok);
    assert_int_equal(rep.records, 0);
    assert_int_equal(rep.bad_line, 0);
}

static void test_audit_verify_missing_file_is_an_error(void **state)
{
    struct fixture *f = *state;
    struct audit_verify_report rep;
    assert_true(audit_verify(f->path, &rep) < 0);
    assert_false(rep.ok);
    assert_non_null(strstr(rep.reason, "cannot open"));
}

static void test_audit_detects_removed_first_record(void **state)
{
    struct fixture *f = *state;
    append_n(f->path, AUDIT_FSYNC_ALWAYS, 1, 3);
    size_t len, starts[8];
    char *text = slurp(f->path, &len);
    assert_int_equal(line_starts(text, len, starts, 8), 3);
    assert_int_equal(unlink(f->head), 0);
    spit(f->path, text + starts[1], len - starts[1]);
    free(text);
    assert_bad(f->path, 1, "seq 2 where 1 was expected");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_audit_append_and_verify_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_omits_null_fields_and_keeps_required, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_audit_continues_chain_across_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_reopen_reads_long_last_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_detects_flipped_byte_in_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_detects_flipped_structural_byte, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_audit_detects_flipped_byte_in_prev, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_detects_deleted_middle_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_detects_reordered_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_detects_renumbered_reorder_by_prev, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_audit_detects_truncated_last_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_detects_deleted_last_record_via_checkpoint,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_detects_replaced_last_record_via_checkpoint,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_reports_malformed_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_never_mode_checkpoints_at_close, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_audit_forged_newline_cannot_forge_a_record, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_audit_replaces_invalid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_rejects_incomplete_record_without_writing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_write_failure_fails_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_checkpoint_failure_fails_closed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_audit_partial_write_is_rolled_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_refuses_to_append_after_torn_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_audit_refuses_damaged_last_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_refuses_second_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_rejects_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_concurrent_appends_verify_clean, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_audit_empty_file_verifies_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_verify_missing_file_is_an_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_audit_detects_removed_first_record, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
