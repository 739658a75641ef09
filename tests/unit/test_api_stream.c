/* api/stream, the hand-over of a live reply between a producer thread and
 * the server's send path: bytes come out in order and whole, a sender that
 * finds nothing parks and is woken exactly once per park, the end is -1
 * after the last byte, and after the sender detaches pushes are dropped
 * and nothing is woken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/types.h>

#include <cmocka.h>

#include <datachat/value.h>

#include "api/stream.h"

struct sender {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int parks, wakes;
    int parked;
};

static void park(void *arg)
{
    struct sender *s = arg;
    pthread_mutex_lock(&s->mu);
    s->parks++;
    s->parked = 1;
    pthread_mutex_unlock(&s->mu);
}

static void wake(void *arg)
{
    struct sender *s = arg;
    pthread_mutex_lock(&s->mu);
    s->wakes++;
    s->parked = 0;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void sender_init(struct sender *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
}

static void sender_fini(struct sender *s)
{
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

/* Every test: a fresh stream whose sender is a struct sender. */
struct fixture {
    struct api_stream *st;
    struct sender s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f || api_stream_new(&f->st) != DC_OK)
        return -1;
    sender_init(&f->s);
    api_stream_attach(f->st, park, wake, &f->s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    api_stream_unref(f->st);
    sender_fini(&f->s);
    free(f);
    return 0;
}

static void test_bytes_come_out_in_order_then_the_end(void **state)
{
    struct fixture *f = *state;
    struct api_stream *st = f->st;
    char buf[8];
    assert_int_equal(api_stream_take(st, buf, sizeof(buf)), 0);
    assert_int_equal(f->s.parks, 1);
    assert_int_equal(api_stream_push(st, "hello, world", 12), DC_OK);
    assert_int_equal(f->s.wakes, 1);
    assert_int_equal(api_stream_take(st, buf, sizeof(buf)), 8);
    assert_memory_equal(buf, "hello, w", 8);
    assert_int_equal(api_stream_push(st, "!", 1), DC_OK);
    assert_int_equal(f->s.wakes, 1); /* not parked: nothing to wake */
    assert_int_equal(api_stream_take(st, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "orld!", 5);
    api_stream_end(st);
    assert_int_equal(api_stream_take(st, buf, sizeof(buf)), -1);
    assert_int_equal(f->s.parks, 1);
}

static void test_the_end_wakes_a_parked_sender(void **state)
{
    struct fixture *f = *state;
    struct api_stream *st = f->st;
    char buf[4];
    assert_int_equal(api_stream_take(st, buf, sizeof(buf)), 0);
    api_stream_end(st);
    assert_int_equal(f->s.wakes, 1);
    assert_int_equal(api_stream_take(st, buf, sizeof(buf)), -1);
}

static void test_after_detach_pushes_are_dropped_and_nothing_wakes(void **state)
{
    struct fixture *f = *state;
    struct api_stream *st = f->st;
    char buf[4];
    assert_int_equal(api_stream_take(st, buf, sizeof(buf)), 0);
    assert_false(api_stream_gone(st));
    api_stream_detach(st);
    assert_true(api_stream_gone(st));
    assert_int_equal(api_stream_push(st, "late", 4), DC_OK);
    api_stream_end(st);
    assert_int_equal(f->s.wakes, 0);
}

struct producer {
    struct api_stream *st;
    int n;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    char line[32];
    for (int i = 0; i < p->n; i++) {
        int len = snprintf(line, sizeof(line), "%06d\n", i);
        api_stream_push(p->st, line, (size_t)len);
    }
    api_stream_end(p->st);
    api_stream_unref(p->st);
    return NULL;
}

/* A sender on this thread, a producer on another: every byte arrives once,
 * in order, and each park is answered by one wake. */
static void test_threads_hand_over_every_byte_in_order(void **state)
{
    struct fixture *f = *state;
    struct api_stream *st = f->st;
    api_stream_ref(st); /* the producer's */
    struct producer p = {st, 20000};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, produce, &p), 0);
    char *got = malloc((size_t)p.n * 7 + 1);
    assert_non_null(got);
    size_t len = 0;
    for (;;) {
        char buf[100];
        ssize_t n = api_stream_take(st, buf, sizeof(buf));
        if (n < 0)
            break;
        if (n == 0) { /* parked: wait for the wake, as a suspended connection would */
            pthread_mutex_lock(&f->s.mu);
            while (f->s.parked)
                pthread_cond_wait(&f->s.cv, &f->s.mu);
            pthread_mutex_unlock(&f->s.mu);
            continue;
        }
        assert_true(len + (size_t)n <= (size_t)p.n * 7);
        memcpy(got + len, buf, (size_t)n);
        len += (size_t)n;
    }
    pthread_join(th, NULL);
    assert_int_equal(len, (size_t)p.n * 7);
    for (int i = 0; i < p.n; i++) {
        char want[16];
        snprintf(want, sizeof(want), "%06d\n", i);
        assert_memory_equal(got + (size_t)i * 7, want, 7);
    }
    assert_int_equal(f->s.parks, f->s.wakes);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bytes_come_out_in_order_then_the_end, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_the_end_wakes_a_parked_sender, setup, teardown),
        cmocka_unit_test_setup_teardown(test_after_detach_pushes_are_dropped_and_nothing_wakes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_hand_over_every_byte_in_order, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
