/*
 * extract - which metric DataPoint a question is about, and the values of
 * its declared parameters that the question states (time range,
 * granularity, breakdown, filters). It owns the matching rules and the
 * parameter naming convention of docs/DATAPOINTS.md ("Metric questions").
 * It is pure and bounded: no host, no I/O, no SQL. Every value it returns
 * is built from a canonical form (a formatted date, an allowed value copied
 * from the DataPoint) and never from the question's bytes, and it is still
 * checked again by the host's dp_render before it reaches a statement.
 */
#ifndef DC_METRIC_EXTRACT_H
#define DC_METRIC_EXTRACT_H

#include <stddef.h>

#include <datachat/host.h>

#define MX_MAX_BYTES 4096
#define MX_MAX_TOKENS 128
#define MX_MAX_VALUES 16
#define MX_MAX_CHOICES 8

enum mx_outcome { MX_OK = 0, MX_CLARIFY = 1, MX_NO_MATCH = 2 };

/* One parameter value taken from the question. */
struct mx_value {
    const struct dc_dp_param *param;
    char value[160];
    char phrase[96]; /* the question's words it came from */
};

struct mx_match {
    int outcome;
    const struct dc_datapoint_info *dp; /* MX_OK, and MX_CLARIFY about one metric */
    char phrase[96];                    /* the words that named the metric */
    char shadowed[160]; /* catalog names that also cover every word of phrase
                         * ("is_active, customers"), which the DataPoint
                         * takes precedence over; "" when none */
    const struct dc_datapoint_info *choices[MX_MAX_CHOICES]; /* equal matches */
    size_t nchoices;
    struct mx_value vals[MX_MAX_VALUES];
    size_t nvals;
    char why[640]; /* MX_CLARIFY: the question to ask; MX_NO_MATCH: why not */
    int bad_param; /* MX_CLARIFY because the question asked for something the
                    * metric's parameters do not allow (not an ambiguity) */
};

/* The database's table and column names, as the catalog spells them (they
 * are split at '_' and case changes here). A metric phrase made only of
 * their words, like "active customers" next to customers.is_active, stays
 * the metric's (business meaning before bare names); the names it shadows
 * are reported in mx_match.shadowed for the trace. */
struct mx_schema_words {
    const char *const *words;
    size_t n;
};

/* Matches q[0..qlen) against the metric DataPoints among dps (type metric,
 * with a template, database NULL or equal to db). today is a day count
 * (datephrase.h). sw may be NULL. Always fills out; returns 0. */
int mx_extract(const char *q, size_t qlen, long today, const struct dc_datapoint_info *const *dps,
               size_t ndps, const char *db, const struct mx_schema_words *sw,
               struct mx_match *out);

/* The role the naming convention gives a date/timestamp parameter:
 * MX_ROLE_START (inclusive first day), MX_ROLE_END (exclusive end, or
 * inclusive last day when the description says "inclusive" or "last day"),
 * 0 for none. */
enum { MX_ROLE_START = 1, MX_ROLE_END = 2, MX_ROLE_END_INCL = 3 };
int mx_date_role(const struct dc_dp_param *p);

#endif
