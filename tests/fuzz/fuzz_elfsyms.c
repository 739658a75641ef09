/* Arbitrary bytes as a plugin file's ELF image: the exported-symbol count
 * the loader uses to refuse a plugin that exports dc_plugin_describe twice
 * reads nothing outside the image, never crashes, and is DC_OK only with
 * a count. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/plugin.h>

#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so ASan sees any read past the end. */
    unsigned char *img = malloc(size ? size : 1);
    if (!img)
        return 0;
    if (size)
        memcpy(img, data, size);
    int count = -1;
    int rc = registry_elf_count_exports(img, size, DC_PLUGIN_SYMBOL, &count);
    if (count < 0 || (rc != DC_OK && count != 0 && rc != DC_EINVAL))
        abort();
    if (rc != DC_OK && rc != DC_ENOTFOUND && rc != DC_EUNSUPPORTED && rc != DC_EINVAL)
        abort();
    free(img);
    return 0;
}
