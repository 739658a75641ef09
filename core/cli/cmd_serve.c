/* `datachat serve`: the HTTP API (core/api/server.c) on --listen or the
 * config's server.listen, until SIGINT or SIGTERM. */
#include <stdio.h>

#include <datachat/host.h>

#include "api/server.h"
#include "cli.h"
#include "runtime.h"

int cmd_serve(struct cli *c)
{
    struct runtime *rt = NULL;
    struct api_server *srv = NULL;
    char err[1024] = "";
    int ret;
    if (c->nargs != 0) {
        cli_error("serve takes no arguments, e.g. datachat serve --listen 127.0.0.1:8000");
        return CLI_USAGE;
    }
    ret = cli_load_runtime(c, &rt);
    if (ret != CLI_OK)
        return ret;
    /* The server's own options are checked before databases and the audit
     * log are opened, so a refused --dev costs nothing. */
    struct api_server_opts o = {.listen = c->listen, .dev = c->dev, .principal = c->principal};
    int rc = server_new(rt, &o, &srv, err, sizeof(err));
    if (rc == DC_OK) {
        struct runtime_opts ro = {.config_path = c->config_path,
                                  .audit_path = c->audit_path,
                                  .db = c->db,
                                  .log_level = c->verbose ? DC_LOG_DEBUG : DC_LOG_WARN};
        rc = runtime_start(rt, &ro, err, sizeof(err));
    }
    if (rc == DC_OK)
        rc = server_start(srv, err, sizeof(err));
    if (rc != DC_OK) {
        cli_error("%s", err);
        ret = rc == DC_EINVAL ? CLI_USAGE : CLI_ERROR;
        goto cleanup;
    }
    /* Scripts wait for this line to learn the port (--listen HOST:0). */
    printf("datachat: serving on port %d%s\n", server_port(srv),
           c->dev ? " (--dev: no authentication)" : "");
    fflush(stdout);
    server_run(srv);
    fprintf(stderr, "datachat: stopped\n");
    ret = CLI_OK;
cleanup:
    server_free(srv);
    runtime_free(rt);
    return ret;
}
