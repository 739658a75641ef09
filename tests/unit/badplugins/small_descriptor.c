/* A descriptor that ends after the ABI fields: 12 bytes, struct_size 12.
 * The loader must refuse it without reading past those 12 bytes (ASan
 * builds catch any read beyond). */
#include <datachat/plugin.h>

struct small_desc {
    uint32_t magic;
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;
};

static const struct small_desc d = {DC_PLUGIN_MAGIC, (uint32_t)sizeof(struct small_desc),
                                    DC_ABI_MAJOR, DC_ABI_MINOR};

DC_EXPORT const void *dc_plugin_describe(void);
DC_EXPORT const void *dc_plugin_describe(void)
{
    return &d;
}
