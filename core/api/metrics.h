/*
 * api/metrics - the HTTP server's counters in Prometheus text format:
 * requests by route and status, a request latency histogram, gate and
 * policy refusals, and requests that reached the audit log.
 * It owns the counters; it is not thread-safe: the server updates and
 * renders it on its loop thread only. It never sees tokens or bodies.
 */
#ifndef DC_API_METRICS_H
#define DC_API_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct api_metrics;

int metrics_new(struct api_metrics **out);
void metrics_free(struct api_metrics *m);
/* route: the route's pattern ("/api/v1/chat"), or NULL for no route. */
void metrics_observe(struct api_metrics *m, const char *method, const char *route, int status,
                     int64_t us, int refused, int audited);
void metrics_set_inflight(struct api_metrics *m, int64_t inflight);
/* The exposition of the runtime's cache counters (session.h: SQL hits,
 * SQL misses, result hits, result misses), appended to metrics_render's by
 * the /metrics route. malloc'd, NULL when out of memory. */
char *metrics_cache_text(const uint64_t counts[4]);
/* The exposition text (malloc'd) or NULL when out of memory. */
char *metrics_render(const struct api_metrics *m, size_t *len);

#endif
