#include "api/metrics.h"

#include <stdlib.h>
#include <string.h>

#include <datachat/value.h>

#include "util.h"

/* Seconds; the last bucket, +Inf, is the count. */
static const double bucket_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                   0.05,   0.1,   0.25,   0.5,   1,    2.5, 5, 10};
#define NBUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))

struct series {
    char *method;
    char *route; /* "" for unmatched requests */
    int status;
    uint64_t count;
};

struct api_metrics {
    struct series *s;
    size_t n, cap;
    uint64_t buckets[NBUCKETS];
    uint64_t hist_count;
    double hist_sum;
    uint64_t refusals;
    uint64_t audited;
    int64_t inflight;
};

int metrics_new(struct api_metrics **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? DC_OK : DC_ENOMEM;
}

void metrics_free(struct api_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->s[i].method);
        free(m->s[i].route);
    }
    free(m->s);
    free(m);
}

void metrics_observe(struct api_metrics *m, const char *method, const char *route, int status,
                     int64_t us, int refused, int audited)
{
    if (!route)
        route = "";
    /* Unknown methods are client input: fold them so the label set stays bounded. */
    static const char *const known[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD",
                                        "OPTIONS", NULL};
    const char *meth = "OTHER";
    for (size_t i = 0; known[i]; i++)
        if (strcmp(method, known[i]) == 0)
            meth = known[i];
    size_t i;
    for (i = 0; i < m->n; i++)
        if (m->s[i].status == status && strcmp(m->s[i].route, route) == 0 &&
            strcmp(m->s[i].method, meth) == 0)
            break;
    if (i == m->n) {
        if (m->n == m->cap) {
            size_t cap = m->cap ? m->cap * 2 : 32;
            struct series *ns = realloc(m->s, cap * sizeof(*ns));
            if (!ns)
                return;
            m->s = ns;
            m->cap = cap;
        }
        m->s[i].method = strdup(meth);
        m->s[i].route = strdup(route);
        m->s[i].status = status;
        m->s[i].count = 0;
        if (!m->s[i].method || !m->s[i].route) {
            free(m->s[i].method);
            free(m->s[i].route);
            return;
        }
        m->n++;
    }
    m->s[i].count++;
    double sec = (double)us / 1e6;
    for (size_t b = 0; b < NBUCKETS; b++)
        if (sec <= bucket_le[b])
            m->buckets[b]++;
    m->hist_count++;
    m->hist_sum += sec;
    m->refusals += refused != 0;
    m->audited += audited != 0;
}

void metrics_set_inflight(struct api_metrics *m, int64_t inflight)
{
    m->inflight = inflight;
}

char *metrics_cache_text(const uint64_t counts[4])
{
    struct sbuf b;
    sbuf_init(&b);
    sbuf_adds(&b, "# HELP datachat_cache_lookups_total SQL and result cache lookups, by cache "
                  "and outcome.\n# TYPE datachat_cache_lookups_total counter\n");
    static const char *const series[] = {"sql\",outcome=\"hit", "sql\",outcome=\"miss",
                                         "result\",outcome=\"hit", "result\",outcome=\"miss"};
    for (size_t i = 0; i < 4; i++)
        sbuf_addf(&b, "datachat_cache_lookups_total{cache=\"%s\"} %llu\n", series[i],
                  (unsigned long long)counts[i]);
    return sbuf_detach(&b);
}

/* Label values are route patterns and method names from our own table;
 * still escaped as the format requires. */
static void label_value(struct sbuf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            sbuf_addf(b, "\\%c", *s);
        else if (*s == '\n')
            sbuf_adds(b, "\\n");
        else
            sbuf_addf(b, "%c", *s);
    }
}

char *metrics_render(const struct api_metrics *m, size_t *len)
{
    struct sbuf b;
    sbuf_init(&b);
    sbuf_adds(&b, "# HELP datachat_http_requests_total HTTP requests answered, by method, "
                  "route and status.\n# TYPE datachat_http_requests_total counter\n");
    for (size_t i = 0; i < m->n; i++) {
        sbuf_adds(&b, "datachat_http_requests_total{method=\"");
        label_value(&b, m->s[i].method);
        sbuf_adds(&b, "\",route=\"");
        label_value(&b, m->s[i].route[0] ? m->s[i].route : "unmatched");
        sbuf_addf(&b, "\",status=\"%d\"} %llu\n", m->s[i].status,
                  (unsigned long long)m->s[i].count);
    }
    sbuf_adds(&b, "# HELP datachat_http_request_duration_seconds Time from a request's "
                  "headers to its reply.\n# TYPE datachat_http_request_duration_seconds "
                  "histogram\n");
    for (size_t i = 0; i < NBUCKETS; i++)
        sbuf_addf(&b, "datachat_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                  bucket_le[i], (unsigned long long)m->buckets[i]);
    sbuf_addf(&b, "datachat_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
              (unsigned long long)m->hist_count);
    sbuf_addf(&b, "datachat_http_request_duration_seconds_sum %.6f\n", m->hist_sum);
    sbuf_addf(&b, "datachat_http_request_duration_seconds_count %llu\n",
              (unsigned long long)m->hist_count);
    sbuf_addf(&b, "# HELP datachat_gate_refusals_total Requests refused by the gate, a "
                  "policy or a stage.\n# TYPE datachat_gate_refusals_total counter\n"
                  "datachat_gate_refusals_total %llu\n",
              (unsigned long long)m->refusals);
    sbuf_addf(&b, "# HELP datachat_audit_records_total Requests that wrote an audit record "
                  "(a query run or a refusal).\n# TYPE datachat_audit_records_total counter\n"
                  "datachat_audit_records_total %llu\n",
              (unsigned long long)m->audited);
    sbuf_addf(&b, "# HELP datachat_http_requests_in_flight Requests being answered now.\n"
                  "# TYPE datachat_http_requests_in_flight gauge\n"
                  "datachat_http_requests_in_flight %lld\n",
              (long long)m->inflight);
    if (b.oom) {
        sbuf_free(&b);
        return NULL;
    }
    *len = b.len;
    return sbuf_detach(&b);
}
