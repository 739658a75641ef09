#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <datachat/value.h>

#include "loop.h"

/* The in-flight cap documented in core/loop.c. */
#define POOL_CAP 4096

static uint64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A safety net: a broken loop must fail the test, not hang it. */
static void watchdog_cb(struct loop *l, uint64_t id, void *arg)
{
    int *fired = arg;
    *fired = 1;
    loop_stop(l);
}

static void add_watchdog(struct loop *l, int *fired)
{
    *fired = 0;
    assert_int_equal(loop_add_timer(l, 1500, 0, watchdog_cb, fired, NULL), DC_OK);
}

/* ------------------------------------------------------------ fds --- */

struct fd_probe {
    int calls;
    int events;
    int fd;
    char byte;
};

static void read_once_cb(struct loop *l, int fd, int events, void *arg)
{
    struct fd_probe *p = arg;
    p->calls++;
    p->events = events;
    p->fd = fd;
    if (events & LOOP_READ)
        assert_int_equal(read(fd, &p->byte, 1), 1);
    loop_stop(l);
}

static void test_loop_reports_pipe_readable_with_its_fd_and_arg(void **state)
{
    struct loop *l;
    int fds[2], wd;
    assert_int_equal(loop_new(&l), DC_OK);
    assert_int_equal(pipe(fds), 0);
    struct fd_probe p = {0};
    assert_int_equal(loop_add_fd(l, fds[0], LOOP_READ, read_once_cb, &p), DC_OK);
    add_watchdog(l, &wd);
    assert_int_equal(write(fds[1], "x", 1), 1);
    assert_int_equal(loop_run(l), DC_OK);
    assert_int_equal(wd, 0);
    assert_int_equal(p.calls, 1);
    assert_int_equal(p.fd, fds[0]);
    assert_true(p.events & LOOP_READ);
    assert_int_equal(p.byte, 'x');
    assert_int_equal(loop_del_fd(l, fds[0]), DC_OK);
    loop_free(l);
    close(fds[0]);
    close(fds[1]);
}

static void test_loop_reports_write_readiness_after_mod(void **state)
{
    struct loop *l;
    int fds[2], wd;
    assert_int_equal(loop_new(&l), DC_OK);
    assert_int_equal(pipe(fds), 0);
    struct fd_probe p = {0};
    /* Registered with no interest: an empty pipe's write end stays silent. */
    assert_int_equal(loop_add_fd(l, fds[1], 0, read_once_cb, &p), DC_OK);
    assert_int_equal(loop_mod_fd(l, fds[1], LOOP_WRITE), DC_OK);
    add_watchdog(l, &wd);
    assert_int_equal(loop_run(l), DC_OK);
    assert_int_equal(wd, 0);
    assert_int_equal(p.calls, 1);
    assert_int_equal(p.events, LOOP_WRITE);
    loop_free(l);
    close(fds[0]);
    close(fds[1]);
}

static void test_loop_reports_hangup_as_read_and_write(void **state)
{
    struct loop *l;
    int fds[2], wd;
    assert_int_equal(loop_new(&l), DC_OK);
    assert_int_equal(pipe(fds), 0);
    struct fd_probe p = {0};
    assert_int_equal(loop_add_fd(l, fds[0], LOOP_READ, read_once_cb, &p), DC_OK);
    /* Write first so the read in the callback succeeds, then hang up. */
    assert_int_equal(write(fds[1], "h", 1), 1);
    close(fds[1]);
    add_watchdog(l, &wd);
    assert_int_equal(loop_run(l), DC_OK);
    assert_int_equal(wd, 0);
    assert_int_equal(p.events, LOOP_READ | LOOP_WRITE);
    loop_free(l);
    close(fds[0]);
}

static void test_loop_rejects_bad_fd_arguments(void **state)
{
    struct loop *l;
    int fds[2];
    assert_int_equal(loop_new(&l), DC_OK);
    assert_int_equal(pipe(fds), 0);
    struct fd_probe p = {0};
    assert_int_equal(loop_add_fd(l, -1, LOOP_READ, read_once_cb, &p), DC_EINVAL);
    assert_int_equal(loop_add_fd(l, fds[0], LOOP_READ, NULL, &p), DC_EINVAL);
    assert_int_equal(loop_add_fd(l, fds[0], 8, read_once_cb, &p), DC_EINVAL);
    assert_int_equal(loop_add_fd(l, fds[0], LOOP_READ, read_once_cb, &p), DC_OK);
    assert_int_equal(loop_add_fd(l, fds[0], LOOP_READ, read_once_cb, &p), DC_EINVAL);
    assert_int_equal(loop_mod_fd(l, fds[1], LOOP_READ), DC_ENOTFOUND);
    assert_int_equal(loop_del_fd(l, fds[1]), DC_ENOTFOUND);
    assert_int_equal(loop_del_fd(l, fds[0]), DC_OK);
    assert_int_equal(loop_del_fd(l, fds[0]), DC_ENOTFOUND);
    /* A file descriptor epoll cannot watch is refused, not crashed on. */
    assert_int_equal(loop_add_fd(l, 100000, LOOP_READ, read_once_cb, &p), DC_EINVAL);
    loop_free(l);
    close(fds[0]);
    close(fds[1]);
}

/* Two pipes are readable in the same epoll_wait batch; whichever callback
 * runs first deletes, closes and frees the other. The other must never run. */
struct pair_side {
    int rfd, wfd;
    int *calls;
    struct pair_side **other;
};

static void pair_cb(struct loop *l, int fd, int events, void *arg)
{
    struct pair_side *me = arg;
    (*me->calls)++;
    struct pair_side *other = *me->other;
    if (other) {
        assert_int_equal(loop_del_fd(l, other->rfd), DC_OK);
        close(other->rfd);
        close(other->wfd);
        free(other);
        *me->other = NULL;
    }
    loop_stop(l);
}

static void test_loop_deleting_other_ready_fd_in_callback_never_calls_it(void **state)
{
    struct loop *l;
    int wd, calls = 0;
    assert_int_equal(loop_new(&l), DC_OK);
    struct pair_side *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    assert_non_null(a);
    assert_non_null(b);
    int fa[2], fb[2];
    assert_int_equal(pipe(fa), 0);
    assert_int_equal(pipe(fb), 0);
    struct pair_side *a_other = b, *b_other = a;
    *a = (struct pair_side){fa[0], fa[1], &calls, &a_other};
    *b = (struct pair_side){fb[0], fb[1], &calls, &b_other};
    assert_int_equal(loop_add_fd(l, fa[0], LOOP_READ, pair_cb, a), DC_OK);
    assert_int_equal(loop_add_fd(l, fb[0], LOOP_READ, pair_cb, b), DC_OK);
    /* Both ready before loop_run so they land in one batch. */
    assert_int_equal(write(fa[1], "a", 1), 1);
    assert_int_equal(write(fb[1], "b", 1), 1);
    add_watchdog(l, &wd);
    assert_int_equal(loop_run(l), DC_OK);
    assert_int_equal(wd, 0);
    assert_int_equal(calls, 1);
    struct pair_side *survivor = a_other ? b : a;
    assert_true((a_other == NULL) != (b_other == NULL));
    assert_int_equal(loop_del_fd(l, survivor->rfd), DC_OK);
    close(survivor->rfd);
    close(survivor->wfd);
    free(survivor);
    loop_free(l);
}

static void del_self_cb(struct loop *l, int fd, int events, void *arg)
{
    int *calls = arg;
    (*calls)++;
    assert_int_equal(loop_del_fd(l, fd), DC_OK);
    close(fd);
}

static void stop_timer_cb(struct loop *l, uint64_t id, void *arg)
{
    loop_stop(l);
}

static void test_loop_callback_may_delete_its_own_fd(void **state)
{
    struct loop *l;
    int fds[2], wd, calls = 0;
    assert_int_equal(loop_new(&l), DC_OK);
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(loop_add_fd(l, fds[0], LOOP_READ, del_self_cb, &calls), DC_OK);
    assert_int_equal(write(fds[1], "z", 1), 1);
    assert_int_equal(loop_add_timer(l, 30, 0, stop_timer_cb, NULL, NULL), DC_OK);
    add_watchdog(l, &wd);
    assert_int_equal(loop_run(l), DC_OK);
    assert_int_equal(wd, 0);
    /* Still readable data would re-trigger a live registration. */
    assert_int_equal(calls, 1);
    loop_free(l);
    close(fds[1]);
}

/* --------------------------------------------------------- timers --- */

struct order_rec {
    int order[8];
    uint64_t at[8];
    int n;
    int stop_after;
    uint64_t start;
};

struct order_timer {
    struct order_rec *rec;
    int tag;
};

static void order_cb(struct loop *l, uint64_t id, void *arg)
{
    struct order_timer *t = arg;
    struct order_rec *r = t->rec;
    assert_true(r->n < 8);
    r->order[r->n] = t->tag;
    r->at[r->n] = ms_now() - r->start;
    r->n++;
    if (r->n == r->stop_after)
        loop_stop(l);
}

static void test_loop_timers_fire_in_deadline_order_never_early(void **state)
{
    struct loop *l;
    int wd;
    assert_int_equal(loop_new(&l), DC_OK);
    struct order_rec r = {.stop_after = 4, .start = ms_now()};
    struct order_timer t30 = {&r, 30}, t10 = {&r, 10}, t20a = {&r, 20}, t20b = {&r, 21};
    assert_int_equal(loop_add_timer(l, 30, 0, order_cb, &t30, NULL), DC_OK);
    assert_int_equal(loop_add_timer(l, 20, 0, order_cb, &t20a, NULL), DC_OK);
    assert_int_equal(loop_add_timer(l, 10, 0, order_cb, &t10, NULL), DC_OK);
    assert_int_equal(loop_add_timer(l, 20, 0, order_cb, &t20b, NULL), DC_OK);
    add_watchdog(l, &wd);
    assert_int_equal(loop_run(l), DC_OK);
    assert_int_equal(wd, 0);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.order[0], 10);
    assert_int_equal(r.order[1], 20);
    assert_int_equal(r.order[2], 21);
    assert_int_equal(r.order[3], 30);
    assert_true(r.at[0] >= 10);
    assert_true(r.at[1] >= 20);
    assert_true(r.at[2] >= 20);
    assert_true(r.at[3] >= 30);
    loop_free(l);
}

struct repeat_rec {
    int fires;
    int limit;
    uint64_t start;
    uint64_t last_at;
    int cancel_rc;
};

static void repeat_cb(struct loop *l, uint64_t id, void *arg)
{
    struct repeat_rec *r = arg;
    r->fires++;
    r->last_at = ms_now() - r->start;
    if (r->fires == r->limit)
        r->cancel_rc = loop_cancel_timer(l, id);
}

static void test_loop_repeat_timer_fires_until_cancelled_from_its_callback(void **state)
{
    struct loop *l;
    int wd;
    assert_int_equal(loop_new(&l), DC_OK);
    struct repeat_rec r = {.limit = 5, .start = ms_now(), .cancel_rc = 1};
    uint64_t id;
    assert_int_equal(loop_add_timer(l, 5, 1, repeat_cb, &r, &id), DC_OK);
    /* Long enough for several more periods had the cancel not worked. */
    assert_int_equal(loop_add_timer(l, 80, 0, stop_timer_cb, NULL, NULL), DC_OK);
    add_watchdog(l, &wd);
    assert_int_equal(loop_run(l), DC_OK);
    assert_int_equal(wd, 0);
    assert_int_equal(r.fires, 5);
    assert_int_equal(r.cancel_rc, DC_OK);
    assert_true(r.last_at >= 25);
    /* The id died with the cancel. */
    assert_int_equal(loop_cancel_timer(l, id), DC_ENOTFOUND);
    loop_free(l);
}

struct cancel_rec {
    uint64_t victim;
    int victim_fired;
    int cancel_rc;
    int self_rc;
};

static void victim_cb(struct loop *l, uint64_t id, void *arg)
{
    struct cancel_rec *c = arg;
    c->victim_fired = 1;
}

static void canceller_cb(struct loop *l, uint64_t id, void *arg)
{
    struct cancel_rec *c = arg;
    c->cancel_rc = loop_cancel_timer(l, c->victim);
    /* A one-shot cancelling itself while firing must not double-free. */
    c->self_rc = loop_cancel_timer(l, id);
}

static void test_loop_timer_callback_may_cancel_other_and_itself(void **state)
{
    struct loop *l;
    int wd;
    assert_int_equal(loop_new(&l), DC_OK);
    struct cancel_rec c = {.cancel_rc = 1, .self_rc = 1};
    uint64_t canceller;
    assert_int_equal(loop_add_timer(l, 20, 0, victim_cb, &c, &c.victim), DC_OK);
    assert_int_equal(loop_add_timer(l, 5, 0, canceller_cb, &c, &canceller), DC_OK);
    assert_int_equal(loop_add_timer(l, 50, 0, stop_timer_cb, NULL, NULL), DC_OK);
    add_watchdog(l, &wd);
    assert_int_equal(loop_run(l), DC_OK);
    assert_int_equal(wd, 0);
    assert_int_equal(c.cancel_rc, DC_OK);
    assert_int_equal(c.self_rc, DC_OK);
    assert_int_equal(c.victim_fired, 0);
    assert_int_equal(loop_cancel_timer(l, canceller), DC_ENOTFOUND);
    assert_int_equal(loop_cancel_timer(l, c.victim), DC_ENOTFOUND);
    loop_free(l);
}

static void test_loop_one_shot_timer_id_expires_after_firing(void **state)
{
    struct loop *l;
    int wd;
    assert_int_equal(loop_new(&l), DC_OK);
    uint64_t id, id2;
    assert_int_equal(loop_add_timer(l, 1, 0, stop_timer_cb, NULL, &id), DC_OK);
    add_watchdog(l, &wd);
    assert_int_equal(loop_run(l), DC_OK);
    assert_int_equal(wd, 0);
    assert_int_equal(loop_cancel_timer(l, id), DC_ENOTFOUND);
    /* A reused slot gets a fresh id; the stale one still matches nothing. */
    assert_int_equal(loop_add_timer(l, 1000, 0, stop_timer_cb, NULL, &id2), DC_OK);
    assert_true(id2 != id);
    assert_int_equal(loop_cancel_timer(l, id), DC_ENOTFOUND);
    assert_int_equal(loop_cancel_timer(l, id2), DC_OK);
    assert_int_equal(loop_add_timer(l, 5, 1, NULL, NULL, NULL), DC_EINVAL);
    assert_int_equal(loop_add_timer(l, 0, 1, stop_timer_cb, NULL, NULL), DC_EINVAL);
    loop_free(l);
}

/* ------------------------------------------------ stop and signals --- */

static void *stopper_thread(void *arg)
{
    sleep_ms(20);
    loop_stop(arg);
    return NULL;
}

static void test_loop_stop_from_another_thread_returns_run(void **state)
{
    struct loop *l;
    int wd;
    assert_int_equal(loop_new(&l), DC_OK);
    add_watchdog(l, &wd);
    pthread_t th;
    uint64_t t0 = ms_now();
    assert_int_equal(pthread_create(&th, NULL, stopper_thread, l), 0);
    assert_int_equal(loop_run(l), DC_OK);
    uint64_t took = ms_now() - t0;
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(wd, 0);
    assert_true(took >= 20);
    loop_free(l);
}

static void kill_self_cb(struct loop *l, uint64_t id, void *arg)
{
    kill(getpid(), *(int *)arg);
}

struct sig_rec {
    int signo;
    int calls;
};

static void sig_cb(struct loop *l, int signo, void *arg)
{
    struct sig_rec *r = arg;
    r->signo = signo;
    r->calls++;
    loop_stop(l);
}

static void test_loop_sigterm_stops_loop_cleanly(void **state)
{
    sigset_t old;
    assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &old), 0);
    struct loop *l;
    int wd, sig = SIGTERM;
    assert_int_equal(loop_new(&l), DC_OK);
    assert_int_equal(loop_handle_signals(l, NULL, NULL), DC_OK);
    assert_int_equal(loop_add_timer(l, 1, 0, kill_self_cb, &sig, NULL), DC_OK);
    add_watchdog(l, &wd);
    assert_int_equal(loop_run(l), DC_OK);
    assert_int_equal(wd, 0);
    loop_free(l);
    /* The signal was consumed by the signalfd; unblocking cannot kill us. */
    assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
}

static void test_loop_signal_callback_receives_sigint(void **state)
{
    sigset_t old;
    assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &old), 0);
    struct loop *l;
    int wd, sig = SIGINT;
    struct sig_rec r = {0};
    assert_int_equal(loop_new(&l), DC_OK);
    assert_int_equal(loop_handle_signals(l, sig_cb, &r), DC_OK);
    assert_int_equal(loop_add_timer(l, 1, 0, kill_self_cb, &sig, NULL), DC_OK);
    add_watchdog(l, &wd);
    assert_int_equal(loop_run(l), DC_OK);
    assert_int_equal(wd, 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.signo, SIGINT);
    loop_free(l);
    assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
}

/* ----------------------------------------------------------- pool --- */

#define NJOBS 1000

struct job_rec {
    atomic_int work_runs;
    int done_runs;
    pthread_t worker;
    int done_on_wrong_thread;
};

struct job_batch {
    struct job_rec jobs[NJOBS];
    pthread_t loop_thread;
    int done_total;
};

struct job_ref {
    struct job_batch *b;
    int i;
};

static void count_work(void *arg)
{
    struct job_ref *r = arg;
    atomic_fetch_add(&r->b->jobs[r->i].work_runs, 1);
    r->b->jobs[r->i].worker = pthread_self();
}

static void count_done(struct loop *l, void *arg)
{
    struct job_ref *r = arg;
    struct job_rec *j = &r->b->jobs[r->i];
    j->done_runs++;
    if (!pthread_equal(pthread_self(), r->b->loop_thread))
        j->done_on_wrong_thread = 1;
    if (++r->b->done_total == NJOBS && l)
        loop_stop(l);
}

static void test_pool_runs_1000_jobs_and_each_done_once_on_loop_thread(void **state)
{
    struct loop *l;
    struct pool *p;
    int wd;
    assert_int_equal(loop_new(&l), DC_OK);
    assert_int_equal(pool_new(l, 4, &p), DC_OK);
    struct job_batch *b = calloc(1, sizeof(*b));
    struct job_ref *refs = calloc(NJOBS, sizeof(*refs));
    assert_non_null(b);
    assert_non_null(refs);
    b->loop_thread = pthread_self();
    for (int i = 0; i < NJOBS; i++) {
        refs[i] = (struct job_ref){b, i};
        assert_int_equal(pool_submit(p, count_work, count_done, &refs[i]), DC_OK);
    }
    add_watchdog(l, &wd);
    assert_int_equal(loop_run(l), DC_OK);
    assert_int_equal(wd, 0);
    assert_int_equal(b->done_total, NJOBS);
    assert_int_equal(pool_pending(p), 0);
    for (int i = 0; i < NJOBS; i++) {
        assert_int_equal(atomic_load(&b->jobs[i].work_runs), 1);
        assert_int_equal(b->jobs[i].done_runs, 1);
        assert_int_equal(b->jobs[i].done_on_wrong_thread, 0);
        assert_false(pthread_equal(b->jobs[i].worker, b->loop_thread));
    }
    pool_free(p);
    assert_int_equal(b->done_total, NJOBS);
    loop_free(l);
    free(refs);
    free(b);
}

/* Work that blocks until the test opens the gate. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    int done_calls;
};

static void gated_work(void *arg)
{
    struct gate *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gated_done(struct loop *l, void *arg)
{
    struct gate *g = arg;
    g->done_calls++;
}

static void *open_gate_later(void *arg)
{
    struct gate *g = arg;
    sleep_ms(20);
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

static void test_pool_submit_to_full_queue_returns_elimit(void **state)
{
    struct loop *l;
    struct pool *p;
    struct gate g = {.open = 0};
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    assert_int_equal(loop_new(&l), DC_OK);
    assert_int_equal(pool_new(l, 2, &p), DC_OK);
    int accepted = 0, rc;
    while ((rc = pool_submit(p, gated_work, gated_done, &g)) == DC_OK) {
        accepted++;
        assert_true(accepted <= POOL_CAP);
    }
    assert_int_equal(rc, DC_ELIMIT);
    assert_int_equal(accepted, POOL_CAP);
    assert_int_equal(pool_pending(p), POOL_CAP);
    assert_int_equal(pool_submit(p, NULL, gated_done, &g), DC_EINVAL);
    /* pool_free blocks until the gate opens, then delivers everything. */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, open_gate_later, &g), 0);
    pool_free(p);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(g.done_calls, POOL_CAP);
    loop_free(l);
    pthread_cond_destroy(&g.cv);
    pthread_mutex_destroy(&g.mu);
}

static void test_pool_free_with_pending_work_runs_all_completions(void **state)
{
    struct loop *l;
    struct pool *p;
    assert_int_equal(loop_new(&l), DC_OK);
    assert_int_equal(pool_new(l, 3, &p), DC_OK);
    struct job_batch *b = calloc(1, sizeof(*b));
    struct job_ref *refs = calloc(NJOBS, sizeof(*refs));
    assert_non_null(b);
    assert_non_null(refs);
    b->loop_thread = pthread_self();
    for (int i = 0; i < NJOBS; i++) {
        refs[i] = (struct job_ref){b, i};
        assert_int_equal(pool_submit(p, count_work, count_done, &refs[i]), DC_OK);
    }
    /* The loop never runs: pool_free itself delivers on this thread. */
    pool_free(p);
    assert_int_equal(b->done_total, NJOBS);
    for (int i = 0; i < NJOBS; i++) {
        assert_int_equal(atomic_load(&b->jobs[i].work_runs), 1);
        assert_int_equal(b->jobs[i].done_runs, 1);
        assert_int_equal(b->jobs[i].done_on_wrong_thread, 0);
    }
    loop_free(l);
    free(refs);
    free(b);
}

static void resubmit_done(struct loop *l, void *arg);

struct chain {
    struct pool *p;
    int remaining;
    int done_calls;
};

static void noop_work(void *arg)
{
}

/* A done callback may submit more work: the mutex is not held. */
static void resubmit_done(struct loop *l, void *arg)
{
    struct chain *c = arg;
    c->done_calls++;
    if (--c->remaining > 0)
        assert_int_equal(pool_submit(c->p, noop_work, resubmit_done, c), DC_OK);
    else
        loop_stop(l);
}

static void test_pool_done_callback_may_submit_more_work(void **state)
{
    struct loop *l;
    int wd;
    assert_int_equal(loop_new(&l), DC_OK);
    struct chain c = {.remaining = 10};
    assert_int_equal(pool_new(l, 1, &c.p), DC_OK);
    assert_int_equal(pool_submit(c.p, noop_work, resubmit_done, &c), DC_OK);
    add_watchdog(l, &wd);
    assert_int_equal(loop_run(l), DC_OK);
    assert_int_equal(wd, 0);
    assert_int_equal(c.done_calls, 10);
    pool_free(c.p);
    loop_free(l);
}

static void test_pool_rejects_bad_arguments(void **state)
{
    struct loop *l;
    int sentinel;
    struct pool *p = (struct pool *)&sentinel;
    assert_int_equal(loop_new(&l), DC_OK);
    assert_int_equal(pool_new(l, 0, &p), DC_EINVAL);
    assert_null(p);
    assert_int_equal(pool_new(NULL, 2, &p), DC_EINVAL);
    assert_int_equal(pool_new(l, -3, &p), DC_EINVAL);
    assert_int_equal(pool_submit(NULL, noop_work, NULL, NULL), DC_EINVAL);
    assert_int_equal(pool_pending(NULL), 0);
    loop_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_reports_pipe_readable_with_its_fd_and_arg),
        cmocka_unit_test(test_loop_reports_write_readiness_after_mod),
        cmocka_unit_test(test_loop_reports_hangup_as_read_and_write),
        cmocka_unit_test(test_loop_rejects_bad_fd_arguments),
        cmocka_unit_test(test_loop_deleting_other_ready_fd_in_callback_never_calls_it),
        cmocka_unit_test(test_loop_callback_may_delete_its_own_fd),
        cmocka_unit_test(test_loop_timers_fire_in_deadline_order_never_early),
        cmocka_unit_test(test_loop_repeat_timer_fires_until_cancelled_from_its_callback),
        cmocka_unit_test(test_loop_timer_callback_may_cancel_other_and_itself),
        cmocka_unit_test(test_loop_one_shot_timer_id_expires_after_firing),
        cmocka_unit_test(test_loop_stop_from_another_thread_returns_run),
        cmocka_unit_test(test_loop_sigterm_stops_loop_cleanly),
        cmocka_unit_test(test_loop_signal_callback_receives_sigint),
        cmocka_unit_test(test_pool_runs_1000_jobs_and_each_done_once_on_loop_thread),
        cmocka_unit_test(test_pool_submit_to_full_queue_returns_elimit),
        cmocka_unit_test(test_pool_free_with_pending_work_runs_all_completions),
        cmocka_unit_test(test_pool_done_callback_may_submit_more_work),
        cmocka_unit_test(test_pool_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
