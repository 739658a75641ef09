/*
 * The sandbox attack suite: one runtime (one core) calls the hostile
 * sbattack tool once per attack, checks each fails with the expected error,
 * then checks a well-behaved call on the same tool succeeds right after.
 * Finally every failure must be in a verified audit log.
 * Usage: sandbox-attack-runner SBPLUGIN_DIR TMPDIR
 */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "audit.h"
#include "ctx.h"
#include "runtime.h"

struct attack {
    const char *name;
    const char *code;  /* expected error code; NULL: must succeed */
    const char *text;  /* expected in the message or the result */
    const char *code2; /* also acceptable */
};

static const struct attack attacks[] = {
    {"query", NULL, "\"answer\":42", NULL},
    {"environ", NULL, "\"environ\":0", NULL},
    {"write_sql", "E-", "", NULL},
    {"open", "E-SANDBOX-CRASH", "killed by SIGSYS (seccomp)", NULL},
    {"socket", "E-SANDBOX-CRASH", "killed by SIGSYS (seccomp)", NULL},
    {"fork", "E-SANDBOX-CRASH", "killed by SIGSYS (seccomp)", NULL},
    {"execve", "E-SANDBOX-CRASH", "killed by SIGSYS (seccomp)", NULL},
    {"ptrace", "E-SANDBOX-CRASH", "killed by SIGSYS (seccomp)", NULL},
    {"mprotect_exec", "E-SANDBOX-CRASH", "killed by SIGSYS (seccomp)", NULL},
    {"mmap_exec", "E-SANDBOX-CRASH", "killed by SIGSYS (seccomp)", NULL},
    {"stdout", "E-SANDBOX-CRASH", "killed by SIGSYS (seccomp)", NULL},
    {"stderr", "E-SANDBOX-CRASH", "killed by SIGSYS (seccomp)", NULL},
    {"x32", "E-SANDBOX-CRASH", "killed by SIGSYS (seccomp)", NULL},
#if defined(__x86_64__)
    /* SIGSYS from the filter's arch check, or SIGSEGV on kernels built
     * without i386 emulation (int 0x80 is then a general protection fault). */
    {"i386", "E-SANDBOX-CRASH", "killed by SIG", NULL},
#endif
#if defined(__SANITIZE_ADDRESS__)
    /* The sanitizer's own SEGV handler catches the fault and dies by the
     * filter when it writes its report to fd 2. */
    {"segv", "E-SANDBOX-CRASH", "killed by SIGSYS", NULL},
#else
    {"segv", "E-SANDBOX-CRASH", "killed by SIGSEGV", NULL},
#endif
    {"loop", "E-SANDBOX-TIMEOUT", "its worker was killed", NULL},
    {"alloc", "E-ATTACK-OOM", "", "E-SANDBOX-CRASH"},
    {"garbage", "E-SANDBOX-PROTOCOL", "malformed message", NULL},
    {"wrongway", "E-SANDBOX-PROTOCOL", "may not be sent this way", NULL},
    {"oversized", "E-SANDBOX-PROTOCOL", "the limit is", NULL},
};

static int make_db(const char *path)
{
    sqlite3 *db = NULL;
    int ok = sqlite3_open(path, &db) == SQLITE_OK &&
             sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS t(x INTEGER); INSERT INTO t VALUES (1);",
                          NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close(db);
    return ok ? 0 : -1;
}

/* One call; returns 1 when it went as `a` says. */
static int check(struct runtime *rt, const struct attack *a)
{
    char args[96];
    snprintf(args, sizeof(args), "{\"attack\":\"%s\"}", a->name);
    struct dc_ctx *c = NULL;
    int rc = runtime_call_tool(rt, "attack", args, NULL, NULL, NULL, &c);
    const char *code = c ? ctx_error_code(c) : "E-NOMEM";
    const char *msg = c ? ctx_error_message(c) : "";
    const char *res = c ? ctx_get(c, "result") : NULL;
    int ok;
    if (!a->code) {
        ok = rc == 0 && !code && res && strstr(res, a->text);
    } else {
        ok = rc != 0 && code &&
             (strncmp(code, a->code, strlen(a->code)) == 0 ||
              (a->code2 && strcmp(code, a->code2) == 0)) &&
             msg && strstr(msg, a->text);
    }
    printf("%-14s %s: %s %s\n", a->name, ok ? "ok  " : "FAIL", code ? code : "(no error)",
           code ? (msg ? msg : "") : (res ? res : ""));
    ctx_free(c);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s SBPLUGIN_DIR TMPDIR\n", argv[0]);
        return 2;
    }
    char db[512], cfgp[512], audit[512];
    snprintf(db, sizeof(db), "%s/t.db", argv[2]);
    snprintf(cfgp, sizeof(cfgp), "%s/datachat.yaml", argv[2]);
    snprintf(audit, sizeof(audit), "%s/audit.jsonl", argv[2]);
    char head[600];
    snprintf(head, sizeof(head), "%s.head", audit);
    remove(audit);
    remove(head);
    if (make_db(db) != 0) {
        fprintf(stderr, "cannot create %s\n", db);
        return 1;
    }
    FILE *f = fopen(cfgp, "w");
    if (!f)
        return 1;
    fprintf(f,
            "version: 1\n"
            "plugins: { dirs: [%s] }\n"
            "databases:\n  main: { connector: sqlite, path: %s }\n"
            "pipeline: { entry: reply, stages: { reply: { use: answer } } }\n"
            "tools:\n  attack: { use: sbattack }\n"
            "limits: { timeout_ms: 1500 }\n"
            "audit: { path: %s, fsync: never }\n",
            argv[1], db, audit);
    fclose(f);

    struct runtime_opts o = {.config_path = cfgp};
    struct runtime *rt = NULL;
    char err[1024] = "";
    if (runtime_load(&o, &rt, err, sizeof(err)) != 0 ||
        runtime_start(rt, &o, err, sizeof(err)) != 0) {
        fprintf(stderr, "runtime: %s\n", err);
        for (size_t i = 0; rt && i < rt->diags.n; i++)
            fprintf(stderr, "  %s: %s\n", rt->diags.d[i].code, rt->diags.d[i].msg);
        runtime_free(rt);
        return 1;
    }
    static const struct attack noop = {"noop", NULL, "\"ok\":1", NULL};
    int failed = 0, failures_expected = 0;
    for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
        failed += !check(rt, &attacks[i]);
        failures_expected += attacks[i].code != NULL;
        /* The same core, the same tool: the next call must just work. */
        failed += !check(rt, &noop);
    }
    /* Restarts back off: after two crashes in a row the next call is
     * refused without starting a worker, and a later one starts it again. */
    static const struct attack crash = {"segv", "E-SANDBOX-CRASH", "killed by SIG", NULL};
    static const struct attack backoff = {"noop", "E-SANDBOX-BACKOFF", "next restart", NULL};
    failed += !check(rt, &crash);
    failed += !check(rt, &crash);
    failed += !check(rt, &backoff);
    failures_expected += 3;
    struct timespec pause = {0, 120 * 1000000L};
    nanosleep(&pause, NULL);
    failed += !check(rt, &noop);
    runtime_free(rt);

    struct audit_verify_report rep;
    if (audit_verify(audit, &rep) != 0 || !rep.ok) {
        printf("FAIL: the audit log does not verify: %s\n", rep.reason);
        return 1;
    }
    f = fopen(audit, "r");
    int recorded = 0;
    char line[8192];
    while (f && fgets(line, sizeof(line), f))
        recorded += strstr(line, "\"tool call: attack\"") != NULL;
    if (f)
        fclose(f);
    if (recorded < failures_expected) {
        printf("FAIL: %d tool failures audited, wanted at least %d\n", recorded,
               failures_expected);
        failed++;
    }
    printf("%s: %d failing checks, %d audited tool failures\n", failed ? "FAIL" : "PASS", failed,
           recorded);
    return failed ? 1 : 0;
}
