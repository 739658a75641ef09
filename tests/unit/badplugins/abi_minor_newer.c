/* Claims ABI 1.99: same major, but newer than this host. */
#include "common.h"

DC_EXPORT const struct dc_plugin_descriptor *dc_plugin_describe(void);
DC_EXPORT const struct dc_plugin_descriptor *dc_plugin_describe(void)
{
    static const struct dc_plugin_descriptor d = {
        DC_PLUGIN_MAGIC, (uint32_t)sizeof(struct dc_plugin_descriptor), DC_ABI_MAJOR, 99,
        DC_BUILD_SIG, "toonew", "1.0", "MIT", DC_KIND_STAGE, &regtest_stage_vt, NULL,
        DC_CAP_UNDECLARED};
    return &d;
}
