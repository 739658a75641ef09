/* Eval suite files (core/cli/eval_suite.c): any bytes must parse into a
 * model whose every item is well formed, or fail with a located error. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/value.h>

#include "eval_suite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct eval_suite *s = NULL;
    char err[512];
    err[0] = '\0';
    int rc = eval_suite_parse("fuzz.tsv", (const char *)data, size, &s, err, sizeof(err));
    if (rc == DC_OK) {
        if (!s || s->n == 0)
            abort();
        for (size_t i = 0; i < s->n; i++) {
            const struct eval_item *it = &s->items[i];
            if (!it->question || !*it->question || !it->expect || it->line < 1 ||
                it->kind < EVAL_GOLD || it->kind > EVAL_CATALOG)
                abort();
            if ((it->kind == EVAL_GOLD || it->kind == EVAL_INTENT || it->kind == EVAL_CATALOG) &&
                !it->arg)
                abort();
            if (strchr(it->question, '\t') || strchr(it->expect, '\n'))
                abort();
        }
        if (s->today && !eval_valid_day(s->today))
            abort();
    } else if (s || (rc != DC_ENOMEM && strncmp(err, "fuzz.tsv:", 9) != 0)) {
        abort();
    }
    eval_suite_free(s);
    return 0;
}
