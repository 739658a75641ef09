/*
 * retrieval - the search index behind "what is this question about": an
 * SQLite FTS5 table (bm25) over DataPoints, one catalog's tables and
 * columns, and the profiled values of schema DataPoints.
 * It owns the documents and their typed ids ("dp:revenue", "table:orders",
 * "column:orders.status", "value:customers.country=Brazil"), the index file
 * (reused only while a checksum over every indexed text matches, replaced
 * atomically, rebuilt when unreadable) and the query builder that turns user
 * text into a MATCH expression. It never reads DataPoint files or databases:
 * the caller hands in both sources. User text never reaches FTS5 syntax
 * unquoted.
 */
#ifndef DC_RETRIEVAL_H
#define DC_RETRIEVAL_H

#include <stddef.h>

struct dp_set;
struct dc_schema;
struct retrieval;

enum retrieval_kind { RETR_DP = 1, RETR_TABLE = 2, RETR_COLUMN = 3, RETR_VALUE = 4 };

/* Upper bounds a search honours: a question yields at most this many terms,
 * and a search at most RETRIEVAL_MAX_K hits. */
#define RETRIEVAL_MAX_TERMS 16
#define RETRIEVAL_MAX_K 100

/* What gets indexed. Both borrowed: they must outlive the index, which
 * rebuilds from them when its file turns out to be corrupt. Either may be
 * NULL. Schema DataPoints enrich the table of the same name and give value
 * documents only for tables and columns present in schema: a catalog the
 * caller filtered for a principal therefore filters the index too.
 * database is copied. */
struct retrieval_src {
    const struct dp_set *dps;
    const struct dc_schema *schema;
    const char *database; /* DataPoints tied to another database are left out */
    /* Optional, for a process that has not loaded its DataPoints:
     * dp_fingerprint (dp_dirs_fingerprint, stat only) stands for them, and
     * load_dps(load_arg) loads them (borrowed, like dps) only when the index
     * has to be checked or built from them. A file whose key (format,
     * database, dp_fingerprint and a digest of schema) matches is used
     * without loading anything; one whose key differs but whose checksum
     * over every indexed text still matches is used and given the new key. */
    const char *dp_fingerprint;
    const struct dp_set *(*load_dps)(void *load_arg);
    void *load_arg;
};

struct retrieval_hit {
    const char *id;   /* owned by the index, valid until retrieval_close */
    int kind;         /* enum retrieval_kind */
    double score;     /* bm25, negated: higher is better, > 0 */
};

/* Opens the index of src. With path set, a file there whose checksum
 * matches is used as is; otherwise (absent, stale, corrupt, other format)
 * the index is built in memory and written to path (mode 0600, temp file +
 * rename). A file that cannot be written only costs the next process a
 * rebuild. path NULL: memory only. */
int retrieval_open(const struct retrieval_src *src, const char *path, struct retrieval **out,
                   char *err, size_t errlen);
void retrieval_close(struct retrieval *r);

size_t retrieval_ndocs(const struct retrieval *r);
/* Lowercase hex SHA-256 of everything indexed. */
const char *retrieval_checksum(const struct retrieval *r);
/* How the index came to be: "file", "built", "built; saved", or why a file
 * was not used ("rebuilt: stale file"). */
const char *retrieval_origin(const struct retrieval *r);

/* The checksum src would have, without building anything. */
int retrieval_src_checksum(const struct retrieval_src *src, char out[65]);

/* Turns user text (any bytes) into an FTS5 MATCH expression: words of
 * letters and digits, lowercased, stop words dropped, at most
 * RETRIEVAL_MAX_TERMS distinct ones, each double-quoted (prefix-matched when
 * 3 bytes or longer) and joined with OR. *out is malloc'd. DC_ENOTFOUND when
 * no term remains (*out NULL). */
int retrieval_match_expr(const char *text, size_t len, char **out);

/* 1 when text holds a word a search would look for (what
 * retrieval_match_expr keeps), 0 when it is only stop words and
 * punctuation ("list tables"). Reads no index: callers use it to skip
 * opening one. */
int retrieval_has_terms(const char *text, size_t len);

/* The best k (at most RETRIEVAL_MAX_K) documents for question, best first.
 * *n may be 0. Safe to call from several threads. */
int retrieval_search(struct retrieval *r, const char *question, size_t k,
                     struct retrieval_hit *hits, size_t *n, char *err, size_t errlen);

const char *retrieval_kind_name(int kind); /* "dp", "table", "column", "value" */

#endif
