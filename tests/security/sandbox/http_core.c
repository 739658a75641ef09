/*
 * dc.http of a sandboxed Lua tool, end to end through a real worker: a host
 * on the allow list reaches the core's transport (a fake here, so nothing
 * leaves the machine) and the reply comes back to the script; a host off
 * the list, a non-http URL and an allowed host spelled in another case are
 * decided by the core alone. The worker's log line reaches the core. Every
 * request, allowed or refused, is noted (the core's audit hook), and a
 * response the note could not record is withheld from the script.
 * Usage: http_core WORKER SCRIPT.lua
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/plugin.h>

#include "config.h"
#include "ctx.h"
#include "sandbox.h"
#include "util.h"

struct seen {
    int calls;
    char url[256];
    char body[64];
    char log[256];
    int notes, notes_refused, note_fails;
    char note[256];
    char principal[64];
};

static int note_http(void *arg, const char *principal, const char *method, const char *url,
                     int rc, long status, size_t bytes, const char *err)
{
    struct seen *s = arg;
    s->notes++;
    s->notes_refused += rc != DC_OK;
    snprintf(s->principal, sizeof(s->principal), "%s", principal ? principal : "(none)");
    snprintf(s->note, sizeof(s->note), "%s %s rc=%d status=%ld bytes=%zu %s", method, url, rc,
             status, bytes, err ? err : "");
    return s->note_fails ? DC_EIO : DC_OK;
}

static int fake_http(void *arg, const char *method, const char *url,
                     const char *const *headers, const char *body, long *status, char **resp,
                     char *err, size_t errlen)
{
    struct seen *s = arg;
    (void)headers;
    (void)err;
    (void)errlen;
    s->calls++;
    snprintf(s->url, sizeof(s->url), "%s %s", method, url);
    snprintf(s->body, sizeof(s->body), "%s", body ? body : "(none)");
    *status = 200;
    *resp = util_strdup("pong");
    return *resp ? DC_OK : DC_ENOMEM;
}

static void keep_log(void *arg, int level, const char *msg)
{
    struct seen *s = arg;
    snprintf(s->log, sizeof(s->log), "%d %s", level, msg);
}

static int call(struct sandbox *sb, const char *url, char *out, size_t outlen)
{
    char args[512];
    snprintf(args, sizeof(args), "{\"url\":\"%s\"}", url);
    struct dc_ctx *c = ctx_new(NULL);
    if (!c || ctx_set(c, "principal", "alice") != DC_OK) {
        ctx_free(c);
        return DC_ENOMEM;
    }
    int rc = sandbox_call(sb, args, c);
    snprintf(out, outlen, "%s", rc == DC_OK ? ctx_get(c, "result") : ctx_error_message(c));
    ctx_free(c);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: http_core WORKER SCRIPT.lua\n");
        return 2;
    }
    static const char *const allow[] = {"api.example.com", NULL};
    struct seen seen = {0};
    struct dc_opts none = {0};
    struct sandbox_opts so = {.worker_path = argv[1], .plugin_path = argv[2], .tool = "fetch",
                              .with = &none, .lua_name = "lua_http_core.lua",
                              .http_allow = allow, .http = fake_http, .http_arg = &seen,
                              .http_note = note_http,
                              .log = keep_log, .log_arg = &seen};
    struct sandbox *sb = NULL;
    char err[1024] = "", out[2048];
    if (sandbox_new(&so, &sb, err, sizeof(err)) != DC_OK) {
        fprintf(stderr, "sandbox: %s\n", err);
        return 1;
    }
    int fails = 0;
    int rc = call(sb, "https://API.example.com/v1/x", out, sizeof(out));
    int ok = rc == DC_OK && strstr(out, "\"status\":200") && strstr(out, "\"body\":\"pong\"") &&
             seen.calls == 1 && strcmp(seen.url, "POST https://API.example.com/v1/x") == 0 &&
             strcmp(seen.body, "ping") == 0 && strstr(seen.log, "fetched https://API");
    printf("%s allowed host -> %s (transport saw '%s', log '%s')\n", ok ? "ok  " : "FAIL", out,
           seen.url, seen.log);
    fails += !ok;
    ok = seen.notes == 1 && seen.notes_refused == 0 &&
         strcmp(seen.note, "POST https://API.example.com/v1/x rc=0 status=200 bytes=4 ") == 0 &&
         strcmp(seen.principal, "alice") == 0;
    printf("%s allowed request noted with the caller's principal: %s (principal %s)\n",
           ok ? "ok  " : "FAIL", seen.note, seen.principal);
    fails += !ok;
    static const char *const refused[][2] = {
        {"https://evil.example.net/", "E-SANDBOX-HTTP-HOST"},
        {"https://api.example.com.evil.net/", "E-SANDBOX-HTTP-HOST"},
        {"https://user@evil.net/?h=api.example.com", "E-SANDBOX-HTTP-HOST"},
        {"ftp://api.example.com/", "E-SANDBOX-HTTP-URL"},
        {"file:///etc/passwd", "E-SANDBOX-HTTP-URL"},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        rc = call(sb, refused[i][0], out, sizeof(out));
        ok = rc != DC_OK && strstr(out, refused[i][1]) && seen.calls == 1 &&
             seen.notes == (int)i + 2 && seen.notes_refused == (int)i + 1 &&
             strstr(seen.note, refused[i][1]);
        printf("%s %s -> %s\n", ok ? "ok  " : "FAIL", refused[i][0], out);
        fails += !ok;
    }
    /* An audit that cannot record the request: the core fetched, but the
     * script never sees the response. */
    seen.note_fails = 1;
    rc = call(sb, "https://api.example.com/v1/y", out, sizeof(out));
    ok = rc != DC_OK && strstr(out, "E-AUDIT-WRITE") && !strstr(out, "pong") && seen.calls == 2;
    printf("%s unrecorded request withheld -> %s\n", ok ? "ok  " : "FAIL", out);
    fails += !ok;
    sandbox_free(sb);
    printf("%d failure(s)\n", fails);
    return fails ? 1 : 0;
}
