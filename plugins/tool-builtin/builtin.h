/*
 * builtin - the built-in tools (docs/TOOLS.md): read-only database tools
 * (tier 1), filesystem tools confined to allowed roots (tier 2), analysis
 * (tier 3) and DataPoint writes (tier 4, approved by the core first).
 * Databases are reached only through h->ctx_query / h->ctx_schema, so the
 * gate, policies and audit apply; files only below configured roots.
 * The core has validated the arguments against each params_schema.
 */
#ifndef BUILTIN_H
#define BUILTIN_H

#include <stddef.h>

#include <jansson.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

/* State shared by every built-in: the host and the parsed options. */
struct builtin {
    const struct dc_host *h;
    const struct dc_opts *opts;
    char **roots;      /* read_file/list_files: realpath of allowed_paths */
    size_t nroots;
    char **blocked;    /* fnmatch patterns, defaults first */
    size_t nblocked;
    long long max_bytes;
    char *dir;         /* update_datapoint: the DataPoint directory */
    int git;           /* update_datapoint: commit the file with git */
};

int builtin_init(const struct dc_host *h, const struct dc_opts *opts, void **state, char *err,
                 size_t errlen);
void builtin_fini(void *state);

/* The call's arguments (validated by the core); NULL after ctx_fail. */
json_t *builtin_args(struct builtin *b, struct dc_ctx *ctx);
/* Sets "result" to o (stolen) as JSON text. */
int builtin_reply(struct builtin *b, struct dc_ctx *ctx, json_t *o);
/* {"columns":[{"name","type"}], "rows":[[...]], "row_count", "truncated"}
 * with at most max_rows rows. */
json_t *builtin_result_json(const struct dc_host *h, const struct dc_result *r, size_t max_rows);
/* "name" or "schema"."name" with embedded quotes doubled; caller frees. */
char *builtin_quote_table(const struct dc_table_info *t);
char *builtin_quote_ident(const char *name);
/* The table named `name` (as listed by list_tables: "t" or "schema.t"). */
const struct dc_table_info *builtin_find_table(struct builtin *b, struct dc_ctx *ctx,
                                               const char *db, const char *name);
const char *builtin_str(json_t *args, const char *key);

extern const struct dc_tool_vtable builtin_query_database_vt;
extern const struct dc_tool_vtable builtin_list_tables_vt;
extern const struct dc_tool_vtable builtin_describe_table_vt;
extern const struct dc_tool_vtable builtin_sample_rows_vt;
extern const struct dc_tool_vtable builtin_read_file_vt;
extern const struct dc_tool_vtable builtin_list_files_vt;
extern const struct dc_tool_vtable builtin_explain_query_plan_vt;
extern const struct dc_tool_vtable builtin_profile_table_vt;
extern const struct dc_tool_vtable builtin_update_datapoint_vt;

#endif
