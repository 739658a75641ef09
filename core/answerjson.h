/*
 * answerjson - the JSON object describing a finished request context: the
 * question, answer text, SQL, columns, rows, refusal or error, decision
 * trace and timings. `datachat query --json` prints it and the HTTP API
 * (core/api) returns it, so both always agree on the shape.
 * It only reads the context; it never prints and never touches a database.
 */
#ifndef DC_ANSWERJSON_H
#define DC_ANSWERJSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct dc_ctx;
struct trace_step;

/* A new object (caller decrefs), NULL when out of memory. At most max_rows
 * rows are included; "truncated" is true when rows were left out here or by
 * the gate's row cap, and "row_count" counts the rows the result holds. */
json_t *answerjson_new(struct dc_ctx *ctx, int64_t total_us, size_t max_rows);

/* One trace step as {stage, plugin, outcome?, reason?, us}. */
json_t *answerjson_step(const struct trace_step *t);

#endif
