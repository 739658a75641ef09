#include "api/jobs.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/value.h>

#include "api/router.h"
#include "config.h"
#include "loop.h"
#include "profile.h"
#include "runtime.h"
#include "util.h"

/* Tables one job may name; more is a whole-database profile anyway. */
#define JOBS_MAX_TABLES 256
#define JOBS_NAME_MAX 128

enum job_status { JOB_QUEUED = 0, JOB_RUNNING, JOB_DONE, JOB_FAILED };

static const char *const status_names[] = {"queued", "running", "done", "failed"};

struct job {
    struct api_jobs *owner;
    char id[24];
    char *principal;
    char *database;
    char **tables;
    size_t ntables;
    int status;            /* enum job_status */
    int submitted;         /* handed to the pool (it stays "queued" until a worker starts it) */
    size_t done, total;    /* tables profiled, tables to profile (0 until known) */
    char *error;           /* failed: "E-CODE: message" */
    json_t *result;        /* done: the summary */
    int64_t created_us;
    int64_t finished_us;
};

/* Everything below the mutex is shared by the loop thread (handlers, pool
 * completions) and the worker running a job. */
struct api_jobs {
    struct runtime *rt;
    struct pool *pool;
    atomic_int stop;
    pthread_mutex_t mu;
    struct job *jobs[API_JOBS_KEPT];
    size_t n;
    int running;
    uint64_t seq;
};

static void job_free(struct job *jb)
{
    if (!jb)
        return;
    for (size_t i = 0; i < jb->ntables; i++)
        free(jb->tables[i]);
    free(jb->tables);
    free(jb->principal);
    free(jb->database);
    free(jb->error);
    json_decref(jb->result);
    free(jb);
}

int jobs_new(struct runtime *rt, struct api_jobs **out)
{
    *out = NULL;
    struct api_jobs *j = calloc(1, sizeof(*j));
    if (!j)
        return DC_ENOMEM;
    if (pthread_mutex_init(&j->mu, NULL) != 0) {
        free(j);
        return DC_ENOMEM;
    }
    j->rt = rt;
    atomic_init(&j->stop, 0);
    *out = j;
    return DC_OK;
}

void jobs_free(struct api_jobs *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n; i++)
        job_free(j->jobs[i]);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

void jobs_set_pool(struct api_jobs *j, struct pool *p)
{
    pthread_mutex_lock(&j->mu);
    j->pool = p;
    pthread_mutex_unlock(&j->mu);
}

void jobs_stop(struct api_jobs *j)
{
    if (!j)
        return;
    atomic_store(&j->stop, 1);
    /* Freeing the pool runs the completions still due, and job_done must
     * not hand the next queued job to a pool being freed. */
    jobs_set_pool(j, NULL);
}

/* ------------------------------------------------------------------------
 * Running (the worker thread) and scheduling (the loop thread).
 */
static void on_progress(void *arg, const char *table, size_t i, size_t n)
{
    struct job *jb = arg;
    pthread_mutex_lock(&jb->owner->mu);
    jb->done = i;
    jb->total = n;
    pthread_mutex_unlock(&jb->owner->mu);
}

static int should_stop(void *arg)
{
    const struct job *jb = arg;
    return atomic_load(&jb->owner->stop);
}

/* What GET shows of a finished profile: the counts and each table's fate. */
static json_t *summary(const struct profile_report *rep)
{
    json_t *tabs = json_array();
    for (size_t i = 0; tabs && i < rep->ntables; i++) {
        const struct profile_table *t = &rep->tables[i];
        if (json_array_append_new(tabs, json_pack("{s:s, s:s, s:I}", "table", t->table, "change",
                                                  profile_change_name(t->change), "rows",
                                                  (json_int_t)t->rows)) != 0) {
            json_decref(tabs);
            tabs = NULL;
        }
    }
    if (!tabs)
        return NULL;
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:f, s:o}", "dir", rep->dir, "added",
                     (json_int_t)rep->added, "changed", (json_int_t)rep->changed, "unchanged",
                     (json_int_t)rep->unchanged, "removed", (json_int_t)rep->removed, "ms",
                     (double)rep->us / 1000.0, "tables", tabs);
}

static void job_work(void *arg)
{
    struct job *jb = arg;
    struct api_jobs *j = jb->owner;
    struct runtime *rt = j->rt;
    struct profile_report rep;
    char err[1024] = "";
    memset(&rep, 0, sizeof(rep));
    pthread_mutex_lock(&j->mu);
    jb->status = JOB_RUNNING;
    pthread_mutex_unlock(&j->mu);
    /* The handler checked both; the config does not change while serving. */
    struct db *d = runtime_find_db(rt, jb->database);
    struct profile_opts po = {.progress = on_progress,
                              .progress_arg = jb,
                              .stop = should_stop,
                              .only = (const char *const *)jb->tables,
                              .nonly = jb->ntables};
    int rc = d ? profile_run(rt->gate, d, rt->cfg->dp_managed_dir, &po, &rep, err, sizeof(err))
               : util_err(err, sizeof(err), DC_ENOTFOUND, "E-DB-UNKNOWN: no database named '%s'",
                          jb->database);
    json_t *res = rc == DC_OK ? summary(&rep) : NULL;
    if (rc == DC_OK && !res)
        rc = util_err(err, sizeof(err), DC_ENOMEM, "out of memory");
    pthread_mutex_lock(&j->mu);
    jb->finished_us = util_now_us();
    if (rc == DC_OK) {
        jb->status = JOB_DONE;
        jb->done = jb->total = rep.ntables;
        jb->result = res;
    } else {
        jb->status = JOB_FAILED;
        jb->error = util_strdup(err[0] ? err : "the profile failed");
    }
    pthread_mutex_unlock(&j->mu);
    profile_report_free(&rep);
}

static void start_queued(struct api_jobs *j);

static void job_done(struct loop *l, void *arg)
{
    struct job *jb = arg;
    struct api_jobs *j = jb->owner;
    pthread_mutex_lock(&j->mu);
    j->running--;
    start_queued(j);
    pthread_mutex_unlock(&j->mu);
}

/* Under the mutex, on the loop thread: the oldest queued jobs go to the
 * pool while fewer than API_JOBS_RUNNING run. */
static void start_queued(struct api_jobs *j)
{
    for (size_t i = 0; i < j->n && j->running < API_JOBS_RUNNING && j->pool; i++) {
        struct job *jb = j->jobs[i];
        if (jb->status != JOB_QUEUED || jb->submitted)
            continue;
        if (pool_submit(j->pool, job_work, job_done, jb) != DC_OK) {
            /* Nothing will complete to retry it when nothing else runs. */
            if (j->running == 0) {
                jb->status = JOB_FAILED;
                jb->finished_us = util_now_us();
                jb->error = util_strdup("E-API-BUSY: the worker queue is full; start the job "
                                        "again shortly");
            }
            return;
        }
        jb->submitted = 1;
        j->running++;
    }
}

/* Makes room for one more job by dropping the oldest finished one. */
static int make_room(struct api_jobs *j)
{
    if (j->n < API_JOBS_KEPT)
        return 1;
    for (size_t i = 0; i < j->n; i++) {
        if (j->jobs[i]->status == JOB_DONE || j->jobs[i]->status == JOB_FAILED) {
            job_free(j->jobs[i]);
            memmove(&j->jobs[i], &j->jobs[i + 1], (j->n - i - 1) * sizeof(j->jobs[0]));
            j->n--;
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Routes.
 */
static void reply_error(struct api_req *rq, int status, const char *code, const char *field,
                        const char *msg)
{
    struct api_error e;
    api_error_set(&e, status, code, field, "%s", msg);
    api_reply_error(rq, &e);
}

static json_t *job_json(const struct job *jb)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:{s:I, s:I}}", "id", jb->id, "status",
                          status_names[jb->status], "database", jb->database, "progress",
                          "tables_done", (json_int_t)jb->done, "tables_total",
                          (json_int_t)jb->total);
    if (!o)
        return NULL;
    if (jb->ntables) {
        json_t *t = json_array();
        for (size_t i = 0; t && i < jb->ntables; i++)
            json_array_append_new(t, json_string(jb->tables[i]));
        json_object_set_new(o, "tables", t ? t : json_null());
    }
    if (jb->error) {
        /* "E-CODE: message" as {code, message}, like every other error. */
        size_t n = strncmp(jb->error, "E-", 2) == 0 ? strcspn(jb->error, ":") : 0;
        char code[48] = "E-PROFILE-FAILED";
        const char *msg = jb->error;
        if (n && jb->error[n] == ':' && n < sizeof(code)) {
            snprintf(code, sizeof(code), "%.*s", (int)n, jb->error);
            msg = jb->error + n + 1 + (jb->error[n + 1] == ' ');
        }
        json_object_set_new(o, "error", json_pack("{s:s, s:s}", "code", code, "message", msg));
    }
    if (jb->result)
        json_object_set_new(o, "result", json_deep_copy(jb->result));
    return o;
}

static const struct api_field start_fields[] = {
    {"database", API_T_STRING, 1, "a configured database's name (GET /api/v1/databases)"},
    {"tables", API_T_ANY, 0,
     "table names to profile (array of strings); absent: every table, and files of tables "
     "that no longer exist are removed"},
    {NULL, 0, 0, NULL},
};

/* Copies the "tables" member after checking it is 1..JOBS_MAX_TABLES
 * distinct non-empty names; 0 with the reason in why otherwise. */
static int take_tables(json_t *v, struct job *jb, char *why, size_t whylen)
{
    if (!v)
        return 1;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > JOBS_MAX_TABLES) {
        snprintf(why, whylen, "tables must be an array of 1 to %d table names (or left out "
                              "for every table)", JOBS_MAX_TABLES);
        return 0;
    }
    jb->tables = calloc(json_array_size(v), sizeof(*jb->tables));
    if (!jb->tables) {
        snprintf(why, whylen, "out of memory");
        return 0;
    }
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x)
    {
        const char *s = json_string_value(x);
        if (!s || !s[0] || strlen(s) > JOBS_NAME_MAX || strlen(s) != json_string_length(x)) {
            snprintf(why, whylen, "tables[%zu] must be a table name (1-%d characters, no NUL)", i,
                     JOBS_NAME_MAX);
            return 0;
        }
        for (size_t k = 0; k < jb->ntables; k++)
            if (strcmp(jb->tables[k], s) == 0) {
                snprintf(why, whylen, "tables[%zu]: '%.128s' is named twice", i, s);
                return 0;
            }
        jb->tables[jb->ntables] = util_strdup(s);
        if (!jb->tables[jb->ntables]) {
            snprintf(why, whylen, "out of memory");
            return 0;
        }
        jb->ntables++;
    }
    return 1;
}

static int start_handler(struct api_req *rq)
{
    struct api_jobs *j = rq->route->arg;
    const char *db = json_string_value(json_object_get(rq->body, "database"));
    char why[256] = "";
    if (!runtime_find_db(rq->rt, db)) {
        snprintf(why, sizeof(why), "no database named '%.128s' is configured (GET "
                                   "/api/v1/databases)", db);
        reply_error(rq, 404, "E-DB-UNKNOWN", "database", why);
        return API_DONE;
    }
    if (!rq->rt->cfg->dp_managed_dir) {
        reply_error(rq, 409, "E-PROFILE-NO-DIR", NULL,
                    "no managed DataPoint directory is configured (datapoints.managed), so a "
                    "profile has nowhere to go");
        return API_DONE;
    }
    struct job *jb = calloc(1, sizeof(*jb));
    if (!jb || !(jb->database = util_strdup(db)) ||
        !(jb->principal = util_strdup(rq->principal ? rq->principal : ""))) {
        job_free(jb);
        reply_error(rq, 500, "E-API-NOMEM", NULL, "out of memory");
        return API_DONE;
    }
    if (!take_tables(json_object_get(rq->body, "tables"), jb, why, sizeof(why))) {
        job_free(jb);
        reply_error(rq, 400, "E-API-FIELD", "tables", why);
        return API_DONE;
    }
    jb->owner = j;
    jb->created_us = util_now_us();
    pthread_mutex_lock(&j->mu);
    if (!make_room(j)) {
        pthread_mutex_unlock(&j->mu);
        job_free(jb);
        reply_error(rq, 429, "E-API-JOBS-FULL", NULL,
                    "every kept profiling job is still queued or running; retry when one has "
                    "finished");
        return API_DONE;
    }
    snprintf(jb->id, sizeof(jb->id), "p%llu", (unsigned long long)++j->seq);
    j->jobs[j->n++] = jb;
    start_queued(j);
    json_t *o = json_pack("{s:s, s:s}", "id", jb->id, "status", status_names[jb->status]);
    pthread_mutex_unlock(&j->mu);
    api_reply_json(rq, 202, o);
    return API_DONE;
}

static int get_handler(struct api_req *rq)
{
    struct api_jobs *j = rq->route->arg;
    const char *id = api_param(&rq->params, "id");
    json_t *o = NULL;
    int found = 0;
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < j->n && !found; i++) {
        const struct job *jb = j->jobs[i];
        /* Another principal's job is as unknown as a made-up id. */
        if (id && strcmp(jb->id, id) == 0 &&
            strcmp(jb->principal, rq->principal ? rq->principal : "") == 0) {
            found = 1;
            o = job_json(jb);
        }
    }
    pthread_mutex_unlock(&j->mu);
    if (!found) {
        char msg[200];
        snprintf(msg, sizeof(msg), "no profiling job '%.32s' (jobs are kept in memory, the last "
                                   "%d, visible to the principal that started them)",
                 id ? id : "", API_JOBS_KEPT);
        reply_error(rq, 404, "E-JOB-UNKNOWN", "id", msg);
        return API_DONE;
    }
    if (!o) {
        reply_error(rq, 500, "E-API-NOMEM", NULL, "out of memory");
        return API_DONE;
    }
    api_reply_json(rq, 200, o);
    return API_DONE;
}

int jobs_add_routes(struct router *r, struct api_jobs *j)
{
    struct api_route start = {"POST", "/api/v1/profiling/jobs", 1, start_fields,
                              "Start profiling a database in the background; answers 202 with "
                              "the job id",
                              "application/json", start_handler, j};
    struct api_route get = {"GET", "/api/v1/profiling/jobs/{id}", 1, NULL,
                            "A profiling job's status, progress (tables done of total), error "
                            "or result summary",
                            "application/json", get_handler, j};
    int rc = router_add(r, &start);
    return rc == DC_OK ? router_add(r, &get) : rc;
}
