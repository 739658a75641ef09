/*
 * loop - the epoll event loop, timers and a worker pool for blocking work.
 * It owns the epoll fd, a timerfd per timer, a signalfd for SIGINT/SIGTERM
 * and the pool threads. Callbacks run on the loop thread; pool work runs on
 * a worker thread and its completion is delivered back on the loop thread.
 * It never calls into a plugin or database itself.
 */
#ifndef DC_LOOP_H
#define DC_LOOP_H

#include <stdint.h>

struct loop;
struct pool;

enum { LOOP_READ = 1, LOOP_WRITE = 2 };

typedef void (*loop_fd_cb)(struct loop *l, int fd, int events, void *arg);
typedef void (*loop_timer_cb)(struct loop *l, uint64_t timer_id, void *arg);
typedef void (*loop_signal_cb)(struct loop *l, int signo, void *arg);

int loop_new(struct loop **out);
void loop_free(struct loop *l);
/* Runs until loop_stop() or a handled signal stops it. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l); /* callable from any thread */

int loop_add_fd(struct loop *l, int fd, int events, loop_fd_cb cb, void *arg);
int loop_mod_fd(struct loop *l, int fd, int events);
int loop_del_fd(struct loop *l, int fd);

/* Fires after ms milliseconds, then every ms if repeat. *id for cancel. */
int loop_add_timer(struct loop *l, uint64_t ms, int repeat, loop_timer_cb cb, void *arg,
                   uint64_t *id);
int loop_cancel_timer(struct loop *l, uint64_t id);

/* Blocks SIGINT and SIGTERM for the process and delivers them through the
 * loop. With cb NULL a signal stops the loop (clean shutdown). */
int loop_handle_signals(struct loop *l, loop_signal_cb cb, void *arg);

typedef void (*pool_work_fn)(void *arg);       /* on a worker thread */
typedef void (*pool_done_fn)(struct loop *l, void *arg); /* on the loop thread */

int pool_new(struct loop *l, int nthreads, struct pool **out);
/* Drains queued work, joins the threads. */
void pool_free(struct pool *p);
int pool_submit(struct pool *p, pool_work_fn work, pool_done_fn done, void *arg);
/* Work queued or running, for tests and metrics. */
int pool_pending(const struct pool *p);

#endif
