/* Fuzz target: config_load_string on arbitrary bytes, then everything a
 * loaded config feeds (graph output, resolve against permissive fake
 * plugins, option accessors). Nothing may leak or crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/plugin.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct dc_option fuzz_opts[] = {
    {"path", DC_OPT_PATH, 0, "x.db", "file"},
    {"n", DC_OPT_INT, 0, "3", "count"},
    {"ratio", DC_OPT_NUMBER, 0, NULL, "ratio"},
    {"flag", DC_OPT_BOOL, 0, "on", "flag"},
    {"items", DC_OPT_LIST, 0, NULL, "list"},
    {"dsn_env", DC_OPT_ENV, 0, NULL, "env"},
    {"model", DC_OPT_STRING, 0, NULL, "model"},
    DC_OPTIONS_END};
static const char *const fuzz_outcomes[] = {"ok", "fail", "sql", "catalog", NULL};
static const struct dc_connector_vtable conn_vt = {
    .struct_size = sizeof(struct dc_connector_vtable), .dialect = "sqlite", .options = fuzz_opts};
static const struct dc_stage_vtable stage_vt = {
    .struct_size = sizeof(struct dc_stage_vtable), .options = fuzz_opts, .outcomes = fuzz_outcomes};
static const struct dc_llm_vtable llm_vt = {
    .struct_size = sizeof(struct dc_llm_vtable), .options = fuzz_opts};
static const struct dc_tool_vtable tool_vt = {
    .struct_size = sizeof(struct dc_tool_vtable), .options = fuzz_opts};

#define FUZZ_DESC(kind_, vt_) \
    {DC_PLUGIN_MAGIC, sizeof(struct dc_plugin_descriptor), DC_ABI_MAJOR, DC_ABI_MINOR, \
     DC_BUILD_SIG, "any", "1", "MIT", kind_, vt_, "fuzz", DC_CAP_UNDECLARED}
static const struct dc_plugin_descriptor descs[] = {
    FUZZ_DESC(DC_KIND_CONNECTOR, &conn_vt), FUZZ_DESC(DC_KIND_LLM, &llm_vt),
    FUZZ_DESC(DC_KIND_STAGE, &stage_vt), FUZZ_DESC(DC_KIND_TOOL, &tool_vt)};

/* Names starting with "x" are unknown, everything else resolves. */
static const struct dc_plugin_descriptor *lookup(void *arg, int kind, const char *name)
{
    (void)arg;
    if (name[0] == 'x' || kind < 1 || kind > 4)
        return NULL;
    return &descs[kind - 1];
}

static void poke_opts(const struct dc_opts *o)
{
    int64_t i;
    double d;
    int b;
    for (size_t k = 0; k < o->nopts; k++) {
        const char *key = o->opts[k].key;
        if (!key)
            continue;
        (void)opts_str(o, key);
        (void)opts_int(o, key, &i);
        (void)opts_bool(o, key, &b);
        (void)opts_number(o, key, &d);
        size_t n = opts_list_len(o, key);
        for (size_t j = 0; j <= n; j++)
            (void)opts_list_item(o, key, j);
    }
    (void)opts_int(o, "n", &i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cfg_diags *diags = malloc(sizeof(*diags));
    struct dc_config *cfg = NULL;
    char line[1400];
    if (!diags)
        return 0;
    int rc = config_load_string((const char *)data, size, "/fuzz/datachat.yaml", &cfg, diags);
    for (size_t i = 0; i < diags->n; i++)
        config_diag_format(&diags->d[i], line, sizeof(line));
    if (rc == DC_OK && cfg) {
        free(config_graph_text(cfg));
        free(config_graph_dot(cfg));
        (void)config_resolve(cfg, lookup, NULL, diags);
        for (size_t i = 0; i < diags->n; i++)
            config_diag_format(&diags->d[i], line, sizeof(line));
        for (size_t i = 0; i < cfg->ndbs; i++)
            poke_opts(&cfg->dbs[i].opts);
        for (size_t i = 0; i < cfg->nllms; i++)
            poke_opts(&cfg->llms[i].opts);
        for (size_t i = 0; i < cfg->nstages; i++)
            poke_opts(&cfg->stages[i].with);
        for (size_t i = 0; i < cfg->ntools; i++)
            poke_opts(&cfg->tools[i].with);
    }
    config_free(cfg);
    free(diags);
    return 0;
}
