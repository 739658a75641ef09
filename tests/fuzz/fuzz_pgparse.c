/* Fuzzes pgparse_check with arbitrary text. Whatever the input it must not
 * crash or leak, every refusal must carry a code, and anything it accepts
 * is re-checked by an independent oracle: PostgreSQL's parser must see
 * exactly one statement, a SELECT or an EXPLAIN of one, and no node of its
 * tree may be a writing, locking or session statement. The oracle looks at
 * the JSON text for node keys; a key is "Name": with an unescaped quote, so
 * string literals in the SQL can never produce one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <pg_query.h>

#include <datachat/value.h>

#include "pgparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *sql)
{
    fprintf(stderr, "fuzz_pgparse: %s\n  SQL: %s\n", what, sql);
    abort();
}

static const char *const forbidden_keys[] = {
    "\"InsertStmt\":", "\"UpdateStmt\":", "\"DeleteStmt\":", "\"MergeStmt\":",
    "\"CopyStmt\":", "\"TransactionStmt\":", "\"VariableSetStmt\":", "\"DoStmt\":",
    "\"CallStmt\":", "\"intoClause\":", "\"lockingClause\":", "\"CreateTableAsStmt\":",
};

static void oracle(const char *sql)
{
    PgQueryParseResult pr = pg_query_parse(sql);
    if (pr.error || !pr.parse_tree)
        die("accepted, but PostgreSQL's parser rejects it", sql);
    for (size_t i = 0; i < sizeof(forbidden_keys) / sizeof(forbidden_keys[0]); i++)
        if (strstr(pr.parse_tree, forbidden_keys[i]))
            die("accepted a statement whose tree holds a forbidden node", sql);
    json_error_t jerr;
    json_t *root = json_loads(pr.parse_tree, 0, &jerr);
    if (!root)
        die("accepted, but the parse tree is unreadable", sql);
    json_t *stmts = json_object_get(root, "stmts");
    if (json_array_size(stmts) != 1)
        die("accepted more or less than one statement", sql);
    json_t *stmt = json_object_get(json_array_get(stmts, 0), "stmt");
    json_t *sel = json_object_get(stmt, "SelectStmt");
    json_t *exp = json_object_get(stmt, "ExplainStmt");
    if (!sel && !(exp && json_object_get(json_object_get(exp, "query"), "SelectStmt")))
        die("accepted something other than SELECT or EXPLAIN SELECT", sql);
    json_decref(root);
    pg_query_free_parse_result(pr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *sql = malloc(size + 1);
    if (!sql)
        return 0;
    memcpy(sql, data, size);
    sql[size] = '\0'; /* text stops at the first NUL, as for every C caller */

    struct pgparse_info info;
    char err[512];
    memset(&info, 0, sizeof(info));
    info.want_fingerprint = size % 2;
    int rc = pgparse_check(sql, &info, err, sizeof(err));
    if (rc == DC_OK) {
        if (info.code[0])
            die("accepted with a refusal code", sql);
        for (size_t i = 0; i < info.ntables; i++)
            if (!info.tables[i].name || !info.tables[i].full)
                die("a reported table has no name", sql);
        oracle(sql);
    } else if (rc == DC_EDENIED) {
        if (!info.code[0] || !err[0])
            die("refused without a code or a reason", sql);
    } else if (rc != DC_ENOMEM) {
        die("unexpected return code", sql);
    }
    pgparse_info_clear(&info);
    free(sql);
    return 0;
}
