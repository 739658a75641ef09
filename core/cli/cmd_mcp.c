/* `datachat mcp`: the MCP server on stdin/stdout, one JSON-RPC message per
 * line (core/mcp.c answers them). stdout carries nothing but replies;
 * diagnostics go to stderr. Ends at end of input. */
#include <stdio.h>
#include <stdlib.h>

#include <datachat/value.h>

#include "cli.h"
#include "mcp.h"
#include "runtime.h"
#include "util.h"

/* Reads one line into b (without the newline). Returns 1 for a line, 0 at
 * end of input. A line over MCP_MAX_MESSAGE is read to its end but not
 * kept; *over is set. */
static int read_line(FILE *in, struct sbuf *b, int *over)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
    *over = 0;
    int ch, any = 0;
    char chunk[4096];
    size_t n = 0;
    while ((ch = getc_unlocked(in)) != EOF) {
        any = 1;
        if (ch == '\n')
            break;
        if (*over)
            continue;
        chunk[n++] = (char)ch;
        if (n == sizeof(chunk)) {
            if (b->len + n > MCP_MAX_MESSAGE) {
                *over = 1;
            } else if (sbuf_add(b, chunk, n) != DC_OK) {
                *over = 1;
            }
            n = 0;
        }
    }
    if (!*over && n) {
        if (b->len + n > MCP_MAX_MESSAGE || sbuf_add(b, chunk, n) != DC_OK)
            *over = 1;
    }
    return any;
}

static int blank(const struct sbuf *b)
{
    for (size_t i = 0; i < b->len; i++)
        if (b->p[i] != ' ' && b->p[i] != '\t' && b->p[i] != '\r')
            return 0;
    return 1;
}

int cmd_mcp(struct cli *c)
{
    if (c->nargs != 0) {
        cli_error("mcp takes no arguments: it serves MCP on stdin/stdout, e.g. "
                  "datachat mcp --db demo.db");
        return CLI_USAGE;
    }
    struct runtime *rt = NULL;
    int ret = cli_start_runtime(c, &rt);
    if (ret != CLI_OK)
        return ret;
    rt->today = c->today;
    struct mcp *m = NULL;
    if (mcp_new(rt, rt->db_name, c->principal, &m) != DC_OK) {
        cli_error("out of memory");
        runtime_free(rt);
        return CLI_ERROR;
    }
    struct sbuf line;
    sbuf_init(&line);
    int over;
    ret = CLI_OK;
    while (read_line(stdin, &line, &over)) {
        char *reply = NULL;
        if (over) {
            reply = mcp_error_reply(-32700, "the message is over the size limit (4 MiB)");
        } else if (blank(&line)) {
            continue;
        } else if (mcp_handle(m, line.p, line.len, &reply) != DC_OK) {
            cli_error("out of memory");
            ret = CLI_ERROR;
            break;
        }
        if (reply) {
            int bad = fputs(reply, stdout) == EOF || putchar('\n') == EOF || fflush(stdout);
            free(reply);
            if (bad) {
                cli_error("cannot write to stdout; stopping");
                ret = CLI_ERROR;
                break;
            }
        }
    }
    sbuf_free(&line);
    mcp_free(m);
    runtime_free(rt);
    return ret;
}
