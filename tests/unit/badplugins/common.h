/*
 * common.h - shared pieces of the deliberately-broken test plugins: a
 * stage vtable that is complete for ABI 1.0 so that each plugin differs
 * from a good one in exactly the defect its file is named after.
 */
#ifndef REGTEST_COMMON_H
#define REGTEST_COMMON_H

#include <datachat/plugin.h>

__attribute__((unused)) static const char *const regtest_outcomes[] = {"ok", NULL};

__attribute__((unused)) static int regtest_init(const struct dc_host *h, const struct dc_opts *o, void **state,
                        char *err, size_t errlen)
{
    (void)h;
    (void)o;
    (void)err;
    (void)errlen;
    *state = NULL;
    return 0;
}

__attribute__((unused)) static void regtest_fini(void *state)
{
    (void)state;
}

__attribute__((unused)) static int regtest_run(void *state, struct dc_ctx *ctx, const char **outcome)
{
    (void)state;
    (void)ctx;
    *outcome = "ok";
    return 0;
}

__attribute__((unused)) static const struct dc_stage_vtable regtest_stage_vt = {
    sizeof(struct dc_stage_vtable), NULL, regtest_outcomes, regtest_init, regtest_fini,
    regtest_run};

#endif
