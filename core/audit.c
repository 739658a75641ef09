#include "audit.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <datachat/value.h>

/* Bounds the memory needed to read back or verify one record; a record this
 * large is refused on append rather than written. */
#define AUDIT_MAX_LINE ((size_t)8 * 1024 * 1024)
/* Without fsync there is no natural commit point, so the checkpoint is
 * refreshed every this many records and at close. */
#define AUDIT_CHECKPOINT_EVERY 64
#define AUDIT_CHUNK 4096
#define AUDIT_READ_BUF 65536
/* seq is written as a JSON integer, which jansson holds as long long. */
#define AUDIT_MAX_SEQ ((uint64_t)INT64_MAX - 1)

static const char zero_hash[65] =
    "0000000000000000000000000000000000000000000000000000000000000000";

struct audit {
    pthread_mutex_t mu;
    pthread_cond_t synced_cv;
    int sync_ready; /* mu and synced_cv were initialised */
    int fd;
    int fsync_mode;
    int regular;    /* checkpoints, fsync and rollback need a regular file */
    char *path;
    char *head_path;
    char *os_user;
    uint64_t seq;        /* last record written */
    char prev[65];       /* SHA-256 of that record's line */
    off_t size;          /* file size after the last complete record */
    uint64_t synced_seq; /* last record covered by an fsync */
    char synced_hash[65];
    uint64_t head_seq;   /* last record covered by the checkpoint file */
    int syncing;         /* one thread is in fdatasync for the group */
    int checkpointing;   /* one thread is replacing the checkpoint file */
    int failed;          /* sticky: every later append fails closed */
    char failmsg[512];
};

enum { LINE_OK = 0, LINE_BAD_JSON, LINE_BAD_SEQ, LINE_BAD_PREV };

static int is_hex64(const char *s, size_t n)
{
    if (n != 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}

/* Extracts seq and prev from one line (without its newline). Shared by open
 * and verify so both accept exactly the same records. */
static int line_parse(const char *line, size_t len, uint64_t *seq, char prev[65],
                      char *why, size_t whylen)
{
    int rc = LINE_OK;
    json_error_t jerr;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!o) {
        snprintf(why, whylen, "invalid JSON at column %d: %s", jerr.column, jerr.text);
        return LINE_BAD_JSON;
    }
    if (!json_is_object(o)) {
        snprintf(why, whylen, "invalid record: not a JSON object");
        rc = LINE_BAD_JSON;
        goto cleanup;
    }
    json_t *s = json_object_get(o, "seq");
    if (!json_is_integer(s) || json_integer_value(s) < 1) {
        snprintf(why, whylen, "missing or invalid seq (must be a positive integer)");
        rc = LINE_BAD_SEQ;
        goto cleanup;
    }
    *seq = (uint64_t)json_integer_value(s);
    json_t *p = json_object_get(o, "prev");
    if (!json_is_string(p) || !is_hex64(json_string_value(p), json_string_length(p))) {
        snprintf(why, whylen, "missing or invalid prev (must be 64 lowercase hex digits)");
        rc = LINE_BAD_PREV;
        goto cleanup;
    }
    memcpy(prev, json_string_value(p), 65);
cleanup:
    json_decref(o);
    return rc;
}

/* Returns DC_OK with *present = 0 when there is no checkpoint file, DC_EINVAL
 * when it exists but is malformed, DC_EIO when it cannot be read. */
static int checkpoint_read(const char *head_path, int *present, uint64_t *seq, char hash[65],
                           char *why, size_t whylen)
{
    int rc = DC_OK;
    char *text = NULL;
    size_t len = 0;
    json_t *o = NULL;
    struct stat st;
    *present = 0;
    if (stat(head_path, &st) != 0) {
        if (errno == ENOENT)
            return DC_OK;
        return util_err(why, whylen, DC_EIO, "cannot read checkpoint %s: %s", head_path,
                        strerror(errno));
    }
    *present = 1;
    if (!S_ISREG(st.st_mode))
        return util_err(why, whylen, DC_EINVAL, "checkpoint %s is malformed (not a regular file)",
                        head_path);
    rc = util_read_file(head_path, 4096, &text, &len, why, whylen);
    if (rc == DC_ELIMIT) {
        rc = util_err(why, whylen, DC_EINVAL, "checkpoint %s is malformed (too large)", head_path);
        goto cleanup;
    }
    if (rc != DC_OK)
        goto cleanup;
    json_error_t jerr;
    o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *s = json_is_object(o) ? json_object_get(o, "seq") : NULL;
    json_t *h = json_is_object(o) ? json_object_get(o, "hash") : NULL;
    if (!json_is_integer(s) || json_integer_value(s) < 1 || !json_is_string(h) ||
        !is_hex64(json_string_value(h), json_string_length(h))) {
        rc = util_err(why, whylen, DC_EINVAL,
                      "checkpoint %s is malformed (expected {\"seq\":N,\"hash\":\"<64 hex>\"})",
                      head_path);
        goto cleanup;
    }
    *seq = (uint64_t)json_integer_value(s);
    memcpy(hash, json_string_value(h), 65);
cleanup:
    json_decref(o);
    free(text);
    return rc;
}

/* Returns how many bytes were written; *errnum says why it stopped short. */
static size_t write_all(int fd, const char *p, size_t n, int *errnum)
{
    size_t done = 0;
    *errnum = 0;
    while (done < n) {
        ssize_t w = write(fd, p + done, n - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            *errnum = errno;
            break;
        }
        if (w == 0) {
            *errnum = EIO;
            break;
        }
        done += (size_t)w;
    }
    return done;
}

static int pread_all(int fd, char *p, size_t n, off_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, p + done, n - done, off + (off_t)done);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0) {
            errno = EIO;
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

/* Replaced atomically (temp file, optional fsync, rename) so a crash leaves
 * either the old or the new checkpoint, never a torn one. */
static int checkpoint_write(const struct audit *a, uint64_t seq, const char hash[65], int sync,
                            char *err, size_t errlen)
{
    int rc = DC_OK;
    int fd = -1;
    char body[128];
    size_t tlen = strlen(a->head_path) + 5;
    char *tmp = malloc(tlen);
    if (!tmp)
        return util_err(err, errlen, DC_ENOMEM, "audit checkpoint %s: out of memory", a->head_path);
    snprintf(tmp, tlen, "%s.tmp", a->head_path);
    int n = snprintf(body, sizeof(body), "{\"seq\":%" PRIu64 ",\"hash\":\"%s\"}\n", seq, hash);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = util_err(err, errlen, DC_EIO, "audit checkpoint %s: cannot create: %s", tmp,
                      strerror(errno));
        goto cleanup;
    }
    int errnum = 0;
    if (write_all(fd, body, (size_t)n, &errnum) != (size_t)n) {
        rc = util_err(err, errlen, DC_EIO, "audit checkpoint %s: write failed: %s", tmp,
                      strerror(errnum));
        goto cleanup;
    }
    if (sync && fsync(fd) != 0) {
        rc = util_err(err, errlen, DC_EIO, "audit checkpoint %s: fsync failed: %s", tmp,
                      strerror(errno));
        goto cleanup;
    }
    int cfd = fd;
    fd = -1;
    if (close(cfd) != 0) {
        rc = util_err(err, errlen, DC_EIO, "audit checkpoint %s: close failed: %s", tmp,
                      strerror(errno));
        goto cleanup;
    }
    if (rename(tmp, a->head_path) != 0) {
        rc = util_err(err, errlen, DC_EIO, "audit checkpoint %s: rename failed: %s",
                      a->head_path, strerror(errno));
        goto cleanup;
    }
cleanup:
    if (fd >= 0)
        close(fd);
    if (rc != DC_OK)
        unlink(tmp);
    free(tmp);
    return rc;
}

static void fail_closed(struct audit *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Keeps the first failure: it is the cause, later ones are consequences. */
static void fail_closed(struct audit *a, const char *fmt, ...)
{
    if (a->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->failmsg, sizeof(a->failmsg), fmt, ap);
    va_end(ap);
    a->failed = 1;
}

/* jansson refuses invalid UTF-8, but a record must still be written: each
 * invalid byte becomes U+FFFD instead of dropping the field or the record. */
static json_t *json_text(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;
    while (i < n) {
        size_t l = util_utf8_seq_len(u + i, n - i);
        if (!l)
            break;
        i += l;
    }
    if (i == n)
        return json_stringn(s, n);
    struct sbuf b;
    sbuf_init(&b);
    sbuf_add(&b, s, i);
    while (i < n) {
        size_t l = util_utf8_seq_len(u + i, n - i);
        if (l) {
            sbuf_add(&b, s + i, l);
            i += l;
        } else {
            sbuf_add(&b, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    json_t *v = b.oom ? NULL : json_stringn(b.p, b.len);
    sbuf_free(&b);
    return v;
}

static int add_str(json_t *o, const char *key, const char *val)
{
    if (!val)
        return 0;
    return json_object_set_new(o, key, json_text(val));
}

/* Returns the line with a trailing newline; *len excludes the newline. */
static char *record_line(const struct audit *a, const struct audit_record *rec, uint64_t seq,
                         size_t *len)
{
    char now[32];
    char *s = NULL, *line = NULL;
    json_t *o = json_object();
    util_iso_time(now);
    if (!o)
        goto cleanup;
    if (json_object_set_new(o, "seq", json_integer((json_int_t)seq)) || add_str(o, "time", now) ||
        add_str(o, "event", rec->event) || add_str(o, "principal", rec->principal) ||
        add_str(o, "os_user", rec->os_user ? rec->os_user : a->os_user) ||
        add_str(o, "database", rec->database) || add_str(o, "sql", rec->sql))
        goto cleanup;
    if (rec->tables) {
        json_t *arr = json_array();
        if (json_object_set_new(o, "tables", arr))
            goto cleanup;
        for (size_t i = 0; i < rec->ntables; i++)
            if (json_array_append_new(arr, json_text(rec->tables[i])))
                goto cleanup;
    }
    if (rec->rows >= 0 && json_object_set_new(o, "rows", json_integer(rec->rows)))
        goto cleanup;
    if (rec->duration_us >= 0 &&
        json_object_set_new(o, "duration_us", json_integer(rec->duration_us)))
        goto cleanup;
    if (add_str(o, "outcome", rec->outcome) || add_str(o, "code", rec->code) ||
        add_str(o, "reason", rec->reason) || add_str(o, "result_hash", rec->result_hash) ||
        add_str(o, "question", rec->question) || add_str(o, "policy", rec->policy) ||
        add_str(o, "tool", rec->tool))
        goto cleanup;
    if (rec->tool_tier > 0 && json_object_set_new(o, "tool_tier", json_integer(rec->tool_tier)))
        goto cleanup;
    if (add_str(o, "args_sha256", rec->args_sha256) || add_str(o, "prev", a->prev))
        goto cleanup;
    s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!s)
        goto cleanup;
    /* Escaped output holds no NUL or newline, so strlen is the line length. */
    size_t n = strlen(s);
    line = realloc(s, n + 2);
    if (!line)
        goto cleanup;
    s = NULL;
    line[n] = '\n';
    line[n + 1] = '\0';
    *len = n;
cleanup:
    free(s);
    json_decref(o);
    return line;
}

static int write_record(struct audit *a, const char *line, size_t n, char *err, size_t errlen)
{
    int errnum = 0;
    size_t done = write_all(a->fd, line, n, &errnum);
    if (done == n) {
        a->size += (off_t)n;
        return DC_OK;
    }
    char undo[200] = "";
    if (done > 0 && a->regular) {
        /* Roll back the partial line so every earlier record stays valid. */
        if (ftruncate(a->fd, a->size) != 0)
            snprintf(undo, sizeof(undo),
                     "; the partial record could not be removed (%s): run `datachat audit "
                     "verify` before reusing the log", strerror(errno));
    } else if (done > 0) {
        snprintf(undo, sizeof(undo), "; a partial record may remain in the output");
    }
    fail_closed(a, "audit log %s: write failed: %s%s", a->path, strerror(errnum), undo);
    return util_err(err, errlen, DC_EIO, "%s", a->failmsg);
}

/* Group commit, called with mu held: the first waiter syncs on behalf of
 * every record written so far while later writers keep appending; each
 * caller returns once an fsync covers its own record. */
static int wait_synced(struct audit *a, uint64_t seq, char *err, size_t errlen)
{
    while (a->synced_seq < seq) {
        if (a->failed)
            return util_err(err, errlen, DC_EIO, "%s", a->failmsg);
        if (a->syncing) {
            pthread_cond_wait(&a->synced_cv, &a->mu);
            continue;
        }
        uint64_t target = a->seq;
        char hash[65];
        int rc = 0, errnum = 0;
        memcpy(hash, a->prev, sizeof(hash));
        a->syncing = 1;
        pthread_mutex_unlock(&a->mu);
        if (a->regular) {
            rc = fdatasync(a->fd);
            errnum = errno;
        }
        pthread_mutex_lock(&a->mu);
        a->syncing = 0;
        if (rc == 0) {
            a->synced_seq = target;
            memcpy(a->synced_hash, hash, sizeof(hash));
        } else {
            fail_closed(a, "audit log %s: fsync failed: %s", a->path, strerror(errnum));
        }
        pthread_cond_broadcast(&a->synced_cv);
    }
    return DC_OK;
}

/* Called with mu held once the caller's record is durable. The checkpoint
 * is written outside the lock and outside the fsync turn, so the next
 * group's fsync overlaps it; one thread checkpoints at a time, the newest
 * durable record each round. */
static int checkpoint_synced(struct audit *a, char *err, size_t errlen)
{
    for (int round = 0; round < 4; round++) {
        if (!a->regular || a->checkpointing || a->failed || a->head_seq >= a->synced_seq)
            return DC_OK;
        uint64_t target = a->synced_seq;
        char hash[65];
        char why[400] = "";
        memcpy(hash, a->synced_hash, sizeof(hash));
        a->checkpointing = 1;
        pthread_mutex_unlock(&a->mu);
        /* The log itself was just made durable; the checkpoint is renamed
         * over the old one without an fsync of its own (ext4 and xfs order
         * the data before the rename), so a crash leaves it at most a group
         * behind, never ahead of the durable log. */
        int rc = checkpoint_write(a, target, hash, 0, why, sizeof(why));
        pthread_mutex_lock(&a->mu);
        a->checkpointing = 0;
        if (rc != DC_OK) {
            fail_closed(a, "%s", why);
            return util_err(err, errlen, DC_EIO, "%s", a->failmsg);
        }
        if (target > a->head_seq)
            a->head_seq = target;
    }
    return DC_OK;
}

static int check_record(const struct audit_record *rec, char *err, size_t errlen)
{
    if (!rec)
        return util_err(err, errlen, DC_EINVAL, "audit record: no record given");
    if (!rec->event || !*rec->event)
        return util_err(err, errlen, DC_EINVAL, "audit record: event is required");
    if (!rec->outcome || !*rec->outcome)
        return util_err(err, errlen, DC_EINVAL, "audit record: outcome is required");
    if (rec->ntables && !rec->tables)
        return util_err(err, errlen, DC_EINVAL, "audit record: ntables is %zu but tables is NULL",
                        rec->ntables);
    for (size_t i = 0; i < rec->ntables; i++)
        if (!rec->tables[i])
            return util_err(err, errlen, DC_EINVAL, "audit record: tables[%zu] is NULL", i);
    return DC_OK;
}

int audit_append(struct audit *a, const struct audit_record *rec, char *err, size_t errlen)
{
    int rc = DC_OK;
    char *line = NULL;
    size_t len = 0;
    char hash[65];
    if (!a)
        return util_err(err, errlen, DC_EINVAL, "audit_append: no audit log");
    rc = check_record(rec, err, errlen);
    if (rc != DC_OK)
        return rc;
    pthread_mutex_lock(&a->mu);
    if (a->failed) {
        rc = util_err(err, errlen, DC_EIO, "%s", a->failmsg);
        goto cleanup;
    }
    if (a->seq >= AUDIT_MAX_SEQ) {
        rc = util_err(err, errlen, DC_ELIMIT, "audit log %s: sequence number limit reached; "
                      "start a new log", a->path);
        goto cleanup;
    }
    line = record_line(a, rec, a->seq + 1, &len);
    if (!line) {
        rc = util_err(err, errlen, DC_ENOMEM, "audit log %s: out of memory building a record",
                      a->path);
        goto cleanup;
    }
    if (len + 1 > AUDIT_MAX_LINE) {
        rc = util_err(err, errlen, DC_ELIMIT,
                      "audit log %s: a record of %zu bytes exceeds the %zu-byte limit; it was "
                      "not written", a->path, len + 1, AUDIT_MAX_LINE);
        goto cleanup;
    }
    if (util_sha256_hex(line, len, hash) != DC_OK) {
        rc = util_err(err, errlen, DC_ERR, "audit log %s: SHA-256 failed", a->path);
        goto cleanup;
    }
    rc = write_record(a, line, len + 1, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    a->seq++;
    memcpy(a->prev, hash, sizeof(hash));
    if (a->fsync_mode == AUDIT_FSYNC_ALWAYS) {
        rc = wait_synced(a, a->seq, err, errlen);
        if (rc == DC_OK)
            rc = checkpoint_synced(a, err, errlen);
    } else if (a->regular && a->seq % AUDIT_CHECKPOINT_EVERY == 0) {
        char why[400];
        if (checkpoint_write(a, a->seq, a->prev, 0, why, sizeof(why)) == DC_OK) {
            a->head_seq = a->seq;
        } else {
            fail_closed(a, "%s", why);
            rc = util_err(err, errlen, DC_EIO, "%s", a->failmsg);
        }
    }
cleanup:
    pthread_mutex_unlock(&a->mu);
    free(line);
    return rc;
}

static char *lookup_os_user(void)
{
    uid_t uid = geteuid();
    long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
    if (sz <= 0 || sz > 1 << 20)
        sz = 16384;
    char *buf = malloc((size_t)sz);
    struct passwd pw, *res = NULL;
    char *name = NULL;
    if (buf && getpwuid_r(uid, &pw, buf, (size_t)sz, &res) == 0 && res && res->pw_name &&
        *res->pw_name)
        name = strdup(res->pw_name);
    free(buf);
    if (!name) {
        char num[32];
        snprintf(num, sizeof(num), "%lu", (unsigned long)uid);
        name = strdup(num);
    }
    return name;
}

static int make_parents(const char *path, char *err, size_t errlen)
{
    int rc = DC_OK;
    char *dir = util_dirname(path);
    if (!dir)
        return util_err(err, errlen, DC_ENOMEM, "audit log %s: out of memory", path);
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            int e = errno;
            struct stat st;
            if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
                rc = util_err(err, errlen, DC_EIO, "audit log %s: cannot create directory %s: %s",
                              path, dir, strerror(e));
                goto cleanup;
            }
        }
        *p = c;
        if (c == '\0')
            break;
    }
cleanup:
    free(dir);
    return rc;
}

/* Finds the last line by reading back from the end in chunks, so opening a
 * large log costs as much as its last record, not its size. */
static int read_tail(struct audit *a, off_t end, char *err, size_t errlen)
{
    int rc = DC_OK;
    char *line = NULL;
    char buf[AUDIT_CHUNK];
    char why[256];
    memcpy(a->prev, zero_hash, sizeof(a->prev));
    a->seq = 0;
    a->size = end;
    if (end == 0)
        return DC_OK;
    if (pread_all(a->fd, buf, 1, end - 1) != 0)
        return util_err(err, errlen, DC_EIO, "audit log %s: read failed: %s", a->path,
                        strerror(errno));
    if (buf[0] != '\n')
        return util_err(err, errlen, DC_EIO,
                        "audit log %s: the last record is incomplete (no trailing newline), "
                        "probably from a crash during a write; refusing to append after a torn "
                        "record. Run `datachat audit verify` and repair the log first", a->path);
    off_t pos = end - 1, start = 0;
    while (pos > 0) {
        size_t want = pos > AUDIT_CHUNK ? AUDIT_CHUNK : (size_t)pos;
        off_t off = pos - (off_t)want;
        if (pread_all(a->fd, buf, want, off) != 0) {
            rc = util_err(err, errlen, DC_EIO, "audit log %s: read failed: %s", a->path,
                          strerror(errno));
            goto cleanup;
        }
        const char *nl = memrchr(buf, '\n', want);
        if (nl) {
            start = off + (nl - buf) + 1;
            break;
        }
        pos = off;
        if ((size_t)(end - 1 - pos) > AUDIT_MAX_LINE)
            break;
    }
    size_t len = (size_t)(end - 1 - start);
    if (len > AUDIT_MAX_LINE) {
        rc = util_err(err, errlen, DC_EIO,
                      "audit log %s: the last record is longer than %zu bytes; the log is "
                      "damaged. Run `datachat audit verify`", a->path, AUDIT_MAX_LINE);
        goto cleanup;
    }
    line = malloc(len ? len : 1);
    if (!line) {
        rc = util_err(err, errlen, DC_ENOMEM, "audit log %s: out of memory", a->path);
        goto cleanup;
    }
    if (len && pread_all(a->fd, line, len, start) != 0) {
        rc = util_err(err, errlen, DC_EIO, "audit log %s: read failed: %s", a->path,
                      strerror(errno));
        goto cleanup;
    }
    uint64_t seq = 0;
    char prev[65];
    if (line_parse(line, len, &seq, prev, why, sizeof(why)) != LINE_OK) {
        rc = util_err(err, errlen, DC_EIO,
                      "audit log %s: the last record is damaged (%s); refusing to append. Run "
                      "`datachat audit verify`", a->path, why);
        goto cleanup;
    }
    if (util_sha256_hex(line, len, a->prev) != DC_OK) {
        rc = util_err(err, errlen, DC_ERR, "audit log %s: SHA-256 failed", a->path);
        goto cleanup;
    }
    a->seq = seq;
cleanup:
    free(line);
    return rc;
}

/* Refuses to continue a log whose tail was cut: appending would move the
 * checkpoint forward and erase the evidence. */
static int check_head(struct audit *a, char *err, size_t errlen)
{
    int present = 0;
    uint64_t hseq = 0;
    char hash[65];
    char why[400];
    int rc = checkpoint_read(a->head_path, &present, &hseq, hash, why, sizeof(why));
    if (rc != DC_OK)
        return util_err(err, errlen, rc == DC_EINVAL ? DC_EIO : rc,
                        "audit log %s: %s; refusing to append. Run `datachat audit verify`",
                        a->path, why);
    if (!present)
        return DC_OK;
    if (hseq > a->seq)
        return util_err(err, errlen, DC_EIO,
                        "audit log %s ends at record %" PRIu64 " but its checkpoint %s records %"
                        PRIu64 ": records were removed from the end; refusing to append. Run "
                        "`datachat audit verify`", a->path, a->seq, a->head_path, hseq);
    if (hseq == a->seq && strcmp(hash, a->prev) != 0)
        return util_err(err, errlen, DC_EIO,
                        "audit log %s: record %" PRIu64 " differs from its checkpoint %s; "
                        "refusing to append. Run `datachat audit verify`", a->path, hseq,
                        a->head_path);
    a->head_seq = hseq;
    return DC_OK;
}

static void audit_free(struct audit *a)
{
    if (!a)
        return;
    if (a->fd >= 0)
        close(a->fd);
    if (a->sync_ready) {
        pthread_cond_destroy(&a->synced_cv);
        pthread_mutex_destroy(&a->mu);
    }
    free(a->path);
    free(a->head_path);
    free(a->os_user);
    free(a);
}

int audit_open(const char *path, int fsync_mode, struct audit **out, char *err, size_t errlen)
{
    int rc = DC_OK;
    struct audit *a = NULL;
    struct stat st;
    if (!out)
        return util_err(err, errlen, DC_EINVAL, "audit_open: no output handle");
    *out = NULL;
    if (!path || !*path)
        return util_err(err, errlen, DC_EINVAL, "audit log path is empty; set audit.path");
    if (fsync_mode != AUDIT_FSYNC_ALWAYS && fsync_mode != AUDIT_FSYNC_NEVER)
        return util_err(err, errlen, DC_EINVAL,
                        "audit log %s: fsync mode %d is invalid (use always or never)", path,
                        fsync_mode);
    a = calloc(1, sizeof(*a));
    if (!a)
        return util_err(err, errlen, DC_ENOMEM, "audit log %s: out of memory", path);
    a->fd = -1;
    a->fsync_mode = fsync_mode;
    if (pthread_mutex_init(&a->mu, NULL) != 0) {
        rc = util_err(err, errlen, DC_ERR, "audit log %s: cannot create a mutex", path);
        goto cleanup;
    }
    if (pthread_cond_init(&a->synced_cv, NULL) != 0) {
        pthread_mutex_destroy(&a->mu);
        rc = util_err(err, errlen, DC_ERR, "audit log %s: cannot create a condition", path);
        goto cleanup;
    }
    a->sync_ready = 1;
    size_t hlen = strlen(path) + 6;
    a->path = strdup(path);
    a->head_path = malloc(hlen);
    a->os_user = lookup_os_user();
    if (!a->path || !a->head_path || !a->os_user) {
        rc = util_err(err, errlen, DC_ENOMEM, "audit log %s: out of memory", path);
        goto cleanup;
    }
    snprintf(a->head_path, hlen, "%s.head", path);
    rc = make_parents(path, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (a->fd < 0) {
        rc = util_err(err, errlen, DC_EIO, "audit log %s: cannot open: %s", path,
                      strerror(errno));
        goto cleanup;
    }
    if (fstat(a->fd, &st) != 0) {
        rc = util_err(err, errlen, DC_EIO, "audit log %s: cannot stat: %s", path,
                      strerror(errno));
        goto cleanup;
    }
    a->regular = S_ISREG(st.st_mode);
    if (a->regular) {
        /* Two writers would fork the chain; the lock lives as long as fd. */
        if (flock(a->fd, LOCK_EX | LOCK_NB) != 0) {
            rc = util_err(err, errlen, DC_EIO,
                          errno == EWOULDBLOCK
                              ? "audit log %s is already open for appending elsewhere; only "
                                "one writer may append to a log"
                              : "audit log %s: cannot lock", path);
            goto cleanup;
        }
        rc = read_tail(a, st.st_size, err, errlen);
        if (rc != DC_OK)
            goto cleanup;
        rc = check_head(a, err, errlen);
        if (rc != DC_OK)
            goto cleanup;
    } else {
        /* A device or pipe cannot be read back: start a fresh chain. */
        rc = read_tail(a, 0, err, errlen);
        if (rc != DC_OK)
            goto cleanup;
    }
    a->synced_seq = a->seq;
    memcpy(a->synced_hash, a->prev, sizeof(a->synced_hash));
    *out = a;
    a = NULL;
cleanup:
    audit_free(a);
    return rc;
}

void audit_close(struct audit *a)
{
    if (!a)
        return;
    if (a->regular && !a->failed && a->head_seq != a->seq) {
        char why[400];
        checkpoint_write(a, a->seq, a->prev, a->fsync_mode == AUDIT_FSYNC_ALWAYS, why,
                         sizeof(why));
    }
    audit_free(a);
}

/* Streams the log in fixed chunks; a line is kept only up to AUDIT_MAX_LINE
 * bytes so a file without newlines cannot exhaust memory. */
struct reader {
    int fd;
    char *buf;
    size_t pos, end;
    int eof;
};

enum { READ_LINE = 1, READ_TORN = 2, READ_EOF = 0, READ_TOO_LONG = 3 };

static int reader_line(struct reader *r, struct sbuf *line)
{
    line->len = 0;
    if (line->p)
        line->p[0] = '\0';
    for (;;) {
        if (r->pos == r->end) {
            if (r->eof)
                return line->len ? READ_TORN : READ_EOF;
            ssize_t n = read(r->fd, r->buf, AUDIT_READ_BUF);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return DC_EIO;
            }
            r->pos = 0;
            r->end = (size_t)n;
            if (n == 0)
                r->eof = 1;
            continue;
        }
        const char *start = r->buf + r->pos;
        size_t avail = r->end - r->pos;
        const char *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) + 1 : avail;
        if (line->len + take > AUDIT_MAX_LINE + 1)
            return READ_TOO_LONG;
        if (sbuf_add(line, start, take) != DC_OK)
            return DC_ENOMEM;
        r->pos += take;
        if (nl)
            return READ_LINE;
    }
}

static void report_bad(struct audit_verify_report *rep, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report_bad(struct audit_verify_report *rep, uint64_t line, const char *fmt, ...)
{
    va_list ap;
    rep->ok = 0;
    rep->bad_line = line;
    va_start(ap, fmt);
    vsnprintf(rep->reason, sizeof(rep->reason), fmt, ap);
    va_end(ap);
}

/* Fills rep->reason with prefix + text, cut to fit. */
static void report_text(struct audit_verify_report *rep, uint64_t line, const char *prefix,
                        const char *text)
{
    size_t cap = sizeof(rep->reason) - 1;
    size_t pl = strnlen(prefix, cap);
    size_t tl = strnlen(text, cap - pl);
    rep->ok = 0;
    rep->bad_line = line;
    memcpy(rep->reason, prefix, pl);
    memcpy(rep->reason + pl, text, tl);
    rep->reason[pl + tl] = '\0';
}

int audit_verify(const char *path, struct audit_verify_report *rep)
{
    int rc = DC_OK;
    struct reader r = {.fd = -1};
    struct sbuf line;
    char *head_path = NULL;
    int has_head = 0, head_bad = 0;
    uint64_t head_seq = 0, lineno = 0;
    char head_hash[65] = "", prev[65], why[400], head_why[400] = "";
    sbuf_init(&line);
    if (!rep)
        return DC_EINVAL;
    memset(rep, 0, sizeof(*rep));
    memcpy(prev, zero_hash, sizeof(prev));
    if (!path || !*path) {
        snprintf(rep->reason, sizeof(rep->reason), "no audit log path given");
        return DC_EINVAL;
    }
    r.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r.fd < 0) {
        rc = errno == ENOENT ? DC_ENOTFOUND : DC_EIO;
        snprintf(rep->reason, sizeof(rep->reason), "cannot open audit log %s: %s", path,
                 strerror(errno));
        goto cleanup;
    }
    r.buf = malloc(AUDIT_READ_BUF);
    size_t hlen = strlen(path) + 6;
    head_path = malloc(hlen);
    if (!r.buf || !head_path) {
        rc = DC_ENOMEM;
        snprintf(rep->reason, sizeof(rep->reason), "out of memory");
        goto cleanup;
    }
    snprintf(head_path, hlen, "%s.head", path);
    int hrc = checkpoint_read(head_path, &has_head, &head_seq, head_hash, head_why,
                              sizeof(head_why));
    if (hrc == DC_EINVAL) {
        has_head = 0;
        head_bad = 1;
    } else if (hrc != DC_OK) {
        rc = hrc;
        report_text(rep, 0, "", head_why);
        goto cleanup;
    }
    for (;;) {
        int st = reader_line(&r, &line);
        if (st == READ_EOF)
            break;
        if (st < 0) {
            rc = st;
            snprintf(rep->reason, sizeof(rep->reason), "audit log %s: read failed after line %"
                     PRIu64 ": %s", path, lineno, st == DC_ENOMEM ? "out of memory"
                     : strerror(errno));
            goto cleanup;
        }
        lineno++;
        if (st == READ_TOO_LONG) {
            report_bad(rep, lineno, "line longer than %zu bytes: not an audit record",
                       AUDIT_MAX_LINE);
            goto cleanup;
        }
        if (st == READ_TORN) {
            report_bad(rep, lineno, "truncated last line (no trailing newline): the last record "
                       "was cut off, by a crash during a write or by editing");
            goto cleanup;
        }
        size_t len = line.len - 1;
        uint64_t seq = 0;
        char lprev[65];
        int pr = line_parse(line.p, len, &seq, lprev, why, sizeof(why));
        if (pr == LINE_BAD_JSON || pr == LINE_BAD_SEQ) {
            report_text(rep, lineno, "", why);
            goto cleanup;
        }
        if (seq != lineno) {
            report_bad(rep, lineno, "seq %" PRIu64 " where %" PRIu64 " was expected: a record "
                       "was deleted, inserted or reordered", seq, lineno);
            goto cleanup;
        }
        if (pr == LINE_BAD_PREV) {
            report_text(rep, lineno, "", why);
            goto cleanup;
        }
        if (strcmp(lprev, prev) != 0) {
            if (lineno == 1)
                report_bad(rep, lineno, "prev mismatch: the first record must have 64 zeros "
                           "as prev");
            else
                report_bad(rep, lineno, "prev mismatch: prev is not the SHA-256 of line %" PRIu64
                           ": that line was altered, or records were reordered", lineno - 1);
            goto cleanup;
        }
        if (util_sha256_hex(line.p, len, prev) != DC_OK) {
            rc = DC_ERR;
            snprintf(rep->reason, sizeof(rep->reason), "SHA-256 failed");
            goto cleanup;
        }
        if (has_head && seq == head_seq && strcmp(prev, head_hash) != 0) {
            report_bad(rep, lineno, "checkpoint mismatch: record %" PRIu64 " differs from the "
                       "one recorded in the checkpoint (.head file)", seq);
            goto cleanup;
        }
        rep->records++;
    }
    if (head_bad) {
        report_text(rep, 0, "checkpoint mismatch: ", head_why);
        goto cleanup;
    }
    if (has_head && rep->records < head_seq) {
        report_bad(rep, rep->records + 1, "checkpoint mismatch: the log ends after record %"
                   PRIu64 " but the checkpoint (.head file) records %" PRIu64 ": records were "
                   "deleted from the end", rep->records, head_seq);
        goto cleanup;
    }
    rep->ok = 1;
cleanup:
    if (r.fd >= 0)
        close(r.fd);
    free(r.buf);
    free(head_path);
    sbuf_free(&line);
    return rc;
}
