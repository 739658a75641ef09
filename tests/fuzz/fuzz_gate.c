/* Fuzzes the gate with arbitrary SQL text over a small SQLite database.
 * Whatever the input, gate_run must not crash or leak, must leave one
 * audit record, and must never change the database: its contents are
 * checked after every input. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "audit.h"
#include "config.h"
#include "db.h"
#include "gate.h"
#include "hostapi.h"
#include "registry.h"
#include "result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The harness keeps one database, audit log and gate across inputs, as a
 * server would; they live until exit. */
static struct harness {
    int ready;
    void *dl;
    struct dc_plugin_ref ref;
    struct cfg_opt opt;
    struct dc_opts opts;
    struct db db;
    struct audit *audit;
    struct gate *gate;
    sqlite3 *check; /* a separate connection that watches the data */
    char dir[64], db_path[128], audit_path[128], fingerprint[256];
} H;

static void die(const char *what, const char *why)
{
    fprintf(stderr, "fuzz_gate: %s: %s\n", what, why ? why : "");
    abort();
}

static void fingerprint(char out[256])
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(H.check,
                           "SELECT count(*) || ':' || total(a) || ':' || "
                           "ifnull(group_concat(b, ','), '') || ':' || "
                           "(SELECT count(*) FROM sqlite_schema) FROM t",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        die("fingerprint", sqlite3_errmsg(H.check));
    snprintf(out, 256, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static void harness_free(void)
{
    char p[160];
    gate_free(H.gate);
    audit_close(H.audit);
    db_fini(&H.db);
    sqlite3_close(H.check);
    if (H.dl)
        dlclose(H.dl);
    unlink(H.db_path);
    unlink(H.audit_path);
    snprintf(p, sizeof(p), "%s.head", H.audit_path);
    unlink(p);
    rmdir(H.dir);
}

static void harness_init(void)
{
    char err[512] = "";
    const char *plugin = NULL;
#ifdef DC_SQLITE_PLUGIN
    plugin = DC_SQLITE_PLUGIN;
#endif
    char env_plugin[512];
    const char *bin = getenv("DC_BINARY_DIR");
    if (!plugin && bin) {
        snprintf(env_plugin, sizeof(env_plugin), "%s/plugins/connector-sqlite.so", bin);
        plugin = env_plugin;
    }
    if (!plugin)
        die("setup", "set DC_BINARY_DIR to the build directory");
    H.dl = dlopen(plugin, RTLD_NOW | RTLD_LOCAL);
    if (!H.dl)
        die(plugin, dlerror());
    dc_plugin_describe_fn fn = (dc_plugin_describe_fn)dlsym(H.dl, DC_PLUGIN_SYMBOL);
    if (!fn)
        die(plugin, "no descriptor");
    H.ref.desc = fn();
    H.ref.kind = H.ref.desc->kind;
    H.ref.vtable = H.ref.desc->vtable;
    H.ref.name = (char *)"sqlite";

    snprintf(H.dir, sizeof(H.dir), "/tmp/dc-fuzz-gate-XXXXXX");
    if (!mkdtemp(H.dir))
        die("mkdtemp", H.dir);
    snprintf(H.db_path, sizeof(H.db_path), "%s/fuzz.db", H.dir);
    snprintf(H.audit_path, sizeof(H.audit_path), "%s/audit.jsonl", H.dir);
    sqlite3 *w = NULL;
    if (sqlite3_open(H.db_path, &w) != SQLITE_OK ||
        sqlite3_exec(w,
                     "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, c REAL);"
                     "CREATE TABLE u(x INTEGER REFERENCES t(a), y BLOB);"
                     "CREATE INDEX u_x ON u(x);"
                     "CREATE VIEW v AS SELECT a, b FROM t WHERE a > 2;"
                     "INSERT INTO t VALUES (1,'one',1.5),(2,'two',NULL),(3,'three',-3),"
                     "(4,NULL,4e10),(5,'five',0);"
                     "INSERT INTO u VALUES (1, x'00'), (3, NULL);",
                     NULL, NULL, NULL) != SQLITE_OK)
        die("create database", w ? sqlite3_errmsg(w) : "open failed");
    sqlite3_close(w);
    if (sqlite3_open_v2(H.db_path, &H.check, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        die("open check connection", H.db_path);

    H.opt.key = (char *)"path";
    H.opt.value = H.db_path;
    H.opts.opts = &H.opt;
    H.opts.nopts = 1;
    H.opts.decl = ((const struct dc_connector_vtable *)H.ref.vtable)->options;
    struct dc_host h;
    hostapi_init(&h, NULL);
    if (db_init(&H.db, "fuzz", &H.ref, &H.opts, &h) != DC_OK)
        die("db_init", "failed");
    if (audit_open(H.audit_path, AUDIT_FSYNC_NEVER, &H.audit, err, sizeof(err)) != DC_OK)
        die("audit_open", err);
    struct gate_limits lim = {50, 100, 1 << 20};
    if (gate_new(H.audit, &lim, &H.gate) != DC_OK)
        die("gate_new", "failed");
    fingerprint(H.fingerprint);
    atexit(harness_free);
    H.ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!H.ready)
        harness_init();
    char *sql = malloc(size + 1);
    if (!sql)
        return 0;
    memcpy(sql, data, size);
    sql[size] = '\0';

    struct gate_decision dec;
    struct dc_result *out = NULL;
    struct dc_value p[1] = {dc_value_int(3)};
    int rc = gate_run(H.gate, "fuzz", &H.db, sql, p, 1, "fuzz", &out, &dec);
    if (rc != DC_OK) {
        /* Retry without the parameter: most inputs have none. */
        gate_decision_clear(&dec);
        rc = gate_run(H.gate, "fuzz", &H.db, sql, NULL, 0, NULL, &out, &dec);
    }
    if (rc == DC_OK) {
        if (!out || dec.code[0])
            die("accepted", "no result or a refusal code on success");
        if ((size_t)dec.rows != result_nrows(out) || dec.rows > 50)
            die("accepted", "row count disagrees with the result or the cap");
    } else {
        if (out || !dec.code[0])
            die("refused", "a result or no code on failure");
    }
    result_free(out);
    gate_decision_clear(&dec);

    char now[256];
    fingerprint(now);
    if (strcmp(now, H.fingerprint) != 0)
        die("the database changed", sql);
    free(sql);
    return 0;
}
