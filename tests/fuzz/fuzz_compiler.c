/* Plans and emits arbitrary bytes as a question against a fixed small
 * schema. Whatever comes in, the compiler must not crash or leak, and any
 * SQL it emits may hold only SQL keywords, schema identifiers, placeholders
 * and its own constants: question text travels in bound parameters only. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lexicon.h"
#include "planner.h"
#include "question.h"
#include "sqlemit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define COL(n, d, t, pk) {sizeof(struct dc_column_info), n, d, t, 1, pk, NULL, NULL}
static const struct dc_column_info regions_c[] = {COL("region_id", "INTEGER", DC_INT, 1),
                                                  COL("name", "TEXT", DC_TEXT, 0)};
static const struct dc_column_info customers_c[] = {
    COL("customer_id", "INTEGER", DC_INT, 1), COL("first_name", "TEXT", DC_TEXT, 0),
    COL("last_name", "TEXT", DC_TEXT, 0),     COL("country", "TEXT", DC_TEXT, 0),
    COL("region_id", "INTEGER", DC_INT, 0),   COL("signup_date", "DATE", DC_DATE, 0),
    COL("is_active", "INTEGER", DC_INT, 0)};
static const struct dc_fk_info customers_f[] = {
    {sizeof(struct dc_fk_info), "region_id", "regions", "region_id"}};
static const struct dc_column_info orders_c[] = {
    COL("order_id", "INTEGER", DC_INT, 1), COL("customer_id", "INTEGER", DC_INT, 0),
    COL("OrderDate", "TIMESTAMP", DC_TEXT, 0), COL("status", "TEXT", DC_TEXT, 0),
    COL("total_amount", "REAL", DC_REAL, 0), COL("we\"ird col", "TEXT", DC_TEXT, 0)};
static const struct dc_fk_info orders_f[] = {
    {sizeof(struct dc_fk_info), "customer_id", "customers", "customer_id"},
    {sizeof(struct dc_fk_info), "order_id", "orders", "order_id"}};
static const struct dc_table_info tables[] = {
    {sizeof(struct dc_table_info), NULL, "regions", "table", -1, NULL, 2, regions_c, 0, NULL},
    {sizeof(struct dc_table_info), NULL, "customers", "table", -1, NULL, 7, customers_c, 1,
     customers_f},
    {sizeof(struct dc_table_info), NULL, "orders", "table", -1, NULL, 6, orders_c, 2, orders_f},
    {sizeof(struct dc_table_info), NULL, "order_view", "view", -1, NULL, 6, orders_c, 0, NULL},
};

/* Finds a value when the phrase is short and starts with a capital, so
 * that filters are exercised with text taken from the input. */
static int probe(void *arg, const char *table, const char *column, const char *value,
                 char *canon, size_t cap)
{
    (void)arg;
    (void)table;
    (void)column;
    size_t n = strlen(value);
    if (n < 2 || n > 24 || !isupper((unsigned char)value[0]))
        return 0;
    snprintf(canon, cap, "%s", value);
    return 1;
}

static const char *const keywords[] = {
    "SELECT", "DISTINCT", "FROM", "JOIN", "ON", "WHERE", "AND", "IN", "NOT", "GROUP", "BY",
    "HAVING", "ORDER", "ASC", "DESC", "LIMIT", "AS", "COUNT", "SUM", "AVG", "MIN", "MAX",
    "strftime", "date", "CAST", "INTEGER", NULL};
static const char *const literals[] = {"'%Y'", "'%Y-%m'", "'%Y-W%W'", "'%m'", "'-Q'", NULL};

static int known_ident(const char *s, size_t n)
{
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        if (strlen(tables[t].name) == n && memcmp(tables[t].name, s, n) == 0)
            return 1;
        for (size_t c = 0; c < tables[t].ncolumns; c++)
            if (strlen(tables[t].columns[c].name) == n &&
                memcmp(tables[t].columns[c].name, s, n) == 0)
                return 1;
    }
    static const char *const labels[] = {"count", "day", "week", "month", "quarter", "year",
                                         "sum_total_amount", "avg_total_amount",
                                         "min_total_amount", "max_total_amount", NULL};
    for (const char *const *l = labels; *l; l++)
        if (strlen(*l) == n && memcmp(*l, s, n) == 0)
            return 1;
    /* measure labels: a prefix and a column name */
    static const char *const pre[] = {"count_distinct_", "min_", "max_", "sum_", "avg_", NULL};
    for (const char *const *q = pre; *q; q++) {
        size_t k = strlen(*q);
        if (n > k && memcmp(s, *q, k) == 0)
            return known_ident(s + k, n - k);
    }
    return 0;
}

static void check_sql(const char *sql)
{
    const char *p = sql;
    while (*p) {
        if (*p == '"') {
            char id[256];
            size_t n = 0;
            p++;
            while (*p && !(p[0] == '"' && p[1] != '"')) {
                if (p[0] == '"')
                    p++;
                if (n + 1 < sizeof(id))
                    id[n++] = *p;
                p++;
            }
            if (*p != '"' || !known_ident(id, n))
                __builtin_trap();
            p++;
        } else if (*p == '\'') {
            const char *e = strchr(p + 1, '\'');
            if (!e)
                __builtin_trap();
            int ok = 0;
            for (const char *const *l = literals; *l; l++)
                if ((size_t)(e + 1 - p) == strlen(*l) && memcmp(p, *l, strlen(*l)) == 0)
                    ok = 1;
            if (!ok)
                __builtin_trap();
            p = e + 1;
        } else if (isalpha((unsigned char)*p)) {
            const char *s = p;
            while (isalpha((unsigned char)*p) || *p == '_')
                p++;
            int ok = 0;
            for (const char *const *k = keywords; *k; k++)
                if ((size_t)(p - s) == strlen(*k) && memcmp(s, *k, strlen(*k)) == 0)
                    ok = 1;
            if (!ok)
                __builtin_trap();
        } else if (strchr("0123456789 ().,*=<>?|+/", *p)) {
            p++;
        } else {
            __builtin_trap();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct dc_table_info *ptrs[4] = {&tables[0], &tables[1], &tables[2], &tables[3]};
    struct lexicon *lx = NULL;
    if (lex_build(ptrs, 4, &lx) != DC_OK)
        return 0;
    static struct plan p;
    struct plan_opts o = {q_days(2026, 6, 30), probe, NULL, 24};
    if (plan_question(lx, (const char *)data, size, &o, &p) == DC_OK) {
        if (!memchr(p.why, 0, sizeof(p.why)) || (p.unsure && !p.why[0]))
            __builtin_trap();
        if (!p.unsure) {
            static struct emitted e;
            const char *dialects[] = {"sqlite", "postgres"};
            for (int d = 0; d < 2; d++) {
                if (emit_sql(lx, &p, emit_dialect(dialects[d]), &e) != DC_OK)
                    continue;
                if (d == 0)
                    check_sql(e.sql);
                if (!e.summary || e.nparams > EMIT_MAX_PARAMS)
                    __builtin_trap();
                emit_free(&e);
            }
        }
    }
    lex_free(lx);
    return 0;
}
