/* Measures audit appends per second: without fsync, with fsync from one
 * thread, and with fsync from several threads (group commit).
 * Usage: bench_audit [DIR] [RECORDS]   (run by hand, not by ctest) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <datachat/value.h>

#include "audit.h"
#include "util.h"

struct job {
    struct audit *a;
    int n;
    int failed;
};

static void *run(void *arg)
{
    struct job *j = arg;
    static const char *const tables[] = {"orders"};
    char err[512];
    for (int i = 0; i < j->n; i++) {
        struct audit_record r = {.event = "query", .principal = "bench", .database = "demo",
                                 .sql = "SELECT count(*) FROM orders WHERE status = 'open'",
                                 .tables = tables, .ntables = 1, .rows = 1, .duration_us = 250,
                                 .outcome = "ok"};
        if (audit_append(j->a, &r, err, sizeof(err)) != DC_OK) {
            fprintf(stderr, "append: %s\n", err);
            j->failed = 1;
            return NULL;
        }
    }
    return NULL;
}

static int bench(const char *dir, const char *label, int mode, int threads, int total)
{
    char path[1024], head[1100];
    char err[512];
    struct audit *a = NULL;
    snprintf(path, sizeof(path), "%s/bench-audit-%d-%d.jsonl", dir, mode, threads);
    snprintf(head, sizeof(head), "%s.head", path);
    unlink(path);
    unlink(head);
    if (audit_open(path, mode, &a, err, sizeof(err)) != DC_OK) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }
    pthread_t th[64];
    struct job jobs[64];
    int64_t t0 = util_now_us();
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){.a = a, .n = total / threads};
        pthread_create(&th[i], NULL, run, &jobs[i]);
    }
    int failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        failed |= jobs[i].failed;
    }
    int64_t us = util_now_us() - t0;
    audit_close(a);
    int n = (total / threads) * threads;
    struct audit_verify_report rep;
    int64_t v0 = util_now_us();
    audit_verify(path, &rep);
    int64_t vus = util_now_us() - v0;
    printf("%-28s %7d records %9.0f appends/s   verify %9.0f records/s  %s\n", label, n,
           n / (us / 1e6), rep.records / (vus / 1e6 + 1e-9), rep.ok ? "ok" : rep.reason);
    unlink(path);
    unlink(head);
    return failed || !rep.ok;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    int total = argc > 2 ? atoi(argv[2]) : 20000;
    int bad = 0;
    if (total < 64)
        total = 64;
    bad |= bench(dir, "fsync never, 1 thread", AUDIT_FSYNC_NEVER, 1, total);
    bad |= bench(dir, "fsync never, 8 threads", AUDIT_FSYNC_NEVER, 8, total);
    bad |= bench(dir, "fsync always, 1 thread", AUDIT_FSYNC_ALWAYS, 1, total / 10);
    bad |= bench(dir, "fsync always, 8 threads", AUDIT_FSYNC_ALWAYS, 8, total / 4);
    bad |= bench(dir, "fsync always, 32 threads", AUDIT_FSYNC_ALWAYS, 32, total / 4);
    return bad;
}
