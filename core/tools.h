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

/* Instantiates the configured tools, then the built-in ones (plugins
 * query_database, list_tables, ... from plugins/tool-builtin) that no
 * configured tool shadows by name, so a bare install has the default set.
 * Built-in plugins are loaded on demand, hence the non-const registry. */
int tools_new(const struct dc_config *cfg, struct registry *reg, struct toolset **out,
              char *err, size_t errlen);
void tools_free(struct toolset *t);
/* Where every call (and approval grant) is recorded: the runtime's log. */
struct audit;
void tools_set_audit(struct toolset *t, struct audit *a);
size_t tools_count(const struct toolset *t);
int tools_info(const struct toolset *t, size_t i, struct tool_info *out);

/* Calls tool `name` with args_json (NULL = {}) in ctx. The result is the
 * JSON text in ctx "result"; failures are recorded in ctx. The arguments
 * are checked and coerced against the tool's schema first (E-TOOL-ARGS
 * naming the field). approval_token (NULL = none) is the approval for a
 * tier-4 call; it is never one of the arguments, so it is neither hashed
 * nor seen by the tool. Without a valid one the call is refused (ctx
 * "refused" = E-APPROVAL-*) and ctx "approval.id" names the pending
 * approval. Every call is audited with tier and arguments hash. */
int tools_call(struct toolset *t, const char *name, const char *args_json,
               const char *approval_token, struct dc_ctx *ctx);

/* Grants pending approval id (the CLI prompt, `tools approve`, POST
 * /api/v1/approvals/{id}): token receives the single-use token, code the
 * E-APPROVAL-* reason on failure (see approval.h). */
int tools_approve(struct toolset *t, const char *id, char token[65], char code[32], char *err,
                  size_t errlen);

#endif
