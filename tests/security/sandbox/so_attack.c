/*
 * sbattack - a hostile tool plugin for the sandbox attack suite. Argument
 * "attack" picks what it tries; "noop" behaves, so the suite can show the
 * core still serves after each attack. Built for tests only, never
 * installed.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

static int attack_init(const struct dc_host *h, const struct dc_opts *opts, void **state,
                       char *err, size_t errlen)
{
    (void)opts;
    (void)err;
    (void)errlen;
    *state = (void *)h;
    return DC_OK;
}

static int ok_result(const struct dc_host *h, struct dc_ctx *ctx, const char *what)
{
    struct dc_value v = dc_value_text(what, strlen(what));
    return h->ctx_result_set(ctx, "survived", &v);
}

static int attack_invoke(void *state, struct dc_ctx *ctx)
{
    const struct dc_host *h = state;
    struct dc_value a;
    if (h->ctx_arg(ctx, "attack", &a) != DC_OK || a.type != DC_TEXT) {
        h->ctx_fail(ctx, "E-ATTACK-ARGS", "pass {\"attack\": NAME}");
        return DC_EINVAL;
    }
    char name[32] = "";
    memcpy(name, a.v.s.p, a.v.s.n < sizeof(name) - 1 ? a.v.s.n : sizeof(name) - 1);

    if (strcmp(name, "noop") == 0) {
        struct dc_value v = dc_value_int(1);
        return h->ctx_result_set(ctx, "ok", &v);
    }
    if (strcmp(name, "query") == 0) {
        struct dc_result *r = NULL;
        struct dc_value p = dc_value_int(41);
        if (h->ctx_query(ctx, NULL, "SELECT ?1 + 1 AS answer", &p, 1, &r) != DC_OK)
            return DC_EDENIED;
        const struct dc_value *v = h->result_get(r, 0, 0);
        int rc = v ? h->ctx_result_set(ctx, "answer", v) : DC_ERR;
        h->result_free(r);
        return rc;
    }
    if (strcmp(name, "write_sql") == 0) {
        struct dc_result *r = NULL;
        if (h->ctx_query(ctx, NULL, "DELETE FROM t", NULL, 0, &r) != DC_OK)
            return DC_EDENIED;
        h->result_free(r);
        return ok_result(h, ctx, "delete ran");
    }
    if (strcmp(name, "environ") == 0) {
        extern char **environ;
        size_t n = 0;
        while (environ && environ[n])
            n++;
        struct dc_value v = dc_value_int((int64_t)n);
        return h->ctx_result_set(ctx, "environ", &v);
    }
    if (strcmp(name, "open") == 0) {
        int fd = open("/etc/passwd", O_RDONLY);
        return ok_result(h, ctx, fd >= 0 ? "opened /etc/passwd" : "open failed");
    }
    if (strcmp(name, "socket") == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        return ok_result(h, ctx, fd >= 0 ? "socket made" : "socket failed");
    }
    if (strcmp(name, "fork") == 0) {
        pid_t p = fork();
        if (p == 0)
            _exit(0);
        return ok_result(h, ctx, p > 0 ? "forked" : "fork failed");
    }
    if (strcmp(name, "execve") == 0) {
        char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)"true", NULL};
        char *envp[] = {NULL};
        execve("/bin/sh", argv, envp);
        return ok_result(h, ctx, "execve failed");
    }
    if (strcmp(name, "ptrace") == 0) {
        long r = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
        return ok_result(h, ctx, r == 0 ? "traced" : "ptrace failed");
    }
    if (strcmp(name, "mprotect_exec") == 0) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        int r = p == MAP_FAILED ? -1 : mprotect(p, 4096, PROT_READ | PROT_EXEC);
        return ok_result(h, ctx, r == 0 ? "page made executable" : "mprotect failed");
    }
    if (strcmp(name, "mmap_exec") == 0) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return ok_result(h, ctx, p != MAP_FAILED ? "executable mapping" : "mmap failed");
    }
    if (strcmp(name, "stdout") == 0 || strcmp(name, "stderr") == 0) {
        static const char msg[] = "LEAKED-TO-CORE-OUTPUT\n";
        ssize_t w = write(name[3] == 'o' ? 1 : 2, msg, sizeof(msg) - 1);
        return ok_result(h, ctx, w > 0 ? "wrote to a standard fd" : "write failed");
    }
    if (strcmp(name, "segv") == 0) {
        static volatile uintptr_t bad = 16; /* opaque, so the compiler keeps the store */
        volatile int *p = (volatile int *)bad;
        *p = 1;
        return ok_result(h, ctx, "no fault");
    }
    if (strcmp(name, "loop") == 0) {
        for (volatile unsigned long i = 0;; i++)
            ;
    }
    if (strcmp(name, "alloc") == 0) {
        /* Address space is what the cap counts; touching one byte per block
         * keeps the suite fast on a loaded machine. */
        for (;;) {
            volatile char *p = malloc(16u << 20);
            if (!p) {
                h->ctx_fail(ctx, "E-ATTACK-OOM", "malloc returned NULL: the cap held");
                return DC_ENOMEM;
            }
            p[0] = 1;
        }
    }
    if (strcmp(name, "garbage") == 0) {
        static const char junk[] = "{\"v\":1,\"type\":\"result\",\"result\":";
        ssize_t w = write(3, junk, sizeof(junk) - 1);
        return ok_result(h, ctx, w > 0 ? "sent garbage" : "write failed");
    }
    if (strcmp(name, "wrongway") == 0) {
        static const char m[] = "{\"v\":1,\"type\":\"call\",\"tool\":\"x\",\"args\":{},\"ctx\":{}}";
        ssize_t w = write(3, m, sizeof(m) - 1);
        return ok_result(h, ctx, w > 0 ? "sent a call" : "write failed");
    }
    if (strcmp(name, "oversized") == 0) {
        size_t n = 300u << 10;
        char *big = malloc(n);
        if (!big)
            return DC_ENOMEM;
        memset(big, ' ', n);
        big[0] = '{';
        big[n - 1] = '}';
        ssize_t w = send(3, big, n, 0);
        free(big);
        return ok_result(h, ctx, w > 0 ? "sent an oversized message" : "send failed");
    }
    if (strcmp(name, "x32") == 0) {
        long r = syscall(0x40000000L | SYS_getpid);
        return ok_result(h, ctx, r >= 0 ? "x32 getpid ran" : "x32 getpid failed");
    }
#if defined(__x86_64__)
    if (strcmp(name, "i386") == 0) {
        long r = 20; /* getpid in the i386 table */
        __asm__ volatile("int $0x80" : "+a"(r) : : "memory");
        return ok_result(h, ctx, r >= 0 ? "i386 getpid ran" : "i386 getpid failed");
    }
#endif
    h->ctx_fail(ctx, "E-ATTACK-ARGS", "unknown attack '%s'", name);
    return DC_EINVAL;
}

static const struct dc_option attack_options[] = {DC_OPTIONS_END};

static const struct dc_tool_vtable attack_vt = {
    .struct_size = sizeof(struct dc_tool_vtable),
    .options = attack_options,
    .description = "sandbox attack suite: tries one forbidden thing per call",
    .params_schema = NULL,
    .tier = 5,
    .init = attack_init,
    .invoke = attack_invoke,
};

DC_PLUGIN_DEFINE(DC_KIND_TOOL, "sbattack", "1.0.0", "MIT", "sandbox attack suite", &attack_vt)
