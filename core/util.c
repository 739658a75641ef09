#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <datachat/value.h>

#include "sha256.h"

void sbuf_init(struct sbuf *b)
{
    memset(b, 0, sizeof(*b));
}

void sbuf_free(struct sbuf *b)
{
    free(b->p);
    sbuf_init(b);
}

void sbuf_reset(struct sbuf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

static int sbuf_grow(struct sbuf *b, size_t need)
{
    if (b->oom)
        return DC_ENOMEM;
    if (b->len + need + 1 <= b->cap)
        return DC_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + need + 1) {
        if (cap > SIZE_MAX / 2) {
            b->oom = 1;
            return DC_ENOMEM;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return DC_ENOMEM;
    }
    b->p = p;
    b->cap = cap;
    return DC_OK;
}

int sbuf_add(struct sbuf *b, const char *s, size_t n)
{
    if (sbuf_grow(b, n) != DC_OK)
        return DC_ENOMEM;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return DC_OK;
}

int sbuf_adds(struct sbuf *b, const char *s)
{
    return sbuf_add(b, s ? s : "", s ? strlen(s) : 0);
}

int sbuf_vaddf(struct sbuf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return DC_EINVAL;
    if (sbuf_grow(b, (size_t)n) != DC_OK)
        return DC_ENOMEM;
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return DC_OK;
}

int sbuf_addf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = sbuf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *sbuf_detach(struct sbuf *b)
{
    if (b->oom) {
        sbuf_free(b);
        return NULL;
    }
    char *p = b->p ? b->p : strdup("");
    sbuf_init(b);
    return p;
}

int util_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

int64_t util_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void util_iso_time(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%06dZ", (int)(ts.tv_nsec / 1000));
}

int util_read_file(const char *path, size_t max, char **out, size_t *len,
                   char *err, size_t errlen)
{
    int rc = DC_OK;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return util_err(err, errlen, DC_EIO, "%s: cannot open: %s", path, strerror(errno));
    for (;;) {
        if (n + 4096 + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 8192;
            char *p = realloc(buf, ncap);
            if (!p) {
                rc = util_err(err, errlen, DC_ENOMEM, "%s: out of memory", path);
                goto cleanup;
            }
            buf = p;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = util_err(err, errlen, DC_EIO, "%s: read failed: %s", path, strerror(errno));
            goto cleanup;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            rc = util_err(err, errlen, DC_ELIMIT, "%s: larger than %zu bytes", path, max);
            goto cleanup;
        }
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    buf = NULL;
cleanup:
    free(buf);
    close(fd);
    return rc;
}

char *util_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *util_strndup(const char *s, size_t n)
{
    return s ? strndup(s, n) : NULL;
}

char *util_dirname(const char *path)
{
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

char *util_join_path(const char *base, const char *path)
{
    if (!path)
        return NULL;
    if (path[0] == '/' || !base || !*base)
        return strdup(path);
    struct sbuf b;
    sbuf_init(&b);
    sbuf_adds(&b, base);
    if (b.len && b.p[b.len - 1] != '/')
        sbuf_adds(&b, "/");
    sbuf_adds(&b, path);
    return sbuf_detach(&b);
}

int util_sha256_hex(const void *data, size_t n, char out[65])
{
    struct sha256 st;
    unsigned char md[32];
    sha256_init(&st);
    sha256_update(&st, data, n);
    sha256_final(&st, md);
    sha256_hex(md, out);
    return DC_OK;
}

size_t util_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[65];
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best =
                diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

size_t util_utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

int util_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0, l; i < n; i += l)
        if (!(l = util_utf8_seq_len(u + i, n - i)))
            return 0;
    return 1;
}

int util_write_file_atomic(const char *path, const char *text, size_t len, unsigned mode,
                           int sync, char *err, size_t errlen)
{
    struct sbuf b;
    sbuf_init(&b);
    if (sbuf_addf(&b, "%s.%ld.tmp", path, (long)getpid()) != DC_OK) {
        sbuf_free(&b);
        return util_err(err, errlen, DC_ENOMEM, "%s: out of memory", path);
    }
    const char *tmp = b.p;
    int rc = DC_OK;
    /* A file left by a crashed writer with the same pid is stale. */
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
    if (fd < 0) {
        rc = util_err(err, errlen, DC_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        goto cleanup;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = util_err(err, errlen, DC_EIO, "%s: cannot write: %s", tmp,
                          w < 0 ? strerror(errno) : "no progress");
            goto cleanup;
        }
        off += (size_t)w;
    }
    if (sync && fsync(fd) != 0) {
        rc = util_err(err, errlen, DC_EIO, "%s: cannot write: %s", tmp, strerror(errno));
        goto cleanup;
    }
    int crc = close(fd);
    fd = -1;
    if (crc != 0) {
        rc = util_err(err, errlen, DC_EIO, "%s: cannot write: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (rename(tmp, path) != 0)
        rc = util_err(err, errlen, DC_EIO, "%s: cannot replace it: %s", path, strerror(errno));
cleanup:
    if (fd >= 0)
        close(fd);
    if (rc != DC_OK)
        unlink(tmp);
    sbuf_free(&b);
    return rc;
}
