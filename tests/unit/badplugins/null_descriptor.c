/* dc_plugin_describe exists but returns no descriptor. */
#include <datachat/plugin.h>

DC_EXPORT const struct dc_plugin_descriptor *dc_plugin_describe(void);
DC_EXPORT const struct dc_plugin_descriptor *dc_plugin_describe(void)
{
    return NULL;
}
