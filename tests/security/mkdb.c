/* Builds a SQLite database from a SQL script: the security suite's fixture
 * (no sqlite3 shell needed). Usage: security_mkdb SCRIPT.sql OUT.db */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s SCRIPT.sql OUT.db\n", argv[0]);
        return 2;
    }
    FILE *fp = fopen(argv[1], "rb");
    if (!fp) {
        perror(argv[1]);
        return 1;
    }
    char *sql = malloc(1 << 20);
    size_t n = sql ? fread(sql, 1, (1 << 20) - 1, fp) : 0;
    fclose(fp);
    if (!sql)
        return 1;
    sql[n] = '\0';
    sqlite3 *db = NULL;
    char *msg = NULL;
    remove(argv[2]);
    int rc = sqlite3_open(argv[2], &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "%s: %s\n", argv[2], msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_close(db);
    free(sql);
    return rc == SQLITE_OK ? 0 : 1;
}
