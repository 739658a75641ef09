/*
 * worker - datachat-worker, the process that runs one untrusted tool plugin
 * or Lua script (a tool, a stage, or a config check's `describe`) for the
 * core (core/sandbox.c starts it with exec, never fork alone).
 * It owns its own confinement: rlimits, PR_SET_NO_NEW_PRIVS and the seccomp
 * allowlist (worker_confine), installed after the plugin is loaded and
 * before any plugin code runs. It never opens a database, a file or a
 * socket once confined: queries go to the core over the IPC fd.
 */
#ifndef DC_WORKER_H
#define DC_WORKER_H

#include <stdint.h>

/* The IPC socket the core hands over (dup2'ed there by posix_spawn). */
#define WORKER_FD 3

/* Exit codes: the core reports them; signals are reported by name. */
#define WORKER_EXIT_SETUP 70    /* fd 3 missing, rlimit or seccomp refused */
#define WORKER_EXIT_PROTOCOL 71 /* the core sent something malformed */
#define WORKER_EXIT_PLUGIN 72   /* the plugin could not be loaded */

/* Applies the address-space and CPU caps, no-new-privs and the seccomp
 * filter for IPC fd `fd`. mem_mb counts beyond what is mapped now (the
 * loaded plugin and, in sanitizer builds, the shadow memory). */
int worker_confine(int fd, int64_t mem_mb, int64_t cpu_s);

#endif
