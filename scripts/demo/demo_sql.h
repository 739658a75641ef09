/*
 * demo_sql - turns a finished demo database (SQLite) into a PostgreSQL
 * script: tables, COPY data, keys, indexes, ANALYZE, in one transaction,
 * for `psql -v ON_ERROR_STOP=1 -f FILE`.
 * It owns the PostgreSQL spelling of the demo schema. It only reads the
 * SQLite file (which therefore stays byte-for-byte what demo_gen wrote) and
 * never prints: error text goes back to the caller. The script appears
 * atomically (PATH.tmp, then rename).
 */
#ifndef DC_DEMO_SQL_H
#define DC_DEMO_SQL_H

#include <stddef.h>

/* 0 on success; -1 with err filled (and no file left at out.tmp). */
int demo_write_sql(const char *sqlite_path, const char *out, char *err, size_t errlen);

#endif
