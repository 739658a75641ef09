/* Arbitrary bytes as a catalog cache file: a miss or a valid catalog,
 * never a crash or a leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "catcache.h"
#include "schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/dc-fuzz-catcache-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    close(fd);
    struct dc_schema *s = catcache_load(path, "fp");
    for (size_t i = 0; s && i < schema_ntables(s); i++)
        (void)schema_table(s, i)->name;
    schema_free(s);
    unlink(path);
    return 0;
}
