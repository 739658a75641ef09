/* Tier 2: read_file and list_files, confined to the allowed roots.
 * A path is split into components and opened one component at a time with
 * openat(O_NOFOLLOW) from the root's directory, so neither "..", nor a
 * symlink anywhere on the way, nor a rename race can leave the root. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builtin.h"

#define FS_MAX_PATH 4096
#define FS_MAX_ENTRIES 1000

static const struct dc_option fs_options[] = {
    {"allowed_paths", DC_OPT_LIST, 0, NULL,
     "directories the tool may read below (nothing is readable until set)"},
    {"blocked", DC_OPT_LIST, 0, NULL,
     "extra fnmatch patterns never read or listed (.env, secrets, *.pem, id_rsa* always are)"},
    {"max_bytes", DC_OPT_INT, 0, "1048576", "largest number of bytes read_file returns"},
    DC_OPTIONS_END};

/* A refusal the caller should see as such (403 / exit 3), not an error. */
static int refuse(struct builtin *b, struct dc_ctx *ctx, const char *code, const char *path,
                  const char *why)
{
    b->h->ctx_set(ctx, "refused", code);
    b->h->ctx_fail(ctx, code, "arguments.path: '%.200s' %s", path, why);
    return DC_EDENIED;
}

static int blocked_name(const struct builtin *b, const char *comp)
{
    for (size_t i = 0; i < b->nblocked; i++) {
        char pat[256];
        snprintf(pat, sizeof(pat), "%s", b->blocked[i]);
        size_t n = strlen(pat);
        while (n > 1 && pat[n - 1] == '/') /* "secrets/" names the directory */
            pat[--n] = '\0';
        if (!strchr(pat, '/') && fnmatch(pat, comp, 0) == 0)
            return 1;
    }
    return 0;
}

static int blocked_path(const struct builtin *b, const char *rel)
{
    for (size_t i = 0; i < b->nblocked; i++)
        if (strchr(b->blocked[i], '/') && fnmatch(b->blocked[i], rel, FNM_PATHNAME) == 0)
            return 1;
    return 0;
}

/* Opens path below a root: dir != 0 wants a directory. Returns the fd or
 * -1 after recording the refusal or error in ctx. */
static int open_confined(struct builtin *b, struct dc_ctx *ctx, const char *path, size_t plen,
                         int dir)
{
    char rel[FS_MAX_PATH];
    const char *root = NULL;
    if (plen != strlen(path))
        return refuse(b, ctx, "E-FS-BAD-PATH", "", "contains a NUL byte"), -1;
    if (b->nroots == 0)
        return refuse(b, ctx, "E-FS-NO-ROOTS", path, "cannot be read: no allowed_paths are "
                      "configured for this tool (tools: ... with: allowed_paths: [DIR])"), -1;
    if (plen >= sizeof(rel))
        return refuse(b, ctx, "E-FS-BAD-PATH", "", "is too long"), -1;
    if (path[0] == '/') {
        for (size_t i = 0; i < b->nroots && !root; i++) {
            size_t rl = strlen(b->roots[i]);
            if (strncmp(path, b->roots[i], rl) == 0 && (path[rl] == '/' || path[rl] == '\0' ||
                                                         strcmp(b->roots[i], "/") == 0)) {
                root = b->roots[i];
                snprintf(rel, sizeof(rel), "%s", path + rl);
            }
        }
        if (!root)
            return refuse(b, ctx, "E-FS-OUTSIDE", path, "is outside the allowed paths"), -1;
    } else {
        root = b->roots[0];
        snprintf(rel, sizeof(rel), "%s", path);
    }
    char clean[FS_MAX_PATH] = "";
    size_t cl = 0;
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        b->h->ctx_fail(ctx, "E-FS-ROOT", "allowed path '%s' cannot be opened: %s", root,
                       strerror(errno));
        return -1;
    }
    char *save = NULL;
    char *comp = strtok_r(rel, "/", &save);
    while (comp) {
        char *next = strtok_r(NULL, "/", &save);
        if (strcmp(comp, ".") == 0) {
            comp = next;
            continue;
        }
        if (strcmp(comp, "..") == 0) {
            close(fd);
            return refuse(b, ctx, "E-FS-TRAVERSAL", path, "goes up with '..'; name files "
                          "below an allowed path"), -1;
        }
        cl += (size_t)snprintf(clean + cl, sizeof(clean) - cl, "%s%s", cl ? "/" : "", comp);
        if (blocked_name(b, comp) || blocked_path(b, clean)) {
            close(fd);
            return refuse(b, ctx, "E-FS-BLOCKED", path, "matches a blocked pattern (secrets "
                          "and keys are never readable)"), -1;
        }
        int last = next == NULL;
        int flags = O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_RDONLY;
        if (!last || dir)
            flags |= O_DIRECTORY;
        int nfd = openat(fd, comp, flags);
        int e = errno;
        struct stat lst;
        /* O_DIRECTORY with O_NOFOLLOW on a link to a directory is ENOTDIR */
        int is_link = nfd < 0 && fstatat(fd, comp, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
                      S_ISLNK(lst.st_mode);
        close(fd);
        if (nfd < 0) {
            if (e == ELOOP || is_link)
                return refuse(b, ctx, "E-FS-SYMLINK", path, "goes through a symbolic link; "
                              "links are not followed"), -1;
            if (e == ENOTDIR && !last)
                e = ENOENT;
            b->h->ctx_fail(ctx, e == ENOENT ? "E-FS-NOT-FOUND" : e == ENOTDIR ? "E-FS-NOT-DIR"
                                                                               : "E-FS-OPEN",
                           "arguments.path: '%.200s': %s", path, strerror(e));
            return -1;
        }
        fd = nfd;
        comp = next;
    }
    return fd;
}

static int read_invoke(void *state, struct dc_ctx *ctx)
{
    struct builtin *b = state;
    json_t *a = builtin_args(b, ctx);
    if (!a)
        return DC_EINVAL;
    json_t *pj = json_object_get(a, "path");
    json_int_t want = json_integer_value(json_object_get(a, "max_bytes"));
    size_t cap = (size_t)b->max_bytes;
    if (want > 0 && (size_t)want < cap)
        cap = (size_t)want;
    int rc = DC_ERR;
    char *buf = NULL;
    int fd = open_confined(b, ctx, json_string_value(pj), json_string_length(pj), 0);
    struct stat st;
    if (fd < 0) {
        rc = b->h->ctx_get(ctx, "refused") ? DC_EDENIED : DC_ERR;
        goto cleanup;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        b->h->ctx_fail(ctx, "E-FS-NOT-FILE", "arguments.path: '%.200s' is not a regular file "
                       "(use list_files for directories)", json_string_value(pj));
        goto cleanup;
    }
    buf = malloc(cap + 1);
    size_t got = 0;
    while (buf && got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (!buf) {
        rc = DC_ENOMEM;
        goto cleanup;
    }
    json_t *text = memchr(buf, '\0', got) ? NULL : json_stringn(buf, got);
    if (!text) {
        b->h->ctx_fail(ctx, "E-FS-BINARY", "arguments.path: '%.200s' is not UTF-8 text",
                       json_string_value(pj));
        goto cleanup;
    }
    rc = builtin_reply(b, ctx, json_pack("{s:s, s:o, s:I, s:I, s:b}", "path",
                                         json_string_value(pj), "content", text, "bytes",
                                         (json_int_t)got, "size", (json_int_t)st.st_size,
                                         "truncated", (off_t)got < st.st_size));
cleanup:
    if (fd >= 0)
        close(fd);
    free(buf);
    json_decref(a);
    return rc;
}

const struct dc_tool_vtable builtin_read_file_vt = {
    sizeof(struct dc_tool_vtable), fs_options,
    "Read a text file below the allowed paths (no symlinks, secrets blocked, size-capped)",
    "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":4000,\"description\":\"absolute, or relative to the first allowed path\"},"
    "\"max_bytes\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":67108864}},"
    "\"required\":[\"path\"],\"additionalProperties\":false}",
    2, builtin_init, builtin_fini, read_invoke};

static int cmp_entry(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static int list_invoke(void *state, struct dc_ctx *ctx)
{
    struct builtin *b = state;
    json_t *a = builtin_args(b, ctx);
    if (!a)
        return DC_EINVAL;
    json_t *pj = json_object_get(a, "path");
    const char *path = pj ? json_string_value(pj) : ".";
    int fd = open_confined(b, ctx, path, pj ? json_string_length(pj) : 1, 1);
    int rc = fd < 0 ? (b->h->ctx_get(ctx, "refused") ? DC_EDENIED : DC_ERR) : DC_OK;
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int truncated = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            blocked_name(b, de->d_name))
            continue;
        if (n == FS_MAX_ENTRIES) {
            truncated = 1;
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, cap * sizeof(*names));
            if (!nn)
                break;
            names = nn;
        }
        names[n] = strdup(de->d_name);
        if (names[n])
            n++;
    }
    json_t *arr = json_array();
    if (n)
        qsort(names, n, sizeof(*names), cmp_entry);
    for (size_t i = 0; d && i < n; i++) {
        struct stat st;
        memset(&st, 0, sizeof(st));
        const char *type = "other";
        if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
            type = S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "directory"
                                              : S_ISLNK(st.st_mode)   ? "symlink"
                                                                      : "other";
        json_array_append_new(arr, json_pack("{s:s, s:s, s:I}", "name", names[i], "type", type,
                                             "size", (json_int_t)st.st_size));
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (d) {
        rc = builtin_reply(b, ctx, json_pack("{s:s, s:o, s:b}", "path", path, "entries", arr,
                                             "truncated", truncated));
        closedir(d);
    } else {
        json_decref(arr);
        if (fd >= 0) {
            close(fd);
            rc = DC_ENOMEM;
        }
    }
    json_decref(a);
    return rc;
}

const struct dc_tool_vtable builtin_list_files_vt = {
    sizeof(struct dc_tool_vtable), fs_options,
    "List a directory below the allowed paths (blocked names are not shown)",
    "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":4000,\"description\":\"a directory; default: the first allowed path\"}},"
    "\"additionalProperties\":false}",
    2, builtin_init, builtin_fini, list_invoke};
