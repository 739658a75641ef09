/* Fuzz target: arbitrary bytes as a Lua script under the sandbox's limits
 * (4 MiB, 20 ms): load it, then call run(ctx) and invoke(args) when it
 * defines them, with a context whose queries fail cleanly (no backend).
 * Nothing may crash, leak or run past its deadline. */
#include <stddef.h>
#include <stdint.h>

#include <datachat/host.h>

#include "ctx.h"
#include "hostapi.h"
#include "luart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct luart_limits lim = {(size_t)4 << 20, 20000, LUART_POOLED};
    struct luart *s = NULL;
    char err[512];
    if (luart_open_buffer((const char *)data, size, "fuzz.lua", NULL, &lim, &s, err,
                          sizeof(err)) != DC_OK)
        return 0;
    struct dc_host h;
    struct host_self self = {.plugin_name = "fuzz", .min_level = -1};
    hostapi_init(&h, &self);
    struct dc_ctx *ctx = ctx_new(NULL);
    if (ctx && ctx_set(ctx, "question", "how many orders") == DC_OK &&
        ctx_set(ctx, "args", "{\"table\":\"orders\",\"n\":[1,2.5,null,true]}") == DC_OK) {
        const char *o = NULL;
        for (int i = 0; i < 2; i++) {
            if (luart_defines(s, "run"))
                (void)luart_run_stage(s, &h, ctx, &o, err, sizeof(err));
            if (luart_defines(s, "invoke"))
                (void)luart_run_tool(s, &h, ctx, err, sizeof(err));
        }
    }
    ctx_free(ctx);
    luart_close(s);
    return 0;
}
