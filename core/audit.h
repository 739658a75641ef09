/*
 * audit - the append-only, hash-chained JSONL audit log.
 * It owns the log file: one JSON object per line, each carrying "prev", the
 * SHA-256 of the previous line's bytes (64 zeros for the first), and a
 * sequence number. A failed write or fsync fails closed: the caller must
 * refuse the request it was recording. It never rewrites or truncates
 * earlier records.
 */
#ifndef DC_AUDIT_H
#define DC_AUDIT_H

#include <stddef.h>
#include <stdint.h>

struct audit;

enum audit_fsync { AUDIT_FSYNC_ALWAYS = 0, AUDIT_FSYNC_NEVER = 1 };

struct audit_record {
    const char *event;       /* "query", "refusal", "error" */
    const char *principal;
    const char *os_user;     /* NULL = looked up from the process */
    const char *database;
    const char *sql;         /* the SQL actually run (after any rewrite) */
    const char *const *tables; /* tables touched */
    size_t ntables;
    int64_t rows;            /* -1 when not applicable */
    int64_t duration_us;     /* -1 when not applicable */
    const char *outcome;     /* "ok", "refused", "error" */
    const char *code;        /* stable reason code, NULL on ok */
    const char *reason;      /* human text, NULL on ok */
    const char *result_hash; /* SHA-256 hex of the result, NULL if none */
    const char *question;    /* the natural-language request, NULL if none */
    const char *policy;      /* the access policy applied (views, limits), NULL if none */
    /* Tool calls (core/tools.c); left out of the record when unset. */
    const char *tool;        /* the tool's configured name, NULL if not a tool call */
    int tool_tier;           /* 1..5, 0 when not a tool call */
    const char *args_sha256; /* SHA-256 hex of the canonical arguments, NULL if none */
};

/* Opens (creating with mode 0600 and parent directories as needed) and
 * reads the last line to continue the chain. */
int audit_open(const char *path, int fsync_mode, struct audit **out, char *err, size_t errlen);
void audit_close(struct audit *a);

/* Appends one record; thread-safe. On any write/fsync failure returns
 * DC_EIO with the reason in err, and the log is left with every earlier
 * record intact. */
int audit_append(struct audit *a, const struct audit_record *rec, char *err, size_t errlen);

struct audit_verify_report {
    int ok;
    uint64_t records;        /* records checked (valid ones) */
    uint64_t bad_line;       /* 1-based first bad line, 0 if ok */
    char reason[256];
};

/* Verifies the whole chain; reports the first bad line and why (bad JSON,
 * prev mismatch, sequence gap or reorder, truncated last line, checkpoint
 * mismatch). Returns DC_OK when the file could be read (whatever the
 * verdict), negative when it could not. */
int audit_verify(const char *path, struct audit_verify_report *rep);

#endif
