/* Classifies arbitrary bytes as a question, against a small fixed schema so
 * table resolution and destructive-object checks run too. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "classify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const cols[] = {"id", "price", "email", "status"};
static const struct cls_table tables[] = {
    {"orders", cols, 4},       {"order_items", cols, 2}, {"InvoiceLine", NULL, 0},
    {"categories", cols, 1},   {"we\"ird", NULL, 0},     {"", NULL, 0},
    {"Order Details", cols, 3}, {"addresses", cols, 4},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cls_result r;
    if (classify_question((const char *)data, size, tables, sizeof(tables) / sizeof(tables[0]),
                          &r) != 0)
        return 0;
    /* The result must be self-consistent whatever came in. */
    if (r.intent < CLS_EMPTY || r.intent > CLS_REFUSE || !memchr(r.table, 0, sizeof(r.table)) ||
        !memchr(r.reason, 0, sizeof(r.reason)))
        __builtin_trap();
    if (r.intent == CLS_REFUSE && !r.code)
        __builtin_trap();
    /* The same bytes as a table phrase. */
    if (size < 512) {
        char phrase[512];
        memcpy(phrase, data, size);
        phrase[size] = '\0';
        const char *how;
        int idx = classify_resolve_table(phrase, tables, sizeof(tables) / sizeof(tables[0]), &how);
        if (idx >= (int)(sizeof(tables) / sizeof(tables[0])) || (idx >= 0 && !how))
            __builtin_trap();
    }
    return 0;
}
