/*
 * stagereq - what a SQL-writing stage reads from its request before it
 * starts: the question, the reference day (context key "today", else the
 * UTC date) and the dialect of the database that will run the SQL
 * ("database.dialect", set by the runtime from the connector, else the
 * stage's configured one). Shared by the compiler and metric stages so
 * that both read a request the same way. It never writes to the context
 * except to fail the request on a malformed "today".
 */
#ifndef DC_COMMON_STAGEREQ_H
#define DC_COMMON_STAGEREQ_H

#include <datachat/host.h>

struct stage_req {
    const char *question; /* NULL when the request has none */
    long today;           /* days since 1970-01-01 (datephrase.h) */
    const char *dialect;  /* never NULL when a fallback was given */
};

/* Fills out. A "today" that is not YYYY-MM-DD fails the request with
 * error code code (e.g. "E-METRIC-TODAY") and returns DC_EINVAL; a clock
 * that cannot be read returns DC_ERR. fallback_dialect may be NULL. */
int stage_req_read(const struct dc_host *h, struct dc_ctx *ctx, const char *code,
                   const char *fallback_dialect, struct stage_req *out);

#endif
