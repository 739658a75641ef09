/*
 * sbnoop - a tool that does nothing but answer {"ok":1}: the baseline of
 * the sandbox benchmark and a well-behaved sandboxed tool for tests.
 */
#include <datachat/host.h>
#include <datachat/plugin.h>

static int noop_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                     char *err, size_t errlen)
{
    (void)opts;
    (void)err;
    (void)errlen;
    *state = (void *)h;
    return DC_OK;
}

static int noop_invoke(void *state, struct dc_ctx *ctx)
{
    const struct dc_host *h = state;
    struct dc_value v = dc_value_int(1);
    return h->ctx_result_set(ctx, "ok", &v);
}

static const struct dc_option noop_options[] = {DC_OPTIONS_END};

static const struct dc_tool_vtable noop_vt = {
    .struct_size = sizeof(struct dc_tool_vtable),
    .options = noop_options,
    .description = "does nothing; answers {\"ok\":1}",
    .tier = 5,
    .init = noop_init,
    .invoke = noop_invoke,
};

DC_PLUGIN_DEFINE(DC_KIND_TOOL, "sbnoop", "1.0.0", "MIT", "sandbox benchmark baseline", &noop_vt)
