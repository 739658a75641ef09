#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <datachat/value.h>

/* Bytes mapped now, from /proc/self/statm (read before the filter). */
static int64_t mapped_bytes(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    long long pages = strtoll(buf, NULL, 10);
    long psz = sysconf(_SC_PAGESIZE);
    return pages > 0 && psz > 0 ? (int64_t)pages * psz : -1;
}

static int set_limit(int res, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = {.rlim_cur = soft, .rlim_max = hard};
    return setrlimit(res, &rl) == 0 ? DC_OK : DC_ERR;
}

/* Syscalls allowed on any argument: memory the C library and the plugin's
 * allocator need, futexes for locks, clocks for deadlines, and ways out. */
static const int plain_calls[] = {
    SCMP_SYS(brk),          SCMP_SYS(munmap),       SCMP_SYS(mremap),
    SCMP_SYS(madvise),      SCMP_SYS(futex),        SCMP_SYS(clock_gettime),
    SCMP_SYS(gettimeofday), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
    SCMP_SYS(rt_sigreturn), SCMP_SYS(exit),         SCMP_SYS(exit_group),
    SCMP_SYS(getrandom),
};

int worker_confine(int fd, int64_t mem_mb, int64_t cpu_s)
{
    int rc = DC_ERR;
    scmp_filter_ctx f = NULL;
    int64_t base = mapped_bytes();
    if (base < 0)
        goto cleanup;
    if (mem_mb > 0 && set_limit(RLIMIT_AS, (rlim_t)(base + (mem_mb << 20)),
                                (rlim_t)(base + (mem_mb << 20))) != DC_OK)
        goto cleanup;
    if (cpu_s > 0 && set_limit(RLIMIT_CPU, (rlim_t)cpu_s, (rlim_t)cpu_s + 1) != DC_OK)
        goto cleanup;
    if (set_limit(RLIMIT_NOFILE, 4, 4) != DC_OK)
        goto cleanup;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        goto cleanup;

    f = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!f)
        goto cleanup;
    /* Only the native ABI: a filter for x86_64 alone makes libseccomp reject
     * x32 numbers (bit 30) and other architectures (int 0x80 as i386) with
     * the bad-arch action, which must kill like everything else. */
    if (seccomp_attr_set(f, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) != 0)
        goto cleanup;
#ifdef __x86_64__
    if (seccomp_arch_exist(f, SCMP_ARCH_X32) == 0 && seccomp_arch_remove(f, SCMP_ARCH_X32) != 0)
        goto cleanup;
#endif
    for (size_t i = 0; i < sizeof(plain_calls) / sizeof(plain_calls[0]); i++)
        if (seccomp_rule_add(f, SCMP_ACT_ALLOW, plain_calls[i], 0) != 0)
            goto cleanup;
    /* sigaltstack(NULL, &old) only reads the alternate stack's settings
     * (sanitizer runtimes ask on every longjmp, i.e. every Lua error). */
    if (seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(sigaltstack), 1,
                         SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)0)) != 0)
        goto cleanup;
    /* I/O on the IPC socket only: no stdout, no stderr, no other fd. */
    const int io_calls[] = {SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(recvfrom),
                            SCMP_SYS(sendto)};
    for (size_t i = 0; i < sizeof(io_calls) / sizeof(io_calls[0]); i++)
        if (seccomp_rule_add(f, SCMP_ACT_ALLOW, io_calls[i], 1,
                             SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd)) != 0)
            goto cleanup;
    /* Memory, never executable: code arrives only with the dlopen that
     * happened before this filter. */
    if (seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                         SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) != 0 ||
        seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                         SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) != 0)
        goto cleanup;
    if (seccomp_load(f) != 0)
        goto cleanup;
    rc = DC_OK;
cleanup:
    if (f)
        seccomp_release(f);
    return rc;
}
