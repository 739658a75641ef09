/*
 * pipeline - runs the configured stage graph for one request.
 * It owns the stage instances (plugin state from init) and the walk: from
 * the entry stage along the edge named by each outcome, within max_steps,
 * recording one trace step per stage. It never interprets outcomes beyond
 * choosing the edge; what a stage does is the stage's business.
 */
#ifndef DC_PIPELINE_H
#define DC_PIPELINE_H

#include <stddef.h>

struct dc_config;
struct dc_ctx;
struct registry;
struct host_self;
struct pipeline;

typedef void (*pipeline_log_sink)(void *arg, int level, const char *plugin, const char *msg);

/* Binds every configured stage to its plugin and runs each plugin's init.
 * The config must have passed config_resolve against reg. */
int pipeline_new(const struct dc_config *cfg, const struct registry *reg,
                 pipeline_log_sink sink, void *sink_arg, int log_level,
                 struct pipeline **out, char *err, size_t errlen);
void pipeline_free(struct pipeline *p);

struct audit;
/* Failures of sandboxed Lua stages are recorded in a (NULL: not recorded);
 * a must outlive p. */
void pipeline_set_audit(struct pipeline *p, struct audit *a);

/* Walks the graph. Returns DC_OK when a terminal stage finished; negative
 * with the error recorded in ctx otherwise (E-PIPELINE-* for graph faults:
 * an outcome the stage did not declare, an outcome with no edge, too many
 * steps). */
int pipeline_run(struct pipeline *p, struct dc_ctx *ctx);

/* pipeline_run, calling on_step(arg, ctx) on the caller's thread after each
 * stage's trace step is closed, so a streaming client (SSE) sees each step
 * as it finishes rather than all of them at the end. step may be NULL. */
typedef void (*pipeline_step_fn)(void *arg, struct dc_ctx *ctx);
int pipeline_run_observed(struct pipeline *p, struct dc_ctx *ctx, pipeline_step_fn on_step,
                          void *arg);

#endif
