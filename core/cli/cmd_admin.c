/* `datachat config|audit|doctor|tools`: the commands that inspect an
 * installation rather than answer questions (plugins: cmd_plugins.c). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <datachat/host.h>

#include "audit.h"
#include "cli.h"
#include "config.h"
#include "db.h"
#include "llm.h"
#include "registry.h"
#include "runtime.h"
#include "schema.h"
#include "ctx.h"
#include "tools.h"

int cmd_config(struct cli *c)
{
    if (c->nargs < 1) {
        cli_error("config needs a subcommand: check [FILE] or graph [--dot] [FILE]");
        return CLI_USAGE;
    }
    const char *sub = c->args[0];
    if (c->nargs > 2) {
        cli_error("config %s takes at most one FILE", sub);
        return CLI_USAGE;
    }
    if (c->nargs == 2)
        c->config_path = c->args[1];
    if (strcmp(sub, "check") != 0 && strcmp(sub, "graph") != 0) {
        cli_error("unknown config subcommand '%s' (check, graph)", sub);
        return CLI_USAGE;
    }
    struct runtime *rt = NULL;
    int rc = cli_load_runtime(c, &rt);
    if (rc != CLI_OK)
        return rc;
    /* Model providers check their options (base_url, keys by env name)
     * when they start; starting them here sends nothing anywhere, and a
     * bad URL is then a config error, not a failure at the first question. */
    struct llmset *llms = NULL;
    char lerr[1024] = "";
    if (strcmp(sub, "check") == 0 &&
        llms_new(rt->cfg, rt->reg, NULL, NULL, DC_LOG_WARN, &llms, lerr, sizeof(lerr)) != DC_OK) {
        cli_error("%s", lerr);
        rc = CLI_USAGE;
    } else if (strcmp(sub, "check") == 0) {
        llms_free(llms);
        printf("%s: ok (%zu databases, %zu stages, entry '%s')\n",
               rt->builtin_config ? "built-in configuration" : rt->cfg->path, rt->cfg->ndbs,
               rt->cfg->nstages, rt->cfg->entry);
    } else {
        char *g = c->dot ? config_graph_dot(rt->cfg) : config_graph_text(rt->cfg);
        if (!g) {
            cli_error("out of memory");
            rc = CLI_ERROR;
        } else {
            fputs(g, stdout);
            free(g);
        }
    }
    runtime_free(rt);
    return rc;
}

int cmd_audit(struct cli *c)
{
    if (c->nargs < 1 || strcmp(c->args[0], "verify") != 0 || c->nargs > 2) {
        cli_error("usage: datachat audit verify [FILE]");
        return CLI_USAGE;
    }
    const char *path = c->nargs == 2 ? c->args[1] : NULL;
    struct runtime *rt = NULL;
    if (!path) {
        int rc = cli_load_runtime(c, &rt);
        if (rc != CLI_OK)
            return rc;
        path = rt->cfg->audit_path;
    }
    struct audit_verify_report rep;
    memset(&rep, 0, sizeof(rep));
    int rc = audit_verify(path, &rep);
    int ret;
    if (rc != DC_OK) {
        cli_error("%s: cannot verify: %s", path, rep.reason[0] ? rep.reason : "unreadable");
        ret = CLI_ERROR;
    } else if (rep.ok) {
        printf("%s: ok, %llu records, chain intact\n", path, (unsigned long long)rep.records);
        ret = CLI_OK;
    } else {
        printf("%s:%llu: TAMPERED: %s (%llu records verified before it)\n", path,
               (unsigned long long)rep.bad_line, rep.reason, (unsigned long long)rep.records);
        ret = CLI_ERROR;
    }
    runtime_free(rt);
    return ret;
}

/* Checks each layer in order and says which one is broken. */
int cmd_doctor(struct cli *c)
{
    int bad = 0;
    char err[1024] = "";
    struct runtime *rt = NULL;
    int rc = cli_load_runtime(c, &rt);
    if (rc != CLI_OK) {
        printf("config   FAIL (see the errors above)\n");
        return rc;
    }
    printf("config   ok    %s\n", rt->builtin_config ? "(built-in defaults)" : rt->cfg->path);
    if (registry_load_all(rt->reg) < 0) {
        runtime_free(rt);
        cli_error("out of memory");
        return CLI_ERROR;
    }
    printf("plugins  %-5s %zu loaded from %s", registry_nrefusals(rt->reg) ? "WARN" : "ok",
           registry_count(rt->reg), rt->plugin_dir_builtin ? rt->plugin_dir_builtin : "(none)");
    for (size_t i = 0; i < rt->cfg->nplugin_dirs; i++)
        printf(", %s", rt->cfg->plugin_dirs[i]);
    printf("\n");
    for (size_t i = 0; i < registry_nrefusals(rt->reg); i++)
        printf("         refused: %s\n", registry_refusal_at(rt->reg, i)->reason);
    struct runtime_opts o = {.config_path = c->config_path, .audit_path = c->audit_path,
                             .db = c->db, .log_level = DC_LOG_WARN};
    if (runtime_start(rt, &o, err, sizeof(err)) != DC_OK) {
        printf("runtime  FAIL  %s\n", err);
        runtime_free(rt);
        return CLI_ERROR;
    }
    printf("audit    ok    %s\n", rt->cfg->audit_path);
    for (size_t i = 0; i < rt->ndbs; i++) {
        const struct dc_schema *s = db_schema(&rt->dbs[i], err, sizeof(err));
        if (s)
            printf("database ok    %s (%s): %zu tables\n", rt->dbs[i].name,
                   rt->dbs[i].plugin->name, schema_ntables(s));
        else {
            printf("database FAIL  %s: %s\n", rt->dbs[i].name, err);
            bad = 1;
        }
    }
    runtime_free(rt);
    return bad ? CLI_ERROR : CLI_OK;
}

static int tools_list(struct cli *c, struct runtime *rt)
{
    json_t *arr = c->json ? json_array() : NULL;
    int wname = 4, wplug = 6; /* column widths: the longest name, at least the heading */
    for (size_t i = 0; i < tools_count(rt->tools); i++) {
        struct tool_info ti;
        if (tools_info(rt->tools, i, &ti) != DC_OK)
            continue;
        if ((int)strlen(ti.name) > wname)
            wname = (int)strlen(ti.name);
        if ((int)strlen(ti.plugin) > wplug)
            wplug = (int)strlen(ti.plugin);
    }
    if (!c->json)
        printf("%-*s %-*s %-4s %-10s %s\n", wname, "TOOL", wplug, "PLUGIN", "TIER", "RUNS",
               "DESCRIPTION");
    for (size_t i = 0; i < tools_count(rt->tools); i++) {
        struct tool_info ti;
        if (tools_info(rt->tools, i, &ti) != DC_OK)
            continue;
        if (c->json) {
            json_t *params = ti.params_schema ? json_loads(ti.params_schema, 0, NULL) : NULL;
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s?, s:i, s:b, s:o?}", "name",
                                                 ti.name, "plugin", ti.plugin, "description",
                                                 ti.description, "tier", ti.tier, "sandbox",
                                                 ti.sandbox, "parameters", params));
        } else {
            printf("%-*s %-*s %-4d %-10s %s\n", wname, ti.name, wplug, ti.plugin, ti.tier,
                   ti.sandbox ? "sandboxed" : "in-process", ti.description ? ti.description : "");
        }
    }
    if (c->json)
        return cli_print_json(arr, "the tool list");
    return CLI_OK;
}

/* On a terminal the operator is asked; otherwise only --approve grants. */
static int ask_approval(struct cli *c, const char *tool, const char *id)
{
    if (c->approve)
        return 1;
    if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
        return 0;
    fprintf(stderr, "tool '%s' writes (tier 4). Approve this call (approval %s)? [y/N] ", tool,
            id);
    char line[16];
    if (!fgets(line, sizeof(line), stdin))
        return 0;
    return line[0] == 'y' || line[0] == 'Y';
}

static int tool_exit_code(struct dc_ctx *ctx)
{
    const char *code = ctx_error_code(ctx) ? ctx_error_code(ctx) : "E-TOOL-FAILED";
    if (ctx_get(ctx, "refused"))
        return CLI_REFUSED;
    return strcmp(code, "E-TOOL-ARGS") == 0 || strcmp(code, "E-TOOL-UNKNOWN") == 0 ||
                   strcmp(code, "E-DB-UNKNOWN") == 0
               ? CLI_USAGE
               : CLI_ERROR;
}

static int tools_call_cmd(struct cli *c, struct runtime *rt)
{
    if (c->nargs < 2 || c->nargs > 3) {
        cli_error("usage: datachat tools call NAME ['{\"arg\": ...}'] [--approve] "
                  "[--approval-token TOKEN]");
        return CLI_USAGE;
    }
    const char *tool = c->args[1], *args = c->nargs == 3 ? c->args[2] : NULL;
    char token[65] = "";
    struct dc_ctx *ctx = NULL;
    int rc = runtime_call_tool(rt, tool, args, c->approval_token, rt->db_name, c->principal,
                               &ctx);
    const char *refused = ctx ? ctx_get(ctx, "refused") : NULL;
    if (ctx && refused && strcmp(refused, "E-APPROVAL-REQUIRED") == 0 &&
        ask_approval(c, tool, ctx_get(ctx, "approval.id"))) {
        char code[32] = "", err[512] = "";
        if (tools_approve(rt->tools, ctx_get(ctx, "approval.id"), token, code, err,
                          sizeof(err)) != DC_OK) {
            cli_error("%s: %s", code[0] ? code : "E-APPROVAL-STORE", err);
            ctx_free(ctx);
            return code[0] ? CLI_REFUSED : CLI_ERROR;
        }
        ctx_free(ctx);
        ctx = NULL;
        rc = runtime_call_tool(rt, tool, args, token, rt->db_name, c->principal, &ctx);
    }
    if (!ctx) {
        cli_error("out of memory");
        return CLI_ERROR;
    }
    int ret = CLI_OK;
    if (rc != DC_OK || ctx_error_code(ctx)) {
        const char *code = ctx_error_code(ctx) ? ctx_error_code(ctx) : "E-TOOL-FAILED";
        cli_error("%s: %s", code, ctx_error_message(ctx) ? ctx_error_message(ctx) : "failed");
        if (ctx_get(ctx, "approval.id"))
            fprintf(stderr, "approval id: %s\n", ctx_get(ctx, "approval.id"));
        ret = tool_exit_code(ctx);
    } else {
        const char *res = ctx_get(ctx, "result");
        puts(res ? res : "{}");
    }
    ctx_free(ctx);
    return ret;
}

static int tools_approve_cmd(struct cli *c, struct runtime *rt)
{
    if (c->nargs != 2) {
        cli_error("usage: datachat tools approve ID (the id a refused tier-4 call printed)");
        return CLI_USAGE;
    }
    char token[65] = "", code[32] = "", err[512] = "";
    if (tools_approve(rt->tools, c->args[1], token, code, err, sizeof(err)) != DC_OK) {
        cli_error("%s: %s", code[0] ? code : "E-APPROVAL-STORE", err);
        return strcmp(code, "E-APPROVAL-UNKNOWN") == 0 ? CLI_USAGE
               : code[0]                               ? CLI_REFUSED
                                                       : CLI_ERROR;
    }
    puts(token);
    return CLI_OK;
}

int cmd_tools(struct cli *c)
{
    const char *sub = c->nargs >= 1 ? c->args[0] : "";
    int list = strcmp(sub, "list") == 0, call = strcmp(sub, "call") == 0;
    int approve = strcmp(sub, "approve") == 0;
    if (!list && !call && !approve) {
        cli_error("tools needs a subcommand: list, call NAME [ARGS_JSON], or approve ID");
        return CLI_USAGE;
    }
    struct runtime *rt = NULL;
    int rc = cli_start_runtime(c, &rt);
    if (rc != CLI_OK)
        return rc;
    rc = list ? tools_list(c, rt) : call ? tools_call_cmd(c, rt) : tools_approve_cmd(c, rt);
    runtime_free(rt);
    return rc;
}
