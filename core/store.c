#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include <datachat/value.h>

#include "util.h"

struct store {
    sqlite3 *db;
    char *path;
    pthread_mutex_t lock; /* one statement sequence at a time, and the counters */
    struct store_cache_stats stats;
};

/* Each entry moves the schema from version i to i+1; never edit a shipped
 * one, append a new one. */
static const char *const migrations[] = {
    "CREATE TABLE sessions (id TEXT PRIMARY KEY, created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL);"
    "CREATE TABLE turns (session TEXT NOT NULL REFERENCES sessions(id), turn INTEGER NOT NULL,"
    " question TEXT NOT NULL, resolved TEXT, structure TEXT, sql TEXT, outcome TEXT NOT NULL,"
    " answer_id TEXT, created INTEGER NOT NULL, PRIMARY KEY (session, turn));"
    "CREATE TABLE answers (id TEXT PRIMARY KEY, question TEXT NOT NULL, sql TEXT,"
    " database TEXT, principal TEXT, session TEXT, created INTEGER NOT NULL);"
    "CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, answer_id TEXT NOT NULL,"
    " question TEXT NOT NULL, sql TEXT, database TEXT, verdict TEXT NOT NULL"
    " CHECK (verdict IN ('right', 'wrong')), comment TEXT, corrected_sql TEXT,"
    " created INTEGER NOT NULL);"
    "CREATE INDEX feedback_db ON feedback (database, id);"
    "CREATE TABLE sql_cache (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
    " expires INTEGER NOT NULL);"
    "CREATE TABLE result_cache (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
    " expires INTEGER NOT NULL);"
    "CREATE TABLE llm_usage (id INTEGER PRIMARY KEY AUTOINCREMENT, provider TEXT, model TEXT,"
    " prompt_tokens INTEGER, completion_tokens INTEGER, latency_us INTEGER, outcome TEXT,"
    " created INTEGER NOT NULL);",
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* SQLite's own words, with the code a user can search for. */
static int db_err(struct store *s, char *err, size_t errlen, const char *what)
{
    int ec = sqlite3_errcode(s->db);
    if (ec == SQLITE_NOTADB || ec == SQLITE_CORRUPT)
        return util_err(err, errlen, DC_EINVAL,
                        "E-STORE-CORRUPT: %s is not a usable DataChat state store (%s); move "
                        "it away (a new one is created) or point store.url at another file",
                        s->path, sqlite3_errmsg(s->db));
    return util_err(err, errlen, DC_EIO, "E-STORE-IO: state store %s: %s: %s", s->path, what,
                    sqlite3_errmsg(s->db));
}

static int exec(struct store *s, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_err(s, err, errlen, "cannot update the schema");
    return DC_OK;
}

static int make_parent_dir(const char *path, char *err, size_t errlen)
{
    char *dir = util_dirname(path);
    if (!dir)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    int rc = DC_OK;
    /* One level is what the default var/ needs; deeper paths must exist. */
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        rc = util_err(err, errlen, DC_EIO,
                      "E-STORE-IO: cannot create the state store's directory %s: %s", dir,
                      strerror(errno));
    free(dir);
    return rc;
}

static int migrate(struct store *s, char *err, size_t errlen)
{
    int rc = exec(s,
                  "CREATE TABLE IF NOT EXISTS store_migrations (version INTEGER PRIMARY KEY,"
                  " applied INTEGER NOT NULL)",
                  err, errlen);
    if (rc != DC_OK)
        return rc;
    int v = store_version(s);
    if (v < 0)
        return db_err(s, err, errlen, "cannot read the schema version");
    if (v > NMIGRATIONS)
        return util_err(err, errlen, DC_EINVAL,
                        "E-STORE-VERSION: state store %s has schema version %d, newer than this "
                        "DataChat knows (%d); upgrade DataChat or use another store.url",
                        s->path, v, NMIGRATIONS);
    for (; v < NMIGRATIONS; v++) {
        char rec[128];
        snprintf(rec, sizeof(rec), "INSERT INTO store_migrations VALUES (%d, %lld)", v + 1,
                 (long long)now_s());
        /* IMMEDIATE: two processes migrating at once serialise here. */
        rc = exec(s, "BEGIN IMMEDIATE", err, errlen);
        if (rc != DC_OK)
            return rc;
        int again = store_version(s);
        if (again > v) {
            rc = exec(s, "COMMIT", err, errlen);
            if (rc != DC_OK)
                return rc;
            v = again - 1;
            continue;
        }
        rc = exec(s, migrations[v], err, errlen);
        if (rc == DC_OK)
            rc = exec(s, rec, err, errlen);
        if (rc == DC_OK)
            rc = exec(s, "COMMIT", err, errlen);
        if (rc != DC_OK) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
    }
    return DC_OK;
}

int store_open(const char *path, struct store **out, char *err, size_t errlen)
{
    *out = NULL;
    struct store *s = calloc(1, sizeof(*s));
    if (!s)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    pthread_mutex_init(&s->lock, NULL);
    int rc;
    s->path = util_strdup(path);
    if (!s->path) {
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = make_parent_dir(path, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        rc = util_err(err, errlen, DC_EIO, "E-STORE-IO: cannot open the state store %s: %s",
                      path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto cleanup;
    }
    sqlite3_busy_timeout(s->db, 5000);
    /* journal_mode is the first statement that reads the file: a file that
     * is not a database fails here, with SQLITE_NOTADB. */
    rc = exec(s, "PRAGMA journal_mode=WAL", err, errlen);
    if (rc == DC_OK)
        rc = exec(s, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON", err, errlen);
    if (rc == DC_OK) {
        /* Most processes are one CLI question long. Checkpointing at close,
         * then creating the WAL again (with a directory sync) at the next
         * open, cost three syncs per question; the WAL now stays between
         * processes and SQLite checkpoints it once it outgrows
         * wal_autocheckpoint. Readers (the sqlite3 CLI too) see its rows. */
        int one = 1;
        if (sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL) != SQLITE_OK ||
            sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &one) != SQLITE_OK)
            rc = util_err(err, errlen, DC_EIO, "E-STORE-IO: the state store %s: cannot keep "
                          "its write-ahead log: %s", path, sqlite3_errmsg(s->db));
    }
    if (rc == DC_OK)
        rc = migrate(s, err, errlen);
    if (rc == DC_OK)
        chmod(path, 0600);
cleanup:
    if (rc != DC_OK) {
        store_close(s);
        return rc;
    }
    *out = s;
    return DC_OK;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    if (s->db)
        sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

const char *store_path(const struct store *s)
{
    return s->path;
}

int store_version(struct store *s)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(s->db, "SELECT COALESCE(MAX(version), 0) FROM store_migrations", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Binds texts 1..n (NULL binds NULL). */
static int bind_texts(sqlite3_stmt *st, const char *const *v, int n)
{
    for (int i = 0; i < n; i++)
        if (sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_TRANSIENT) != SQLITE_OK)
            return DC_ENOMEM;
    return DC_OK;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? util_strdup((const char *)t) : NULL;
}

/* Prepares sql with texts bound; the caller holds s->lock. */
static int prepare(struct store *s, const char *sql, const char *const *v, int n,
                   sqlite3_stmt **st, char *err, size_t errlen)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
        return db_err(s, err, errlen, "cannot prepare a statement");
    if (bind_texts(*st, v, n) != DC_OK) {
        sqlite3_finalize(*st);
        *st = NULL;
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    }
    return DC_OK;
}

/* One statement that returns no rows. */
static int run(struct store *s, const char *sql, const char *const *v, int n, int64_t i64,
               char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, sql, v, n, &st, err, errlen);
    if (rc != DC_OK)
        return rc;
    if (sqlite3_bind_parameter_count(st) > n)
        sqlite3_bind_int64(st, n + 1, i64);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(s, err, errlen, "cannot write");
    sqlite3_finalize(st);
    return rc;
}

int store_turn_add(struct store *s, const char *session, struct store_turn *t, char *err,
                   size_t errlen)
{
    int rc;
    sqlite3_stmt *st = NULL;
    const char *sid[] = {session};
    pthread_mutex_lock(&s->lock);
    rc = exec(s, "BEGIN IMMEDIATE", err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    rc = run(s,
             "INSERT INTO sessions VALUES (?1, ?2, ?2) ON CONFLICT (id) DO UPDATE SET"
             " updated = excluded.updated",
             sid, 1, now_s(), err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    const char *v[] = {session,   t->question, t->resolved, t->structure,
                       t->sql,    t->outcome,  t->answer_id};
    rc = prepare(s,
                 "INSERT INTO turns SELECT ?1, COALESCE(MAX(turn), 0) + 1, ?2, ?3, ?4, ?5, ?6,"
                 " ?7, ?8 FROM turns WHERE session = ?1 RETURNING turn",
                 v, 7, &st, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    t->created = now_s();
    sqlite3_bind_int64(st, 8, t->created);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = db_err(s, err, errlen, "cannot record the turn");
        goto cleanup;
    }
    t->turn = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    rc = exec(s, "COMMIT", err, errlen);
cleanup:
    sqlite3_finalize(st);
    if (rc != DC_OK)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_turns_last(struct store *s, const char *session, size_t max, struct store_turn **out,
                     size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    struct store_turn *t = calloc(max ? max : 1, sizeof(*t));
    if (!t)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    const char *v[] = {session};
    pthread_mutex_lock(&s->lock);
    int rc = prepare(s,
                     "SELECT turn, question, resolved, structure, sql, outcome, answer_id,"
                     " created FROM turns WHERE session = ?1 ORDER BY turn DESC LIMIT ?2",
                     v, 1, &st, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    size_t k = 0;
    int step;
    while (k < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        /* Newest first from SQLite; stored oldest first. */
        struct store_turn *x = &t[max - 1 - k];
        x->turn = sqlite3_column_int64(st, 0);
        x->question = col_dup(st, 1);
        x->resolved = col_dup(st, 2);
        x->structure = col_dup(st, 3);
        x->sql = col_dup(st, 4);
        x->outcome = col_dup(st, 5);
        x->answer_id = col_dup(st, 6);
        x->created = sqlite3_column_int64(st, 7);
        k++;
    }
    if (k < max && step != SQLITE_DONE) {
        rc = db_err(s, err, errlen, "cannot read the session");
        store_turns_free(t, max);
        t = NULL;
        goto cleanup;
    }
    if (k < max)
        memmove(t, t + (max - k), k * sizeof(*t));
    *n = k;
cleanup:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    if (rc != DC_OK) {
        free(t);
        return rc;
    }
    *out = t;
    return DC_OK;
}

void store_turns_free(struct store_turn *t, size_t n)
{
    if (!t)
        return;
    for (size_t i = 0; i < n; i++) {
        free(t[i].question);
        free(t[i].resolved);
        free(t[i].structure);
        free(t[i].sql);
        free(t[i].outcome);
        free(t[i].answer_id);
    }
    free(t);
}

/* A single integer from a one-row query. */
static int scalar(struct store *s, const char *sql, const char *const *v, int nv, int64_t *out,
                  char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->lock);
    int rc = prepare(s, sql, v, nv, &st, err, errlen);
    if (rc == DC_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            *out = sqlite3_column_int64(st, 0);
        else
            rc = db_err(s, err, errlen, "cannot read");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_turns_count(struct store *s, const char *session, const char *outcome, int64_t *n,
                      char *err, size_t errlen)
{
    const char *v[] = {session, outcome};
    return scalar(s, "SELECT COUNT(*) FROM turns WHERE session = ?1 AND outcome = ?2", v, 2, n,
                  err, errlen);
}

int store_answer_add(struct store *s, const struct store_answer *a, char *err, size_t errlen)
{
    const char *v[] = {a->id, a->question, a->sql, a->database, a->principal, a->session};
    pthread_mutex_lock(&s->lock);
    int rc = run(s, "INSERT OR REPLACE INTO answers VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", v, 6,
                 now_s(), err, errlen);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_answer_get(struct store *s, const char *id, struct store_answer *out, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = NULL;
    const char *v[] = {id};
    pthread_mutex_lock(&s->lock);
    int rc = prepare(s,
                     "SELECT id, question, sql, database, principal, session FROM answers"
                     " WHERE id = ?1",
                     v, 1, &st, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        out->id = col_dup(st, 0);
        out->question = col_dup(st, 1);
        out->sql = col_dup(st, 2);
        out->database = col_dup(st, 3);
        out->principal = col_dup(st, 4);
        out->session = col_dup(st, 5);
        if (!out->id || !out->question) {
            store_answer_clear(out);
            rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
        }
    } else if (step == SQLITE_DONE) {
        rc = util_err(err, errlen, DC_ENOTFOUND,
                      "E-FEEDBACK-UNKNOWN-ANSWER: no answer with id '%s' is recorded in %s "
                      "(answers are recorded when they ran SQL; copy the id from the answer's "
                      "\"answer_id\")",
                      id, s->path);
    } else {
        rc = db_err(s, err, errlen, "cannot read the answer");
    }
cleanup:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void store_answer_clear(struct store_answer *a)
{
    free(a->id);
    free(a->question);
    free(a->sql);
    free(a->database);
    free(a->principal);
    free(a->session);
    memset(a, 0, sizeof(*a));
}

int store_feedback_add(struct store *s, const struct store_answer *a, const char *verdict,
                       const char *comment, const char *corrected_sql, int64_t *id, char *err,
                       size_t errlen)
{
    const char *v[] = {a->id, a->question, a->sql, a->database, verdict, comment, corrected_sql};
    pthread_mutex_lock(&s->lock);
    int rc = run(s,
                 "INSERT INTO feedback (answer_id, question, sql, database, verdict, comment,"
                 " corrected_sql, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                 v, 7, now_s(), err, errlen);
    if (rc == DC_OK && id)
        *id = sqlite3_last_insert_rowid(s->db);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_examples(struct store *s, const char *database, size_t max, struct store_example **out,
                   size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    struct store_example *e = calloc(max ? max : 1, sizeof(*e));
    if (!e)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    sqlite3_stmt *st = NULL;
    const char *v[] = {database};
    pthread_mutex_lock(&s->lock);
    /* The newest verdict on a question wins; a later "wrong" retracts an
     * earlier "right". */
    int rc = prepare(s,
                     "SELECT question, CASE verdict WHEN 'wrong' THEN corrected_sql ELSE sql END"
                     " FROM feedback f WHERE (database IS ?1 OR ?1 IS NULL)"
                     " AND id = (SELECT MAX(id) FROM feedback g WHERE g.question = f.question"
                     " AND g.database IS f.database)"
                     " AND (verdict = 'right' AND sql IS NOT NULL OR corrected_sql IS NOT NULL)"
                     " ORDER BY id DESC LIMIT ?2",
                     v, 1, &st, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    int step;
    while (*n < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        e[*n].question = col_dup(st, 0);
        e[*n].sql = col_dup(st, 1);
        (*n)++;
    }
    if (*n < max && step != SQLITE_DONE)
        rc = db_err(s, err, errlen, "cannot read the feedback");
cleanup:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    if (rc != DC_OK) {
        store_examples_free(e, *n);
        *n = 0;
        return rc;
    }
    *out = e;
    return DC_OK;
}

void store_examples_free(struct store_example *e, size_t n)
{
    if (!e)
        return;
    for (size_t i = 0; i < n; i++) {
        free(e[i].question);
        free(e[i].sql);
    }
    free(e);
}

static const char *cache_table(int which)
{
    return which == STORE_CACHE_RESULT ? "result_cache" : "sql_cache";
}

int store_cache_get(struct store *s, int which, const char *key, char **value, char *err,
                    size_t errlen)
{
    *value = NULL;
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT value FROM %s WHERE key = ?1 AND expires > ?2",
             cache_table(which));
    sqlite3_stmt *st = NULL;
    const char *v[] = {key};
    pthread_mutex_lock(&s->lock);
    int rc = prepare(s, sql, v, 1, &st, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    sqlite3_bind_int64(st, 2, now_s());
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        *value = col_dup(st, 0);
        if (!*value)
            rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
    } else if (step == SQLITE_DONE) {
        rc = DC_ENOTFOUND;
    } else {
        rc = db_err(s, err, errlen, "cannot read the cache");
    }
    if (rc == DC_OK || rc == DC_ENOTFOUND) {
        uint64_t *hit = which == STORE_CACHE_RESULT ? &s->stats.result_hits : &s->stats.sql_hits;
        uint64_t *miss =
            which == STORE_CACHE_RESULT ? &s->stats.result_misses : &s->stats.sql_misses;
        ++*(rc == DC_OK ? hit : miss);
    }
cleanup:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_cache_put(struct store *s, int which, const char *key, const char *value,
                    int64_t ttl_s, char *err, size_t errlen)
{
    char sql[160];
    snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO %s (key, value, expires) VALUES (?1, ?2, ?3)",
             cache_table(which));
    const char *v[] = {key, value};
    pthread_mutex_lock(&s->lock);
    int rc = run(s, sql, v, 2, now_s() + ttl_s, err, errlen);
    /* Expired rows go on write, so the file does not grow without bound. */
    if (rc == DC_OK) {
        snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE expires <= ?1", cache_table(which));
        rc = run(s, sql, NULL, 0, now_s(), err, errlen);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void store_cache_stats(struct store *s, struct store_cache_stats *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->stats;
    pthread_mutex_unlock(&s->lock);
}

int store_llm_usage_add(struct store *s, const struct store_llm_usage *u, char *err,
                        size_t errlen)
{
    sqlite3_stmt *st = NULL;
    const char *v[] = {u->provider, u->model, u->outcome};
    pthread_mutex_lock(&s->lock);
    int rc = prepare(s,
                     "INSERT INTO llm_usage (provider, model, outcome, prompt_tokens,"
                     " completion_tokens, latency_us, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
                     " ?7)",
                     v, 3, &st, err, errlen);
    if (rc != DC_OK)
        goto cleanup;
    const int64_t nums[] = {u->prompt_tokens, u->completion_tokens, u->latency_us};
    for (int i = 0; i < 3; i++) {
        if (nums[i] < 0)
            sqlite3_bind_null(st, 4 + i);
        else
            sqlite3_bind_int64(st, 4 + i, nums[i]);
    }
    sqlite3_bind_int64(st, 7, now_s());
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(s, err, errlen, "cannot record LLM usage");
cleanup:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}
