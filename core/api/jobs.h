/*
 * api/jobs - background profiling jobs of the HTTP API: POST
 * /api/v1/profiling/jobs starts one, GET /api/v1/profiling/jobs/{id} tells
 * its status, progress and result. It owns the job table (bounded: few run
 * at once, a fixed number are kept, the oldest finished ones are dropped
 * first) and runs each profile on the server's worker pool, never on the
 * loop thread. Jobs live in memory only and are visible to the principal
 * that started them; it never lets two profiles write files at once.
 */
#ifndef DC_API_JOBS_H
#define DC_API_JOBS_H

struct api_jobs;
struct pool;
struct router;
struct runtime;

/* At most this many jobs run at once (profiles of one database write the
 * same files, and the rest of the pool stays free for requests). */
#define API_JOBS_RUNNING 1
/* Jobs kept, queued or finished; a start beyond it with none finished is
 * refused (429 E-API-JOBS-FULL). */
#define API_JOBS_KEPT 32

int jobs_new(struct runtime *rt, struct api_jobs **out);
/* After the pool that ran the jobs is gone (its threads joined). */
void jobs_free(struct api_jobs *j);
/* The pool jobs run on, once the server has started it. */
void jobs_set_pool(struct api_jobs *j, struct pool *p);
/* Asks running profiles to stop before their next table and starts no
 * queued one (shutdown); call before freeing the pool. */
void jobs_stop(struct api_jobs *j);
/* Adds the two routes, served from j. */
int jobs_add_routes(struct router *r, struct api_jobs *j);

#endif
