#include "stagereq.h"

#include <time.h>

#include "datephrase.h"

int stage_req_read(const struct dc_host *h, struct dc_ctx *ctx, const char *code,
                   const char *fallback_dialect, struct stage_req *out)
{
    out->question = h->ctx_get(ctx, "question");
    out->dialect = h->ctx_get(ctx, "database.dialect");
    if (!out->dialect)
        out->dialect = fallback_dialect;
    const char *t = h->ctx_get(ctx, "today");
    if (t) {
        /* Tests, evals and replays pin the day; a bad one is the caller's
         * mistake, never silently replaced by the clock. */
        if (q_parse_day(t, &out->today) != 0) {
            h->ctx_fail(ctx, code,
                        "the context key 'today' is '%.40s'; it must be a date as YYYY-MM-DD", t);
            return DC_EINVAL;
        }
        return DC_OK;
    }
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm))
        return DC_ERR;
    out->today = q_days(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    return DC_OK;
}
