/*
 * pg_fixture - what the in-process PostgreSQL tests share: a database of
 * their own on the cluster the environment describes (PGHOST...), the
 * PostgreSQL connector loaded from the build, a db, an audit log and a
 * gate over it, and admin helpers that talk to the server directly. It
 * never starts or stops a server (pg_errors.sh and scripts/test do) and
 * never decides what a test asserts.
 */
#ifndef DC_TEST_PG_FIXTURE_H
#define DC_TEST_PG_FIXTURE_H

#include <stddef.h>

#include <libpq-fe.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "config.h"
#include "db.h"
#include "gate.h"
#include "registry.h"

struct audit;

#define PGFX_MAX_OPTS 6

struct pg_fixture {
    const char *build;
    void *dl;
    struct dc_plugin_ref ref;
    const struct dc_connector_vtable *vt;
    struct dc_host host;
    struct cfg_opt opt[PGFX_MAX_OPTS];
    struct dc_opts opts;
    struct db db;
    struct audit *audit;
    struct gate *gate;
    PGconn *admin;
    char dbname[64], dir[64], audit_path[128];
};

/* The build directory from argv[1] or DC_BINARY_DIR. Returns -1 and sets
 * *exit_code when the test cannot run: 77 without a cluster (1 when
 * CI=true), 2 without a build directory. */
int pgfx_args(int argc, char **argv, struct pg_fixture *f, int *exit_code);

/* Creates database <prefix>_<pid> with init_sql run in it, loads the
 * connector with dbname plus the extra options (values borrowed), and
 * opens the audit log and a gate with lim in a temporary directory. The db
 * is named db_name. 0 on success. */
int pgfx_setup(struct pg_fixture *f, const char *prefix, const char *init_sql,
               const struct cfg_opt *extra, size_t nextra, const char *db_name,
               const struct gate_limits *lim);
/* Undoes pgfx_setup, dropping the database. */
void pgfx_teardown(struct pg_fixture *f);

PGconn *pgfx_connect(const char *dbname);
/* The result of sql on c (caller PQclear()s it); failures are printed. */
PGresult *pgfx_exec(PGconn *c, const char *sql);
int pgfx_exec_ok(PGconn *c, const char *sql);
/* One number from sql on c, -1 on failure. */
long pgfx_count(PGconn *c, const char *sql);
/* Whether any record of the audit log contains text. */
int pgfx_audit_has(const struct pg_fixture *f, const char *text);

#endif
