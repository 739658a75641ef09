/*
 * datapoint - DataPoints: the YAML files under datapoints/ that describe
 * metrics, concepts, dimensions, entities, saved queries and (written by
 * `datachat profile`) table schemas, loaded into a typed, read-only set.
 * It owns parsing (libyaml, line:col for every key), per-file validation,
 * the cross-file checks (duplicate ids, dangling references), user > managed
 * precedence, the checks against a live catalog and template rendering with
 * typed, bound values. It never opens a database or runs SQL: live checks
 * prepare statements through the callback the caller hands in (the gate).
 * Every diagnostic carries file:line:col, a stable E-DP-* code and a hint.
 */
#ifndef DC_DATAPOINT_H
#define DC_DATAPOINT_H

#include <stddef.h>
#include <stdint.h>

#include <datachat/host.h>

struct dc_config;

enum dp_type { DP_SCHEMA = 1, DP_CONCEPT, DP_METRIC, DP_DIMENSION, DP_ENTITY, DP_QUERY };
enum dp_source { DP_USER = 0, DP_MANAGED = 1 };

/* Files bigger than this are refused: a DataPoint is a page of YAML. */
#define DP_MAX_FILE_BYTES (1024u * 1024u)

struct dp_diag {
    char file[512];
    int line; /* 1-based; 0 for the file as a whole */
    int col;
    char code[40];
    char msg[640];
    char hint[256];
};

struct dp_diags {
    struct dp_diag *d;
    size_t n, cap;
    size_t dropped; /* past the cap of 10000 */
};

void dp_diags_free(struct dp_diags *dg);
void dp_diags_add(struct dp_diags *dg, const char *file, int line, int col, const char *code,
                  const char *hint, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* "file:line:col: CODE: msg (hint: ...)" */
void dp_diag_format(const struct dp_diag *d, char *out, size_t outlen);

struct dp_pos {
    int line, col;
};

struct dp;
struct dp_set;

int dp_set_new(struct dp_set **out);
void dp_set_free(struct dp_set *s);

/* Loads one DataPoint from memory; name is the file name used in
 * diagnostics. A file with any error adds nothing. DC_OK or DC_EINVAL. */
int dp_set_load_string(struct dp_set *s, const char *text, size_t len, const char *name,
                       int source, struct dp_diags *dg);
int dp_set_load_file(struct dp_set *s, const char *path, int source, struct dp_diags *dg);
/* Every *.yaml / *.yml below dir, recursively, in name order. A directory
 * that does not exist holds no DataPoints (the managed one appears with the
 * first profile run). */
int dp_set_load_dir(struct dp_set *s, const char *dir, int source, struct dp_diags *dg);
/* Cross-file checks, once everything is loaded: duplicate ids within a
 * source (E-DP-DUPLICATE-ID naming both files), dangling related ids
 * (E-DP-DANGLING-REF), and precedence: a user DataPoint shadows the managed
 * one with the same id, or the managed schema DataPoint of the same table. */
int dp_set_finish(struct dp_set *s, struct dp_diags *dg);

/* Every configured directory (user dirs, then the managed dir), finished. */
int dp_set_load_config(const struct dc_config *cfg, struct dp_set **out, struct dp_diags *dg);

/* A fingerprint of the files dp_set_load_config would read (their paths,
 * sizes, mtimes, ctimes and inodes; nothing is opened or parsed), lowercase
 * hex SHA-256. Equal fingerprints mean the same files, unchanged, as far
 * as stat can tell: caches of what the files say key on it. DC_ENOMEM only. */
int dp_dirs_fingerprint(const char *const *user_dirs, size_t nuser, const char *managed_dir,
                        char out[65]);
int dp_config_fingerprint(const struct dc_config *cfg, char out[65]);

/* The DataPoints in effect, sorted by id (shadowed ones excluded). */
size_t dp_set_count(const struct dp_set *s);
const struct dp *dp_set_at(const struct dp_set *s, size_t i);
const struct dp *dp_set_find(const struct dp_set *s, const char *id);
/* Everything loaded, shadowed ones included, in load order. */
size_t dp_set_count_all(const struct dp_set *s);
const struct dp *dp_set_at_all(const struct dp_set *s, size_t i);

/* Read access to one DataPoint. */
const struct dc_datapoint_info *dp_info(const struct dp *d);
int dp_type(const struct dp *d);
int dp_source(const struct dp *d);
/* The managed DataPoint this one hides / the user one hiding it, or NULL. */
const struct dp *dp_shadows(const struct dp *d);
const struct dp *dp_shadowed_by(const struct dp *d);
/* Materialization settings, stored as written (key/value pairs). */
size_t dp_materialization_count(const struct dp *d);
void dp_materialization_at(const struct dp *d, size_t i, const char **key, const char **value);
const char *dp_type_name(int type);

/* What lint checks a DataPoint set against: one database's catalog and a
 * way to prepare a statement there without running it. */
struct dp_live {
    const char *db_name;
    const char *backend;             /* connector name, selects backend_variants */
    const struct dc_schema *schema;
    /* Prepares sql on the database (the gate's explain): DC_OK or an error
     * with err filled. */
    int (*prepare)(void *arg, const char *sql, char *err, size_t errlen);
    void *arg;
    int unbound; /* also check DataPoints that name no database */
};

/* Checks every applicable DataPoint (database equal to live->db_name, or
 * unset when live->unbound) whose file is `only` (NULL: all): tables and columns
 * exist (E-DP-UNKNOWN-TABLE, E-DP-UNKNOWN-COLUMN), business filters and
 * templates prepare (E-DP-FILTER-INVALID, E-DP-TEMPLATE-INVALID; templates
 * rendered with typed sample values), a template exists for the backend
 * (E-DP-NO-VARIANT). DC_OK, or DC_EINVAL with diagnostics. */
int dp_lint_live(const struct dp_set *s, const char *only, const struct dp_live *live,
                 struct dp_diags *dg);

/* Template rendering. Values arrive as text, exactly as a user or an
 * extractor produced them; each is checked against its parameter's type
 * before it gets near the SQL. */
struct dp_arg {
    const char *name;
    const char *value;
};

struct dp_rendered {
    char *sql;               /* placeholders: ?N (sqlite) or $N (others) */
    struct dc_value *params; /* bound values, index i is placeholder i+1 */
    size_t nparams;
    char *store;             /* owns the text of params */
    const char *backend;     /* the variant used, or "default" */
};

/* Renders d's template for backend: {{name}} becomes a positional
 * placeholder bound to the value (enum, string, date, timestamp, integer,
 * number) or, for identifier parameters only, the double-quoted identifier
 * from the allow list. Missing values take the default; a missing required
 * one is E-DP-PARAM-MISSING; a value that fails its type is
 * E-DP-PARAM-VALUE; an argument the DataPoint does not declare is
 * E-DP-PARAM-UNKNOWN. err gets "CODE: message". */
int dp_render(const struct dp *d, const char *backend, const struct dp_arg *args, size_t nargs,
              struct dp_rendered *out, char *err, size_t errlen);
void dp_rendered_free(struct dp_rendered *r);

/* A typed sample value for a parameter (lint renders with these). */
const char *dp_param_sample(const struct dc_dp_param *p);

#endif
