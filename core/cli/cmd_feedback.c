/* `datachat feedback ANSWER_ID --right | --wrong TEXT [--sql CORRECTED]`:
 * records a verdict on an answer in the state store. Corrected pairs are
 * offered to SQL-writing stages as examples (docs/CONVERSATION.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "runtime.h"
#include "session.h"

int cmd_feedback(struct cli *c)
{
    if (c->nargs != 1) {
        cli_error("feedback needs one answer id, e.g. datachat feedback 3f2a... --wrong \"the "
                  "total should exclude refunds\"");
        return CLI_USAGE;
    }
    if (c->fb_right == !!c->fb_wrong) {
        cli_error("feedback needs exactly one of --right and --wrong \"what was wrong\"");
        return CLI_USAGE;
    }
    if (c->fb_sql && !c->fb_wrong) {
        cli_error("--sql gives the corrected SQL of a --wrong answer");
        return CLI_USAGE;
    }
    struct runtime *rt = NULL;
    c->without_tools = 1;
    int ret = cli_start_runtime(c, &rt);
    if (ret != CLI_OK)
        return ret;
    char err[1024] = "";
    int64_t id = 0;
    const char *verdict = c->fb_right ? "right" : "wrong";
    int rc = session_feedback(rt, c->args[0], verdict, c->fb_wrong, c->fb_sql, &id, err,
                              sizeof(err));
    if (rc == DC_OK) {
        if (c->json) {
            json_t *o = json_pack("{s:I, s:s, s:s, s:b}", "feedback_id", (json_int_t)id,
                                  "answer_id", c->args[0], "verdict", verdict, "corrected",
                                  c->fb_sql != NULL);
            char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
            puts(s ? s : "{}");
            free(s);
            json_decref(o);
        } else {
            printf("feedback %lld recorded: answer %s was %s%s\n", (long long)id, c->args[0],
                   verdict, c->fb_sql ? " (corrected SQL kept as an example)" : "");
        }
        ret = CLI_OK;
    } else {
        cli_error("%s", err);
        ret = rc == DC_EDENIED ? CLI_REFUSED
              : rc == DC_EINVAL || rc == DC_ENOTFOUND ? CLI_USAGE
                                                      : CLI_ERROR;
    }
    runtime_free(rt);
    return ret;
}
