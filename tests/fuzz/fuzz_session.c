/* Arbitrary bytes as a conversation turn and as state-store text: the
 * question's parts, a follow-up merge, a stored structure and a cached
 * result either parse or are refused, never a crash or a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "result.h"
#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    struct session_parts *p = calloc(4, sizeof(*p));
    if (!p) {
        free(s);
        return 0;
    }
    session_parts_parse(s, &p[0]);
    session_parts_parse("how many orders in 2025 by month", &p[1]);
    session_parts_merge(&p[1], &p[0], &p[2]);
    free(session_parts_text(&p[2]));
    char *j = session_structure_json(&p[2], NULL);
    if (j && session_structure_parts(j, &p[3]) != DC_OK)
        abort(); /* our own JSON must read back */
    free(j);
    (void)session_structure_parts(s, &p[3]);
    free(session_normalise(s));
    struct dc_result *r = NULL;
    if (session_result_decode(s, &r) == DC_OK) {
        char *again = NULL;
        if (session_result_encode(r, &again) == DC_OK)
            free(again);
        result_free(r);
    }
    free(p);
    free(s);
    return 0;
}
