/*
 * api/stream - the bytes of a reply that is sent while it is being made (a
 * live text/event-stream): a producer on a worker thread appends, the
 * server's send path takes. It owns the pending bytes, the end mark and the
 * hand-over between threads: when the sender finds nothing pending it parks
 * (the server suspends the connection) and the next append or the end
 * wakes it. It never touches sockets; the server supplies park and wake.
 */
#ifndef DC_API_STREAM_H
#define DC_API_STREAM_H

#include <stddef.h>
#include <sys/types.h>

struct api_stream;

/* A stream with one reference (the caller's). */
int api_stream_new(struct api_stream **out);
void api_stream_ref(struct api_stream *st);
void api_stream_unref(struct api_stream *st); /* frees at the last reference */

/* Producer, any thread. Bytes appended after the sender detached are
 * dropped (the client went away); the producer need not know. */
int api_stream_push(struct api_stream *st, const char *data, size_t len);
void api_stream_end(struct api_stream *st);
/* Whether the sender detached (stop early, no one is listening). */
int api_stream_gone(struct api_stream *st);

/* Sender. park(arg) is called under the stream's lock when a take finds
 * nothing pending and the end has not come; wake(arg) is then called once,
 * from the producer's thread (outside the lock), when bytes or the end
 * arrive. Both may be NULL until set. */
void api_stream_attach(struct api_stream *st, void (*park)(void *arg), void (*wake)(void *arg),
                       void *arg);
/* Copies up to max pending bytes into buf: the count, 0 after parking, or
 * -1 at the end of the stream. */
ssize_t api_stream_take(struct api_stream *st, char *buf, size_t max);
/* The sender is gone (its connection closed): no park or wake after this. */
void api_stream_detach(struct api_stream *st);

#endif
