/*
 * tools - the configured tool instances (config `tools:`) and their calls.
 * It owns each tool plugin's state from init to fini and checks a call's
 * arguments are a JSON object before the plugin sees them. It never lets a
 * tool reach a database except through the context's gate-backed query.
 * Tiers, approvals and sandboxed execution build on this module.
 */
#ifndef DC_TOOLS_H
#define DC_TOOLS_H

#include <stddef.h>

struct dc_config;
struct dc_ctx;
struct registry;
struct toolset;

struct tool_info {
    const char *name;        /* the configured name */
    const char *plugin;      /* the plugin's name */
    const char *description;
    const char *params_schema; /* JSON Schema text, may be NULL */
    int tier;
    int sandbox;
};

int tools_new(const struct dc_config *cfg, const struct registry *reg, struct toolset **out,
              char *err, size_t errlen);
void tools_free(struct toolset *t);
/* Where failures of sandboxed tools are recorded (the runtime's log). */
struct audit;
void tools_set_audit(struct toolset *t, struct audit *a);
size_t tools_count(const struct toolset *t);
int tools_info(const struct toolset *t, size_t i, struct tool_info *out);

/* Calls tool `name` with args_json (NULL = {}) in ctx. The result is the
 * JSON text in ctx "result"; failures are recorded in ctx. */
int tools_call(struct toolset *t, const char *name, const char *args_json, struct dc_ctx *ctx);

#endif
