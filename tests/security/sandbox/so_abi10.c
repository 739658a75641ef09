/*
 * sbabi10 - a tool plugin as an ABI 1.0 SDK built it: its descriptor ends
 * at `description` (no capabilities field, abi_minor 0) and its vtable is
 * exactly as long as 1.0's. The registry loads such plugins, so the
 * sandbox worker must too (the regression the worker had: it demanded
 * today's vtable size).
 */
#include <stddef.h>
#include <stdint.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

/* The 1.0 layouts, spelled out so a later SDK cannot lengthen them. */
struct tool_vtable_1_0 {
    size_t struct_size;
    const struct dc_option *options;
    const char *description;
    const char *params_schema;
    int tier;
    int (*init)(const struct dc_host *h, const struct dc_opts *opts, void **state, char *err,
                size_t errlen);
    void (*fini)(void *state);
    int (*invoke)(void *state, struct dc_ctx *ctx);
};

struct descriptor_1_0 {
    uint32_t magic;
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;
    const char *build_sig;
    const char *name;
    const char *version;
    const char *license;
    int kind;
    const void *vtable;
    const char *description;
};

static int v10_init(const struct dc_host *h, const struct dc_opts *opts, void **state, char *err,
                    size_t errlen)
{
    (void)opts;
    (void)err;
    (void)errlen;
    *state = (void *)h;
    return DC_OK;
}

static int v10_invoke(void *state, struct dc_ctx *ctx)
{
    const struct dc_host *h = state;
    return h->ctx_set(ctx, "result", "{\"abi\":\"1.0\"}");
}

static const struct dc_option v10_options[] = {DC_OPTIONS_END};

static const struct tool_vtable_1_0 v10_vt = {
    .struct_size = sizeof(struct tool_vtable_1_0),
    .options = v10_options,
    .description = "a tool built against ABI 1.0",
    .tier = 5,
    .init = v10_init,
    .invoke = v10_invoke,
};

DC_EXPORT const struct dc_plugin_descriptor *dc_plugin_describe(void);
DC_EXPORT const struct dc_plugin_descriptor *dc_plugin_describe(void)
{
    static const struct descriptor_1_0 d = {DC_PLUGIN_MAGIC,
                                            (uint32_t)sizeof(struct descriptor_1_0),
                                            DC_ABI_MAJOR,
                                            0,
                                            DC_BUILD_SIG,
                                            "sbabi10",
                                            "1.0.0",
                                            "MIT",
                                            DC_KIND_TOOL,
                                            &v10_vt,
                                            "a tool plugin built against ABI 1.0"};
    return (const struct dc_plugin_descriptor *)(const void *)&d;
}
