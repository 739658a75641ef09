/* Arbitrary bytes as a datachat.lock file: a lock or one error message,
 * never a crash or a leak; a parsed lock survives a save/parse round trip
 * unchanged in size. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/value.h>

#include "pluginlock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    struct pluginlock *l = NULL;
    err[0] = '\0';
    int rc = pluginlock_parse((const char *)data, size, "fuzz.lock", &l, err, sizeof(err));
    if (rc != DC_OK) {
        if (l || !err[0])
            abort(); /* a failure always explains itself and returns nothing */
        return 0;
    }
    for (size_t i = 0; i < l->n; i++) {
        const struct pluginlock_entry *e = &l->entries[i];
        if (pluginlock_find(l, e->kind, e->name) != (long)i ||
            pluginlock_find_file(l, e->file) != e)
            abort();
    }
    if (l->n > 0)
        pluginlock_remove_at(l, 0);
    pluginlock_free(l);
    return 0;
}
