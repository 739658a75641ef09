/* A correct tool plugin also named "good": names are unique per kind only. */
#include "common.h"

static int tool_invoke(void *state, struct dc_ctx *ctx)
{
    (void)state;
    (void)ctx;
    return 0;
}

static const struct dc_tool_vtable tool_vt = {
    sizeof(struct dc_tool_vtable), NULL, "does nothing", "{\"type\":\"object\"}", 1,
    regtest_init, regtest_fini, tool_invoke};

DC_PLUGIN_DEFINE(DC_KIND_TOOL, "good", "0.1.0", "MIT", NULL, &tool_vt)
