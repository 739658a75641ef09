/* Calls a function no library defines; linked with
 * --unresolved-symbols=ignore-all so only dlopen(RTLD_NOW) notices. */
#include "common.h"

extern int dc_regtest_missing_function(void);

static int unresolved_run(void *state, struct dc_ctx *ctx, const char **outcome)
{
    (void)state;
    (void)ctx;
    *outcome = "ok";
    return dc_regtest_missing_function();
}

static const struct dc_stage_vtable vt = {sizeof(struct dc_stage_vtable), NULL,
                                          regtest_outcomes, regtest_init, regtest_fini,
                                          unresolved_run};

DC_PLUGIN_DEFINE(DC_KIND_STAGE, "unresolved", "1.0", "MIT", NULL, &vt)
