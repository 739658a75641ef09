/* Arbitrary bytes as a question for retrieval: the query builder must turn
 * them into a MATCH expression made only of double-quoted terms joined
 * with OR, which FTS5 then accepts (a syntax error would mean user text
 * reached FTS5 syntax), never a crash or a leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>

#include "retrieval.h"
#include "schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every term is "..." or "..."* with no lone quote inside. */
static void check_expr(const char *e)
{
    size_t terms = 0;
    const char *p = e;
    for (;;) {
        if (*p != '"')
            abort();
        p++;
        for (;;) {
            if (!*p)
                abort();
            if (p[0] == '"' && p[1] == '"') {
                p += 2;
                continue;
            }
            if (p[0] == '"')
                break;
            p++;
        }
        p++;
        if (*p == '*')
            p++;
        terms++;
        if (!*p)
            break;
        if (strncmp(p, " OR ", 4) != 0)
            abort();
        p += 4;
    }
    if (terms == 0 || terms > RETRIEVAL_MAX_TERMS)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *e = NULL;
    int rc = retrieval_match_expr((const char *)data, size, &e);
    if (rc == DC_OK)
        check_expr(e);
    else if (rc != DC_ENOTFOUND || e)
        abort();
    free(e);

    /* The same text as a search on a small index: never an FTS5 error. */
    char *q = malloc(size + 1);
    struct dc_schema *s = schema_new();
    struct retrieval *r = NULL;
    if (!q || !s)
        goto cleanup;
    memcpy(q, data, size);
    q[size] = '\0';
    struct dc_column_info col = {sizeof(col), "email", "TEXT", DC_TEXT, 0, 0, NULL, "address"};
    struct dc_table_info t = {sizeof(t), NULL, "customers", "table", -1, NULL, 1, &col, 0, NULL};
    struct retrieval_src src = {.schema = s};
    if (schema_add_table(s, &t) != DC_OK || retrieval_open(&src, NULL, &r, NULL, 0) != DC_OK)
        goto cleanup;
    struct retrieval_hit hits[4];
    size_t n = 0;
    char err[256] = "";
    if (retrieval_search(r, q, 4, hits, &n, err, sizeof(err)) != DC_OK) {
        fprintf(stderr, "search failed: %s\n", err);
        abort();
    }
cleanup:
    retrieval_close(r);
    schema_free(s);
    free(q);
    return 0;
}
