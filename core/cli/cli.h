/*
 * cli - the `datachat` command line: option parsing shared by subcommands,
 * exit codes and output helpers. Subcommands live in cmd_*.c; each returns
 * an exit code and prints only through these helpers or stdout/stderr.
 */
#ifndef DC_CLI_H
#define DC_CLI_H

#include <stddef.h>
#include <stdint.h>

/* Exit codes, documented in `datachat --help` and docs/CLI.md. */
enum {
    CLI_OK = 0,
    CLI_ERROR = 1,   /* runtime error: database, plugin, audit, internal */
    CLI_USAGE = 2,   /* bad usage, bad config, bad input */
    CLI_REFUSED = 3  /* refused by the intent gate, the SQL gate or policy */
};

struct cli {
    const char *config_path;
    const char *db;
    const char *principal;
    const char *audit_path;
    int json;
    int dot;
    int verbose;
    const char *today;  /* eval --today YYYY-MM-DD */
    int sandbox;      /* plugins install --sandbox */
    const char *listen; /* serve --listen HOST:PORT */
    int dev;          /* serve --dev */
    int approve;      /* tools call --approve: grant a tier-4 approval without asking */
    const char *approval_token; /* tools call --approval-token TOKEN */
    const char *session;  /* query/chat --session ID */
    const char *fb_wrong; /* feedback --wrong TEXT */
    int fb_right;         /* feedback --right */
    const char *fb_sql;   /* feedback --sql CORRECTED */
    int yes;          /* query --yes: run model-written SQL below the review threshold */
    int without_tools; /* set by commands that never call a tool (see runtime_opts) */
    char **args;      /* positional arguments after the subcommand words */
    int nargs;
};

/* Parses global and subcommand options out of argv (any position);
 * positional words are left in c->args. Returns CLI_OK or CLI_USAGE. */
int cli_parse(int argc, char **argv, struct cli *c);
void cli_free(struct cli *c);

/* "datachat: error: ..." on stderr, one line. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int cmd_query(struct cli *c);
int cmd_config(struct cli *c);
int cmd_plugins(struct cli *c);
int cmd_audit(struct cli *c);
int cmd_doctor(struct cli *c);
int cmd_tools(struct cli *c);
int cmd_sql(struct cli *c);
int cmd_gate(struct cli *c);
int cmd_dp(struct cli *c);
int cmd_profile(struct cli *c);
int cmd_eval(struct cli *c);
int cmd_serve(struct cli *c);
int cmd_chat(struct cli *c);
/* CLI_OK, or CLI_USAGE (said on stderr) when --session is not a valid id. */
int cli_check_session(const struct cli *c);
int cmd_feedback(struct cli *c);
int cmd_mcp(struct cli *c);

/* Loads the runtime (phase 1), printing config diagnostics on failure. */
struct runtime;
struct dc_ctx;
int cli_load_runtime(struct cli *c, struct runtime **rt);
/* Both phases: also opens the audit log, databases and plugin instances. */
int cli_start_runtime(struct cli *c, struct runtime **rt);
/* The positional words joined by spaces, or stdin when the only one is "-". */
int cli_read_text(struct cli *c, const char *what, char **out);
/* The answer object of `query --json` / `sql --json`. */
int cli_print_ctx_json(struct dc_ctx *ctx, int64_t total_us);
/* An answer as `query` prints it: the text on stdout, the trace (-v) and
 * any refusal or error on stderr. */
void cli_print_answer(const struct cli *c, struct dc_ctx *ctx);
/* The exit status for a finished request. */
int cli_exit_code(struct dc_ctx *ctx, int rc);
/* Prints doc (taking ownership; NULL = out of memory) indented, ASCII-only,
 * one trailing newline (cli_json.c). On failure reports "cannot encode
 * WHAT as JSON" and returns CLI_ERROR. */
struct json_t;
int cli_print_json(struct json_t *doc, const char *what);

#endif
