/* datachat - the command-line entry point: parses options and dispatches
 * to a subcommand. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/plugin.h>

#include "cli.h"
#include "config.h"
#include "eval_suite.h"
#include "runtime.h"

static const char usage[] =
    "usage: datachat [OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  query QUESTION [--yes]  answer a question about a database; --yes runs SQL a\n"
    "                          language model wrote even below the review threshold\n"
    "                          (--session ID: a turn of a conversation, follow-ups allowed)\n"
    "  chat [--session ID]     an interactive conversation (/sql, /history, /quit)\n"
    "  feedback ANSWER_ID (--right | --wrong TEXT [--sql CORRECTED])\n"
    "                          record whether an answer was right (docs/CONVERSATION.md)\n"
    "  sql STATEMENT           run one SQL statement through the gate (- reads stdin)\n"
    "  gate explain STATEMENT  show what the gate decides for a statement, running nothing\n"
    "  config check [FILE]    validate a config file without running anything\n"
    "  config graph [--dot]   print the pipeline graph (text, or Graphviz DOT)\n"
    "  plugins list            list plugins: ok, sandboxed, or refused and why\n"
    "  plugins check FILE      check one plugin file and show its descriptor\n"
    "  plugins info NAME       a loaded plugin's descriptor, options and pin\n"
    "  plugins install FILE.so|DIR [--sandbox]\n"
    "                          scan a plugin in a child process, copy it into the first\n"
    "                          plugins.dirs entry, pin its SHA-256 in datachat.lock\n"
    "  plugins remove NAME     remove a plugin installed with plugins install\n"
    "  plugins new KIND NAME [DIR]\n"
    "                          write a plugin project (connector, llm, stage, tool)\n"
    "  audit verify [FILE]     verify the audit log's hash chain\n"
    "  tools list              list the configured tools\n"
    "  tools call NAME [JSON]  call a configured tool with JSON arguments\n"
    "                          tier 4 asks for approval; --approve grants it,\n"
    "                          --approval-token TOKEN spends one granted earlier\n"
    "  tools approve ID        grant a pending approval; prints its token\n"
    "  doctor                  check the installation: plugins, config, databases\n"
    "  dp list                 list the DataPoints (user and managed, which one is in effect)\n"
    "  dp show ID              show one DataPoint and the file it came from\n"
    "  dp lint [PATH]          check DataPoints, also against the live database (--db)\n"
    "  dp add FILE             lint a DataPoint file and copy it into the user directory\n"
    "  profile [DB]            profile a database into managed DataPoints (datapoints/managed)\n"
    "  eval [SUITE ...]        run gold-question suites through the pipeline and score them\n"
    "                          (--today YYYY-MM-DD pins relative dates; see docs/EVAL.md)\n"
    "  serve [--listen HOST:PORT] [--dev]\n"
    "                          the HTTP API (docs/API.md); bearer tokens from server.tokens,\n"
    "                          --dev: no authentication, loopback addresses only\n"
    "  mcp                     an MCP server on stdin/stdout (JSON-RPC, one message a line):\n"
    "                          the configured tools plus `ask` (docs/MCP.md)\n"
    "\n"
    "Options:\n"
    "  --config FILE   config file (default: $DATACHAT_CONFIG, ./config/datachat.yaml,\n"
    "                  else built-in defaults with the demo database var/demo.db)\n"
    "  --db NAME       database to ask (default: the config's default_database)\n"
    "  --as PRINCIPAL  act as this principal (default: the config's default_principal)\n"
    "  --json          machine-readable output\n"
    "  --audit FILE    write the audit log here instead of the config's audit.path\n"
    "  -v, --verbose   show plugin log lines\n"
    "  -h, --help      this text;  --version  the version\n"
    "\n"
    "Exit status: 0 answered; 1 error (database, plugin, audit); 2 usage, config or\n"
    "input error; 3 refused (destructive or injected request, or the SQL gate).\n";

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("datachat: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int take_value(int argc, char **argv, int *i, const char **out)
{
    const char *a = argv[*i];
    const char *eq = strchr(a, '=');
    if (eq && a[0] == '-' && a[1] == '-') {
        *out = eq + 1;
        return CLI_OK;
    }
    if (*i + 1 >= argc) {
        cli_error("option %s needs a value", a);
        return CLI_USAGE;
    }
    *out = argv[++*i];
    return CLI_OK;
}

static int opt_is(const char *a, const char *name)
{
    size_t n = strlen(name);
    return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

int cli_parse(int argc, char **argv, struct cli *c)
{
    memset(c, 0, sizeof(*c));
    c->args = calloc((size_t)argc + 1, sizeof(char *));
    if (!c->args) {
        cli_error("out of memory");
        return CLI_ERROR;
    }
    int only_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = CLI_OK;
        if (only_positional || a[0] != '-' || strcmp(a, "-") == 0) {
            c->args[c->nargs++] = argv[i];
        } else if (strcmp(a, "--") == 0) {
            only_positional = 1;
        } else if (opt_is(a, "--config")) {
            rc = take_value(argc, argv, &i, &c->config_path);
        } else if (opt_is(a, "--db")) {
            rc = take_value(argc, argv, &i, &c->db);
        } else if (opt_is(a, "--as")) {
            rc = take_value(argc, argv, &i, &c->principal);
        } else if (opt_is(a, "--audit")) {
            rc = take_value(argc, argv, &i, &c->audit_path);
        } else if (opt_is(a, "--today")) {
            rc = take_value(argc, argv, &i, &c->today);
            if (rc == CLI_OK && !eval_valid_day(c->today)) {
                cli_error("--today '%s' is not a date; write it as YYYY-MM-DD, e.g. 2026-06-30",
                          c->today);
                rc = CLI_USAGE;
            }
        } else if (strcmp(a, "--json") == 0) {
            c->json = 1;
        } else if (strcmp(a, "--dot") == 0) {
            c->dot = 1;
        } else if (strcmp(a, "--sandbox") == 0) {
            c->sandbox = 1;
        } else if (opt_is(a, "--listen")) {
            rc = take_value(argc, argv, &i, &c->listen);
        } else if (strcmp(a, "--dev") == 0) {
            c->dev = 1;
        } else if (strcmp(a, "--approve") == 0) {
            c->approve = 1;
        } else if (opt_is(a, "--approval-token")) {
            rc = take_value(argc, argv, &i, &c->approval_token);
        } else if (opt_is(a, "--session")) {
            rc = take_value(argc, argv, &i, &c->session);
        } else if (opt_is(a, "--wrong")) {
            rc = take_value(argc, argv, &i, &c->fb_wrong);
        } else if (strcmp(a, "--right") == 0) {
            c->fb_right = 1;
        } else if (opt_is(a, "--sql")) {
            rc = take_value(argc, argv, &i, &c->fb_sql);
        } else if (strcmp(a, "--yes") == 0) {
            c->yes = 1;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            c->verbose = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            exit(CLI_OK);
        } else if (strcmp(a, "--version") == 0) {
            printf("datachat %s (plugin ABI %d.%d)\n", DC_VERSION, DC_ABI_MAJOR, DC_ABI_MINOR);
            exit(CLI_OK);
        } else {
            cli_error("unknown option '%s' (see datachat --help)", a);
            rc = CLI_USAGE;
        }
        if (rc != CLI_OK)
            return rc;
    }
    return CLI_OK;
}

void cli_free(struct cli *c)
{
    free(c->args);
}

int main(int argc, char **argv)
{
    struct cli c;
    int rc = cli_parse(argc, argv, &c);
    if (rc != CLI_OK) {
        cli_free(&c);
        return rc;
    }
    if (c.nargs == 0) {
        fputs(usage, stderr);
        cli_free(&c);
        return CLI_USAGE;
    }
    const char *cmd = c.args[0];
    /* Subcommands see their own words first. */
    c.args++;
    c.nargs--;
    if (strcmp(cmd, "query") == 0 || strcmp(cmd, "ask") == 0)
        rc = cmd_query(&c);
    else if (strcmp(cmd, "config") == 0)
        rc = cmd_config(&c);
    else if (strcmp(cmd, "plugins") == 0)
        rc = cmd_plugins(&c);
    else if (strcmp(cmd, "audit") == 0)
        rc = cmd_audit(&c);
    else if (strcmp(cmd, "sql") == 0)
        rc = cmd_sql(&c);
    else if (strcmp(cmd, "gate") == 0)
        rc = cmd_gate(&c);
    else if (strcmp(cmd, "tools") == 0)
        rc = cmd_tools(&c);
    else if (strcmp(cmd, "doctor") == 0)
        rc = cmd_doctor(&c);
    else if (strcmp(cmd, "dp") == 0)
        rc = cmd_dp(&c);
    else if (strcmp(cmd, "profile") == 0)
        rc = cmd_profile(&c);
    else if (strcmp(cmd, "eval") == 0)
        rc = cmd_eval(&c);
    else if (strcmp(cmd, "serve") == 0)
        rc = cmd_serve(&c);
    else if (strcmp(cmd, "chat") == 0)
        rc = cmd_chat(&c);
    else if (strcmp(cmd, "feedback") == 0)
        rc = cmd_feedback(&c);
    else if (strcmp(cmd, "mcp") == 0)
        rc = cmd_mcp(&c);
    else {
        cli_error("unknown command '%s' (see datachat --help)", cmd);
        rc = CLI_USAGE;
    }
    c.args--;
    cli_free(&c);
    return rc;
}
