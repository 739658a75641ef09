/* Claims ABI 2.0: a different major, refused whatever the minor. */
#include "common.h"

DC_EXPORT const struct dc_plugin_descriptor *dc_plugin_describe(void);
DC_EXPORT const struct dc_plugin_descriptor *dc_plugin_describe(void)
{
    static const struct dc_plugin_descriptor d = {
        DC_PLUGIN_MAGIC, (uint32_t)sizeof(struct dc_plugin_descriptor), 2, 0, DC_BUILD_SIG,
        "fromthefuture", "1.0", "MIT", DC_KIND_STAGE, &regtest_stage_vt, NULL,
        DC_CAP_UNDECLARED};
    return &d;
}
