/* `datachat sql` and `datachat gate explain`: SQL typed by a person, run or
 * judged by exactly the gate every other statement passes. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/value.h>

#include "cli.h"
#include "ctx.h"
#include "gate.h"
#include "result.h"
#include "runtime.h"
#include "util.h"

#define SQL_TEXT_ROWS 200
#define SQL_CELL_WIDTH 60

int cmd_sql(struct cli *c)
{
    int64_t t0 = util_now_us();
    char *sql = NULL;
    struct runtime *rt = NULL;
    struct dc_ctx *ctx = NULL;
    if (c->nargs == 0) {
        cli_error("sql needs a statement, e.g. datachat sql \"SELECT count(*) FROM orders\" "
                  "(or - to read it from stdin)");
        return CLI_USAGE;
    }
    int ret = cli_read_text(c, "statement", &sql);
    if (ret != CLI_OK)
        goto cleanup;
    c->without_tools = 1;
    ret = cli_start_runtime(c, &rt);
    if (ret != CLI_OK)
        goto cleanup;
    int rc = runtime_sql(rt, sql, rt->db_name, c->principal, &ctx);
    if (!ctx) {
        cli_error("out of memory");
        ret = CLI_ERROR;
        goto cleanup;
    }
    ret = cli_exit_code(ctx, rc);
    if (c->json) {
        int jr = cli_print_ctx_json(ctx, util_now_us() - t0);
        if (jr != CLI_OK)
            ret = jr;
        goto cleanup;
    }
    const struct dc_result *r = ctx_result(ctx);
    if (r) {
        const char *table = result_render(r, SQL_TEXT_ROWS, SQL_CELL_WIDTH);
        if (!table) {
            cli_error("out of memory rendering the result");
            ret = CLI_ERROR;
            goto cleanup;
        }
        fputs(table, stdout);
        printf("(%zu row%s%s, %.1f ms)\n", result_nrows(r), result_nrows(r) == 1 ? "" : "s",
               result_truncated(r) ? ", truncated at the row cap" : "",
               (double)(util_now_us() - t0) / 1000.0);
    } else if (ctx_get(ctx, "refused")) {
        cli_error("refused (%s): %s", ctx_get(ctx, "refused"),
                  ctx_error_message(ctx) ? ctx_error_message(ctx) : "");
    } else {
        cli_error("%s: %s", ctx_error_code(ctx) ? ctx_error_code(ctx) : "E-INTERNAL",
                  ctx_error_message(ctx) ? ctx_error_message(ctx) : "the statement failed");
    }
cleanup:
    ctx_free(ctx);
    runtime_free(rt);
    free(sql);
    return ret;
}

static int explain_print(struct cli *c, const char *sql, const char *db, const char *principal,
                         const struct gate_decision *dec)
{
    int accepted = dec->rc == DC_OK;
    if (c->json) {
        json_t *tables = json_array();
        for (size_t i = 0; i < dec->ntables; i++)
            json_array_append_new(tables, json_string(dec->tables[i]));
        json_t *pols = json_array();
        for (size_t i = 0; pols && i < dec->npolicies; i++)
            json_array_append_new(pols, json_string(dec->policies[i]));
        json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:o, s:s?, s:o, s:s}", "sql", sql, "database",
                              db, "principal", principal, "accepted", accepted, "tables", tables,
                              "sql_run", accepted ? dec->sql_run : NULL, "policies", pols,
                              "limits", dec->limits);
        if (o && !accepted)
            json_object_set_new(o, "refused",
                                json_pack("{s:s, s:s}", "code", dec->code, "reason", dec->reason));
        if (cli_print_json(o, "the decision") != CLI_OK)
            return CLI_ERROR;
    } else {
        printf("decision   %s\n", accepted ? "accepted" : "REFUSED");
        if (!accepted)
            printf("code       %s\nreason     %s\n", dec->code, dec->reason);
        printf("database   %s\nprincipal  %s\ntables    ", db, principal);
        for (size_t i = 0; i < dec->ntables; i++)
            printf(" %s", dec->tables[i]);
        printf("%s\n", dec->ntables ? "" : " (none)");
        if (dec->npolicies == 0)
            printf("policies   none configured: the gate's built-in rules only\n");
        for (size_t i = 0; i < dec->npolicies; i++)
            printf("%s %s\n", i ? "          " : "policies  ", dec->policies[i]);
        if (dec->limits[0])
            printf("limits     %s\n", dec->limits);
        if (accepted)
            printf("would run  %s\n", dec->sql_run ? dec->sql_run : sql);
    }
    if (accepted)
        return CLI_OK;
    return dec->rc == DC_EDENIED ? CLI_REFUSED : CLI_ERROR;
}

int cmd_gate(struct cli *c)
{
    if (c->nargs < 1 || strcmp(c->args[0], "explain") != 0) {
        cli_error("usage: datachat gate explain [--db NAME] [--as PRINCIPAL] [--json] \"SQL\"");
        return CLI_USAGE;
    }
    c->args++;
    c->nargs--;
    char *sql = NULL;
    struct runtime *rt = NULL;
    struct gate_decision dec;
    memset(&dec, 0, sizeof(dec));
    int ret = CLI_USAGE;
    if (c->nargs == 0) {
        cli_error("gate explain needs a statement (or - to read it from stdin)");
        goto cleanup;
    }
    ret = cli_read_text(c, "statement", &sql);
    if (ret != CLI_OK)
        goto cleanup;
    c->without_tools = 1;
    ret = cli_start_runtime(c, &rt);
    if (ret != CLI_OK)
        goto cleanup;
    char err[512] = "";
    const char *db = rt->db_name ? rt->db_name : rt->cfg->default_database;
    const char *principal = c->principal ? c->principal
                            : rt->cfg->default_principal ? rt->cfg->default_principal
                                                         : "local";
    int rc = runtime_explain(rt, sql, db, principal, &dec, err, sizeof(err));
    if (rc == DC_ENOTFOUND && err[0]) {
        cli_error("%s", err);
        ret = CLI_USAGE;
        goto cleanup;
    }
    ret = explain_print(c, sql, db ? db : "", principal, &dec);
cleanup:
    c->args--;
    c->nargs++;
    gate_decision_clear(&dec);
    runtime_free(rt);
    free(sql);
    return ret;
}
