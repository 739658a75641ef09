#include "retrieval.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <datachat/host.h>

#include "datapoint.h"
#include "schema.h"
#include "sha256.h"
#include "util.h"

/* Bump when the documents or the table layout change: an older file then
 * fails the checksum and is rebuilt. */
#define RETR_FORMAT "datachat-retrieval-2"
#define RETR_TERM_MAX 64
#define RETR_VALUE_MAX 200

/* Column weights, in table order (id and kind are unindexed): what a thing
 * is called and its synonyms count far above the words of its definition,
 * which count above the context it appears in. */
#define RETR_RANK "dc_rank(0, 0, 10.0, 8.0, 3.0, 2.0, 1.0)"
#define RETR_K1 1.2
#define RETR_B 0.75

struct rdoc {
    const char *id;
    int kind;
    const char *name, *synonyms, *tags, *body, *context;
};

typedef int (*emit_fn)(void *arg, const struct rdoc *d);

/* A question's terms, as typed (lowercased) and as the index stores them
 * (the tokenizer's stem), with how many documents they match at most. */
struct qterm {
    char text[RETR_TERM_MAX + 1];
    int prefix;
    double df;
};

struct retrieval {
    sqlite3 *db;
    sqlite3_stmt *search, *df; /* prepared once per database */
    Fts5Tokenizer *tok;        /* the index's own tokenizer, for stems */
    fts5_tokenizer tokapi;
    struct retrieval_src src;
    char *database; /* src.database's copy */
    char *fingerprint; /* src.dp_fingerprint's copy */
    char *path;
    char key[65];      /* format, database, DataPoint fingerprint, catalog */
    char checksum[65]; /* every indexed text; "" until computed or read */
    size_t ndocs;
    char origin[160];
    pthread_mutex_t lock;
    /* Per-search scratch (under lock): no allocation per question. */
    struct qterm terms[RETRIEVAL_MAX_TERMS];
    char expr[RETRIEVAL_MAX_TERMS * (2 * RETR_TERM_MAX + 8)];
    /* The same term, limited to what documents are called, when one common
     * term alone is over the budget (see cut_terms). */
    char narrow[2 * RETR_TERM_MAX + 48];
    int has_narrow;
    char stem[RETR_TERM_MAX * 4 + 1];
    int nstem;
    /* Ids handed out by searches, interned so that they stay valid for the
     * life of the index (open addressing, power-of-two capacity). */
    char **ids;
    size_t nids, idcap;
};

/* ---- documents ----------------------------------------------------------- */

/* Appends s, and when it is snake_case or CamelCase also its words, so that
 * "InvoiceLine" is found by "invoice line" as well as by "invoiceline". */
static void add_name(struct sbuf *b, const char *s)
{
    if (!s || !*s)
        return;
    if (b->len)
        sbuf_adds(b, " ");
    sbuf_adds(b, s);
    int split = 0;
    for (const char *p = s; *p; p++)
        if (*p == '_' || (p > s && isupper((unsigned char)*p) && islower((unsigned char)p[-1])))
            split = 1;
    if (!split)
        return;
    sbuf_adds(b, " ");
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (p > s && isupper(c) &&
            (islower((unsigned char)p[-1]) ||
             (isupper((unsigned char)p[-1]) && islower((unsigned char)p[1]))))
            sbuf_adds(b, " ");
        sbuf_add(b, c == '_' ? " " : p, 1);
    }
}

static void add_text(struct sbuf *b, const char *s)
{
    if (!s || !*s)
        return;
    if (b->len)
        sbuf_adds(b, " ; ");
    sbuf_adds(b, s);
}

static void add_list(struct sbuf *b, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        add_text(b, v[i]);
}

struct docbuf {
    struct sbuf id, name, synonyms, tags, body, context;
};

static void docbuf_reset(struct docbuf *d)
{
    sbuf_reset(&d->id);
    sbuf_reset(&d->name);
    sbuf_reset(&d->synonyms);
    sbuf_reset(&d->tags);
    sbuf_reset(&d->body);
    sbuf_reset(&d->context);
}

static void docbuf_free(struct docbuf *d)
{
    sbuf_free(&d->id);
    sbuf_free(&d->name);
    sbuf_free(&d->synonyms);
    sbuf_free(&d->tags);
    sbuf_free(&d->body);
    sbuf_free(&d->context);
}

static const char *sb(const struct sbuf *b)
{
    return b->p ? b->p : "";
}

static int docbuf_emit(struct docbuf *d, int kind, emit_fn fn, void *arg)
{
    if (d->id.oom || d->name.oom || d->synonyms.oom || d->tags.oom || d->body.oom ||
        d->context.oom)
        return DC_ENOMEM;
    struct rdoc r = {sb(&d->id),   kind,         sb(&d->name),   sb(&d->synonyms),
                     sb(&d->tags), sb(&d->body), sb(&d->context)};
    return fn(arg, &r);
}

struct schema_dp {
    const char *table;
    const struct dc_datapoint_info *info;
};

static int schema_dp_cmp(const void *a, const void *b)
{
    return strcasecmp(((const struct schema_dp *)a)->table, ((const struct schema_dp *)b)->table);
}

static const struct dc_dp_column *dp_column(const struct dc_datapoint_info *info,
                                            const char *name)
{
    for (size_t i = 0; info && i < info->ncolumns; i++)
        if (info->columns[i]->name && strcasecmp(info->columns[i]->name, name) == 0)
            return info->columns[i];
    return NULL;
}

/* Every document of src, in a fixed order, to fn. Both the checksum and the
 * build walk this, so they can never disagree about what is indexed. */
static int walk_docs(const struct retrieval_src *src, emit_fn fn, void *arg)
{
    int rc = DC_OK;
    struct docbuf d;
    memset(&d, 0, sizeof(d));
    size_t ndp = src->dps ? dp_set_count(src->dps) : 0, nsch = 0;
    struct schema_dp *sch = calloc(ndp ? ndp : 1, sizeof(*sch));
    if (!sch)
        return DC_ENOMEM;

    for (size_t i = 0; i < ndp && rc == DC_OK; i++) {
        const struct dc_datapoint_info *info = dp_info(dp_set_at(src->dps, i));
        if (!info || !info->id ||
            (src->database && info->database && strcmp(info->database, src->database) != 0))
            continue;
        if (info->type && strcmp(info->type, "schema") == 0) {
            if (info->table)
                sch[nsch++] = (struct schema_dp){info->table, info};
            continue;
        }
        docbuf_reset(&d);
        sbuf_addf(&d.id, "dp:%s", info->id);
        add_name(&d.name, info->name);
        add_name(&d.name, info->id);
        add_list(&d.synonyms, info->synonyms, info->nsynonyms);
        add_list(&d.tags, info->tags, info->ntags);
        add_text(&d.body, info->definition);
        add_text(&d.context, info->type);
        for (size_t s = 0; s < info->ndata_sources; s++) {
            const struct dc_dp_source *ds = info->data_sources[s];
            add_name(&d.context, ds->table);
            for (size_t c = 0; c < ds->ncolumns; c++)
                add_name(&d.context, ds->columns[c]);
        }
        rc = docbuf_emit(&d, RETR_DP, fn, arg);
    }
    qsort(sch, nsch, sizeof(*sch), schema_dp_cmp);

    size_t nt = src->schema ? schema_ntables(src->schema) : 0;
    for (size_t i = 0; i < nt && rc == DC_OK; i++) {
        const struct dc_table_info *t = schema_table(src->schema, i);
        if (!t || !t->name)
            continue;
        struct schema_dp key = {t->name, NULL};
        const struct schema_dp *sd = nsch ? bsearch(&key, sch, nsch, sizeof(*sch), schema_dp_cmp)
                                          : NULL;
        const struct dc_datapoint_info *info = sd ? sd->info : NULL;
        docbuf_reset(&d);
        sbuf_addf(&d.id, "table:%s", t->name);
        add_name(&d.name, t->name);
        add_text(&d.body, t->comment);
        if (info) {
            add_name(&d.name, info->name);
            add_list(&d.synonyms, info->synonyms, info->nsynonyms);
            add_list(&d.tags, info->tags, info->ntags);
            add_text(&d.body, info->definition);
        }
        add_text(&d.context, t->kind);
        for (size_t c = 0; c < t->ncolumns; c++)
            add_name(&d.context, t->columns[c].name);
        rc = docbuf_emit(&d, RETR_TABLE, fn, arg);

        for (size_t c = 0; c < t->ncolumns && rc == DC_OK; c++) {
            const struct dc_column_info *col = &t->columns[c];
            if (!col->name)
                continue;
            docbuf_reset(&d);
            sbuf_addf(&d.id, "column:%s.%s", t->name, col->name);
            add_name(&d.name, col->name);
            add_text(&d.body, col->comment);
            add_name(&d.context, t->name);
            rc = docbuf_emit(&d, RETR_COLUMN, fn, arg);

            const struct dc_dp_column *pc = dp_column(info, col->name);
            for (size_t v = 0; pc && v < pc->ntop_values && rc == DC_OK; v++) {
                const char *val = pc->top_values[v] ? pc->top_values[v]->value : NULL;
                if (!val || !*val || strlen(val) > RETR_VALUE_MAX)
                    continue;
                docbuf_reset(&d);
                sbuf_addf(&d.id, "value:%s.%s=%s", t->name, col->name, val);
                sbuf_adds(&d.name, val);
                add_name(&d.context, t->name);
                add_name(&d.context, col->name);
                rc = docbuf_emit(&d, RETR_VALUE, fn, arg);
            }
        }
    }
    docbuf_free(&d);
    free(sch);
    return rc;
}

struct hasher {
    struct sha256 s;
    size_t n;
};

static void hash_field(struct sha256 *s, const char *v)
{
    uint64_t len = strlen(v);
    unsigned char lb[8];
    for (int i = 0; i < 8; i++)
        lb[i] = (unsigned char)(len >> (8 * i));
    sha256_update(s, lb, sizeof(lb));
    sha256_update(s, v, (size_t)len);
}

static int hash_doc(void *arg, const struct rdoc *d)
{
    struct hasher *h = arg;
    char k[2] = {(char)('0' + d->kind), '\0'};
    hash_field(&h->s, d->id);
    hash_field(&h->s, k);
    hash_field(&h->s, d->name);
    hash_field(&h->s, d->synonyms);
    hash_field(&h->s, d->tags);
    hash_field(&h->s, d->body);
    hash_field(&h->s, d->context);
    h->n++;
    return DC_OK;
}

static int checksum_src(const struct retrieval_src *src, char out[65], size_t *ndocs)
{
    struct hasher h;
    unsigned char dg[32];
    sha256_init(&h.s);
    h.n = 0;
    hash_field(&h.s, RETR_FORMAT);
    int rc = walk_docs(src, hash_doc, &h);
    sha256_final(&h.s, dg);
    sha256_hex(dg, out);
    if (ndocs)
        *ndocs = h.n;
    return rc;
}

int retrieval_src_checksum(const struct retrieval_src *src, char out[65])
{
    if (!src || !out)
        return DC_EINVAL;
    return checksum_src(src, out, NULL);
}

/* ---- ranking ------------------------------------------------------------------ */

/* bm25 per column with Lucene's idf, log(1 + (N - n + 0.5) / (n + 0.5)).
 * FTS5's own bm25() floors the idf of a term found in half the documents or
 * more to almost zero, and in a small catalog ("orders" names a table, its
 * columns and most metrics) that left every document tied at 0. This idf
 * stays positive, so a term in the name column still outranks the same
 * term in a context column. */
struct rank_data {
    int nphrase, ncol;
    double *idf;   /* per phrase */
    double *avgdl; /* per column */
    int *freq;     /* nphrase x ncol, reused per row */
};

static int count_row(const Fts5ExtensionApi *api, Fts5Context *fts, void *arg)
{
    (void)api;
    (void)fts;
    (*(sqlite3_int64 *)arg)++;
    return SQLITE_OK;
}

static struct rank_data *rank_data_new(const Fts5ExtensionApi *api, Fts5Context *fts, int *rc)
{
    sqlite3_int64 nrow = 0;
    int np = api->xPhraseCount(fts), nc = api->xColumnCount(fts);
    struct rank_data *d = sqlite3_malloc64(sizeof(*d) + sizeof(double) * (size_t)(np + nc) +
                                           sizeof(int) * (size_t)np * (size_t)nc + 16);
    if (!d) {
        *rc = SQLITE_NOMEM;
        return NULL;
    }
    d->nphrase = np;
    d->ncol = nc;
    d->idf = (double *)(d + 1);
    d->avgdl = d->idf + np;
    d->freq = (int *)(d->avgdl + nc);
    *rc = api->xRowCount(fts, &nrow);
    for (int c = 0; *rc == SQLITE_OK && c < nc; c++) {
        sqlite3_int64 tot = 0;
        *rc = api->xColumnTotalSize(fts, c, &tot);
        d->avgdl[c] = nrow > 0 && tot > 0 ? (double)tot / (double)nrow : 1.0;
    }
    for (int p = 0; *rc == SQLITE_OK && p < np; p++) {
        sqlite3_int64 hit = 0;
        *rc = api->xQueryPhrase(fts, p, &hit, count_row);
        d->idf[p] = log(1.0 + ((double)nrow - (double)hit + 0.5) / ((double)hit + 0.5));
    }
    if (*rc != SQLITE_OK) {
        sqlite3_free(d);
        return NULL;
    }
    return d;
}

static void rank_fn(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int nval,
                    sqlite3_value **vals)
{
    int rc = SQLITE_OK, ninst = 0;
    struct rank_data *d = api->xGetAuxdata(fts, 0);
    if (!d) {
        d = rank_data_new(api, fts, &rc);
        if (d)
            rc = api->xSetAuxdata(fts, d, sqlite3_free);
    }
    if (rc == SQLITE_OK)
        rc = api->xInstCount(fts, &ninst);
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    memset(d->freq, 0, sizeof(int) * (size_t)d->nphrase * (size_t)d->ncol);
    for (int i = 0; i < ninst && rc == SQLITE_OK; i++) {
        int p = 0, c = 0, off = 0;
        rc = api->xInst(fts, i, &p, &c, &off);
        if (rc == SQLITE_OK && p >= 0 && p < d->nphrase && c >= 0 && c < d->ncol)
            d->freq[p * d->ncol + c]++;
    }
    double score = 0;
    for (int c = 0; c < d->ncol && rc == SQLITE_OK; c++) {
        double w = c < nval ? sqlite3_value_double(vals[c]) : 1.0;
        int dl = 0;
        if (w == 0)
            continue;
        rc = api->xColumnSize(fts, c, &dl);
        double norm = RETR_K1 * (1.0 - RETR_B + RETR_B * (double)dl / d->avgdl[c]);
        for (int p = 0; p < d->nphrase; p++) {
            double tf = d->freq[p * d->ncol + c];
            if (tf > 0)
                score += w * d->idf[p] * tf * (RETR_K1 + 1.0) / (tf + norm);
        }
    }
    if (rc != SQLITE_OK)
        sqlite3_result_error_code(ctx, rc);
    else
        sqlite3_result_double(ctx, -score); /* FTS5 sorts rank ascending */
}

/* ---- the SQLite side -------------------------------------------------------- */

/* df holds, for every term in at least RETR_DF_MIN documents, how many
 * documents hold it: a search drops its most common terms first until the
 * rest match at most RETR_DF_BUDGET documents, since every match is ranked
 * and a word found everywhere tells nothing apart. Rarer terms are left
 * out of df: they can never exceed the budget. */
#define RETR_DF_MIN 16
#define RETR_STR(x) #x
#define RETR_XSTR(x) RETR_STR(x)
#define RETR_DF_BUDGET 600

static const char *const schema_sql =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE df(term TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE VIRTUAL TABLE doc USING fts5(id UNINDEXED, kind UNINDEXED, name, synonyms, tags, "
    "body, context, tokenize = 'porter unicode61 remove_diacritics 2');"
    "INSERT INTO doc(doc, rank) VALUES('rank', '" RETR_RANK "');";

static const char *const df_sql =
    "CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, doc, row);"
    "INSERT INTO df SELECT term, doc FROM temp.vocab WHERE doc >= " RETR_XSTR(RETR_DF_MIN) ";"
    "DROP TABLE temp.vocab;";

struct builder {
    sqlite3_stmt *ins;
    struct hasher h;
};

static int insert_doc(void *arg, const struct rdoc *d)
{
    struct builder *b = arg;
    sqlite3_stmt *st = b->ins;
    hash_doc(&b->h, d);
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, d->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, d->kind);
    sqlite3_bind_text(st, 3, d->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, d->synonyms, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, d->tags, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, d->body, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, d->context, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? DC_OK : DC_EIO;
}

static int put_meta(sqlite3 *db, const char *key, const char *value)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", -1,
                                &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? DC_OK : DC_EIO;
}

struct meta {
    char format[64], key[65], checksum[65], ndocs[32];
};

/* Every meta row in one statement (a file is opened per process). DC_EIO
 * when the table cannot be read at all. */
static int read_meta(sqlite3 *db, struct meta *m)
{
    sqlite3_stmt *st = NULL;
    int rc = DC_EIO, s;
    memset(m, 0, sizeof(*m));
    if (sqlite3_prepare_v2(db, "SELECT key, value FROM meta", -1, &st, NULL) != SQLITE_OK)
        goto cleanup;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        const char *v = (const char *)sqlite3_column_text(st, 1);
        if (!k || !v)
            continue;
        if (strcmp(k, "format") == 0)
            snprintf(m->format, sizeof(m->format), "%s", v);
        else if (strcmp(k, "key") == 0)
            snprintf(m->key, sizeof(m->key), "%s", v);
        else if (strcmp(k, "checksum") == 0)
            snprintf(m->checksum, sizeof(m->checksum), "%s", v);
        else if (strcmp(k, "ndocs") == 0)
            snprintf(m->ndocs, sizeof(m->ndocs), "%s", v);
    }
    if (s == SQLITE_DONE)
        rc = DC_OK;
cleanup:
    sqlite3_finalize(st);
    return rc;
}

static fts5_api *fts5_of(sqlite3 *db)
{
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    sqlite3_finalize(st);
    return api && api->iVersion >= 2 ? api : NULL;
}

/* dc_rank, the tokenizer that gives the stems df is keyed by, and the two
 * statements a search runs: once per database, never per question. */
static int prepare_db(struct retrieval *r)
{
    fts5_api *api = fts5_of(r->db);
    void *tokctx = NULL;
    static const char *const tokargs[] = {"unicode61", "remove_diacritics", "2"};
    if (!api || api->xCreateFunction(api, "dc_rank", NULL, rank_fn, NULL) != SQLITE_OK ||
        api->xFindTokenizer(api, "porter", &tokctx, &r->tokapi) != SQLITE_OK ||
        r->tokapi.xCreate(tokctx, (const char **)tokargs, 3, &r->tok) != SQLITE_OK)
        return DC_EUNSUPPORTED;
    if (sqlite3_prepare_v3(r->db,
                           "SELECT id, kind, -rank FROM doc WHERE doc MATCH ?1 "
                           "ORDER BY rank LIMIT ?2",
                           -1, SQLITE_PREPARE_PERSISTENT, &r->search, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(r->db, "SELECT total(n) FROM df WHERE term >= ?1 AND term < ?2", -1,
                           SQLITE_PREPARE_PERSISTENT, &r->df, NULL) != SQLITE_OK)
        return DC_EIO;
    return DC_OK;
}

static void close_db(struct retrieval *r)
{
    sqlite3_finalize(r->search);
    sqlite3_finalize(r->df);
    r->search = r->df = NULL;
    if (r->tok)
        r->tokapi.xDelete(r->tok);
    r->tok = NULL;
    sqlite3_close(r->db);
    r->db = NULL;
}

/* The DataPoints, loaded through the caller's loader if not handed in. */
static void ensure_dps(struct retrieval *r)
{
    if (!r->src.dps && r->src.load_dps)
        r->src.dps = r->src.load_dps(r->src.load_arg);
}

/* Builds the index of r->src in memory, and its checksum on the way. */
static int build(struct retrieval *r, char *err, size_t errlen)
{
    struct builder b;
    int rc = DC_OK;
    char num[32];
    unsigned char dg[32];
    memset(&b, 0, sizeof(b));
    ensure_dps(r);
    sha256_init(&b.h.s);
    hash_field(&b.h.s, RETR_FORMAT);
    if (sqlite3_open_v2(":memory:", &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(r->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db,
                           "INSERT INTO doc(id, kind, name, synonyms, tags, body, context) "
                           "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                           -1, &b.ins, NULL) != SQLITE_OK) {
        rc = util_err(err, errlen, DC_EIO, "retrieval index: cannot create it: %s",
                      r->db ? sqlite3_errmsg(r->db) : "out of memory");
        goto cleanup;
    }
    rc = walk_docs(&r->src, insert_doc, &b);
    if (rc != DC_OK) {
        util_err(err, errlen, rc, "retrieval index: cannot add a document: %s",
                 rc == DC_ENOMEM ? "out of memory" : sqlite3_errmsg(r->db));
        goto cleanup;
    }
    sha256_final(&b.h.s, dg);
    sha256_hex(dg, r->checksum);
    r->ndocs = b.h.n;
    snprintf(num, sizeof(num), "%zu", r->ndocs);
    if (sqlite3_exec(r->db, df_sql, NULL, NULL, NULL) != SQLITE_OK ||
        put_meta(r->db, "format", RETR_FORMAT) != DC_OK ||
        put_meta(r->db, "key", r->key) != DC_OK ||
        put_meta(r->db, "checksum", r->checksum) != DC_OK ||
        put_meta(r->db, "ndocs", num) != DC_OK ||
        sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = util_err(err, errlen, DC_EIO, "retrieval index: cannot finish it: %s",
                      sqlite3_errmsg(r->db));
        goto cleanup;
    }
    rc = prepare_db(r);
    if (rc != DC_OK)
        util_err(err, errlen, rc, "retrieval index: %s", sqlite3_errmsg(r->db));
cleanup:
    sqlite3_finalize(b.ins);
    if (rc != DC_OK)
        close_db(r);
    return rc;
}

/* Writes the in-memory index to r->path through a fresh 0600 temp file:
 * profiled values are data, and readers must never see half a file. */
static int save(struct retrieval *r)
{
    int rc = DC_EIO;
    sqlite3_stmt *st = NULL;
    char *dir = util_dirname(r->path);
    struct sbuf b;
    sbuf_init(&b);
    sbuf_addf(&b, "%s.%ld.tmp", r->path, (long)getpid());
    char *tmp = sbuf_detach(&b);
    if (!dir || !tmp)
        goto cleanup;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        goto cleanup;
    unlink(tmp); /* left over by a crashed process with the same pid */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        goto cleanup;
    close(fd);
    if (sqlite3_prepare_v2(r->db, "VACUUM INTO ?1", -1, &st, NULL) != SQLITE_OK)
        goto cleanup;
    sqlite3_bind_text(st, 1, tmp, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto cleanup;
    if (rename(tmp, r->path) != 0)
        goto cleanup;
    rc = DC_OK;
cleanup:
    sqlite3_finalize(st);
    if (rc != DC_OK && tmp)
        unlink(tmp);
    free(tmp);
    free(dir);
    return rc;
}

/* The file's key brought up to date, so that the next process skips the
 * checksum pass too. Best effort: a read-only cache only costs that pass. */
static void rekey(struct retrieval *r)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(r->path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 200);
        put_meta(db, "key", r->key);
    }
    sqlite3_close(db);
}

/* Opens r->path read-only if it holds this very index: its key matches
 * (want_key), or else its checksum over every indexed text does (then the
 * DataPoints are loaded to compute it). On a miss says why in why (and
 * leaves r without a database). */
static int load(struct retrieval *r, int want_key, char *why, size_t whylen)
{
    struct meta m;
    struct stat st;
    if (stat(r->path, &st) != 0) {
        snprintf(why, whylen, "no file");
        return DC_ENOTFOUND;
    }
    int rc = DC_EIO;
    if (sqlite3_open_v2(r->path, &r->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(why, whylen, "unreadable file: %s",
                 r->db ? sqlite3_errmsg(r->db) : "out of memory");
        goto cleanup;
    }
    if (read_meta(r->db, &m) != DC_OK || strcmp(m.format, RETR_FORMAT) != 0) {
        snprintf(why, whylen, "%s", m.format[0] ? "other format" : "corrupt or foreign file");
        goto cleanup;
    }
    if (!want_key || strcmp(m.key, r->key) != 0) {
        if (!r->checksum[0]) {
            ensure_dps(r);
            if (checksum_src(&r->src, r->checksum, NULL) != DC_OK) {
                r->checksum[0] = '\0';
                snprintf(why, whylen, "out of memory");
                goto cleanup;
            }
        }
        if (strcmp(m.checksum, r->checksum) != 0) {
            snprintf(why, whylen, "stale file");
            goto cleanup;
        }
        if (want_key)
            rekey(r);
    }
    if (!m.ndocs[0] || prepare_db(r) != DC_OK) {
        snprintf(why, whylen, "corrupt file");
        goto cleanup;
    }
    snprintf(r->checksum, sizeof(r->checksum), "%s", m.checksum);
    r->ndocs = (size_t)strtoull(m.ndocs, NULL, 10);
    rc = DC_OK;
cleanup:
    if (rc != DC_OK)
        close_db(r);
    return rc;
}

/* Builds, saves when there is a path, and notes how. */
static int build_and_save(struct retrieval *r, const char *why, char *err, size_t errlen)
{
    int rc = build(r, err, errlen);
    if (rc != DC_OK)
        return rc;
    const char *saved = "";
    if (r->path)
        saved = save(r) == DC_OK ? "; saved" : "; not saved (cache not writable)";
    if (why)
        snprintf(r->origin, sizeof(r->origin), "rebuilt (%s)%s", why, saved);
    else
        snprintf(r->origin, sizeof(r->origin), "built%s", saved);
    return DC_OK;
}

/* What the catalog contributes to the documents, without the DataPoints
 * that enrich it (their files are in the fingerprint). */
static void hash_schema(struct sha256 *h, const struct dc_schema *s)
{
    size_t nt = s ? schema_ntables(s) : 0;
    char num[32];
    snprintf(num, sizeof(num), "%zu", nt);
    hash_field(h, num);
    for (size_t i = 0; i < nt; i++) {
        const struct dc_table_info *t = schema_table(s, i);
        if (!t)
            continue;
        hash_field(h, t->name ? t->name : "");
        hash_field(h, t->kind ? t->kind : "");
        hash_field(h, t->comment ? t->comment : "");
        snprintf(num, sizeof(num), "%zu", t->ncolumns);
        hash_field(h, num);
        for (size_t c = 0; c < t->ncolumns; c++) {
            hash_field(h, t->columns[c].name ? t->columns[c].name : "");
            hash_field(h, t->columns[c].comment ? t->columns[c].comment : "");
        }
    }
}

static void make_key(struct retrieval *r)
{
    struct sha256 h;
    unsigned char dg[32];
    sha256_init(&h);
    hash_field(&h, RETR_FORMAT);
    hash_field(&h, r->src.database ? r->src.database : "");
    hash_field(&h, r->fingerprint ? r->fingerprint : "");
    hash_schema(&h, r->src.schema);
    sha256_final(&h, dg);
    sha256_hex(dg, r->key);
}

int retrieval_open(const struct retrieval_src *src, const char *path, struct retrieval **out,
                   char *err, size_t errlen)
{
    int rc;
    *out = NULL;
    struct retrieval *r = calloc(1, sizeof(*r));
    if (!r)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    pthread_mutex_init(&r->lock, NULL);
    if (src)
        r->src = *src;
    if ((r->src.database && !(r->database = strdup(r->src.database))) ||
        (r->src.dp_fingerprint && !(r->fingerprint = strdup(r->src.dp_fingerprint))) ||
        (path && !(r->path = strdup(path)))) {
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
        goto cleanup;
    }
    r->src.database = r->database;
    r->src.dp_fingerprint = r->fingerprint;
    /* Without a fingerprint the DataPoints in hand are the only truth, and
     * only the checksum over what they say can vouch for a file. */
    int keyed = r->fingerprint && (r->src.dps || r->src.load_dps);
    if (keyed)
        make_key(r);
    char why[160] = "";
    if (r->path && load(r, keyed, why, sizeof(why)) == DC_OK) {
        snprintf(r->origin, sizeof(r->origin), "file");
        rc = DC_OK;
        goto cleanup;
    }
    rc = build_and_save(r, r->path && strcmp(why, "no file") != 0 ? why : NULL, err, errlen);
cleanup:
    if (rc != DC_OK)
        retrieval_close(r);
    else
        *out = r;
    return rc;
}

void retrieval_close(struct retrieval *r)
{
    if (!r)
        return;
    close_db(r);
    for (size_t i = 0; i < r->idcap; i++)
        free(r->ids[i]);
    free(r->ids);
    free(r->path);
    free(r->database);
    free(r->fingerprint);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

size_t retrieval_ndocs(const struct retrieval *r)
{
    return r ? r->ndocs : 0;
}

const char *retrieval_checksum(const struct retrieval *r)
{
    return r ? r->checksum : "";
}

const char *retrieval_origin(const struct retrieval *r)
{
    return r ? r->origin : "";
}

const char *retrieval_kind_name(int kind)
{
    switch (kind) {
    case RETR_DP: return "dp";
    case RETR_TABLE: return "table";
    case RETR_COLUMN: return "column";
    case RETR_VALUE: return "value";
    default: return "unknown";
    }
}

/* ---- the query builder -------------------------------------------------------- */

/* Words that say what kind of answer is wanted rather than what it is
 * about; sorted for bsearch. */
static const char *const stop_words[] = {
    "a",        "about",    "all",     "an",       "and",      "any",     "are",
    "as",       "at",       "be",      "by",       "can",      "column",  "columns",
    "contain",  "contains", "data",    "database", "define",   "defined", "definition",
    "describe", "do",       "does",    "each",     "field",    "fields",  "find",
    "for",      "from",     "get",     "give",     "has",      "have",    "hold",
    "holds",    "how",      "i",       "in",       "into",     "is",      "it",
    "its",      "kept",     "list",    "located",  "me",       "mean",    "means",
    "my",       "of",       "on",      "or",       "our",      "please",  "show",
    "stored",   "table",    "tables",  "tell",     "that",     "the",     "their",
    "them",     "there",    "these",   "this",     "those",    "to",      "us",
    "was",      "we",       "were",    "what",     "when",     "where",   "which",
    "who",      "whom",     "why",     "will",     "with",     "you",     "your",
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int is_stop(const char *w)
{
    return bsearch(&w, stop_words, sizeof(stop_words) / sizeof(stop_words[0]),
                   sizeof(stop_words[0]), cmp_str) != NULL;
}

static int word_byte(unsigned char c)
{
    return isalnum(c) || c >= 0x80;
}

/* The distinct, non-stop words of text, lowercased, in order; at most
 * RETRIEVAL_MAX_TERMS. */
static size_t extract_terms(const char *text, size_t len, struct qterm *terms)
{
    size_t nterms = 0;
    for (size_t i = 0; text && i < len && nterms < RETRIEVAL_MAX_TERMS;) {
        if (!word_byte((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && word_byte((unsigned char)text[i]))
            i++;
        size_t wl = i - start;
        if (wl > RETR_TERM_MAX)
            continue; /* a pasted blob, not a word anyone searches for */
        char w[RETR_TERM_MAX + 1];
        for (size_t k = 0; k < wl; k++)
            w[k] = (char)tolower((unsigned char)text[start + k]);
        w[wl] = '\0';
        if (is_stop(w))
            continue;
        int dup = 0;
        for (size_t k = 0; k < nterms && !dup; k++)
            dup = strcmp(terms[k].text, w) == 0;
        if (!dup) {
            memcpy(terms[nterms].text, w, wl + 1);
            terms[nterms].prefix = wl >= 3;
            terms[nterms].df = 0;
            nterms++;
        }
    }
    return nterms;
}

/* The OR of terms into out, which holds RETRIEVAL_MAX_TERMS terms of
 * RETR_TERM_MAX bytes even were every byte a quote. */
static void format_expr(const struct qterm *terms, size_t n, char *out)
{
    char *o = out;
    for (size_t k = 0; k < n; k++) {
        if (k) {
            memcpy(o, " OR ", 4);
            o += 4;
        }
        /* Terms hold letters, digits and UTF-8 bytes only, yet every one is
         * quoted (and quotes doubled) so that no FTS5 operator, column
         * filter or prefix star can come from the user. */
        *o++ = '"';
        for (const char *p = terms[k].text; *p; p++) {
            if (*p == '"')
                *o++ = '"';
            *o++ = *p;
        }
        *o++ = '"';
        if (terms[k].prefix)
            *o++ = '*';
    }
    *o = '\0';
}

int retrieval_match_expr(const char *text, size_t len, char **out)
{
    struct qterm terms[RETRIEVAL_MAX_TERMS];
    *out = NULL;
    size_t n = extract_terms(text, len, terms);
    if (n == 0)
        return DC_ENOTFOUND;
    char *e = malloc(RETRIEVAL_MAX_TERMS * (2 * RETR_TERM_MAX + 8));
    if (!e)
        return DC_ENOMEM;
    format_expr(terms, n, e);
    *out = e;
    return DC_OK;
}

int retrieval_has_terms(const char *text, size_t len)
{
    struct qterm terms[RETRIEVAL_MAX_TERMS];
    return extract_terms(text, len, terms) > 0;
}

/* ---- search --------------------------------------------------------------------- */

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603ull & (size_t)-1;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * (size_t)1099511628211ull;
    return h;
}

/* The interned copy of s; NULL when out of memory. Caller holds r->lock. */
static const char *intern(struct retrieval *r, const char *s)
{
    if ((r->nids + 1) * 2 > r->idcap) {
        size_t ncap = r->idcap ? r->idcap * 2 : 64;
        char **n = calloc(ncap, sizeof(*n));
        if (!n)
            return NULL;
        for (size_t i = 0; i < r->idcap; i++) {
            if (!r->ids[i])
                continue;
            size_t j = hash_str(r->ids[i]) & (ncap - 1);
            while (n[j])
                j = (j + 1) & (ncap - 1);
            n[j] = r->ids[i];
        }
        free(r->ids);
        r->ids = n;
        r->idcap = ncap;
    }
    size_t j = hash_str(s) & (r->idcap - 1);
    while (r->ids[j]) {
        if (strcmp(r->ids[j], s) == 0)
            return r->ids[j];
        j = (j + 1) & (r->idcap - 1);
    }
    r->ids[j] = strdup(s);
    if (r->ids[j])
        r->nids++;
    return r->ids[j];
}

static int is_corrupt(int src)
{
    return src == SQLITE_CORRUPT || src == SQLITE_NOTADB;
}

/* Keeps the first token only: a term is one word of letters and digits. */
static int take_stem(void *arg, int tflags, const char *tok, int ntok, int start, int end)
{
    struct retrieval *r = arg;
    (void)tflags;
    (void)start;
    (void)end;
    if (r->nstem < 0 && ntok >= 0 && (size_t)ntok < sizeof(r->stem)) {
        memcpy(r->stem, tok, (size_t)ntok);
        r->nstem = ntok;
    }
    return SQLITE_OK;
}

/* How many documents term t can match, at most, read from df under the
 * stem the index itself stores (a prefix term: every stem it begins).
 * -1 when the tokenizer keeps nothing of it: such a term matches nothing. */
static double term_df(struct retrieval *r, const struct qterm *t)
{
    r->nstem = -1;
    int flags = FTS5_TOKENIZE_QUERY | (t->prefix ? FTS5_TOKENIZE_PREFIX : 0);
    if (r->tokapi.xTokenize(r->tok, r, flags, t->text, (int)strlen(t->text), take_stem) !=
            SQLITE_OK ||
        r->nstem < 0)
        return -1;
    if (r->nstem == 0)
        return -1;
    /* The range [stem, stem + "\0") is the stem alone; [stem, stem + 0xff)
     * every stem it begins, as bytes compare. */
    r->stem[r->nstem] = t->prefix ? (char)0xff : '\0';
    double n = 0;
    sqlite3_stmt *st = r->df;
    sqlite3_bind_text(st, 1, r->stem, r->nstem, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->stem, r->nstem + 1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_double(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return n;
}

static int cmp_df(const void *a, const void *b)
{
    double x = ((const struct qterm *)a)->df, y = ((const struct qterm *)b)->df;
    return x < y ? -1 : x > y;
}

/* The terms worth ranking: rarest first while together they match at most
 * RETR_DF_BUDGET documents, and always the rarest one. A catalog smaller
 * than the budget keeps every term. Caller holds r->lock. */
static size_t cut_terms(struct retrieval *r, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        r->terms[i].df = term_df(r, &r->terms[i]);
        if (r->terms[i].df >= 0)
            r->terms[m++] = r->terms[i];
    }
    if (m > 1)
        qsort(r->terms, m, sizeof(r->terms[0]), cmp_df);
    double sum = 0;
    size_t keep = 0;
    while (keep < m && (keep == 0 || sum + r->terms[keep].df <= RETR_DF_BUDGET))
        sum += r->terms[keep++].df;
    /* Even the rarest term is everywhere ("customer" in a large catalog):
     * ranking all its matches costs tens of milliseconds, and the best k of
     * them are mostly those named by it, since the name and synonym
     * columns weigh most. Those are searched first (search_terms). */
    r->has_narrow = keep == 1 && sum > RETR_DF_BUDGET;
    if (r->has_narrow) {
        char one[2 * RETR_TERM_MAX + 8];
        format_expr(r->terms, 1, one);
        snprintf(r->narrow, sizeof(r->narrow), "{name synonyms} : %s", one);
    }
    return keep;
}

/* One search on the current database; SQLite's code in *sqlrc. */
static int search_once(struct retrieval *r, const char *expr, size_t k, struct retrieval_hit *hits,
                       size_t *n, int *sqlrc)
{
    sqlite3_stmt *st = r->search;
    int rc = DC_OK, s;
    *n = 0;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, expr, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)k);
    while ((s = sqlite3_step(st)) == SQLITE_ROW && *n < k) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *kept = id ? intern(r, id) : NULL;
        if (!kept) {
            rc = DC_ENOMEM;
            break;
        }
        hits[*n].id = kept;
        hits[*n].kind = sqlite3_column_int(st, 1);
        hits[*n].score = sqlite3_column_double(st, 2);
        (*n)++;
    }
    *sqlrc = s;
    if (rc == DC_OK && s != SQLITE_DONE && s != SQLITE_ROW)
        rc = DC_EIO;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* The terms of question into r->terms, cut, as an expression in r->expr;
 * 0 when nothing is left to look for. Caller holds r->lock. */
static size_t search_expr(struct retrieval *r, const char *question)
{
    r->has_narrow = 0;
    size_t n = extract_terms(question, strlen(question), r->terms);
    if (n && r->db)
        n = cut_terms(r, n);
    if (n)
        format_expr(r->terms, n, r->expr);
    return n;
}

/* r->expr, or first its narrow form when there is one. Ranking only the
 * documents a common term names (name, synonyms: the heaviest columns) is
 * an approximation of ranking all of them, taken only past the budget,
 * where the full ranking cost 20-80 ms; when fewer than k documents are
 * named by it, the whole term is ranked after all. */
static int search_terms(struct retrieval *r, size_t k, struct retrieval_hit *hits, size_t *n,
                        int *sqlrc)
{
    if (r->has_narrow) {
        int rc = search_once(r, r->narrow, k, hits, n, sqlrc);
        if (rc != DC_OK || *n >= k)
            return rc;
    }
    return search_once(r, r->expr, k, hits, n, sqlrc);
}

int retrieval_search(struct retrieval *r, const char *question, size_t k,
                     struct retrieval_hit *hits, size_t *n, char *err, size_t errlen)
{
    int rc = DC_OK;
    if (!n)
        return util_err(err, errlen, DC_EINVAL, "retrieval_search: missing argument");
    *n = 0;
    if (!r || !question || (k && !hits))
        return util_err(err, errlen, DC_EINVAL, "retrieval_search: missing argument");
    if (k > RETRIEVAL_MAX_K)
        k = RETRIEVAL_MAX_K;
    if (k == 0)
        return DC_OK;
    pthread_mutex_lock(&r->lock);
    int sqlrc = SQLITE_OK;
    size_t nterms = search_expr(r, question);
    if (nterms == 0)
        goto cleanup; /* nothing to look for is no error: zero hits */
    rc = r->db ? search_terms(r, k, hits, n, &sqlrc) : DC_EIO;
    if (rc == DC_EIO && (is_corrupt(sqlrc) || !r->db)) {
        /* A file damaged after its header was read: rebuild from the
         * sources (loaded now if need be) and replace the file, then ask
         * again. */
        close_db(r);
        char berr[256] = "";
        rc = build_and_save(r, "corrupt file found while searching", berr, sizeof(berr));
        if (rc == DC_OK && (nterms = search_expr(r, question)) > 0)
            rc = search_terms(r, k, hits, n, &sqlrc);
        else if (rc != DC_OK)
            util_err(err, errlen, rc, "%s", berr);
    }
    if (rc == DC_EIO && r->db)
        util_err(err, errlen, rc, "retrieval search failed: %s", sqlite3_errmsg(r->db));
    else if (rc == DC_ENOMEM)
        util_err(err, errlen, rc, "out of memory");
cleanup:
    pthread_mutex_unlock(&r->lock);
    return rc;
}
