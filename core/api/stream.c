#include "api/stream.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/value.h>

#include "util.h"

struct api_stream {
    pthread_mutex_t mu;
    int refs;
    struct sbuf buf;  /* pending bytes from off on */
    size_t off;
    int ended;
    int parked;       /* the sender waits for wake */
    int detached;
    void (*park)(void *arg);
    void (*wake)(void *arg);
    void *arg;
};

int api_stream_new(struct api_stream **out)
{
    *out = NULL;
    struct api_stream *st = calloc(1, sizeof(*st));
    if (!st)
        return DC_ENOMEM;
    if (pthread_mutex_init(&st->mu, NULL) != 0) {
        free(st);
        return DC_ENOMEM;
    }
    st->refs = 1;
    sbuf_init(&st->buf);
    *out = st;
    return DC_OK;
}

void api_stream_ref(struct api_stream *st)
{
    pthread_mutex_lock(&st->mu);
    st->refs++;
    pthread_mutex_unlock(&st->mu);
}

void api_stream_unref(struct api_stream *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->mu);
    int last = --st->refs == 0;
    pthread_mutex_unlock(&st->mu);
    if (!last)
        return;
    sbuf_free(&st->buf);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

/* Under the lock: whether a parked sender is to be woken (once). The wake
 * itself runs after unlocking, so the stream's lock is never held while the
 * server's own locks are taken. A parked sender cannot detach meanwhile:
 * its connection is suspended and only the wake resumes it. */
static int take_wake(struct api_stream *st)
{
    if (!st->parked || st->detached || !st->wake)
        return 0;
    st->parked = 0;
    return 1;
}

int api_stream_push(struct api_stream *st, const char *data, size_t len)
{
    int rc = DC_OK, wake = 0;
    pthread_mutex_lock(&st->mu);
    if (!st->detached && !st->ended) {
        if (st->off == st->buf.len) { /* all taken: start the buffer over */
            sbuf_reset(&st->buf);
            st->off = 0;
        }
        rc = sbuf_add(&st->buf, data, len);
        wake = take_wake(st);
    }
    pthread_mutex_unlock(&st->mu);
    if (wake)
        st->wake(st->arg);
    return rc;
}

void api_stream_end(struct api_stream *st)
{
    pthread_mutex_lock(&st->mu);
    st->ended = 1;
    int wake = take_wake(st);
    pthread_mutex_unlock(&st->mu);
    if (wake)
        st->wake(st->arg);
}

int api_stream_gone(struct api_stream *st)
{
    pthread_mutex_lock(&st->mu);
    int gone = st->detached;
    pthread_mutex_unlock(&st->mu);
    return gone;
}

void api_stream_attach(struct api_stream *st, void (*park)(void *arg), void (*wake)(void *arg),
                       void *arg)
{
    pthread_mutex_lock(&st->mu);
    st->park = park;
    st->wake = wake;
    st->arg = arg;
    pthread_mutex_unlock(&st->mu);
}

ssize_t api_stream_take(struct api_stream *st, char *buf, size_t max)
{
    ssize_t n;
    pthread_mutex_lock(&st->mu);
    size_t avail = st->buf.len - st->off;
    if (avail) {
        size_t k = avail < max ? avail : max;
        memcpy(buf, st->buf.p + st->off, k);
        st->off += k;
        n = (ssize_t)k;
    } else if (st->ended || st->buf.oom) {
        n = -1;
    } else {
        n = 0;
        if (st->park && !st->detached) {
            st->parked = 1;
            st->park(st->arg);
        }
    }
    pthread_mutex_unlock(&st->mu);
    return n;
}

void api_stream_detach(struct api_stream *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->mu);
    st->detached = 1;
    st->parked = 0;
    pthread_mutex_unlock(&st->mu);
}
