#include "pg_fixture.h"

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit.h"
#include "hostapi.h"

int pgfx_args(int argc, char **argv, struct pg_fixture *f, int *exit_code)
{
    if (!getenv("PGHOST")) {
        const char *ci = getenv("CI");
        fprintf(stderr, "PGHOST is not set (scripts/test starts a throwaway cluster)\n");
        *exit_code = ci && strcmp(ci, "true") == 0 ? 1 : 77;
        return -1;
    }
    f->build = argc > 1 ? argv[1] : getenv("DC_BINARY_DIR");
    if (!f->build) {
        fprintf(stderr, "usage: %s BUILD_DIR\n", argv[0]);
        *exit_code = 2;
        return -1;
    }
    return 0;
}

PGconn *pgfx_connect(const char *dbname)
{
    const char *keys[] = {"dbname", NULL};
    const char *vals[] = {dbname, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 0);
    if (PQstatus(c) != CONNECTION_OK) {
        print_error("cannot connect to %s: %s\n", dbname, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

PGresult *pgfx_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        print_error("admin SQL failed: %s: %s\n", sql, PQerrorMessage(c));
    return r;
}

int pgfx_exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = pgfx_exec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

long pgfx_count(PGconn *c, const char *sql)
{
    PGresult *r = pgfx_exec(c, sql);
    long n = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

int pgfx_setup(struct pg_fixture *f, const char *prefix, const char *init_sql,
               const struct cfg_opt *extra, size_t nextra, const char *db_name,
               const struct gate_limits *lim)
{
    char sql[256], err[512], path[512];
    if (nextra + 1 > PGFX_MAX_OPTS)
        return -1;
    snprintf(f->dbname, sizeof(f->dbname), "%s_%d", prefix, (int)getpid());
    PGconn *pg = pgfx_connect("postgres");
    if (!pg)
        return -1;
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->dbname);
    int ok = pgfx_exec_ok(pg, sql);
    PQfinish(pg);
    if (!ok || !(f->admin = pgfx_connect(f->dbname)) || !pgfx_exec_ok(f->admin, init_sql))
        return -1;
    snprintf(path, sizeof(path), "%s/plugins/connector-postgres.so", f->build);
    f->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!f->dl) {
        print_error("%s\n", dlerror());
        return -1;
    }
    dc_plugin_describe_fn fn = (dc_plugin_describe_fn)dlsym(f->dl, DC_PLUGIN_SYMBOL);
    if (!fn)
        return -1;
    f->ref.desc = fn();
    f->ref.kind = f->ref.desc->kind;
    f->ref.vtable = f->ref.desc->vtable;
    f->ref.name = (char *)"postgres";
    f->vt = f->ref.vtable;
    /* Host, port, user and password come from libpq's own environment. */
    f->opt[0].key = (char *)"dbname";
    f->opt[0].value = f->dbname;
    for (size_t i = 0; i < nextra; i++)
        f->opt[1 + i] = extra[i];
    f->opts.opts = f->opt;
    f->opts.nopts = 1 + nextra;
    f->opts.decl = f->vt->options;
    hostapi_init(&f->host, NULL);
    if (db_init(&f->db, db_name, &f->ref, &f->opts, &f->host) != DC_OK)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/dc-%s-XXXXXX", prefix);
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->audit_path, sizeof(f->audit_path), "%s/audit.jsonl", f->dir);
    if (audit_open(f->audit_path, AUDIT_FSYNC_NEVER, &f->audit, err, sizeof(err)) != DC_OK) {
        print_error("%s\n", err);
        return -1;
    }
    return gate_new(f->audit, lim, &f->gate) == DC_OK ? 0 : -1;
}

void pgfx_teardown(struct pg_fixture *f)
{
    char sql[256], p[200];
    gate_free(f->gate);
    audit_close(f->audit);
    db_fini(&f->db);
    if (f->dl)
        dlclose(f->dl);
    PQfinish(f->admin);
    PGconn *pg = pgfx_connect("postgres");
    if (pg) {
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->dbname);
        pgfx_exec_ok(pg, sql);
        PQfinish(pg);
    }
    if (f->audit_path[0]) {
        unlink(f->audit_path);
        snprintf(p, sizeof(p), "%s.head", f->audit_path);
        unlink(p);
    }
    if (f->dir[0])
        rmdir(f->dir);
    memset(f, 0, sizeof(*f));
}

int pgfx_audit_has(const struct pg_fixture *f, const char *text)
{
    FILE *fp = fopen(f->audit_path, "r");
    char line[8192];
    int found = 0;
    if (!fp)
        return 0;
    while (!found && fgets(line, sizeof(line), fp))
        found = strstr(line, text) != NULL;
    fclose(fp);
    return found;
}
