/* Tier 4: update_datapoint writes one DataPoint file. The core has already
 * checked the caller's approval for these exact arguments; this code
 * validates the YAML with the host's DataPoint loader, then replaces the
 * file atomically, and optionally commits it with git. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builtin.h"

extern char **environ;

static const struct dc_option dp_options[] = {
    {"dir", DC_OPT_PATH, 0, "datapoints", "the DataPoint directory files are written to"},
    {"git", DC_OPT_BOOL, 0, "false", "commit each written file with git (dir is in a repo)"},
    DC_OPTIONS_END};

static int valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 128 || id[0] == '.' || id[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return 0;
    }
    return 1;
}

/* Writes name in dirfd through a temporary file and renameat(), so readers
 * see the old file or the new one, never half of one. */
static int write_atomic(int dirfd, const char *name, const char *text, size_t len)
{
    char tmp[192];
    snprintf(tmp, sizeof(tmp), ".%s.tmp%ld", name, (long)getpid());
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    int ok = off == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || renameat(dirfd, tmp, dirfd, name) != 0) {
        int e = errno;
        unlinkat(dirfd, tmp, 0);
        errno = e;
        return -1;
    }
    return 0;
}

/* git with argv, no shell; 0 when it exited 0. */
static int run_git(char *const argv[])
{
    pid_t pid;
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return -1;
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(&pid, "git", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int git_commit(const char *dir, const char *file, const char *id)
{
    char msg[192];
    snprintf(msg, sizeof(msg), "datapoint %s: updated by update_datapoint", id);
    char *add[] = {"git", "-C", (char *)dir, "add", "--", (char *)file, NULL};
    char *commit[] = {"git", "-C", (char *)dir, "commit", "-q", "-m", msg, "--", (char *)file,
                      NULL};
    return run_git(add) == 0 && run_git(commit) == 0 ? 0 : -1;
}

static int update_invoke(void *state, struct dc_ctx *ctx)
{
    struct builtin *b = state;
    const struct dc_host *h = b->h;
    json_t *a = builtin_args(b, ctx);
    if (!a)
        return DC_EINVAL;
    const char *id = builtin_str(a, "id");
    json_t *yj = json_object_get(a, "yaml");
    json_t *cj = json_object_get(a, "commit");
    int commit = cj ? json_is_true(cj) : b->git;
    const char *dir = b->dir ? b->dir : "datapoints";
    char file[160], err[1024] = "";
    int rc = DC_EINVAL, dfd = -1;
    if (!valid_id(id)) {
        h->ctx_fail(ctx, "E-TOOL-ARGS", "arguments.id: '%.130s' is not a DataPoint id (use "
                    "a-z, 0-9, '_', '-', '.'; at most 128)", id);
        goto cleanup;
    }
    snprintf(file, sizeof(file), "%s.yaml", id);
    if (!DC_HOST_HAS(h, dp_validate)) {
        h->ctx_fail(ctx, "E-TOOL-HOST", "this host cannot validate DataPoints (ABI 1.3 needed)");
        rc = DC_EUNSUPPORTED;
        goto cleanup;
    }
    rc = h->dp_validate(ctx, json_string_value(yj), json_string_length(yj), file, err,
                        sizeof(err));
    if (rc != DC_OK) {
        h->ctx_fail(ctx, "E-DP-INVALID", "arguments.yaml: not a valid DataPoint: %s", err);
        goto cleanup;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        h->ctx_fail(ctx, "E-DP-WRITE", "cannot create %s: %s", dir, strerror(errno));
        rc = DC_EIO;
        goto cleanup;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 ||
        write_atomic(dfd, file, json_string_value(yj), json_string_length(yj)) != 0) {
        h->ctx_fail(ctx, "E-DP-WRITE", "cannot write %s/%s: %s", dir, file, strerror(errno));
        rc = DC_EIO;
        goto cleanup;
    }
    if (commit && git_commit(dir, file, id) != 0) {
        h->ctx_fail(ctx, "E-DP-GIT", "wrote %s/%s but git could not commit it (is %s in a git "
                    "repository with user.name and user.email set?)", dir, file, dir);
        rc = DC_EIO;
        goto cleanup;
    }
    rc = builtin_reply(b, ctx, json_pack("{s:s, s:s, s:s, s:b}", "id", id, "file", file,
                                         "directory", dir, "committed", commit));
cleanup:
    if (dfd >= 0)
        close(dfd);
    json_decref(a);
    return rc;
}

const struct dc_tool_vtable builtin_update_datapoint_vt = {
    sizeof(struct dc_tool_vtable), dp_options,
    "Write a DataPoint file (validated first; requires approval)",
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":128,\"description\":\"file name without .yaml\"},\"yaml\":{\"type\":"
    "\"string\",\"minLength\":1,\"maxLength\":65536,\"description\":\"the DataPoint file\"},"
    "\"commit\":{\"type\":\"boolean\",\"description\":\"commit with git (default: the git "
    "option)\"}},\"required\":[\"id\",\"yaml\"],\"additionalProperties\":false}",
    4, builtin_init, builtin_fini, update_invoke};
