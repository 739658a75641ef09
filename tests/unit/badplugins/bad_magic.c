/* A descriptor whose magic is wrong; nothing after it may be trusted. */
#include "common.h"

DC_EXPORT const struct dc_plugin_descriptor *dc_plugin_describe(void);
DC_EXPORT const struct dc_plugin_descriptor *dc_plugin_describe(void)
{
    static const struct dc_plugin_descriptor d = {
        0x12345678u, (uint32_t)sizeof(struct dc_plugin_descriptor), DC_ABI_MAJOR, DC_ABI_MINOR,
        DC_BUILD_SIG, "badmagic", "1.0", "MIT", DC_KIND_STAGE, &regtest_stage_vt, NULL,
        DC_CAP_UNDECLARED};
    return &d;
}
