#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <datachat/value.h>

/*
 * Threading: everything except loop_stop() and pool work functions runs on
 * the loop thread. The loop is not reentrant: loop_run() from a callback is
 * refused.
 *
 * fd registrations: epoll carries a pointer to the registration, not the fd
 * number, so a callback that deletes (and closes) an fd cannot make a stale
 * event from the same epoll_wait batch reach a freed registration, or a new
 * registration that reused the number. Deleted registrations are only marked
 * dead during dispatch and freed after the batch.
 *
 * Timers: a single timerfd armed at the earliest deadline of a binary
 * min-heap ordered by (deadline, arm sequence), so timers due together fire
 * in deadline order and equal deadlines in the order they were armed. A
 * timer id is (generation << 32 | slot): a cancelled or expired id never
 * matches a reused slot.
 */

#define LOOP_BATCH 64
#define NS_PER_MS 1000000ULL
/* Longer than any real deadline, short enough that ms * 1e6 + now never
 * overflows 64 bits. */
#define LOOP_MAX_TIMER_MS (10ULL * 365 * 24 * 3600 * 1000)
#define POOL_MAX_THREADS 256
/* Work submitted and not yet delivered (queued, running, or finished and
 * waiting for its done callback). Bounds memory when producers outpace the
 * pool or the loop stops draining completions. */
#define POOL_MAX_INFLIGHT 4096

struct reg {
    int fd;
    int dead;
    loop_fd_cb cb;
    void *arg;
    struct reg *next_dead;
};

enum { TIMER_FREE = 0, TIMER_ARMED, TIMER_FIRING };

struct timer {
    uint64_t deadline_ns;
    uint64_t seq;       /* tie-break: order of arming */
    uint64_t period_ns; /* 0 = one-shot */
    loop_timer_cb cb;
    void *arg;
    uint32_t gen;
    uint32_t heap_idx;
    uint32_t next_free;
    int state;
    int cancelled; /* cancelled while its callback runs */
};

#define NO_SLOT UINT32_MAX

struct loop {
    int epfd;
    int stopfd;
    int timerfd;
    int sigfd;
    atomic_int stop;
    int running;
    int dispatching;

    struct reg **fds; /* indexed by fd number */
    size_t fds_cap;
    struct reg *graveyard;

    struct timer *timers; /* slots; index part of the id */
    uint32_t ntimers;
    uint32_t free_slot;
    uint32_t *heap; /* slot indices */
    uint32_t heap_len; /* capacity is always ntimers */
    uint64_t timer_seq;

    loop_signal_cb sig_cb;
    void *sig_arg;
};

struct job {
    pool_work_fn work;
    pool_done_fn done;
    void *arg;
    struct job *next;
};

struct pool {
    struct loop *l;
    int evfd;
    int registered;
    pthread_t *threads;
    int nthreads;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    struct job *q_head, *q_tail;       /* waiting for a worker */
    struct job *done_head, *done_tail; /* finished, waiting for the loop */
    int queued;
    int running;
    int inflight;
};

static int errno_to_dc(int e)
{
    switch (e) {
    case ENOMEM:
    case ENOSPC:
        return DC_ENOMEM;
    case EBADF:
    case EINVAL:
    case EEXIST:
        return DC_EINVAL;
    case ENOENT:
        return DC_ENOTFOUND;
    case EPERM:
        return DC_EUNSUPPORTED;
    case EMFILE:
    case ENFILE:
    case EAGAIN:
        return DC_ELIMIT;
    default:
        return DC_EIO;
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail with a valid pointer on Linux. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void drain_counter_fd(int fd)
{
    uint64_t v;
    /* eventfd/timerfd reads are all-or-nothing 8 bytes; EAGAIN means empty. */
    while (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
        ;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* ---------------------------------------------------------------- fds --- */

static int epoll_mask(int events)
{
    int m = 0;
    if (events & LOOP_READ)
        m |= EPOLLIN;
    if (events & LOOP_WRITE)
        m |= EPOLLOUT;
    return m;
}

static int loop_events(uint32_t m)
{
    int ev = 0;
    if (m & EPOLLIN)
        ev |= LOOP_READ;
    if (m & EPOLLOUT)
        ev |= LOOP_WRITE;
    /* A hangup or error makes the next read or write return at once; report
     * both so a caller waiting on either direction notices. */
    if (m & (EPOLLHUP | EPOLLERR))
        ev |= LOOP_READ | LOOP_WRITE;
    return ev;
}

static struct reg *reg_lookup(const struct loop *l, int fd)
{
    if (fd < 0 || (size_t)fd >= l->fds_cap)
        return NULL;
    return l->fds[fd];
}

static int fds_reserve(struct loop *l, int fd)
{
    if ((size_t)fd < l->fds_cap)
        return DC_OK;
    size_t cap = l->fds_cap ? l->fds_cap : 64;
    while (cap <= (size_t)fd)
        cap *= 2;
    struct reg **p = realloc(l->fds, cap * sizeof(*p));
    if (!p)
        return DC_ENOMEM;
    memset(p + l->fds_cap, 0, (cap - l->fds_cap) * sizeof(*p));
    l->fds = p;
    l->fds_cap = cap;
    return DC_OK;
}

int loop_add_fd(struct loop *l, int fd, int events, loop_fd_cb cb, void *arg)
{
    if (!l || fd < 0 || !cb || (events & ~(LOOP_READ | LOOP_WRITE)))
        return DC_EINVAL;
    if (reg_lookup(l, fd))
        return DC_EINVAL;
    struct reg *r = calloc(1, sizeof(*r));
    if (!r)
        return DC_ENOMEM;
    r->fd = fd;
    r->cb = cb;
    r->arg = arg;
    /* epoll validates the fd before the table grows to its number. */
    struct epoll_event ev = {.events = (uint32_t)epoll_mask(events), .data.ptr = r};
    int rc = DC_OK;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        rc = errno_to_dc(errno);
        goto cleanup;
    }
    rc = fds_reserve(l, fd);
    if (rc != DC_OK) {
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
        goto cleanup;
    }
    l->fds[fd] = r;
    r = NULL;

cleanup:
    free(r);
    return rc;
}

int loop_mod_fd(struct loop *l, int fd, int events)
{
    if (!l || (events & ~(LOOP_READ | LOOP_WRITE)))
        return DC_EINVAL;
    struct reg *r = reg_lookup(l, fd);
    if (!r)
        return DC_ENOTFOUND;
    struct epoll_event ev = {.events = (uint32_t)epoll_mask(events), .data.ptr = r};
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) != 0)
        return errno_to_dc(errno);
    return DC_OK;
}

/* Callers should delete before close(); if the fd was already closed epoll
 * dropped it by itself, and the registration is still released here. */
int loop_del_fd(struct loop *l, int fd)
{
    if (!l)
        return DC_EINVAL;
    struct reg *r = reg_lookup(l, fd);
    if (!r)
        return DC_ENOTFOUND;
    int rc = DC_OK;
    if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) != 0 && errno != EBADF &&
        errno != ENOENT)
        rc = errno_to_dc(errno);
    l->fds[fd] = NULL;
    if (l->dispatching) {
        r->dead = 1;
        r->next_dead = l->graveyard;
        l->graveyard = r;
    } else {
        free(r);
    }
    return rc;
}

static void graveyard_free(struct loop *l)
{
    while (l->graveyard) {
        struct reg *r = l->graveyard;
        l->graveyard = r->next_dead;
        free(r);
    }
}

/* ------------------------------------------------------------- timers --- */

static int timer_before(const struct loop *l, uint32_t a, uint32_t b)
{
    const struct timer *ta = &l->timers[a], *tb = &l->timers[b];
    if (ta->deadline_ns != tb->deadline_ns)
        return ta->deadline_ns < tb->deadline_ns;
    return ta->seq < tb->seq;
}

static void heap_set(struct loop *l, uint32_t i, uint32_t slot)
{
    l->heap[i] = slot;
    l->timers[slot].heap_idx = i;
}

static void heap_up(struct loop *l, uint32_t i)
{
    uint32_t slot = l->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!timer_before(l, slot, l->heap[parent]))
            break;
        heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    heap_set(l, i, slot);
}

static void heap_down(struct loop *l, uint32_t i)
{
    uint32_t slot = l->heap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= l->heap_len)
            break;
        if (c + 1 < l->heap_len && timer_before(l, l->heap[c + 1], l->heap[c]))
            c++;
        if (!timer_before(l, l->heap[c], slot))
            break;
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, slot);
}

/* Capacity is reserved when the slot is allocated, so this cannot fail. */
static void heap_push(struct loop *l, uint32_t slot)
{
    uint32_t i = l->heap_len++;
    heap_set(l, i, slot);
    heap_up(l, i);
}

static void heap_remove(struct loop *l, uint32_t i)
{
    uint32_t last = l->heap[--l->heap_len];
    l->timers[l->heap[i]].heap_idx = NO_SLOT;
    if (i == l->heap_len)
        return;
    heap_set(l, i, last);
    heap_up(l, i);
    heap_down(l, l->timers[last].heap_idx);
}

static uint64_t timer_id(const struct loop *l, uint32_t slot)
{
    return ((uint64_t)l->timers[slot].gen << 32) | slot;
}

static int timer_slot_alloc(struct loop *l, uint32_t *out)
{
    if (l->free_slot == NO_SLOT) {
        if (l->ntimers >= NO_SLOT - 1)
            return DC_ELIMIT;
        uint32_t n = l->ntimers ? l->ntimers * 2 : 16;
        if (n >= NO_SLOT)
            n = NO_SLOT - 1;
        struct timer *t = realloc(l->timers, (size_t)n * sizeof(*t));
        if (!t)
            return DC_ENOMEM;
        l->timers = t;
        uint32_t *h = realloc(l->heap, (size_t)n * sizeof(*h));
        if (!h)
            return DC_ENOMEM; /* the larger slot array is kept; harmless */
        l->heap = h;
        for (uint32_t i = n; i-- > l->ntimers;) {
            memset(&t[i], 0, sizeof(t[i]));
            t[i].gen = 1;
            t[i].heap_idx = NO_SLOT;
            t[i].next_free = l->free_slot;
            l->free_slot = i;
        }
        l->ntimers = n;
    }
    uint32_t s = l->free_slot;
    l->free_slot = l->timers[s].next_free;
    *out = s;
    return DC_OK;
}

static void timer_slot_release(struct loop *l, uint32_t s)
{
    struct timer *t = &l->timers[s];
    uint32_t gen = t->gen + 1;
    memset(t, 0, sizeof(*t));
    t->gen = gen ? gen : 1;
    t->heap_idx = NO_SLOT;
    t->next_free = l->free_slot;
    l->free_slot = s;
}

static int timer_rearm(struct loop *l)
{
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    if (l->heap_len > 0) {
        uint64_t d = l->timers[l->heap[0]].deadline_ns;
        if (d == 0)
            d = 1; /* all-zero it_value would disarm */
        its.it_value.tv_sec = (time_t)(d / 1000000000ULL);
        its.it_value.tv_nsec = (long)(d % 1000000000ULL);
    }
    if (timerfd_settime(l->timerfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
        return errno_to_dc(errno);
    return DC_OK;
}

int loop_add_timer(struct loop *l, uint64_t ms, int repeat, loop_timer_cb cb, void *arg,
                   uint64_t *id)
{
    if (!l || !cb || ms > LOOP_MAX_TIMER_MS || (repeat && ms == 0))
        return DC_EINVAL;
    uint32_t s;
    int rc = timer_slot_alloc(l, &s);
    if (rc != DC_OK)
        return rc;
    struct timer *t = &l->timers[s];
    t->deadline_ns = now_ns() + ms * NS_PER_MS;
    t->seq = l->timer_seq++;
    t->period_ns = repeat ? ms * NS_PER_MS : 0;
    t->cb = cb;
    t->arg = arg;
    t->state = TIMER_ARMED;
    t->cancelled = 0;
    heap_push(l, s);
    if (l->heap[0] == s) {
        rc = timer_rearm(l);
        if (rc != DC_OK) {
            heap_remove(l, l->timers[s].heap_idx);
            timer_slot_release(l, s);
            return rc;
        }
    }
    if (id)
        *id = timer_id(l, s);
    return DC_OK;
}

int loop_cancel_timer(struct loop *l, uint64_t id)
{
    if (!l)
        return DC_EINVAL;
    uint32_t s = (uint32_t)(id & 0xffffffffu);
    uint32_t gen = (uint32_t)(id >> 32);
    if (s >= l->ntimers)
        return DC_ENOTFOUND;
    struct timer *t = &l->timers[s];
    if (t->gen != gen || t->state == TIMER_FREE || t->cancelled)
        return DC_ENOTFOUND;
    if (t->state == TIMER_FIRING) {
        /* Its callback is on the stack; the dispatcher releases the slot. */
        t->cancelled = 1;
        return DC_OK;
    }
    /* Leaving the timerfd armed for a removed head only costs one early
     * wake-up, which re-arms for the new head. */
    heap_remove(l, t->heap_idx);
    timer_slot_release(l, s);
    return DC_OK;
}

static void timer_dispatch(struct loop *l, int fd, int events, void *arg)
{
    drain_counter_fd(fd);
    uint64_t now = now_ns();
    /* Timers armed by the callbacks below wait for the next wake-up, so a
     * zero-delay timer that re-adds itself cannot starve the loop. */
    uint64_t seq_limit = l->timer_seq;
    while (l->heap_len > 0) {
        uint32_t s = l->heap[0];
        struct timer *t = &l->timers[s];
        if (t->deadline_ns > now || t->seq >= seq_limit)
            break;
        heap_remove(l, 0);
        t->state = TIMER_FIRING;
        uint64_t id = timer_id(l, s);
        t->cb(l, id, t->arg);
        t = &l->timers[s]; /* the callback may have grown the slot array */
        if (t->cancelled || t->period_ns == 0) {
            timer_slot_release(l, s);
            continue;
        }
        uint64_t next = t->deadline_ns + t->period_ns;
        if (next <= now)
            next = now + t->period_ns; /* fell behind: skip, do not burst */
        t->deadline_ns = next;
        t->seq = l->timer_seq++;
        t->state = TIMER_ARMED;
        heap_push(l, s);
    }
    /* Re-arm failure leaves the previous setting; nothing else to do from a
     * callback that has no error channel. */
    (void)timer_rearm(l);
}

/* ------------------------------------------------- stop and signals --- */

static void stop_dispatch(struct loop *l, int fd, int events, void *arg)
{
    drain_counter_fd(fd);
}

void loop_stop(struct loop *l)
{
    if (!l)
        return;
    atomic_store(&l->stop, 1);
    uint64_t one = 1;
    /* Only EAGAIN (counter saturated) can fail here, and then a wake-up is
     * already pending. */
    ssize_t n = write(l->stopfd, &one, sizeof(one));
    (void)n;
}

static void signal_dispatch(struct loop *l, int fd, int events, void *arg)
{
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (l->sig_cb)
            l->sig_cb(l, (int)si.ssi_signo, l->sig_arg);
        else
            loop_stop(l);
    }
}

/*
 * The mask is per thread and inherited at pthread_create: call this before
 * starting any thread that is not a pool worker (pool workers block these
 * signals themselves), or a SIGTERM sent to the process may be delivered to
 * a thread where it is not blocked and kill the process. The mask is not
 * restored at loop_free; the process is expected to be exiting. Calling it
 * again replaces cb and arg.
 */
int loop_handle_signals(struct loop *l, loop_signal_cb cb, void *arg)
{
    if (!l)
        return DC_EINVAL;
    l->sig_cb = cb;
    l->sig_arg = arg;
    if (l->sigfd >= 0)
        return DC_OK;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int e = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (e != 0)
        return errno_to_dc(e);
    int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0)
        return errno_to_dc(errno);
    int rc = loop_add_fd(l, fd, LOOP_READ, signal_dispatch, NULL);
    if (rc != DC_OK) {
        close(fd);
        return rc;
    }
    l->sigfd = fd;
    return DC_OK;
}

/* --------------------------------------------------------------- loop --- */

int loop_new(struct loop **out)
{
    if (!out)
        return DC_EINVAL;
    *out = NULL;
    int rc = DC_OK;
    struct loop *l = calloc(1, sizeof(*l));
    if (!l)
        return DC_ENOMEM;
    l->epfd = l->stopfd = l->timerfd = l->sigfd = -1;
    l->free_slot = NO_SLOT;
    atomic_init(&l->stop, 0);

    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        rc = errno_to_dc(errno);
        goto cleanup;
    }
    l->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->stopfd < 0) {
        rc = errno_to_dc(errno);
        goto cleanup;
    }
    l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (l->timerfd < 0) {
        rc = errno_to_dc(errno);
        goto cleanup;
    }
    rc = loop_add_fd(l, l->stopfd, LOOP_READ, stop_dispatch, NULL);
    if (rc != DC_OK)
        goto cleanup;
    rc = loop_add_fd(l, l->timerfd, LOOP_READ, timer_dispatch, NULL);
    if (rc != DC_OK)
        goto cleanup;
    *out = l;
    l = NULL;

cleanup:
    loop_free(l);
    return rc;
}

/* Closes the loop's own fds and releases every registration and timer
 * without calling callbacks. fds added with loop_add_fd stay open: their
 * owners close them. Free pools of this loop first. */
void loop_free(struct loop *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->fds_cap; i++)
        free(l->fds[i]);
    free(l->fds);
    graveyard_free(l);
    free(l->timers);
    free(l->heap);
    close_fd(&l->sigfd);
    close_fd(&l->timerfd);
    close_fd(&l->stopfd);
    close_fd(&l->epfd);
    free(l);
}

/* Returns DC_OK when stopped, DC_EINVAL if already running (a callback
 * called it), DC_EIO if epoll_wait fails. */
int loop_run(struct loop *l)
{
    if (!l || l->running)
        return DC_EINVAL;
    l->running = 1;
    int rc = DC_OK;
    struct epoll_event evs[LOOP_BATCH];
    while (!atomic_exchange(&l->stop, 0)) {
        int n = epoll_wait(l->epfd, evs, LOOP_BATCH, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = errno_to_dc(errno);
            break;
        }
        l->dispatching = 1;
        for (int i = 0; i < n; i++) {
            struct reg *r = evs[i].data.ptr;
            if (r->dead)
                continue;
            r->cb(l, r->fd, loop_events(evs[i].events), r->arg);
        }
        l->dispatching = 0;
        graveyard_free(l);
    }
    l->running = 0;
    return rc;
}

/* --------------------------------------------------------------- pool --- */

/* Run on the loop thread when workers have finished something. */
static void pool_deliver(struct pool *p)
{
    pthread_mutex_lock(&p->mu);
    struct job *j = p->done_head;
    p->done_head = p->done_tail = NULL;
    pthread_mutex_unlock(&p->mu);
    while (j) {
        struct job *next = j->next;
        if (j->done)
            j->done(p->l, j->arg);
        free(j);
        /* One job at a time: a done callback may submit again and must see
         * the slot this one freed (POOL_MAX_INFLIGHT). */
        pthread_mutex_lock(&p->mu);
        p->inflight--;
        pthread_mutex_unlock(&p->mu);
        j = next;
    }
}

static void pool_dispatch(struct loop *l, int fd, int events, void *arg)
{
    drain_counter_fd(fd);
    pool_deliver(arg);
}

static void *pool_worker(void *arg)
{
    struct pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->q_head && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        struct job *j = p->q_head;
        if (!j)
            break; /* stopping and the queue is drained */
        p->q_head = j->next;
        if (!p->q_head)
            p->q_tail = NULL;
        p->queued--;
        p->running++;
        pthread_mutex_unlock(&p->mu);

        j->work(j->arg);

        pthread_mutex_lock(&p->mu);
        p->running--;
        j->next = NULL;
        int was_empty = !p->done_head;
        if (p->done_tail)
            p->done_tail->next = j;
        else
            p->done_head = j;
        p->done_tail = j;
        if (was_empty) {
            /* Only the first completion of a batch wakes the loop: a
             * non-empty list has a wake-up pending already, and pool_deliver
             * takes the whole list. Written after unlocking, so the loop
             * thread woken by it does not block on the mutex we hold. */
            pthread_mutex_unlock(&p->mu);
            uint64_t one = 1;
            /* The counter cannot realistically saturate; a failed write
             * would only delay delivery until the next completion or
             * pool_free. */
            ssize_t n = write(p->evfd, &one, sizeof(one));
            (void)n;
            pthread_mutex_lock(&p->mu);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Stops and joins the started workers after they drained the queue. */
static void pool_join(struct pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    p->started = 0;
}

/*
 * Workers block the asynchronous signals so that a signal meant for the loop
 * (loop_handle_signals) is never delivered to a worker, whatever the order
 * of setup.
 */
int pool_new(struct loop *l, int nthreads, struct pool **out)
{
    if (!out)
        return DC_EINVAL;
    *out = NULL;
    if (!l || nthreads < 1 || nthreads > POOL_MAX_THREADS)
        return DC_EINVAL;
    int rc = DC_OK;
    struct pool *p = calloc(1, sizeof(*p));
    if (!p)
        return DC_ENOMEM;
    p->l = l;
    p->evfd = -1;
    int e = pthread_mutex_init(&p->mu, NULL);
    if (e != 0) {
        free(p);
        return errno_to_dc(e);
    }
    e = pthread_cond_init(&p->cv, NULL);
    if (e != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return errno_to_dc(e);
    }
    p->threads = calloc((size_t)nthreads, sizeof(*p->threads));
    if (!p->threads) {
        rc = DC_ENOMEM;
        goto cleanup;
    }
    p->nthreads = nthreads;
    p->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->evfd < 0) {
        rc = errno_to_dc(errno);
        goto cleanup;
    }
    rc = loop_add_fd(l, p->evfd, LOOP_READ, pool_dispatch, p);
    if (rc != DC_OK)
        goto cleanup;
    p->registered = 1;

    sigset_t all, old;
    sigfillset(&all);
    /* Faults must keep their default action in workers. */
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGABRT);
    sigdelset(&all, SIGTRAP);
    e = pthread_sigmask(SIG_BLOCK, &all, &old);
    if (e != 0) {
        rc = errno_to_dc(e);
        goto cleanup;
    }
    for (int i = 0; i < nthreads; i++) {
        e = pthread_create(&p->threads[i], NULL, pool_worker, p);
        if (e != 0) {
            rc = errno_to_dc(e);
            break;
        }
        p->started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != DC_OK)
        goto cleanup;
    *out = p;
    p = NULL;

cleanup:
    pool_free(p);
    return rc;
}

/*
 * Waits for queued and running work, joins the workers, then runs every done
 * callback not yet delivered on the calling thread (normally the loop thread,
 * after loop_run returned), so no completion is lost. Call it before
 * loop_free, and never from one of this pool's own callbacks.
 */
void pool_free(struct pool *p)
{
    if (!p)
        return;
    pool_join(p);
    if (p->registered)
        loop_del_fd(p->l, p->evfd);
    close_fd(&p->evfd);
    pool_deliver(p);
    /* Only reachable when pool_new failed before any worker ran. */
    while (p->q_head) {
        struct job *j = p->q_head;
        p->q_head = j->next;
        free(j);
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

int pool_submit(struct pool *p, pool_work_fn work, pool_done_fn done, void *arg)
{
    if (!p || !work)
        return DC_EINVAL;
    struct job *j = malloc(sizeof(*j));
    if (!j)
        return DC_ENOMEM;
    j->work = work;
    j->done = done;
    j->arg = arg;
    j->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->stopping || p->inflight >= POOL_MAX_INFLIGHT) {
        int rc = p->stopping ? DC_EINVAL : DC_ELIMIT;
        pthread_mutex_unlock(&p->mu);
        free(j);
        return rc;
    }
    if (p->q_tail)
        p->q_tail->next = j;
    else
        p->q_head = j;
    p->q_tail = j;
    p->queued++;
    p->inflight++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return DC_OK;
}

int pool_pending(const struct pool *p)
{
    if (!p)
        return 0;
    /* The mutex is logically not part of the pool's value. */
    struct pool *mp = (struct pool *)p;
    pthread_mutex_lock(&mp->mu);
    int n = mp->queued + mp->running;
    pthread_mutex_unlock(&mp->mu);
    return n;
}
