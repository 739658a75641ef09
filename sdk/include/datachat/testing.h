/*
 * datachat/testing.h - a fake host for unit-testing a plugin without a
 * running DataChat (library datachat-sdk-testing).
 *
 * dc_test_host_table() is a complete struct dc_host: every entry is
 * filled. It records what the plugin does (queries, log lines, values set,
 * trace lines, failures, the result handed over) and answers from what the
 * test scripted (context values, query results, the catalog, options).
 * There is one request context per test host, from dc_test_ctx(); DataPoint
 * lookups and retrieve find nothing. Nothing here is thread-safe: one
 * test, one host.
 *
 *   struct dc_test_host *t = dc_test_host_new();
 *   dc_test_set_options(t, my_vtable.options);
 *   dc_test_set_opt(t, "greeting", "Hi");
 *   my_vtable.init(dc_test_host_table(t), dc_test_opts(t), &state, err, sizeof err);
 *   dc_test_ctx_put(t, "question", "how many orders?");
 *   ... run the plugin ...
 *   assert(strcmp(dc_test_get(t, "answer"), "42") == 0);
 *   dc_test_host_free(t);
 */
#ifndef DATACHAT_TESTING_H
#define DATACHAT_TESTING_H

#include <stddef.h>
#include <stdint.h>

#include "host.h"
#include "plugin.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dc_test_host;

/* NULL when out of memory. */
struct dc_test_host *dc_test_host_new(void);
void dc_test_host_free(struct dc_test_host *t);

/* The host table to hand to init/open; valid until dc_test_host_free. */
const struct dc_host *dc_test_host_table(struct dc_test_host *t);
/* The one request context and the options the plugin instance sees. */
struct dc_ctx *dc_test_ctx(struct dc_test_host *t);
const struct dc_opts *dc_test_opts(struct dc_test_host *t);

/* ---- scripting what the host answers ------------------------------------ */

/* ABI 1.3: makes the host table the one the real host gives the plugin
 * described by d (usually dc_plugin_describe()): the capability groups it
 * does not declare fail with E-PLUGIN-CAPABILITY, naming it. DC_EINVAL
 * when d is not a descriptor. */
int dc_test_use_descriptor(struct dc_test_host *t, const struct dc_plugin_descriptor *d);

/* The plugin's option table, so undeclared keys read as absent and
 * declared defaults apply exactly as in the real host. */
void dc_test_set_options(struct dc_test_host *t, const struct dc_option *decl);
/* A scalar option value (text form), or one more item of a list option. */
int dc_test_set_opt(struct dc_test_host *t, const char *key, const char *value);
int dc_test_add_opt_item(struct dc_test_host *t, const char *key, const char *item);

/* A context value, as the core or an earlier stage would have set it
 * ("question", "database", "principal", "args" ...). Not recorded. */
int dc_test_ctx_put(struct dc_test_host *t, const char *key, const char *value);

/* ctx_query: the first rule whose sql_prefix starts the statement (NULL
 * matches any) answers. rc DC_OK returns a copy of result (the test host
 * keeps result; NULL means an empty result); any other rc is returned as
 * is after ctx_fail(code, message). Without a matching rule ctx_query
 * fails with DC_ENOTFOUND and code E-TEST-NO-SCRIPT. */
int dc_test_on_query(struct dc_test_host *t, const char *sql_prefix, int rc,
                     struct dc_result *result, const char *code, const char *message);
/* A result set to fill with the table's result_add_column and
 * result_append_row; owned by the test host. */
struct dc_result *dc_test_result_new(struct dc_test_host *t);
/* The catalog ctx_schema returns; fill it with schema_add_table. */
struct dc_schema *dc_test_schema(struct dc_test_host *t);
/* Empty schema for connectors' introspect; owned by the test host. */
struct dc_schema *dc_test_schema_new(struct dc_test_host *t);

/* ---- what the plugin did ------------------------------------------------ */

/* The current value of a context key (scripted or set), NULL if none. */
const char *dc_test_get(struct dc_test_host *t, const char *key);
/* Every ctx_set call in order. */
size_t dc_test_nsets(const struct dc_test_host *t);
const char *dc_test_set_key(const struct dc_test_host *t, size_t i);
const char *dc_test_set_value(const struct dc_test_host *t, size_t i);
/* Statements passed to ctx_query, in order. */
size_t dc_test_nqueries(const struct dc_test_host *t);
const char *dc_test_query(const struct dc_test_host *t, size_t i);
/* Log lines (formatted) and their levels. */
size_t dc_test_nlogs(const struct dc_test_host *t);
const char *dc_test_log(const struct dc_test_host *t, size_t i, int *level);
/* ctx_trace lines. */
size_t dc_test_ntraces(const struct dc_test_host *t);
const char *dc_test_trace(const struct dc_test_host *t, size_t i);
/* The last ctx_fail: code and message, NULL when nothing failed. */
const char *dc_test_fail_code(const struct dc_test_host *t);
const char *dc_test_fail_message(const struct dc_test_host *t);
/* The result given to ctx_set_result, NULL if none. */
const struct dc_result *dc_test_result(const struct dc_test_host *t);
/* Forgets what was recorded (not what was scripted), between cases. */
void dc_test_reset(struct dc_test_host *t);

#ifdef __cplusplus
}
#endif
#endif
