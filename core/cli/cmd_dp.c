/* `datachat dp list|show|lint|add`: the DataPoints under the configured
 * directories, checked as files, as a set, and against live databases. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <datachat/host.h>

#include "cli.h"
#include "config.h"
#include "datapoint.h"
#include "db.h"
#include "gate.h"
#include "runtime.h"
#include "util.h"

static int diag_cmp(const void *a, const void *b)
{
    const struct dp_diag *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    if (c)
        return c;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->col < y->col ? -1 : x->col > y->col;
}

static void print_diags(struct dp_diags *dg)
{
    if (dg->n > 1)
        qsort(dg->d, dg->n, sizeof(dg->d[0]), diag_cmp);
    for (size_t i = 0; i < dg->n; i++) {
        char line[1600];
        dp_diag_format(&dg->d[i], line, sizeof(line));
        fprintf(stderr, "%s\n", line);
    }
    if (dg->dropped)
        fprintf(stderr, "(%zu more errors not shown)\n", dg->dropped);
}

/* Phase 1 only: DataPoint commands need the config, not the plugins'
 * instances, until they check against a database. */
static int start_runtime_for_db(struct cli *c, struct runtime *rt)
{
    char err[1024] = "";
    struct runtime_opts o = {.config_path = c->config_path,
                             .audit_path = c->audit_path,
                             .db = c->db,
                             .log_level = c->verbose ? DC_LOG_DEBUG : DC_LOG_WARN};
    if (runtime_start(rt, &o, err, sizeof(err)) != DC_OK) {
        cli_error("%s", err);
        return CLI_ERROR;
    }
    return CLI_OK;
}

static int load_set(struct cli *c, struct runtime **rt, struct dp_set **s, struct dp_diags *dg)
{
    int ret = cli_load_runtime(c, rt);
    if (ret != CLI_OK)
        return ret;
    int rc = dp_set_load_config((*rt)->cfg, s, dg);
    if (rc == DC_ENOMEM) {
        cli_error("out of memory loading DataPoints");
        return CLI_ERROR;
    }
    return CLI_OK;
}

static const char *shadow_note(const struct dp *d, char *buf, size_t n)
{
    const struct dp *by = dp_shadowed_by(d);
    const struct dp *sh = dp_shadows(d);
    if (by)
        snprintf(buf, n, "shadowed by %s (%s)", dp_info(by)->id, dp_info(by)->file);
    else if (sh)
        snprintf(buf, n, "shadows managed %s (%s)", dp_info(sh)->id, dp_info(sh)->file);
    else
        buf[0] = '\0';
    return buf;
}

static int dp_list(struct cli *c)
{
    struct runtime *rt = NULL;
    struct dp_set *s = NULL;
    struct dp_diags dg = {0};
    int ret = load_set(c, &rt, &s, &dg);
    if (ret != CLI_OK)
        goto cleanup;
    print_diags(&dg);
    size_t n = dp_set_count_all(s);
    if (c->json) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++) {
            const struct dp *d = dp_set_at_all(s, i);
            const struct dc_datapoint_info *in = dp_info(d);
            const struct dp *by = dp_shadowed_by(d);
            json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:i, s:b}", "id", in->id, "type",
                                  in->type, "source", in->source, "name", in->name, "file",
                                  in->file, "line", in->line, "active", by == NULL);
            if (o && by)
                json_object_set_new(o, "shadowed_by", json_string(dp_info(by)->id));
            if (!o || json_array_append_new(arr, o) != 0) {
                json_decref(arr);
                arr = NULL;
            }
        }
        ret = cli_print_json(arr, "the DataPoint list");
        if (ret != CLI_OK)
            goto cleanup;
    } else {
        int wid = 2, wty = 4, wna = 4;
        for (size_t i = 0; i < n; i++) {
            const struct dc_datapoint_info *in = dp_info(dp_set_at_all(s, i));
            int l = (int)strlen(in->id);
            wid = l > wid ? (l > 40 ? 40 : l) : wid;
            l = (int)strlen(in->type);
            wty = l > wty ? l : wty;
            l = in->name ? (int)strlen(in->name) : 0;
            wna = l > wna ? (l > 32 ? 32 : l) : wna;
        }
        printf("%-*s  %-*s  %-7s  %-*s  %s\n", wid, "ID", wty, "TYPE", "SOURCE", wna, "NAME",
               "NOTE");
        for (size_t i = 0; i < n; i++) {
            const struct dp *d = dp_set_at_all(s, i);
            const struct dc_datapoint_info *in = dp_info(d);
            char note[1200];
            printf("%-*.*s  %-*s  %-7s  %-*.*s  %s\n", wid, 40, in->id, wty, in->type,
                   in->source, wna, 32, in->name ? in->name : "", shadow_note(d, note, sizeof(note)));
        }
        printf("(%zu DataPoint%s, %zu in effect)\n", n, n == 1 ? "" : "s", dp_set_count(s));
    }
    if (dg.n || dg.dropped)
        ret = CLI_USAGE;
cleanup:
    dp_diags_free(&dg);
    dp_set_free(s);
    runtime_free(rt);
    return ret;
}

static json_t *str_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *info_json(const struct dp *d)
{
    const struct dc_datapoint_info *in = dp_info(d);
    json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s, s:i, s:s?}", "id", in->id,
                          "type", in->type, "name", in->name, "definition", in->definition,
                          "owner", in->owner, "source", in->source, "file", in->file, "line",
                          in->line, "database", in->database);
    if (!o)
        return NULL;
    json_object_set_new(o, "tags", str_array(in->tags, in->ntags));
    json_object_set_new(o, "synonyms", str_array(in->synonyms, in->nsynonyms));
    json_object_set_new(o, "related_concepts",
                        str_array(in->related_concepts, in->nrelated_concepts));
    json_t *ds = json_array();
    for (size_t i = 0; ds && i < in->ndata_sources; i++) {
        const struct dc_dp_source *s = in->data_sources[i];
        json_t *x = json_pack("{s:s}", "table", s->table);
        if (x) {
            json_object_set_new(x, "columns", str_array(s->columns, s->ncolumns));
            json_object_set_new(x, "filters", str_array(s->filters, s->nfilters));
        }
        json_array_append_new(ds, x);
    }
    json_object_set_new(o, "data_sources", ds);
    json_t *rel = json_array();
    for (size_t i = 0; rel && i < in->nrelationships; i++) {
        const struct dc_dp_relationship *r = in->relationships[i];
        json_array_append_new(rel, json_pack("{s:s, s:s?, s:s?}", "to", r->to, "type", r->kind,
                                             "description", r->description));
    }
    json_object_set_new(o, "relationships", rel);
    if (in->sql_template || in->nvariants || in->nparams) {
        json_t *ex = json_object();
        if (in->sql_template)
            json_object_set_new(ex, "sql_template", json_string(in->sql_template));
        json_t *bv = json_object();
        for (size_t i = 0; bv && i < in->nvariants; i++)
            json_object_set_new(bv, in->variants[i]->backend,
                                json_string(in->variants[i]->sql_template));
        json_object_set_new(ex, "backend_variants", bv);
        json_t *ps = json_object();
        for (size_t i = 0; ps && i < in->nparams; i++) {
            const struct dc_dp_param *p = in->params[i];
            json_t *x = json_pack("{s:s, s:s?, s:b, s:s?}", "type", p->type, "default",
                                  p->default_value, "required", p->required, "description",
                                  p->description);
            if (x && p->nvalues)
                json_object_set_new(x, "values", str_array(p->values, p->nvalues));
            json_object_set_new(ps, p->name, x);
        }
        json_object_set_new(ex, "parameters", ps);
        json_object_set_new(o, "execution", ex);
    }
    if (dp_materialization_count(d)) {
        json_t *m = json_object();
        for (size_t i = 0; m && i < dp_materialization_count(d); i++) {
            const char *k, *v;
            dp_materialization_at(d, i, &k, &v);
            json_object_set_new(m, k, json_string(v));
        }
        json_object_set_new(o, "materialization", m);
    }
    if (in->table) {
        json_object_set_new(o, "table", json_string(in->table));
        json_object_set_new(o, "row_count", json_integer(in->row_count));
        if (in->sample_rows)
            json_object_set_new(o, "sample_rows", json_integer(in->sample_rows));
        json_object_set_new(o, "primary_key", str_array(in->primary_key, in->nprimary_key));
        json_t *fks = json_array();
        for (size_t i = 0; fks && i < in->nforeign_keys; i++) {
            const struct dc_dp_fk *f = in->foreign_keys[i];
            json_array_append_new(fks, json_pack("{s:s, s:s, s:s, s:b}", "column", f->column,
                                                 "to_table", f->to_table, "to_column",
                                                 f->to_column, "inferred", f->inferred));
        }
        json_object_set_new(o, "foreign_keys", fks);
        json_t *cols = json_array();
        for (size_t i = 0; cols && i < in->ncolumns; i++) {
            const struct dc_dp_column *cc = in->columns[i];
            json_t *x = json_pack("{s:s, s:s?, s:b, s:b}", "name", cc->name, "type", cc->type,
                                  "nullable", cc->nullable, "primary_key", cc->primary_key);
            if (!x)
                continue;
            if (cc->null_rate >= 0)
                json_object_set_new(x, "null_rate", json_real(cc->null_rate));
            if (cc->distinct >= 0)
                json_object_set_new(x, "distinct", json_integer(cc->distinct));
            if (cc->min)
                json_object_set_new(x, "min", json_string(cc->min));
            if (cc->max)
                json_object_set_new(x, "max", json_string(cc->max));
            if (cc->ntop_values) {
                json_t *tv = json_array();
                for (size_t j = 0; tv && j < cc->ntop_values; j++)
                    json_array_append_new(tv, json_pack("{s:s, s:I}", "value",
                                                        cc->top_values[j]->value, "count",
                                                        (json_int_t)cc->top_values[j]->count));
                json_object_set_new(x, "top_values", tv);
            }
            json_array_append_new(cols, x);
        }
        json_object_set_new(o, "columns", cols);
    }
    const struct dp *sh = dp_shadows(d), *by = dp_shadowed_by(d);
    if (sh)
        json_object_set_new(o, "shadows", json_pack("{s:s, s:s}", "id", dp_info(sh)->id, "file",
                                                    dp_info(sh)->file));
    if (by)
        json_object_set_new(o, "shadowed_by", json_pack("{s:s, s:s}", "id", dp_info(by)->id,
                                                        "file", dp_info(by)->file));
    return o;
}

static void print_list(const char *label, const char *const *v, size_t n)
{
    if (!n)
        return;
    printf("%-14s", label);
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? ", " : "", v[i]);
    printf("\n");
}

static void show_text(const struct dp *d)
{
    const struct dc_datapoint_info *in = dp_info(d);
    printf("%-14s%s\n", "id:", in->id);
    printf("%-14s%s\n", "type:", in->type);
    printf("%-14s%s\n", "name:", in->name ? in->name : "");
    printf("%-14s%s (%s:%d)\n", "source:", in->source, in->file, in->line);
    const struct dp *sh = dp_shadows(d), *by = dp_shadowed_by(d);
    if (sh)
        printf("%-14smanaged %s (%s) - this user DataPoint wins\n", "shadows:", dp_info(sh)->id,
               dp_info(sh)->file);
    if (by)
        printf("%-14s%s %s (%s) - that one is in effect\n", "shadowed by:", dp_info(by)->source,
               dp_info(by)->id, dp_info(by)->file);
    if (in->database)
        printf("%-14s%s\n", "database:", in->database);
    if (in->owner)
        printf("%-14s%s\n", "owner:", in->owner);
    if (in->definition)
        printf("%-14s%s%s", "definition:", in->definition,
               in->definition[0] && in->definition[strlen(in->definition) - 1] == '\n' ? ""
                                                                                       : "\n");
    print_list("tags:", in->tags, in->ntags);
    print_list("synonyms:", in->synonyms, in->nsynonyms);
    print_list("related:", in->related_concepts, in->nrelated_concepts);
    for (size_t i = 0; i < in->nrelationships; i++)
        printf("%-14s%s %s\n", i ? "" : "relations:", in->relationships[i]->kind,
               in->relationships[i]->to);
    for (size_t i = 0; i < in->ndata_sources; i++) {
        const struct dc_dp_source *s = in->data_sources[i];
        printf("%-14s%s", i ? "" : "sources:", s->table);
        if (s->ncolumns) {
            printf(" (");
            for (size_t j = 0; j < s->ncolumns; j++)
                printf("%s%s", j ? ", " : "", s->columns[j]);
            printf(")");
        }
        printf("\n");
        for (size_t j = 0; j < s->nfilters; j++)
            printf("%-14s  where %s\n", "", s->filters[j]);
    }
    for (size_t i = 0; i < in->nparams; i++) {
        const struct dc_dp_param *p = in->params[i];
        printf("%-14s%s: %s", i ? "" : "parameters:", p->name, p->type);
        if (p->nvalues) {
            printf(" [");
            for (size_t j = 0; j < p->nvalues; j++)
                printf("%s%s", j ? ", " : "", p->values[j]);
            printf("]");
        }
        if (p->default_value)
            printf(" default %s", p->default_value);
        printf("%s\n", p->required ? " (required)" : "");
    }
    if (in->sql_template)
        printf("template:\n%s%s", in->sql_template,
               in->sql_template[strlen(in->sql_template) - 1] == '\n' ? "" : "\n");
    for (size_t i = 0; i < in->nvariants; i++)
        printf("template (%s):\n%s%s", in->variants[i]->backend, in->variants[i]->sql_template,
               in->variants[i]->sql_template[strlen(in->variants[i]->sql_template) - 1] == '\n'
                   ? ""
                   : "\n");
    if (in->table) {
        printf("%-14s%s", "table:", in->table);
        if (in->row_count >= 0)
            printf(" (%lld rows%s)", (long long)in->row_count,
                   in->sample_rows ? ", statistics from a sample" : "");
        printf("\n");
        print_list("primary key:", in->primary_key, in->nprimary_key);
        for (size_t i = 0; i < in->nforeign_keys; i++) {
            const struct dc_dp_fk *f = in->foreign_keys[i];
            printf("%-14s%s -> %s.%s%s\n", i ? "" : "foreign keys:", f->column, f->to_table,
                   f->to_column, f->inferred ? " (inferred)" : "");
        }
        for (size_t i = 0; i < in->ncolumns; i++) {
            const struct dc_dp_column *cc = in->columns[i];
            printf("%-14s%s %s", i ? "" : "columns:", cc->name, cc->type ? cc->type : "");
            if (cc->null_rate >= 0)
                printf(", nulls %.1f%%", cc->null_rate * 100.0);
            if (cc->distinct >= 0)
                printf(", %lld distinct", (long long)cc->distinct);
            if (cc->min)
                printf(", %s .. %s", cc->min, cc->max ? cc->max : "");
            for (size_t j = 0; j < cc->ntop_values && j < 5; j++)
                printf("%s%s (%lld)", j ? ", " : "; top: ", cc->top_values[j]->value,
                       (long long)cc->top_values[j]->count);
            printf("\n");
        }
    }
}

static int dp_show(struct cli *c)
{
    if (c->nargs != 2) {
        cli_error("dp show needs one DataPoint id, e.g. datachat dp show revenue");
        return CLI_USAGE;
    }
    struct runtime *rt = NULL;
    struct dp_set *s = NULL;
    struct dp_diags dg = {0};
    int ret = load_set(c, &rt, &s, &dg);
    if (ret != CLI_OK)
        goto cleanup;
    const struct dp *d = dp_set_find(s, c->args[1]);
    for (size_t i = 0; !d && i < dp_set_count_all(s); i++)
        if (strcmp(dp_info(dp_set_at_all(s, i))->id, c->args[1]) == 0)
            d = dp_set_at_all(s, i); /* a shadowed one: shown with what hides it */
    if (!d) {
        print_diags(&dg);
        cli_error("no DataPoint with id '%s' (see datachat dp list)", c->args[1]);
        ret = CLI_USAGE;
        goto cleanup;
    }
    if (c->json) {
        ret = cli_print_json(info_json(d), "the DataPoint");
        if (ret != CLI_OK)
            goto cleanup;
    } else {
        show_text(d);
    }
cleanup:
    dp_diags_free(&dg);
    dp_set_free(s);
    runtime_free(rt);
    return ret;
}

struct prep_arg {
    struct runtime *rt;
    const char *db;
    const char *principal;
};

static int prepare_via_gate(void *arg, const char *sql, char *err, size_t errlen)
{
    struct prep_arg *p = arg;
    struct gate_decision dec;
    memset(&dec, 0, sizeof(dec));
    int rc = runtime_explain(p->rt, sql, p->db, p->principal, &dec, err, errlen);
    if (rc != DC_OK && dec.reason[0])
        snprintf(err, errlen, "%s%s%s", dec.code, dec.code[0] ? ": " : "", dec.reason);
    gate_decision_clear(&dec);
    return rc;
}

static int in_list(const char *s, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

/* Checks the set against every database its DataPoints name, and the
 * unbound ones against `target`. only: restrict to one file. */
static int lint_live(struct cli *c, struct runtime *rt, const struct dp_set *s, const char *only,
                     const char *target, struct dp_diags *dg, size_t *nchecked_dbs)
{
    const char *dbs[64];
    size_t ndbs = 0;
    int ret = CLI_OK;
    if (target)
        dbs[ndbs++] = target;
    for (size_t i = 0; i < dp_set_count_all(s); i++) {
        const struct dc_datapoint_info *in = dp_info(dp_set_at_all(s, i));
        if (only && strcmp(in->file, only) != 0)
            continue;
        if (!in->database || in_list(in->database, dbs, ndbs))
            continue;
        if (!config_find_db(rt->cfg, in->database)) {
            if (dp_source(dp_set_at_all(s, i)) == DP_MANAGED)
                continue; /* profiled from a file path: that database is not configured */
            dp_diags_add(dg, in->file, in->line, 1, "E-DP-UNKNOWN-DATABASE",
                         "add it under databases in the config, or fix the name",
                         "database '%s' is not configured", in->database);
            continue;
        }
        if (ndbs < 64)
            dbs[ndbs++] = in->database;
    }
    for (size_t i = 0; i < ndbs; i++) {
        struct db *d = runtime_find_db(rt, dbs[i]);
        const struct cfg_database *cd = config_find_db(rt->cfg, dbs[i]);
        char err[1024] = "";
        const struct dc_schema *sc = d ? db_schema(d, err, sizeof(err)) : NULL;
        if (!sc) {
            cli_error("database %s: cannot read its catalog: %s", dbs[i],
                      err[0] ? err : "not configured");
            return CLI_ERROR;
        }
        struct prep_arg pa = {rt, dbs[i], c->principal};
        struct dp_live live = {.db_name = dbs[i],
                               .backend = cd ? cd->connector : NULL,
                               .schema = sc,
                               .prepare = prepare_via_gate,
                               .arg = &pa,
                               .unbound = target && strcmp(dbs[i], target) == 0};
        int rc = dp_lint_live(s, only, &live, dg);
        if (rc != DC_OK && rc != DC_EINVAL) {
            cli_error("lint against %s failed", dbs[i]);
            return CLI_ERROR;
        }
    }
    *nchecked_dbs = ndbs;
    return ret;
}

static int is_under(const char *path, const char *dir)
{
    char rp[PATH_MAX], rd[PATH_MAX];
    if (!realpath(path, rp) || !realpath(dir, rd))
        return 0;
    size_t n = strlen(rd);
    return strncmp(rp, rd, n) == 0 && (rp[n] == '/' || rp[n] == '\0');
}

static int under_config(const struct dc_config *cfg, const char *path)
{
    for (size_t i = 0; i < cfg->ndp_user_dirs; i++)
        if (is_under(path, cfg->dp_user_dirs[i]))
            return 1;
    return cfg->dp_managed_dir && is_under(path, cfg->dp_managed_dir);
}

/* Keeps the diagnostics about files under path. */
static void filter_diags(struct dp_diags *dg, const char *path)
{
    size_t k = 0;
    for (size_t i = 0; i < dg->n; i++)
        if (is_under(dg->d[i].file, path))
            dg->d[k++] = dg->d[i];
    dg->n = k;
}

static int dp_lint(struct cli *c)
{
    if (c->nargs > 2) {
        cli_error("dp lint takes at most one path (a DataPoint file or directory)");
        return CLI_USAGE;
    }
    const char *path = c->nargs == 2 ? c->args[1] : NULL;
    struct runtime *rt = NULL;
    struct dp_set *s = NULL;
    struct dp_diags dg = {0};
    struct stat st;
    if (path && stat(path, &st) != 0) {
        cli_error("%s: %s", path, strerror(errno));
        return CLI_USAGE;
    }
    int ret = cli_load_runtime(c, &rt);
    if (ret != CLI_OK)
        return ret;
    if (dp_set_new(&s) != DC_OK) {
        ret = CLI_ERROR;
        goto cleanup;
    }
    const struct dc_config *cfg = rt->cfg;
    for (size_t i = 0; i < cfg->ndp_user_dirs; i++)
        dp_set_load_dir(s, cfg->dp_user_dirs[i], DP_USER, &dg);
    if (cfg->dp_managed_dir)
        dp_set_load_dir(s, cfg->dp_managed_dir, DP_MANAGED, &dg);
    if (path && !under_config(cfg, path)) {
        if (S_ISDIR(st.st_mode))
            dp_set_load_dir(s, path, DP_USER, &dg);
        else
            dp_set_load_file(s, path, DP_USER, &dg);
    }
    dp_set_finish(s, &dg);
    ret = start_runtime_for_db(c, rt);
    if (ret != CLI_OK)
        goto cleanup;
    const char *target = rt->db_name ? rt->db_name : cfg->default_database;
    size_t ndbs = 0;
    ret = lint_live(c, rt, s, NULL, target, &dg, &ndbs);
    if (ret == CLI_ERROR)
        goto cleanup;
    if (path)
        filter_diags(&dg, path);
    print_diags(&dg);
    size_t n = 0;
    for (size_t i = 0; i < dp_set_count_all(s); i++)
        n += !path || is_under(dp_info(dp_set_at_all(s, i))->file, path);
    if (dg.n || dg.dropped || ret != CLI_OK) {
        fprintf(stderr, "%zu error%s in DataPoints\n", dg.n + dg.dropped,
                dg.n + dg.dropped == 1 ? "" : "s");
        ret = CLI_USAGE;
    } else {
        printf("%zu DataPoint%s ok (checked against %s%s)\n", n, n == 1 ? "" : "s",
               target ? target : "no database", ndbs > 1 ? " and the databases they name" : "");
    }
cleanup:
    dp_diags_free(&dg);
    dp_set_free(s);
    runtime_free(rt);
    return ret;
}

/* Writes text to dir/name through a temporary file and rename, refusing
 * to replace an existing file. */
static int copy_into(const char *dir, const char *name, const char *text, size_t len,
                     char *out, size_t outlen)
{
    struct sbuf dst, tmp;
    int ret = CLI_ERROR, fd = -1;
    sbuf_init(&dst);
    sbuf_init(&tmp);
    sbuf_addf(&dst, "%s/%s", dir, name);
    sbuf_addf(&tmp, "%s/.%s.tmp.%ld", dir, name, (long)getpid());
    if (dst.oom || tmp.oom) {
        cli_error("out of memory");
        goto cleanup;
    }
    snprintf(out, outlen, "%s", dst.p);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        cli_error("cannot create %s: %s", dir, strerror(errno));
        goto cleanup;
    }
    fd = open(tmp.p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        cli_error("cannot write %s: %s", tmp.p, strerror(errno));
        goto cleanup;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            cli_error("cannot write %s: %s", tmp.p, strerror(errno));
            goto cleanup;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        cli_error("cannot write %s: %s", tmp.p, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    /* link() fails when the name exists, so a racing add cannot be lost. */
    if (link(tmp.p, dst.p) != 0) {
        if (errno == EEXIST)
            cli_error("E-DP-FILE-EXISTS: %s already exists; rename the file or edit the "
                      "existing one",
                      dst.p);
        else
            cli_error("cannot create %s: %s", dst.p, strerror(errno));
        ret = errno == EEXIST ? CLI_USAGE : CLI_ERROR;
        goto cleanup;
    }
    ret = CLI_OK;
cleanup:
    if (fd >= 0)
        close(fd);
    if (tmp.p)
        unlink(tmp.p);
    sbuf_free(&dst);
    sbuf_free(&tmp);
    return ret;
}

static int dp_add(struct cli *c)
{
    if (c->nargs != 2) {
        cli_error("dp add needs one DataPoint file, e.g. datachat dp add my_metric.yaml");
        return CLI_USAGE;
    }
    const char *file = c->args[1];
    struct runtime *rt = NULL;
    struct dp_set *s = NULL;
    struct dp_diags dg = {0};
    char *text = NULL, err[512];
    size_t len = 0;
    int ret = CLI_OK;
    if (util_read_file(file, DP_MAX_FILE_BYTES, &text, &len, err, sizeof(err)) != DC_OK) {
        cli_error("%s", err);
        return CLI_USAGE;
    }
    ret = cli_load_runtime(c, &rt);
    if (ret != CLI_OK)
        goto cleanup;
    const struct dc_config *cfg = rt->cfg;
    if (cfg->ndp_user_dirs == 0) {
        cli_error("no user DataPoint directory is configured (datapoints.user)");
        ret = CLI_USAGE;
        goto cleanup;
    }
    if (under_config(cfg, file)) {
        cli_error("%s is already in a configured DataPoint directory; check it with "
                  "datachat dp lint %s",
                  file, file);
        ret = CLI_USAGE;
        goto cleanup;
    }
    int rc = dp_set_load_config(cfg, &s, &dg);
    if (rc == DC_ENOMEM) {
        ret = CLI_ERROR;
        goto cleanup;
    }
    dp_diags_free(&dg); /* the existing set's own problems are dp lint's business */
    size_t before = dp_set_count_all(s);
    if (dp_set_load_string(s, text, len, file, DP_USER, &dg) != DC_OK) {
        print_diags(&dg);
        ret = CLI_USAGE;
        goto cleanup;
    }
    const struct dp *nd = dp_set_at_all(s, before);
    const struct dc_datapoint_info *ni = dp_info(nd);
    for (size_t i = 0; i < before; i++) {
        const struct dc_datapoint_info *in = dp_info(dp_set_at_all(s, i));
        if (dp_source(dp_set_at_all(s, i)) == DP_USER && strcmp(in->id, ni->id) == 0) {
            fprintf(stderr,
                    "%s:%d:1: E-DP-ID-CLASH: id '%s' is already used by %s:%d (hint: choose "
                    "another id, or edit that file)\n",
                    file, ni->line, ni->id, in->file, in->line);
            ret = CLI_USAGE;
            goto cleanup;
        }
    }
    dp_set_finish(s, &dg);
    ret = start_runtime_for_db(c, rt);
    if (ret != CLI_OK)
        goto cleanup;
    size_t ndbs = 0;
    const char *target = rt->db_name ? rt->db_name : cfg->default_database;
    ret = lint_live(c, rt, s, file, target, &dg, &ndbs);
    if (ret == CLI_ERROR)
        goto cleanup;
    filter_diags(&dg, file);
    if (dg.n || dg.dropped || ret != CLI_OK) {
        print_diags(&dg);
        fprintf(stderr, "%s was not added\n", file);
        ret = CLI_USAGE;
        goto cleanup;
    }
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    char dst[PATH_MAX + 64];
    ret = copy_into(cfg->dp_user_dirs[0], base, text, len, dst, sizeof(dst));
    if (ret != CLI_OK)
        goto cleanup;
    printf("added %s %s as %s\n", ni->type, ni->id, dst);
    if (dp_shadows(nd))
        printf("it shadows managed %s (%s)\n", dp_info(dp_shadows(nd))->id,
               dp_info(dp_shadows(nd))->file);
cleanup:
    dp_diags_free(&dg);
    dp_set_free(s);
    runtime_free(rt);
    free(text);
    return ret;
}

int cmd_dp(struct cli *c)
{
    const char *sub = c->nargs ? c->args[0] : "";
    if (strcmp(sub, "list") == 0 && c->nargs == 1)
        return dp_list(c);
    if (strcmp(sub, "show") == 0)
        return dp_show(c);
    if (strcmp(sub, "lint") == 0)
        return dp_lint(c);
    if (strcmp(sub, "add") == 0)
        return dp_add(c);
    cli_error("usage: datachat dp list | show ID | lint [PATH] | add FILE  (see datachat --help)");
    return CLI_USAGE;
}
