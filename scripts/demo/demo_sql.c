#include "demo_sql.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The demo schema in PostgreSQL's types. Foreign keys are added after the
 * data so that load order (categories refer to themselves) never matters. */
static const char pg_schema[] =
    "CREATE TABLE regions (\n"
    "  region_id integer PRIMARY KEY,\n"
    "  name text NOT NULL UNIQUE\n"
    ");\n"
    "CREATE TABLE customers (\n"
    "  customer_id integer PRIMARY KEY,\n"
    "  first_name text NOT NULL,\n"
    "  last_name text NOT NULL,\n"
    "  email text NOT NULL UNIQUE,\n"
    "  country text NOT NULL,\n"
    "  city text NOT NULL,\n"
    "  region_id integer NOT NULL,\n"
    "  segment text NOT NULL CHECK (segment IN ('consumer', 'small business', 'enterprise')),\n"
    "  signup_date date NOT NULL,\n"
    "  is_active integer NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1))\n"
    ");\n"
    "CREATE TABLE categories (\n"
    "  category_id integer PRIMARY KEY,\n"
    "  name text NOT NULL UNIQUE,\n"
    "  parent_category_id integer\n"
    ");\n"
    "CREATE TABLE products (\n"
    "  product_id integer PRIMARY KEY,\n"
    "  sku text NOT NULL UNIQUE,\n"
    "  name text NOT NULL,\n"
    "  category_id integer NOT NULL,\n"
    "  unit_price numeric(12,2) NOT NULL CHECK (unit_price > 0),\n"
    "  unit_cost numeric(12,2) NOT NULL CHECK (unit_cost > 0 AND unit_cost <= unit_price),\n"
    "  is_active integer NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),\n"
    "  launched_on date NOT NULL\n"
    ");\n"
    "CREATE TABLE orders (\n"
    "  order_id integer PRIMARY KEY,\n"
    "  customer_id integer NOT NULL,\n"
    "  order_date timestamp NOT NULL,\n"
    "  status text NOT NULL CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', "
    "'cancelled', 'refunded')),\n"
    "  channel text NOT NULL CHECK (channel IN ('web', 'mobile', 'store', 'phone')),\n"
    "  shipping_country text NOT NULL,\n"
    "  total_amount numeric(12,2) NOT NULL CHECK (total_amount >= 0)\n"
    ");\n"
    "CREATE TABLE order_items (\n"
    "  order_item_id integer PRIMARY KEY,\n"
    "  order_id integer NOT NULL,\n"
    "  product_id integer NOT NULL,\n"
    "  quantity integer NOT NULL CHECK (quantity > 0),\n"
    "  unit_price numeric(12,2) NOT NULL CHECK (unit_price > 0),\n"
    "  discount numeric(5,4) NOT NULL DEFAULT 0 CHECK (discount >= 0 AND discount < 1)\n"
    ");\n"
    "CREATE TABLE payments (\n"
    "  payment_id integer PRIMARY KEY,\n"
    "  order_id integer NOT NULL,\n"
    "  amount numeric(12,2) NOT NULL CHECK (amount >= 0),\n"
    "  method text NOT NULL CHECK (method IN ('card', 'paypal', 'bank_transfer', "
    "'gift_card')),\n"
    "  status text NOT NULL CHECK (status IN ('captured', 'failed', 'refunded')),\n"
    "  paid_at timestamp NOT NULL\n"
    ");\n"
    "CREATE TABLE transactions (\n"
    "  transaction_id integer PRIMARY KEY,\n"
    "  customer_id integer NOT NULL,\n"
    "  order_id integer,\n"
    "  amount numeric(12,2) NOT NULL,\n"
    "  currency text NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3),\n"
    "  status text NOT NULL CHECK (status IN ('completed', 'pending', 'failed', 'reversed')),\n"
    "  transaction_type text NOT NULL CHECK (transaction_type IN ('purchase', 'refund', "
    "'chargeback', 'adjustment', 'fee')),\n"
    "  created_at timestamp NOT NULL,\n"
    "  CHECK (CASE transaction_type WHEN 'refund' THEN amount < 0 WHEN 'chargeback' THEN "
    "amount < 0\n"
    "         WHEN 'adjustment' THEN amount <> 0 ELSE amount > 0 END)\n"
    ");\n";

static const char pg_keys[] =
    "ALTER TABLE customers ADD FOREIGN KEY (region_id) REFERENCES regions (region_id);\n"
    "ALTER TABLE categories ADD FOREIGN KEY (parent_category_id) REFERENCES categories "
    "(category_id);\n"
    "ALTER TABLE products ADD FOREIGN KEY (category_id) REFERENCES categories (category_id);\n"
    "ALTER TABLE orders ADD FOREIGN KEY (customer_id) REFERENCES customers (customer_id);\n"
    "ALTER TABLE order_items ADD FOREIGN KEY (order_id) REFERENCES orders (order_id);\n"
    "ALTER TABLE order_items ADD FOREIGN KEY (product_id) REFERENCES products (product_id);\n"
    "ALTER TABLE payments ADD FOREIGN KEY (order_id) REFERENCES orders (order_id);\n"
    "ALTER TABLE transactions ADD FOREIGN KEY (customer_id) REFERENCES customers "
    "(customer_id);\n"
    "ALTER TABLE transactions ADD FOREIGN KEY (order_id) REFERENCES orders (order_id);\n";

/* The tables in the order they are loaded, each with its key for a stable
 * row order. Column lists come from the SQLite file itself. */
static const struct {
    const char *name;
    const char *key;
} pg_tables[] = {
    {"regions", "region_id"},         {"categories", "category_id"},
    {"customers", "customer_id"},     {"products", "product_id"},
    {"orders", "order_id"},           {"order_items", "order_item_id"},
    {"payments", "payment_id"},       {"transactions", "transaction_id"},
};

static int sql_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int sql_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* COPY text format: backslash, tab, newline and carriage return escaped. */
static void copy_field(FILE *f, const unsigned char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '\\': fputs("\\\\", f); break;
        case '\t': fputs("\\t", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        default: fputc(*s, f); break;
        }
    }
}

static int copy_table(sqlite3 *db, FILE *f, const char *table, const char *key, char *err,
                      size_t errlen)
{
    char sql[160];
    sqlite3_stmt *st = NULL;
    int rc = -1;
    snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" ORDER BY \"%s\"", table, key);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        sql_fail(err, errlen, "reading %s: %s", table, sqlite3_errmsg(db));
        goto cleanup;
    }
    int ncols = sqlite3_column_count(st);
    fprintf(f, "COPY %s (", table);
    for (int i = 0; i < ncols; i++)
        fprintf(f, "%s%s", i ? ", " : "", sqlite3_column_name(st, i));
    fputs(") FROM stdin;\n", f);
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < ncols; i++) {
            if (i)
                fputc('\t', f);
            const unsigned char *v = sqlite3_column_text(st, i);
            if (v)
                copy_field(f, v);
            else if (sqlite3_column_type(st, i) == SQLITE_NULL)
                fputs("\\N", f);
            else {
                sql_fail(err, errlen, "reading %s: out of memory", table);
                goto cleanup;
            }
        }
        fputc('\n', f);
    }
    if (src != SQLITE_DONE) {
        sql_fail(err, errlen, "reading %s: %s", table, sqlite3_errmsg(db));
        goto cleanup;
    }
    fputs("\\.\n", f);
    rc = 0;
cleanup:
    sqlite3_finalize(st);
    return rc;
}

/* Index definitions as SQLite stores them are plain enough for PostgreSQL. */
static int copy_indexes(sqlite3 *db, FILE *f, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = -1, src;
    if (sqlite3_prepare_v2(db,
                           "SELECT sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT "
                           "NULL ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK) {
        sql_fail(err, errlen, "reading indexes: %s", sqlite3_errmsg(db));
        goto cleanup;
    }
    while ((src = sqlite3_step(st)) == SQLITE_ROW)
        fprintf(f, "%s;\n", (const char *)sqlite3_column_text(st, 0));
    if (src != SQLITE_DONE) {
        sql_fail(err, errlen, "reading indexes: %s", sqlite3_errmsg(db));
        goto cleanup;
    }
    rc = 0;
cleanup:
    sqlite3_finalize(st);
    return rc;
}

int demo_write_sql(const char *sqlite_path, const char *out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    FILE *f = NULL;
    char tmp[4096];
    int rc = -1, tmp_made = 0;
    if (!sqlite_path || !out || !*out)
        return sql_fail(err, errlen, "no SQL output path given");
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", out) >= sizeof(tmp))
        return sql_fail(err, errlen, "%s: path too long", out);
    if (sqlite3_open_v2(sqlite_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sql_fail(err, errlen, "cannot open %s: %s", sqlite_path,
                 db ? sqlite3_errmsg(db) : "out of memory");
        goto cleanup;
    }
    f = fopen(tmp, "w");
    if (!f) {
        sql_fail(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    tmp_made = 1;
    fputs("-- The DataChat retail demo for PostgreSQL, written by datachat-demo-gen.\n"
          "-- Load with: psql -v ON_ERROR_STOP=1 -f THIS_FILE\n"
          "SET client_encoding = 'UTF8';\n"
          "SET standard_conforming_strings = on;\n"
          "BEGIN;\n",
          f);
    fputs(pg_schema, f);
    for (size_t i = 0; i < sizeof(pg_tables) / sizeof(pg_tables[0]); i++)
        if (copy_table(db, f, pg_tables[i].name, pg_tables[i].key, err, errlen) != 0)
            goto cleanup;
    fputs(pg_keys, f);
    if (copy_indexes(db, f, err, errlen) != 0)
        goto cleanup;
    fputs("COMMIT;\nANALYZE;\n", f);
    if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0) {
        sql_fail(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (fclose(f) != 0) {
        f = NULL;
        sql_fail(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    f = NULL;
    if (rename(tmp, out) != 0) {
        sql_fail(err, errlen, "cannot rename %s to %s: %s", tmp, out, strerror(errno));
        goto cleanup;
    }
    tmp_made = 0;
    rc = 0;
cleanup:
    if (f)
        fclose(f);
    if (tmp_made)
        unlink(tmp);
    sqlite3_close(db);
    return rc;
}
