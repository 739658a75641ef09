/* `datachat profile [DB]`: measures a database's tables into managed
 * schema DataPoints and says what changed since the last run. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <datachat/host.h>

#include "cli.h"
#include "config.h"
#include "profile.h"
#include "runtime.h"
#include "util.h"

struct progress {
    int tty;
    int shown;
};

static void on_progress(void *arg, const char *table, size_t i, size_t n)
{
    struct progress *pr = arg;
    if (!pr->tty)
        return;
    fprintf(stderr, "\r\033[Kprofiling %zu/%zu: %.60s", i + 1, n, table);
    fflush(stderr);
    pr->shown = 1;
}

int cmd_profile(struct cli *c)
{
    if (c->nargs > 1) {
        cli_error("profile takes one database: a configured name, a SQLite file or a "
                  "postgresql:// URL (or use --db)");
        return CLI_USAGE;
    }
    if (c->nargs == 1) {
        if (c->db && strcmp(c->db, c->args[0]) != 0) {
            cli_error("profile: give the database once (either %s or --db %s)", c->args[0], c->db);
            return CLI_USAGE;
        }
        c->db = c->args[0];
    }
    struct runtime *rt = NULL;
    struct profile_report rep;
    memset(&rep, 0, sizeof(rep));
    char err[1024] = "";
    int ret = cli_load_runtime(c, &rt);
    if (ret != CLI_OK)
        return ret;
    struct runtime_opts o = {.config_path = c->config_path,
                             .audit_path = c->audit_path,
                             .db = c->db,
                             .log_level = c->verbose ? DC_LOG_DEBUG : DC_LOG_WARN};
    if (runtime_start(rt, &o, err, sizeof(err)) != DC_OK) {
        cli_error("%s", err);
        ret = CLI_ERROR;
        goto cleanup;
    }
    const char *dbname = rt->db_name ? rt->db_name : rt->cfg->default_database;
    struct db *d = runtime_find_db(rt, dbname);
    if (!d) {
        cli_error("no database named '%s' is configured", dbname ? dbname : "");
        ret = CLI_USAGE;
        goto cleanup;
    }
    if (!rt->cfg->dp_managed_dir) {
        cli_error("no managed DataPoint directory is configured (datapoints.managed)");
        ret = CLI_USAGE;
        goto cleanup;
    }
    struct progress pr = {isatty(STDERR_FILENO), 0};
    struct profile_opts po = {.progress = on_progress, .progress_arg = &pr};
    int rc = profile_run(rt->gate, d, rt->cfg->dp_managed_dir, &po, &rep, err, sizeof(err));
    if (pr.shown)
        fputs("\r\033[K", stderr);
    if (rc != DC_OK) {
        cli_error("profile %s: %s", dbname, err);
        ret = rc == DC_EDENIED ? CLI_REFUSED : CLI_ERROR;
        goto cleanup;
    }
    if (c->json) {
        json_t *root = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:f}", "database", dbname,
                                 "dir", rep.dir, "added", (int)rep.added, "changed",
                                 (int)rep.changed, "unchanged", (int)rep.unchanged, "removed",
                                 (int)rep.removed, "ms", (double)rep.us / 1000.0);
        json_t *tabs = json_array();
        for (size_t i = 0; root && tabs && i < rep.ntables; i++) {
            const struct profile_table *t = &rep.tables[i];
            json_t *x = json_pack("{s:s, s:s, s:s, s:I, s:I, s:i}", "table", t->table, "file",
                                  t->file, "change", profile_change_name(t->change), "rows",
                                  (json_int_t)t->rows, "sample_rows", (json_int_t)t->sample_rows,
                                  "inferred_fks", (int)t->ninferred);
            json_array_append_new(tabs, x);
        }
        if (root && (!tabs || json_object_set(root, "tables", tabs) != 0)) {
            json_decref(root);
            root = NULL;
        }
        json_decref(tabs);
        ret = cli_print_json(root, "the profile report");
        goto cleanup;
    }
    for (size_t i = 0; i < rep.ntables; i++) {
        const struct profile_table *t = &rep.tables[i];
        if (t->change == PROFILE_UNCHANGED)
            continue;
        printf("  %-9s %s", profile_change_name(t->change), t->table);
        if (t->rows >= 0)
            printf(" (%lld rows", (long long)t->rows);
        if (t->sample_rows)
            printf(", sampled %lld", (long long)t->sample_rows);
        if (t->ninferred)
            printf(", %zu inferred foreign key%s", t->ninferred, t->ninferred == 1 ? "" : "s");
        if (t->rows >= 0)
            printf(")");
        printf("\n");
    }
    printf("profiled %s into %s: %zu added, %zu changed, %zu unchanged, %zu removed "
           "(%.0f ms)\n",
           dbname, rep.dir, rep.added, rep.changed, rep.unchanged, rep.removed,
           (double)rep.us / 1000.0);
cleanup:
    profile_report_free(&rep);
    runtime_free(rt);
    return ret;
}
