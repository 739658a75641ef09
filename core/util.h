/*
 * util - small helpers every core module uses: a growable string buffer,
 * bounded error formatting, clocks and file reading.
 * It owns no state and never prints: callers decide what reaches the user.
 */
#ifndef DC_UTIL_H
#define DC_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct sbuf {
    char *p;    /* always NUL-terminated once anything was added */
    size_t len;
    size_t cap;
    int oom;    /* sticky: an append failed */
};

void sbuf_init(struct sbuf *b);
void sbuf_free(struct sbuf *b);
/* Empties b, keeping its memory. */
void sbuf_reset(struct sbuf *b);
int sbuf_add(struct sbuf *b, const char *s, size_t n);
int sbuf_adds(struct sbuf *b, const char *s);
int sbuf_addf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sbuf_vaddf(struct sbuf *b, const char *fmt, va_list ap);
/* Returns the buffer (caller frees) and resets b; "" when empty; NULL on OOM. */
char *sbuf_detach(struct sbuf *b);

/* snprintf into err (if non-NULL) and return code. */
int util_err(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

int64_t util_now_us(void);       /* monotonic microseconds */
void util_iso_time(char out[32]); /* wall clock, UTC, RFC 3339 with microseconds */

/* Reads a whole file (at most max bytes, else DC_ELIMIT); *out NUL-terminated. */
int util_read_file(const char *path, size_t max, char **out, size_t *len,
                   char *err, size_t errlen);
/* Replaces path with len bytes of text so that a reader sees the old file
 * or the new one, never part of one: written to "<path>.<pid>.tmp" (created
 * fresh with O_EXCL | O_NOFOLLOW and the given mode), fsync'ed when sync is
 * non-zero, then renamed over path. On failure the temporary file is gone
 * and err names the step and the file; DC_EIO, or DC_ENOMEM. */
int util_write_file_atomic(const char *path, const char *text, size_t len, unsigned mode,
                           int sync, char *err, size_t errlen);

/* Levenshtein distance ignoring ASCII case, for "did you mean" hints;
 * SIZE_MAX when either string is longer than 64 bytes. */
size_t util_edit_distance(const char *a, const char *b);
/* Non-zero when the n bytes are well-formed UTF-8 (no overlong forms,
 * surrogates or code points past U+10FFFF). */
int util_utf8_valid(const char *s, size_t n);
/* Length of the well-formed UTF-8 sequence at s (at most n bytes), 0 when
 * it is malformed. */
size_t util_utf8_seq_len(const unsigned char *s, size_t n);
char *util_strdup(const char *s);          /* NULL-safe, NULL on OOM */
char *util_strndup(const char *s, size_t n);
/* Directory part of a path ("." when none); caller frees. */
char *util_dirname(const char *path);
/* path if absolute, else base/path; caller frees. */
char *util_join_path(const char *base, const char *path);
/* Lowercase hex SHA-256 of data into out[65]; DC_ERR if the digest failed. */
int util_sha256_hex(const void *data, size_t n, char out[65]);

#endif
