/* Fuzzes pgparse_rewrite, the PostgreSQL policy rewrite, with arbitrary
 * text that pgparse_check accepts. It must not crash or leak; a refusal
 * carries a code and a reason; a rewrite is itself accepted by
 * pgparse_check, and PostgreSQL's parser finds in it exactly as many
 * references to the shadowed table as the rewrite inserted subqueries
 * (each inserted subquery reads it once, by its schema-qualified name),
 * so no original reference survived unrewritten. pgparse_check_rewrite,
 * the one-parse path the gate takes, decides exactly as the separate
 * passes do, on every input: same outcome, same code, same text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include <datachat/value.h>

#include "pgparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *sql, const char *out)
{
    fprintf(stderr, "fuzz_pgrewrite: %s\n  SQL: %s\n  OUT: %s\n", what, sql, out ? out : "");
    abort();
}

/* References to the table: every "relname":"employees" the parser
 * reports, however the text spelled it. */
static size_t count_refs(const char *sql)
{
    size_t n = 0;
    PgQueryParseResult pr = pg_query_parse(sql);
    for (const char *p = pr.parse_tree; p && (p = strstr(p, "\"relname\":\"employees\"")); p++)
        n++;
    pg_query_free_parse_result(pr);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const denied[] = {"salary"};
    static const struct pgparse_shadow sh[] = {
        {"public", "employees",
         "SELECT \"id\", \"name\", NULL AS \"ssn\" FROM \"public\".\"employees\" WHERE (\n"
         "region = 'EU'\n) OFFSET 0",
         denied, 1},
    };
    if (size > 4096)
        return 0;
    char *sql = malloc(size + 1);
    if (!sql)
        return 0;
    memcpy(sql, data, size);
    sql[size] = '\0';
    struct pgparse_info info;
    struct pgparse_rewrite rw;
    char err[512];
    memset(&info, 0, sizeof(info));
    memset(&rw, 0, sizeof(rw));
    if (pgparse_check(sql, &info, err, sizeof(err)) == DC_OK) {
        int rc = pgparse_rewrite(sql, sh, 1, &rw, err, sizeof(err));
        if (rc == DC_EDENIED && (!rw.code[0] || !err[0]))
            die("refused without a code or a reason", sql, NULL);
        if (rc == DC_OK) {
            struct pgparse_info again;
            memset(&again, 0, sizeof(again));
            if (!rw.sql)
                die("accepted without a statement", sql, NULL);
            if (pgparse_check(rw.sql, &again, err, sizeof(err)) != DC_OK)
                die("the rewrite is not accepted by pgparse_check", sql, rw.sql);
            pgparse_info_clear(&again);
            if (count_refs(rw.sql) != rw.nrewritten)
                die("a reference to the shadowed table survived the rewrite", sql, rw.sql);
        }
    }
    struct pgparse_info one;
    struct pgparse_rewrite rw1;
    memset(&one, 0, sizeof(one));
    memset(&rw1, 0, sizeof(rw1));
    int rc1 = pgparse_check_rewrite(sql, sh, 1, &one, &rw1, err, sizeof(err));
    const char *code2 = info.code[0] ? info.code : rw.code;
    if ((rc1 == DC_OK) != (rw.sql != NULL) || strcmp(one.code, code2) != 0 ||
        (rw1.sql && strcmp(rw1.sql, rw.sql) != 0))
        die("the one-parse path decides otherwise than the separate passes", sql, rw1.sql);
    pgparse_rewrite_clear(&rw1);
    pgparse_info_clear(&one);
    pgparse_rewrite_clear(&rw);
    pgparse_info_clear(&info);
    free(sql);
    return 0;
}
