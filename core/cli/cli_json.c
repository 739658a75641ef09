/* cli_print_json: the one way the CLI writes a --json document, so every
 * command indents, escapes and reports an encoding failure alike. */

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int cli_print_json(json_t *doc, const char *what)
{
    char *s = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_ENSURE_ASCII) : NULL;
    json_decref(doc);
    if (!s) {
        cli_error("cannot encode %s as JSON", what ? what : "the output");
        return CLI_ERROR;
    }
    puts(s);
    free(s);
    return CLI_OK;
}
