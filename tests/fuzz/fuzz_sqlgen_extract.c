/* Model replies are outside input: SQL extraction and template checks must
 * never read out of bounds, whatever the bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sqlgen_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *sql = NULL;
    if (sqlgen_extract_sql((const char *)data, size, &sql) == 0 && sql)
        (void)strlen(sql);
    free(sql);
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    static const char *const allowed[] = {"question", "schema", NULL};
    static const char *const required[] = {"question", NULL};
    char err[256];
    if (sqlgen_tpl_check("fuzz", text, allowed, required, err, sizeof(err)) == 0) {
        const char *names[] = {"question", "schema"};
        const char *values[] = {"q", "s"};
        struct textbuf b = {0};
        sqlgen_tpl_fill(text, names, values, 2, &b);
        textbuf_free(&b);
    }
    free(text);
    return 0;
}
