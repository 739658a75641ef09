/* Arbitrary bytes as one IPC packet, decoded in both directions: a message
 * or one error, never a crash or a leak. A decoded rows message must turn
 * into a result, and every parameter or cell into a value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/value.h>

#include "ipc.h"
#include "result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_values(const json_t *arr)
{
    size_t i;
    const json_t *x;
    json_array_foreach(arr, i, x) {
        struct dc_value v;
        char *owned = NULL;
        if (ipc_value_from(x, &v, &owned) != DC_OK)
            abort(); /* the decoder accepted a cell the converter refuses */
        json_t *back = ipc_value_json(&v);
        if (!back)
            abort();
        json_decref(back);
        free(owned);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int dirs[] = {IPC_TO_WORKER, IPC_TO_CORE};
    for (size_t d = 0; d < 2; d++) {
        json_t *m = NULL;
        int type = 0;
        char err[256] = "";
        int rc = ipc_decode(data, size, dirs[d], &m, &type, err, sizeof(err));
        if (rc != DC_OK) {
            if (m || !err[0])
                abort(); /* a failure explains itself and returns nothing */
            continue;
        }
        if (type == IPC_QUERY)
            check_values(json_object_get(m, "params"));
        if (type == IPC_ROWS && !json_object_get(m, "error")) {
            struct dc_result *r = NULL;
            if (ipc_rows_get(m, &r, err, sizeof(err)) == DC_OK) {
                json_t *again = ipc_msg_new(IPC_ROWS);
                if (!again || ipc_rows_put(again, r) != DC_OK)
                    abort();
                json_decref(again);
                result_free(r);
            }
        }
        json_decref(m);
    }
    return 0;
}
