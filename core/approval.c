#include "approval.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <datachat/value.h>

#include "sha256.h"
#include "util.h"

#define APPROVAL_FILE_MAX (4u << 20)
/* Records this long past their expiry are dropped on the next write. */
#define APPROVAL_KEEP_S 3600

/* The store under its lock: lockfd is held with flock(LOCK_EX) from load to
 * close so the CLI and the server never interleave read-modify-write. */
struct store {
    int lockfd;
    json_t *root; /* {"approvals": [ {...}, ... ]} */
    json_t *list; /* borrowed from root */
};

void approval_binding(const char *tool, const char *canon_args, char out[65])
{
    struct sha256 s;
    unsigned char d[32];
    sha256_init(&s);
    sha256_update(&s, tool, strlen(tool));
    sha256_update(&s, "\n", 1);
    sha256_update(&s, canon_args, strlen(canon_args));
    sha256_final(&s, d);
    sha256_hex(d, out);
}

int approval_timeout(int64_t *out, char *err, size_t errlen)
{
    const char *v = getenv("DATACHAT_APPROVAL_TIMEOUT_S");
    *out = APPROVAL_DEFAULT_TIMEOUT_S;
    if (!v)
        return DC_OK;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || !end || *end || end == v || n < 1 || n > 86400)
        return util_err(err, errlen, DC_EINVAL, "E-APPROVAL-TIMEOUT: DATACHAT_APPROVAL_TIMEOUT_S"
                        "='%s' is not a number of seconds between 1 and 86400", v);
    *out = n;
    return DC_OK;
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static int random_hex(char *out, size_t nbytes)
{
    unsigned char b[32];
    if (nbytes > sizeof(b))
        return DC_EINVAL;
    size_t got = 0;
    while (got < nbytes) {
        ssize_t n = getrandom(b + got, nbytes - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return DC_EIO;
        got += (size_t)n;
    }
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return DC_OK;
}

static void token_hash(const char *token, char out[65])
{
    unsigned char d[32];
    struct sha256 s;
    sha256_init(&s);
    sha256_update(&s, token, strlen(token));
    sha256_final(&s, d);
    sha256_hex(d, out);
}

static void store_close(struct store *st)
{
    json_decref(st->root);
    st->root = NULL;
    if (st->lockfd >= 0)
        close(st->lockfd); /* releases the flock */
    st->lockfd = -1;
}

static int store_load(const char *path, struct store *st, char *err, size_t errlen)
{
    int rc = DC_OK;
    char *lock = NULL, *text = NULL;
    size_t len = 0;
    st->lockfd = -1;
    st->root = NULL;
    size_t n = strlen(path) + 6;
    lock = malloc(n);
    if (!lock)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    snprintf(lock, n, "%s.lock", path);
    st->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (st->lockfd < 0) {
        rc = util_err(err, errlen, DC_EIO, "%s: cannot open: %s (is the var directory "
                      "writable?)", lock, strerror(errno));
        goto cleanup;
    }
    while (flock(st->lockfd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            rc = util_err(err, errlen, DC_EIO, "%s: cannot lock: %s", lock, strerror(errno));
            goto cleanup;
        }
    }
    struct stat sb;
    if (stat(path, &sb) == 0) {
        char rerr[256] = "";
        rc = util_read_file(path, APPROVAL_FILE_MAX, &text, &len, rerr, sizeof(rerr));
        if (rc != DC_OK) {
            rc = util_err(err, errlen, rc, "%s: %s", path, rerr);
            goto cleanup;
        }
        json_error_t je;
        st->root = json_loadb(text, len, 0, &je);
        if (!st->root || !json_is_array(json_object_get(st->root, "approvals"))) {
            rc = util_err(err, errlen, DC_EINVAL, "%s:%d: E-APPROVAL-STORE: not an approvals "
                          "file (%s); remove it to start afresh", path, je.line,
                          st->root ? "no \"approvals\" list" : je.text);
            goto cleanup;
        }
    } else {
        st->root = json_pack("{s:[]}", "approvals");
        if (!st->root) {
            rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
            goto cleanup;
        }
    }
    st->list = json_object_get(st->root, "approvals");
cleanup:
    if (rc != DC_OK)
        store_close(st);
    free(lock);
    free(text);
    return rc;
}

/* Writes a temporary file and renames it over the store, so a crash leaves
 * the old or the new list, never half of one. Old records are dropped. */
static int store_save(const char *path, struct store *st, char *err, size_t errlen)
{
    int64_t now = now_s();
    for (size_t i = json_array_size(st->list); i-- > 0;) {
        json_t *r = json_array_get(st->list, i);
        if (json_integer_value(json_object_get(r, "expires")) + APPROVAL_KEEP_S < now)
            json_array_remove(st->list, i);
    }
    char *text = json_dumps(st->root, JSON_INDENT(1));
    if (!text)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    char werr[512];
    int rc = util_write_file_atomic(path, text, strlen(text), 0600, 1, werr, sizeof(werr));
    if (rc != DC_OK)
        util_err(err, errlen, rc, "cannot write the approvals file: %s", werr);
    free(text);
    return rc;
}

static json_t *find_by(json_t *list, const char *key, const char *value)
{
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        const char *v = json_string_value(json_object_get(r, key));
        if (v && strcmp(v, value) == 0)
            return r;
    }
    return NULL;
}

int approval_request(const char *path, const char *tool, const char *canon_args,
                     int64_t timeout_s, char id[33], char *err, size_t errlen)
{
    struct store st;
    char bind[65];
    approval_binding(tool, canon_args, bind);
    if (random_hex(id, 16) != DC_OK)
        return util_err(err, errlen, DC_EIO, "no randomness for an approval id");
    int rc = store_load(path, &st, err, errlen);
    if (rc != DC_OK)
        return rc;
    int64_t now = now_s();
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "id", id, "tool", tool, "binding",
                          bind, "state", "pending", "created", (json_int_t)now, "expires",
                          (json_int_t)(now + timeout_s));
    if (!r || json_array_append_new(st.list, r) != 0)
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
    else
        rc = store_save(path, &st, err, errlen);
    store_close(&st);
    return rc;
}

int approval_grant(const char *path, const char *id, int64_t timeout_s, char token[65],
                   char code[32], char *err, size_t errlen)
{
    struct store st;
    code[0] = '\0';
    int rc = store_load(path, &st, err, errlen);
    if (rc != DC_OK)
        return rc;
    json_t *r = find_by(st.list, "id", id);
    const char *state = r ? json_string_value(json_object_get(r, "state")) : NULL;
    char th[65];
    if (!r) {
        snprintf(code, 32, "E-APPROVAL-UNKNOWN");
        rc = util_err(err, errlen, DC_ENOTFOUND, "no pending approval has id '%s' (ids are "
                      "printed by the refused call)", id);
    } else if (json_integer_value(json_object_get(r, "expires")) < now_s()) {
        snprintf(code, 32, "E-APPROVAL-EXPIRED");
        rc = util_err(err, errlen, DC_EDENIED, "approval '%s' expired; call the tool again for "
                      "a new one", id);
    } else if (!state || strcmp(state, "pending") != 0) {
        snprintf(code, 32, "E-APPROVAL-GRANTED");
        rc = util_err(err, errlen, DC_EDENIED, "approval '%s' was already granted; each is "
                      "granted once", id);
    } else if (random_hex(token, 32) != DC_OK) {
        rc = util_err(err, errlen, DC_EIO, "no randomness for an approval token");
    } else {
        token_hash(token, th);
        json_object_set_new(r, "state", json_string("granted"));
        json_object_set_new(r, "token_sha256", json_string(th));
        json_object_set_new(r, "expires", json_integer((json_int_t)(now_s() + timeout_s)));
        rc = store_save(path, &st, err, errlen);
    }
    store_close(&st);
    return rc;
}

int approval_consume(const char *path, const char *token, const char *tool,
                     const char *canon_args, char code[32], char *err, size_t errlen)
{
    struct store st;
    char th[65], bind[65];
    code[0] = '\0';
    token_hash(token, th);
    approval_binding(tool, canon_args, bind);
    int rc = store_load(path, &st, err, errlen);
    if (rc != DC_OK)
        return rc;
    json_t *r = find_by(st.list, "token_sha256", th);
    const char *state = r ? json_string_value(json_object_get(r, "state")) : NULL;
    const char *b = r ? json_string_value(json_object_get(r, "binding")) : NULL;
    if (!r) {
        snprintf(code, 32, "E-APPROVAL-INVALID");
        rc = util_err(err, errlen, DC_EDENIED, "the approval token is not one this "
                      "installation granted");
    } else if (state && strcmp(state, "used") == 0) {
        snprintf(code, 32, "E-APPROVAL-REUSED");
        rc = util_err(err, errlen, DC_EDENIED, "the approval token was already used; a token "
                      "allows one call");
    } else if (json_integer_value(json_object_get(r, "expires")) < now_s()) {
        snprintf(code, 32, "E-APPROVAL-EXPIRED");
        rc = util_err(err, errlen, DC_EDENIED, "the approval token expired; call the tool "
                      "again for a new approval");
    } else if (!b || strcmp(b, bind) != 0) {
        snprintf(code, 32, "E-APPROVAL-MISMATCH");
        rc = util_err(err, errlen, DC_EDENIED, "the approval token was granted for another "
                      "tool or other arguments");
    } else {
        json_object_set_new(r, "state", json_string("used"));
        rc = store_save(path, &st, err, errlen);
    }
    store_close(&st);
    return rc;
}
