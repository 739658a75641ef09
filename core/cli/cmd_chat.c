/* `datachat chat`: an interactive conversation, one question per line. Every
 * line is a turn of one session in the state store, so follow-ups ("and by
 * month?") build on earlier turns and the history survives a restart (the
 * same --session continues it). stdin that is not a terminal is read line
 * by line without prompts, which is how tests drive it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "ctx.h"
#include "runtime.h"
#include "session.h"
#include "store.h"
#include "util.h"

#define CHAT_LINE_MAX 8192
#define CHAT_HISTORY 20

static void chat_help(void)
{
    puts("Ask a question, or a follow-up such as \"and by month?\", \"only Brazil\" or \"what "
         "about last year?\".\n"
         "  /sql      show the SQL of the last answer\n"
         "  /history  the turns of this session\n"
         "  /help     this text\n"
         "  /quit     leave (end of input does too)");
}

/* The session's last turns from the store: the history is the session. */
static int chat_history(struct runtime *rt, const char *session, int only_sql)
{
    char err[1024] = "";
    struct store *st = session_store(rt, err, sizeof(err));
    struct store_turn *t = NULL;
    size_t n = 0;
    if (!st || store_turns_last(st, session, CHAT_HISTORY, &t, &n, err, sizeof(err)) != DC_OK) {
        cli_error("%s", err);
        return CLI_ERROR;
    }
    if (only_sql) {
        const char *sql = NULL;
        for (size_t i = n; i-- > 0 && !sql;)
            sql = t[i].sql;
        puts(sql ? sql : "(no SQL yet in this session)");
    } else if (n == 0) {
        puts("(no turns yet in this session)");
    }
    for (size_t i = 0; !only_sql && i < n; i++)
        printf("%lld. %s%s%s [%s]\n", (long long)t[i].turn, t[i].question,
               t[i].resolved ? " -> " : "", t[i].resolved ? t[i].resolved : "",
               t[i].outcome ? t[i].outcome : "");
    store_turns_free(t, n);
    return CLI_OK;
}

int cli_check_session(const struct cli *c)
{
    if (!c->session || session_id_valid(c->session))
        return CLI_OK;
    cli_error("E-SESSION-ID: --session '%s' is not a session id; use 1-%d letters, digits or "
              "_.:-",
              c->session, SESSION_ID_MAX);
    return CLI_USAGE;
}

static char *trim(char *s)
{
    size_t n = strlen(s);
    while (n && strchr(" \t\r\n", s[n - 1]))
        s[--n] = '\0';
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

int cmd_chat(struct cli *c)
{
    int ret;
    struct runtime *rt = NULL;
    char *line = NULL;
    char sid[SESSION_ID_MAX + 1];
    if (c->nargs) {
        cli_error("chat takes no question on the command line; type them after it starts "
                  "(or pipe them in, one per line)");
        return CLI_USAGE;
    }
    if (cli_check_session(c) != CLI_OK)
        return CLI_USAGE;
    if (c->session) {
        snprintf(sid, sizeof(sid), "%s", c->session);
    } else {
        unsigned char b[6] = {0};
        if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
            memset(b, 0, sizeof(b));
        snprintf(sid, sizeof(sid), "chat-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4],
                 b[5]);
    }
    c->without_tools = 1;
    ret = cli_start_runtime(c, &rt);
    if (ret != CLI_OK)
        goto cleanup;
    rt->today = c->today;
    /* Open the store now: a broken one should stop the chat before the
     * first question, not after it. */
    char err[1024] = "";
    if (!session_store(rt, err, sizeof(err))) {
        cli_error("%s", err);
        ret = CLI_ERROR;
        goto cleanup;
    }
    int tty = isatty(STDIN_FILENO);
    if (tty)
        printf("datachat chat, session %s (/help for commands)\n", sid);
    line = malloc(CHAT_LINE_MAX);
    if (!line) {
        cli_error("out of memory");
        ret = CLI_ERROR;
        goto cleanup;
    }
    ret = CLI_OK;
    for (;;) {
        if (tty) {
            fputs("datachat> ", stdout);
            fflush(stdout);
        }
        if (!fgets(line, CHAT_LINE_MAX, stdin))
            break;
        size_t len = strlen(line);
        if (len == CHAT_LINE_MAX - 1 && line[len - 1] != '\n') {
            cli_error("line longer than %d bytes ignored", CHAT_LINE_MAX - 2);
            int ch;
            while ((ch = getchar()) != EOF && ch != '\n')
                ;
            continue;
        }
        char *q = trim(line);
        if (!*q)
            continue;
        if (strcmp(q, "/quit") == 0 || strcmp(q, "/exit") == 0)
            break;
        if (strcmp(q, "/help") == 0) {
            chat_help();
        } else if (strcmp(q, "/sql") == 0 || strcmp(q, "/history") == 0) {
            if (chat_history(rt, sid, strcmp(q, "/sql") == 0) != CLI_OK)
                ret = CLI_ERROR;
        } else if (q[0] == '/') {
            cli_error("unknown command '%s' (/help lists them)", q);
        } else {
            struct dc_ctx *ctx = NULL;
            int rc = runtime_ask_session(rt, q, rt->db_name, c->principal, "text", sid, &ctx);
            if (!ctx) {
                cli_error("out of memory");
                ret = CLI_ERROR;
                break;
            }
            cli_print_answer(c, ctx);
            const char *code = ctx_error_code(ctx);
            /* The store failing ends the conversation: its turns would be lost. */
            if (code && strncmp(code, "E-STORE-", 8) == 0) {
                ret = CLI_ERROR;
                ctx_free(ctx);
                break;
            }
            (void)rc;
            ctx_free(ctx);
        }
        fflush(stdout);
    }
    if (tty)
        fputc('\n', stdout);
cleanup:
    free(line);
    runtime_free(rt);
    return ret;
}
