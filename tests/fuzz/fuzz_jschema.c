/* Tool arguments against the built-in tools' kind of schema: the input is
 * "SCHEMA\nARGUMENTS" (one line of schema; without a newline, the input is
 * the arguments and a fixed schema applies). Must never crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jschema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *fixed =
    "{\"type\":\"object\",\"properties\":{\"sql\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":100},\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"a\",\"b\"]}},\"n\":{\"type\":"
    "[\"number\",\"null\"]}},\"required\":[\"sql\"],\"additionalProperties\":false}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *nl = memchr(text, '\n', size);
    const char *schema = fixed, *args = text;
    if (nl) {
        *nl = '\0';
        schema = text;
        args = nl + 1;
    }
    char err[512], *canon = NULL;
    if (jschema_check_text(schema, args, "arguments", &canon, err, sizeof(err)) == 0)
        free(canon);
    free(text);
    return 0;
}
