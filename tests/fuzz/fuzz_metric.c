/* The metric extractor on arbitrary bytes: a question against two metric
 * DataPoints with every parameter kind the convention reads (dates,
 * timestamp, granularity, breakdown, filters). It must never crash, read
 * out of bounds or return a value longer than its buffer; every value it
 * returns comes from a DataPoint or a formatted date, so none holds a quote. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "datephrase.h"
#include "extract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const grains[] = {"total", "day", "week", "month", "quarter", "year"};
static const char *const bys[] = {"none", "region", "channel"};
static const char *const regions[] = {"all", "North America", "Europe", "Middle East & Africa"};
static const char *const syn[] = {"sales", "turnover", "income"};

#define P(n, t, v, nv, d) {sizeof(struct dc_dp_param), n, t, v, nv, d, 0, NULL}
static const struct dc_dp_param p0 = P("start_date", "date", NULL, 0, "2000-01-01");
static const struct dc_dp_param p1 = P("end_date", "date", NULL, 0, "2100-01-01");
static const struct dc_dp_param p2 = P("grain", "enum", grains, 6, "total");
static const struct dc_dp_param p3 = P("by", "enum", bys, 3, "none");
static const struct dc_dp_param p4 = P("region", "enum", regions, 4, "all");
static const struct dc_dp_param p5 = P("since_ts", "timestamp", NULL, 0, "2000-01-01 00:00");
static const struct dc_dp_param *const params[] = {&p0, &p1, &p2, &p3, &p4, &p5};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dc_datapoint_info a, b;
    memset(&a, 0, sizeof(a));
    a.struct_size = sizeof(a);
    a.id = "revenue";
    a.type = "metric";
    a.name = "Revenue";
    a.synonyms = syn;
    a.nsynonyms = 3;
    a.sql_template = "SELECT 1";
    a.params = params;
    a.nparams = 6;
    b = a;
    b.id = "order_count";
    b.name = "Order count";
    b.nsynonyms = 0;
    const struct dc_datapoint_info *dps[] = {&a, &b};
    static const char *const names[] = {"orders", "order_date", "is_active"};
    struct mx_schema_words sw = {names, 3};
    char *q = malloc(size + 1);
    if (!q)
        return 0;
    memcpy(q, data, size);
    q[size] = '\0';
    struct mx_match m;
    mx_extract(q, size, q_days(2026, 6, 30), dps, 2, "demo", size % 2 ? &sw : NULL, &m);
    if (m.outcome == MX_OK)
        for (size_t i = 0; i < m.nvals; i++)
            if (strchr(m.vals[i].value, '\'') || strlen(m.vals[i].value) >= sizeof(m.vals[i].value))
                abort();
    free(q);
    return 0;
}
