/*
 * llm - the configured LLM provider instances (config `llm:`) and their calls.
 * It owns each provider plugin's state from init to fini and routes a
 * completion request to the instance a caller names. It never sees API keys
 * (providers read them from the environment) and never runs SQL: a model's
 * answer is text that callers must validate through the gate.
 */
#ifndef DC_LLM_H
#define DC_LLM_H

#include <stddef.h>

#include "hostapi.h"

struct dc_config;
struct dc_ctx;
struct registry;
struct llmset;

/* Initialises every cfg->llms entry with its provider plugin. Provider log
 * lines go to sink (NULL: stderr) at log_level and above. */
int llms_new(const struct dc_config *cfg, const struct registry *reg, hostapi_log_sink sink,
             void *sink_arg, int log_level, struct llmset **out, char *err, size_t errlen);
void llms_free(struct llmset *s);
size_t llms_count(const struct llmset *s);
/* The configured name of instance i, NULL past the end. */
const char *llms_name(const struct llmset *s, size_t i);

/* Sends request_json (see datachat/plugin.h) to instance name (NULL: the
 * one named "default", else the first). The reply is in ctx "llm.reply",
 * token usage and latency in "llm.usage"; failures are recorded in ctx
 * with an E-LLM-* code. */
int llms_complete(struct llmset *s, const char *name, struct dc_ctx *ctx,
                  const char *request_json);

#endif
