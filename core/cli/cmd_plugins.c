/* `datachat plugins list|check|info|install|remove|new`: inspecting,
 * installing and removing plugins. Installing never loads the candidate in
 * this process: a child (`datachat plugins __scan FILE`, the same
 * executable) loads it and reports its descriptor as JSON, so a plugin that
 * crashes, hangs or exits while loading harms only the child. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <datachat/host.h>

#include "cli.h"
#include "config.h"
#include "hostcaps.h"
#include "pluginlock.h"
#include "registry.h"
#include "runtime.h"
#include "sha256.h"
#include "util.h"

/* How long the scanner child may take to load a plugin and describe it. */
#define SCAN_TIMEOUT_MS 10000
/* A descriptor report is small; more output than this is not one. */
#define SCAN_OUTPUT_MAX (256 * 1024)

/* The capability groups a plugin's host table holds: what it declared, or
 * every group when it declared nothing (built before ABI 1.3, or with
 * DC_PLUGIN_DEFINE). */
static json_t *caps_json(uint64_t caps)
{
    json_t *arr = json_array();
    for (int bit = 0; arr && bit < 64; bit++) {
        uint64_t cap = (uint64_t)1 << bit;
        if ((caps & cap) && (caps == DC_CAP_UNDECLARED ? dc_cap_name(cap) != NULL : 1)) {
            const char *name = dc_cap_name(cap);
            char hex[32];
            snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)cap);
            json_array_append_new(arr, json_string(name ? name : hex));
        }
    }
    return arr;
}

/* "uses" is the same set written for people, as the text output shows it. */
static json_t *ref_json(const struct dc_plugin_ref *p, const char *state)
{
    char abi[16], uses[256];
    snprintf(abi, sizeof(abi), "%u.%u", p->abi_major, p->abi_minor);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:s}", "name",
                     p->name, "kind", dc_kind_name(p->kind), "version", p->version, "license",
                     p->license, "abi", abi, "path", p->path, "build",
                     p->build_sig ? p->build_sig : "", "state", state, "description",
                     p->description ? p->description : "", "capabilities", caps_json(p->caps),
                     "capabilities_declared", p->caps != DC_CAP_UNDECLARED, "uses",
                     hostcaps_format(p->caps, uses, sizeof(uses)));
}

/* The descriptor lines `plugins check` and `plugins info` share. */
static void print_ref_text(const struct dc_plugin_ref *p)
{
    char caps[256];
    printf("  version  %s\n  license  %s\n  abi      %u.%u (host %d.%d)\n  build    %s\n"
           "  uses     %s\n",
           p->version, p->license, p->abi_major, p->abi_minor, DC_ABI_MAJOR, DC_ABI_MINOR,
           p->build_sig ? p->build_sig : "", hostcaps_format(p->caps, caps, sizeof(caps)));
    if (p->description && *p->description)
        printf("  about    %s\n", p->description);
}

static int kind_from_name(const char *s)
{
    for (int k = DC_KIND_CONNECTOR; k <= DC_KIND_TOOL; k++)
        if (strcmp(s, dc_kind_name(k)) == 0)
            return k;
    return 0;
}

/* ok, or sandboxed when installed with --sandbox or a tier-5 (custom) tool,
 * which runs in a worker unless a tool entry says `sandbox: false`. */
static const char *ref_state(const struct runtime *rt, const struct dc_plugin_ref *p)
{
    const struct pluginlock_entry *e = pluginlock_find_file(registry_lock(rt->reg), p->path);
    const struct dc_tool_vtable *tv = p->kind == DC_KIND_TOOL ? p->vtable : NULL;
    return (e && e->sandbox) || (tv && tv->tier >= 5) ? "sandboxed" : "ok";
}

static int refused_path(const struct runtime *rt, const char *file)
{
    for (size_t i = 0; i < registry_nrefusals(rt->reg); i++) {
        const char *p = registry_refusal_at(rt->reg, i)->path;
        char *real = realpath(p, NULL);
        int same = strcmp(p, file) == 0 || (real && strcmp(real, file) == 0);
        free(real);
        if (same)
            return 1;
    }
    return 0;
}

static int loaded_path(const struct runtime *rt, const char *file)
{
    for (size_t i = 0; i < registry_count(rt->reg); i++)
        if (strcmp(registry_at(rt->reg, i)->path, file) == 0)
            return 1;
    return 0;
}

/* The runtime for plugin management. A config that names a plugin which
 * is not installed yet (or is refused) must not stop the commands that
 * install it or say why it is refused, so E-CFG-UNKNOWN-PLUGIN alone is
 * reported as a note and the loaded config and registry are used. */
static int load_for_plugins(struct cli *c, struct runtime **rt)
{
    char err[1024] = "";
    struct runtime_opts o = {.config_path = c->config_path,
                             .audit_path = c->audit_path,
                             .db = c->db,
                             .log_level = c->verbose ? DC_LOG_DEBUG : DC_LOG_WARN};
    int rc = runtime_load(&o, rt, err, sizeof(err));
    if (rc == DC_EINVAL && *rt && (*rt)->cfg && (*rt)->reg && (*rt)->diags.n > 0 &&
        !(*rt)->diags.dropped) {
        size_t i = 0;
        for (; i < (*rt)->diags.n; i++)
            if (strcmp((*rt)->diags.d[i].code, "E-CFG-UNKNOWN-PLUGIN") != 0)
                break;
        if (i == (*rt)->diags.n) {
            for (i = 0; i < (*rt)->diags.n; i++) {
                char line[1200];
                config_diag_format(&(*rt)->diags.d[i], line, sizeof(line));
                fprintf(stderr, "note: %s\n", line);
            }
            return CLI_OK;
        }
    }
    runtime_free(*rt);
    *rt = NULL;
    return cli_load_runtime(c, rt);
}

/* load_for_plugins, then every plugin file: questions load only the
 * plugins they use, while list and info show them all. */
static int load_every_plugin(struct cli *c, struct runtime **rt)
{
    int rc = load_for_plugins(c, rt);
    if (rc != CLI_OK)
        return rc;
    if (registry_load_all((*rt)->reg) < 0) {
        runtime_free(*rt);
        *rt = NULL;
        cli_error("out of memory");
        return CLI_ERROR;
    }
    return CLI_OK;
}

static int plugins_list(struct cli *c)
{
    struct runtime *rt = NULL;
    int rc = load_every_plugin(c, &rt);
    if (rc != CLI_OK)
        return rc;
    size_t n = registry_count(rt->reg), nr = registry_nrefusals(rt->reg);
    const struct pluginlock *lock = registry_lock(rt->reg);
    json_t *arr = c->json ? json_array() : NULL;
    if (!c->json)
        printf("%-10s %-16s %-8s %-9s %s\n", "KIND", "NAME", "VERSION", "STATE", "PATH");
    for (size_t i = 0; i < n; i++) {
        const struct dc_plugin_ref *p = registry_at(rt->reg, i);
        const struct pluginlock_entry *e = pluginlock_find_file(lock, p->path);
        if (c->json) {
            json_t *o = ref_json(p, ref_state(rt, p));
            json_object_set_new(o, "sha256", e ? json_string(e->sha256) : json_null());
            json_array_append_new(arr, o);
        } else {
            printf("%-10s %-16s %-8s %-9s %s\n", dc_kind_name(p->kind), p->name, p->version,
                   ref_state(rt, p), p->path);
        }
    }
    for (size_t i = 0; i < nr; i++) {
        const struct dc_plugin_refusal *f = registry_refusal_at(rt->reg, i);
        if (c->json)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "path", f->path, "state",
                                                 "refused", "reason", f->reason));
        else
            printf("refused: %s\n", f->reason);
    }
    /* An installed plugin whose file is gone is neither loaded nor refused
     * by the registry; say so rather than hide it. */
    for (size_t i = 0; lock && i < lock->n; i++) {
        const struct pluginlock_entry *e = &lock->entries[i];
        if (loaded_path(rt, e->file) || refused_path(rt, e->file))
            continue;
        char why[PATH_MAX + 256];
        snprintf(why, sizeof(why),
                 "%s: E-PLUGIN-MISSING: %s plugin \"%s\" is recorded in the lock file but "
                 "the file is missing or outside the plugin directories; re-install it or run "
                 "`datachat plugins remove %s`",
                 e->file, e->kind, e->name, e->name);
        if (c->json)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "path", e->file, "state",
                                                 "refused", "reason", why));
        else
            printf("refused: %s\n", why);
    }
    if (c->json)
        rc = cli_print_json(arr, "the plugin list");
    runtime_free(rt);
    return rc;
}

static int plugins_check(struct cli *c)
{
    if (c->nargs != 2) {
        cli_error("plugins check needs exactly one FILE");
        return CLI_USAGE;
    }
    struct dc_plugin_ref info;
    char err[1024] = "";
    memset(&info, 0, sizeof(info));
    int rc = registry_check_file(NULL, c->args[1], &info, err, sizeof(err));
    if (rc != DC_OK) {
        if (c->json)
            cli_print_json(json_pack("{s:s, s:s, s:s}", "path", c->args[1], "state", "refused",
                                     "reason", err), "the refusal");
        else
            cli_error("%s", err);
        return CLI_ERROR;
    }
    int ret = CLI_OK;
    if (c->json) {
        ret = cli_print_json(ref_json(&info, "ok"), "the descriptor");
    } else {
        printf("%s: ok\n  name     %s\n  kind     %s\n", info.path, info.name,
               dc_kind_name(info.kind));
        print_ref_text(&info);
    }
    registry_ref_clear(&info);
    return ret;
}

/* ---- plugins info ------------------------------------------------------- */

/* Whether a vtable of declared size vtsize reaches a field ending at end. */
#define VT_HAS(vt, type, field)                                                  \
    (offsetof(type, field) + sizeof(((type *)0)->field) <= *(const size_t *)(vt) && \
     ((const type *)(vt))->field != NULL)

static void info_options(const struct dc_option *opts)
{
    static const char *const types[] = {"?", "string", "int", "bool", "number",
                                        "path", "env", "list"};
    if (!opts || !opts[0].name) {
        printf("  options  (none)\n");
        return;
    }
    printf("  options\n");
    for (size_t i = 0; opts[i].name && i < 256; i++) {
        int t = opts[i].type >= 1 && opts[i].type <= 7 ? opts[i].type : 0;
        printf("    %-16s %-7s %s%s%s%s\n", opts[i].name, types[t],
               opts[i].required ? "required" : "optional",
               opts[i].default_value ? ", default " : "",
               opts[i].default_value ? opts[i].default_value : "",
               opts[i].help ? "" : "");
        if (opts[i].help)
            printf("      %s\n", opts[i].help);
    }
}

static void info_vtable(const struct dc_plugin_ref *p)
{
    const void *vt = p->vtable;
    switch (p->kind) {
    case DC_KIND_CONNECTOR: {
        const struct dc_connector_vtable *v = vt;
        printf("  dialect  %s\n", v->dialect ? v->dialect : "(none)");
        printf("  provides open, prepare, execute, introspect%s%s\n",
               VT_HAS(vt, struct dc_connector_vtable, session) ? ", session (1.1)" : "",
               VT_HAS(vt, struct dc_connector_vtable, fingerprint) ? ", fingerprint (1.1)" : "");
        info_options(v->options);
        break;
    }
    case DC_KIND_STAGE: {
        const struct dc_stage_vtable *v = vt;
        printf("  outcomes");
        for (size_t i = 0; v->outcomes && v->outcomes[i] && i < 64; i++)
            printf(" %s", v->outcomes[i]);
        printf("\n");
        info_options(v->options);
        break;
    }
    case DC_KIND_TOOL: {
        const struct dc_tool_vtable *v = vt;
        printf("  tier     %d\n  tool     %s\n  params   %s\n", v->tier,
               v->description ? v->description : "", v->params_schema ? v->params_schema : "{}");
        info_options(v->options);
        break;
    }
    case DC_KIND_LLM: {
        const struct dc_llm_vtable *v = vt;
        info_options(v->options);
        break;
    }
    default:
        break;
    }
}

/* What its host table holds beyond the capability groups: the entries of
 * the ABI minor its headers had. */
static void print_host_table(const struct dc_plugin_ref *p)
{
    printf("  host     the host table of ABI %u.%u: logging, options, results, schemas, "
           "context%s%s%s%s; newer entries only through DC_HOST_HAS after a rebuild\n",
           p->abi_major, p->abi_minor, p->abi_minor >= 1 ? ", sha256_hex, DataPoints (1.1)" : "",
           p->abi_minor >= 2 ? ", dp_render, retrieve (1.2)" : "",
           p->abi_minor >= 3 ? ", llm_complete, sql_check, dp_validate (1.3)" : "",
           p->abi_minor >= 4 ? ", http_request (1.4)" : "");
}

/* NAME or KIND/NAME into kind (0 = any) and name. */
static int split_kind_name(const char *arg, int *kind, const char **name)
{
    const char *slash = strchr(arg, '/');
    *kind = 0;
    *name = arg;
    if (!slash)
        return CLI_OK;
    char k[16];
    size_t n = (size_t)(slash - arg);
    if (n >= sizeof(k))
        return CLI_USAGE;
    memcpy(k, arg, n);
    k[n] = '\0';
    *kind = kind_from_name(k);
    *name = slash + 1;
    return *kind ? CLI_OK : CLI_USAGE;
}

static int plugins_info(struct cli *c)
{
    int kind;
    const char *name;
    if (c->nargs != 2 || split_kind_name(c->args[1], &kind, &name) != CLI_OK) {
        cli_error("usage: datachat plugins info NAME (or KIND/NAME, KIND one of connector, "
                  "llm, stage, tool)");
        return CLI_USAGE;
    }
    struct runtime *rt = NULL;
    int rc = load_every_plugin(c, &rt);
    if (rc != CLI_OK)
        return rc;
    size_t shown = 0;
    json_t *arr = c->json ? json_array() : NULL;
    for (int k = DC_KIND_CONNECTOR; k <= DC_KIND_TOOL; k++) {
        if (kind && k != kind)
            continue;
        const struct dc_plugin_ref *p = registry_find(rt->reg, k, name);
        if (!p)
            continue;
        const struct pluginlock_entry *e = pluginlock_find_file(registry_lock(rt->reg), p->path);
        shown++;
        if (c->json) {
            json_t *o = ref_json(p, ref_state(rt, p));
            json_object_set_new(o, "sha256", e ? json_string(e->sha256) : json_null());
            json_object_set_new(o, "installed", e && e->installed ? json_string(e->installed)
                                                                   : json_null());
            json_object_set_new(o, "host_abi_minor", json_integer(p->abi_minor));
            json_array_append_new(arr, o);
            continue;
        }
        printf("%s %s\n  state    %s\n  file     %s\n", dc_kind_name(p->kind), p->name,
               ref_state(rt, p), p->path);
        print_ref_text(p);
        if (e)
            printf("  pinned   sha256 %s (installed %s)\n", e->sha256,
                   e->installed ? e->installed : "?");
        else
            printf("  pinned   no (not installed with `datachat plugins install`)\n");
        print_host_table(p);
        info_vtable(p);
    }
    if (c->json && shown)
        rc = cli_print_json(arr, "the plugin descriptions");
    else
        json_decref(arr);
    if (!shown) {
        for (size_t i = 0; i < registry_nrefusals(rt->reg); i++)
            fprintf(stderr, "  refused: %s\n", registry_refusal_at(rt->reg, i)->reason);
        cli_error("E-PLUGIN-UNKNOWN: no loaded plugin is named '%s'; `datachat plugins list` "
                  "shows what is loaded and what was refused",
                  name);
        rc = CLI_USAGE;
    }
    runtime_free(rt);
    return rc;
}

/* ---- the scanner child -------------------------------------------------- */

/* `plugins __scan FILE` (hidden): runs in the child only. */
static int plugins_scan_child(struct cli *c)
{
    if (c->nargs != 2)
        return CLI_USAGE;
    struct dc_plugin_ref info;
    char err[2048] = "";
    memset(&info, 0, sizeof(info));
    int rc = registry_check_file(NULL, c->args[1], &info, err, sizeof(err));
    if (rc != DC_OK) {
        fprintf(stderr, "%s\n", err);
        return CLI_REFUSED;
    }
    json_t *o = ref_json(&info, "ok");
    json_object_set_new(o, "scan", json_string("ok"));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    registry_ref_clear(&info);
    if (!s)
        return CLI_ERROR;
    fputs(s, stdout);
    free(s);
    return fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
}

struct scan_report {
    json_t *desc;   /* the child's descriptor report */
    char why[2048]; /* why the candidate was rejected */
    int named;      /* why already starts with the file name */
};

static int drain(int fd, struct sbuf *b, int *open_)
{
    char buf[4096];
    ssize_t r = read(fd, buf, sizeof(buf));
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return DC_OK;
    if (r <= 0) {
        *open_ = 0;
        return DC_OK;
    }
    if (b->len + (size_t)r > SCAN_OUTPUT_MAX)
        return DC_ELIMIT;
    return sbuf_add(b, buf, (size_t)r);
}

static int64_t now_ms(void)
{
    return util_now_us() / 1000;
}

/* The environment for the scanner: the caller's, except that a sanitizer
 * runtime (in sanitizer builds) must let a crash be a crash, so the parent
 * sees the signal rather than a report and exit status 1. Built before
 * fork so the child only calls execve. */
static char **scanner_env(void)
{
    static const char extra[] = "handle_segv=0:handle_sigbus=0:handle_abort=0:"
                                "handle_sigfpe=0:handle_sigill=0";
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof(*env));
    if (!env)
        return NULL;
    size_t k = 0;
    const char *old = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "ASAN_OPTIONS=", 13) == 0)
            old = environ[i] + 13;
        else
            env[k++] = environ[i];
    }
    struct sbuf b;
    sbuf_init(&b);
    sbuf_addf(&b, "ASAN_OPTIONS=%s%s%s", old ? old : "", old && *old ? ":" : "", extra);
    env[k] = sbuf_detach(&b); /* the one string owned here; freed by the caller */
    if (!env[k]) {
        free(env);
        return NULL;
    }
    return env;
}

static void scanner_env_free(char **env)
{
    if (!env)
        return;
    size_t k = 0;
    while (env[k + 1])
        k++;
    free(env[k]);
    free(env);
}

/* Runs the scanner child on file and waits at most SCAN_TIMEOUT_MS. */
static int scan_in_child(const char *file, struct scan_report *rep)
{
    int rc = DC_EINVAL;
    int out[2] = {-1, -1}, errp[2] = {-1, -1};
    pid_t pid = -1;
    int status = 0, exited = 0;
    struct sbuf ob, eb;
    char exe[PATH_MAX];
    char **env = NULL;
    sbuf_init(&ob);
    sbuf_init(&eb);
    rep->desc = NULL;
    rep->why[0] = '\0';
    rep->named = 0;

    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        snprintf(rep->why, sizeof(rep->why), "cannot find the datachat executable to scan "
                                             "with: %s", strerror(errno));
        rc = DC_EIO;
        goto cleanup;
    }
    exe[n] = '\0';
    env = scanner_env();
    if (!env) {
        snprintf(rep->why, sizeof(rep->why), "out of memory");
        rc = DC_ENOMEM;
        goto cleanup;
    }
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
        snprintf(rep->why, sizeof(rep->why), "cannot create a pipe: %s", strerror(errno));
        rc = DC_EIO;
        goto cleanup;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        snprintf(rep->why, sizeof(rep->why), "cannot fork the scanner: %s", strerror(errno));
        rc = DC_EIO;
        goto cleanup;
    }
    if (pid == 0) {
        /* Its own process group, so a plugin that forks is killed whole. */
        setpgid(0, 0);
        if (dup2(out[1], STDOUT_FILENO) < 0 || dup2(errp[1], STDERR_FILENO) < 0)
            _exit(126);
        char *argv[] = {exe, "plugins", "__scan", (char *)file, NULL};
        execve(exe, argv, env);
        _exit(127);
    }
    setpgid(pid, pid);
    close(out[1]);
    close(errp[1]);
    out[1] = errp[1] = -1;

    int64_t deadline = now_ms() + SCAN_TIMEOUT_MS;
    int oopen = 1, eopen = 1, timed_out = 0;
    while (!exited) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        if (oopen || eopen) {
            struct pollfd pf[2] = {{oopen ? out[0] : -1, POLLIN, 0},
                                   {eopen ? errp[0] : -1, POLLIN, 0}};
            int pr = poll(pf, 2, (int)(left < 50 ? left : 50));
            if (pr < 0 && errno != EINTR) {
                snprintf(rep->why, sizeof(rep->why), "poll failed: %s", strerror(errno));
                rc = DC_EIO;
                goto cleanup;
            }
            /* stdout and stderr alike: read what arrived, within the cap. */
            int *const opens[2] = {&oopen, &eopen};
            struct sbuf *const bufs[2] = {&ob, &eb};
            for (int k = 0; pr > 0 && k < 2; k++) {
                if (*opens[k] && (pf[k].revents & (POLLIN | POLLHUP | POLLERR)) &&
                    drain(pf[k].fd, bufs[k], opens[k]) != DC_OK) {
                    snprintf(rep->why, sizeof(rep->why),
                             "the plugin printed more than %d bytes while loading",
                             SCAN_OUTPUT_MAX);
                    goto cleanup;
                }
            }
        } else {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            exited = 1;
    }
    /* What the child wrote after the last poll. */
    while (exited && oopen && drain(out[0], &ob, &oopen) == DC_OK)
        ;
    while (exited && eopen && drain(errp[0], &eb, &eopen) == DC_OK)
        ;
    if (timed_out) {
        snprintf(rep->why, sizeof(rep->why),
                 "E-PLUGIN-SCAN-TIMEOUT: loading it did not finish within %d ms (the scanner "
                 "was killed); a plugin must not block in its constructor or describe "
                 "function",
                 SCAN_TIMEOUT_MS);
        goto cleanup;
    }
    char *errtext = sbuf_detach(&eb);
    if (errtext) {
        size_t el = strlen(errtext);
        while (el && (errtext[el - 1] == '\n' || errtext[el - 1] == '\r'))
            errtext[--el] = '\0';
    }
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        snprintf(rep->why, sizeof(rep->why),
                 "E-PLUGIN-SCAN-CRASH: loading it killed the scanner with signal %d (%s); the "
                 "plugin crashes in its constructor or describe function",
                 sig, strsignal(sig));
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == CLI_REFUSED) {
        /* The registry's own refusal, which names the file first. */
        snprintf(rep->why, sizeof(rep->why), "%s", errtext && *errtext ? errtext : "refused");
        rep->named = errtext && *errtext;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == CLI_OK) {
        json_error_t je;
        rep->desc = ob.len ? json_loadb(ob.p, ob.len, 0, &je) : NULL;
        if (!rep->desc || !json_is_object(rep->desc) ||
            strcmp(json_string_value(json_object_get(rep->desc, "scan")) ?: "", "ok") != 0) {
            json_decref(rep->desc);
            rep->desc = NULL;
            snprintf(rep->why, sizeof(rep->why),
                     "E-PLUGIN-SCAN-EXIT: the process exited with status 0 while loading the "
                     "plugin, before it was described; a plugin must not call exit()");
        } else {
            rc = DC_OK;
        }
    } else {
        snprintf(rep->why, sizeof(rep->why),
                 "E-PLUGIN-SCAN-EXIT: the process exited with status %d while loading the "
                 "plugin%s%s; a plugin must not call exit()",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1, errtext && *errtext ? ": " : "",
                 errtext && *errtext ? errtext : "");
    }
    free(errtext);

cleanup:
    if (pid > 0 && !exited) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    sbuf_free(&ob);
    sbuf_free(&eb);
    scanner_env_free(env);
    return rc;
}

/* ---- plugins install ---------------------------------------------------- */

static int is_so_name(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && name[0] != '.' && strcmp(name + n - 3, ".so") == 0;
}

/* The one plugin file named by arg: a .so file, a symlink to one in the same
 * directory, or a directory holding exactly one .so file. */
static int resolve_candidate(const char *arg, char **out)
{
    struct stat st;
    *out = NULL;
    if (lstat(arg, &st) != 0) {
        cli_error("%s: E-PLUGIN-FILE: cannot read it: %s", arg, strerror(errno));
        return CLI_USAGE;
    }
    if (S_ISLNK(st.st_mode)) {
        char *target = realpath(arg, NULL);
        char *ldir = util_dirname(arg);
        char *lreal = ldir ? realpath(ldir, NULL) : NULL;
        char *tdir = target ? util_dirname(target) : NULL;
        int ok = target && lreal && tdir && strcmp(lreal, tdir) == 0;
        if (!target)
            cli_error("%s: E-PLUGIN-FILE: a dangling symlink; give the plugin file itself", arg);
        else if (!ok)
            cli_error("%s: E-PLUGIN-SYMLINK: a symlink to %s in another directory; give the "
                      "plugin file itself, so what is checked is what gets installed",
                      arg, target);
        free(ldir);
        free(lreal);
        free(tdir);
        if (!ok) {
            free(target);
            return CLI_USAGE;
        }
        if (stat(target, &st) != 0 || !S_ISREG(st.st_mode)) {
            cli_error("%s: E-PLUGIN-FILE: the symlink does not point at a regular file", arg);
            free(target);
            return CLI_USAGE;
        }
        *out = target;
        return CLI_OK;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(arg);
        char *found = NULL;
        size_t count = 0;
        struct dirent *e;
        if (!d) {
            cli_error("%s: E-PLUGIN-FILE: cannot read the directory: %s", arg, strerror(errno));
            return CLI_USAGE;
        }
        while ((e = readdir(d)) != NULL) {
            struct stat es;
            if (!is_so_name(e->d_name))
                continue;
            char *p = util_join_path(arg, e->d_name);
            if (p && lstat(p, &es) == 0 && S_ISREG(es.st_mode)) {
                count++;
                free(found);
                found = p;
            } else {
                free(p);
            }
        }
        closedir(d);
        if (count != 1) {
            cli_error("%s: E-PLUGIN-FILE: a directory holding %zu plugin .so files; give a "
                      "plugin .so file, or a build directory holding exactly one",
                      arg, count);
            free(found);
            return CLI_USAGE;
        }
        *out = realpath(found, NULL);
        free(found);
        if (!*out) {
            cli_error("%s: cannot resolve: %s", arg, strerror(errno));
            return CLI_ERROR;
        }
        return CLI_OK;
    }
    if (!S_ISREG(st.st_mode)) {
        cli_error("%s: E-PLUGIN-FILE: not a regular file; give a plugin .so file", arg);
        return CLI_USAGE;
    }
    *out = realpath(arg, NULL);
    if (!*out) {
        cli_error("%s: cannot resolve: %s", arg, strerror(errno));
        return CLI_ERROR;
    }
    return CLI_OK;
}

static int mkdir_p(const char *dir)
{
    char tmp[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(tmp))
        return DC_EINVAL;
    memcpy(tmp, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char save = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return DC_EIO;
        tmp[i] = save;
    }
    return DC_OK;
}

/* Copies src into a new temporary file in dir, hashing what it writes.
 * The temporary is 0755 and fsynced; *tmp_out names it. */
static int copy_to_temp(const char *src, const char *dir, char **tmp_out, char hex[65],
                        char *err, size_t errlen)
{
    int rc = DC_OK;
    int in = -1, outfd = -1;
    unsigned char buf[65536], digest[32];
    struct sha256 s;
    struct sbuf b;
    sbuf_init(&b);
    sbuf_addf(&b, "%s/.install.%ld.tmp", dir, (long)getpid());
    char *tmp = sbuf_detach(&b);
    *tmp_out = NULL;
    if (!tmp)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (in < 0) {
        rc = util_err(err, errlen, DC_EIO, "%s: cannot open: %s", src, strerror(errno));
        goto cleanup;
    }
    outfd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (outfd < 0) {
        rc = util_err(err, errlen, DC_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        goto cleanup;
    }
    sha256_init(&s);
    for (;;) {
        ssize_t r = read(in, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = util_err(err, errlen, DC_EIO, "%s: cannot read: %s", src, strerror(errno));
            goto cleanup;
        }
        if (r == 0)
            break;
        sha256_update(&s, buf, (size_t)r);
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(outfd, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                rc = util_err(err, errlen, DC_EIO, "%s: cannot write: %s", tmp,
                              strerror(errno));
                goto cleanup;
            }
            off += w;
        }
    }
    sha256_final(&s, digest);
    sha256_hex(digest, hex);
    if (fchmod(outfd, 0755) != 0 || fsync(outfd) != 0) {
        rc = util_err(err, errlen, DC_EIO, "%s: cannot finish: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (close(outfd) != 0) {
        outfd = -1;
        rc = util_err(err, errlen, DC_EIO, "%s: cannot write: %s", tmp, strerror(errno));
        goto cleanup;
    }
    outfd = -1;

cleanup:
    if (in >= 0)
        close(in);
    if (outfd >= 0)
        close(outfd);
    if (rc != DC_OK) {
        unlink(tmp);
        free(tmp);
    } else {
        *tmp_out = tmp;
    }
    return rc;
}

/* Where installs go: the first plugins.dirs entry of the config (docs/SDK.md). */
static int install_dir(const struct runtime *rt, const char **dir)
{
    if (rt->builtin_config || rt->cfg->nplugin_dirs == 0) {
        cli_error("E-PLUGIN-NO-DIR: %s has no plugins.dirs entry; plugins are installed into "
                  "the first directory listed there (add `plugins: { dirs: [~/.local/lib/"
                  "datachat/plugins] }` to the config)",
                  rt->builtin_config ? "the built-in configuration" : rt->cfg->path);
        return CLI_USAGE;
    }
    *dir = rt->cfg->plugin_dirs[0];
    return CLI_OK;
}

static int plugins_install(struct cli *c)
{
    int ret = CLI_OK;
    char err[2048] = "";
    char *src = NULL, *tmp = NULL, *lock_path = NULL, *dest_real = NULL;
    struct runtime *rt = NULL;
    struct pluginlock *lock = NULL;
    struct scan_report rep = {NULL, "", 0};
    const char *dir = NULL;
    char hex_src[65], hex_copy[65];
    if (c->nargs != 2) {
        cli_error("usage: datachat plugins install FILE.so|DIR [--sandbox]");
        return CLI_USAGE;
    }
    ret = load_for_plugins(c, &rt);
    if (ret != CLI_OK)
        return ret;
    ret = install_dir(rt, &dir);
    if (ret != CLI_OK)
        goto cleanup;
    ret = resolve_candidate(c->args[1], &src);
    if (ret != CLI_OK)
        goto cleanup;
    /* Owner, modes and ELF header without loading anything here. */
    if (registry_check_safety(src, 0, err, sizeof(err)) != DC_OK) {
        cli_error("%s", err);
        ret = CLI_USAGE;
        goto cleanup;
    }
    if (pluginlock_hash_file(src, hex_src, err, sizeof(err)) != DC_OK) {
        cli_error("%s", err);
        ret = CLI_ERROR;
        goto cleanup;
    }
    if (scan_in_child(src, &rep) != DC_OK) {
        cli_error("%s%s%s; nothing was installed", rep.named ? "" : src, rep.named ? "" : ": ",
                  rep.why);
        ret = CLI_USAGE;
        goto cleanup;
    }
    const char *name = json_string_value(json_object_get(rep.desc, "name"));
    const char *kindname = json_string_value(json_object_get(rep.desc, "kind"));
    const char *version = json_string_value(json_object_get(rep.desc, "version"));
    const char *license = json_string_value(json_object_get(rep.desc, "license"));
    const char *abi = json_string_value(json_object_get(rep.desc, "abi"));
    int kind = kindname ? kind_from_name(kindname) : 0;
    if (!name || !kind || !version || !license || !abi) {
        cli_error("%s: the scanner's report is incomplete; nothing was installed", src);
        ret = CLI_ERROR;
        goto cleanup;
    }

    if (mkdir_p(dir) != DC_OK) {
        cli_error("%s: cannot create the plugin directory: %s", dir, strerror(errno));
        ret = CLI_ERROR;
        goto cleanup;
    }
    if (registry_check_safety(dir, 1, err, sizeof(err)) != DC_OK) {
        cli_error("%s", err);
        ret = CLI_USAGE;
        goto cleanup;
    }
    /* The lock records resolved paths, as the registry compares them. */
    char *rd = realpath(dir, NULL);
    struct sbuf b;
    sbuf_init(&b);
    if (rd)
        sbuf_addf(&b, "%s/%s-%s.so", rd, kindname, name);
    free(rd);
    dest_real = sbuf_detach(&b);
    lock_path = pluginlock_path_for(rt->cfg->path);
    if (!dest_real || !lock_path) {
        cli_error("out of memory");
        ret = CLI_ERROR;
        goto cleanup;
    }
    if (pluginlock_load(lock_path, &lock, err, sizeof(err)) != DC_OK) {
        cli_error("%s", err);
        ret = CLI_USAGE;
        goto cleanup;
    }
    int reinstall = pluginlock_find_file(lock, dest_real) != NULL;
    struct stat st;
    if (!reinstall && lstat(dest_real, &st) == 0) {
        cli_error("%s: E-PLUGIN-CLASH: the file already exists and was not installed by "
                  "`datachat plugins install`; remove it first; nothing was installed",
                  dest_real);
        ret = CLI_USAGE;
        goto cleanup;
    }
    /* Name clash with any plugin the host can load (built-in or configured). */
    if (registry_load_all(rt->reg) < 0) {
        cli_error("out of memory");
        ret = CLI_ERROR;
        goto cleanup;
    }
    const struct dc_plugin_ref *other = registry_find(rt->reg, kind, name);
    if (other && strcmp(other->path, dest_real) != 0) {
        cli_error("%s: E-PLUGIN-CLASH: a %s plugin named \"%s\" is already loaded from %s; "
                  "rename one of the two; nothing was installed",
                  src, kindname, name, other->path);
        ret = CLI_USAGE;
        goto cleanup;
    }

    if (copy_to_temp(src, dir, &tmp, hex_copy, err, sizeof(err)) != DC_OK) {
        cli_error("%s; nothing was installed", err);
        ret = CLI_ERROR;
        goto cleanup;
    }
    if (strcmp(hex_src, hex_copy) != 0) {
        cli_error("%s: E-PLUGIN-CHANGED: the file changed while it was being installed; "
                  "nothing was installed, try again",
                  src);
        ret = CLI_ERROR;
        goto cleanup;
    }
    char when[32];
    util_iso_time(when);
    struct pluginlock_entry e = {.name = (char *)name,
                                 .kind = (char *)kindname,
                                 .version = (char *)version,
                                 .abi = (char *)abi,
                                 .license = (char *)license,
                                 .sha256 = hex_copy,
                                 .file = dest_real,
                                 .installed = when,
                                 .sandbox = c->sandbox};
    if (pluginlock_put(lock, &e) != DC_OK) {
        cli_error("out of memory");
        ret = CLI_ERROR;
        goto cleanup;
    }
    /* The lock first: a crash between the two leaves a record whose file is
     * missing or differs (refused, with the re-install hint), never an
     * unpinned file. */
    if (pluginlock_save(lock, lock_path, err, sizeof(err)) != DC_OK) {
        cli_error("%s; nothing was installed", err);
        ret = CLI_ERROR;
        goto cleanup;
    }
    if (rename(tmp, dest_real) != 0) {
        cli_error("%s: cannot install: %s", dest_real, strerror(errno));
        ret = CLI_ERROR;
        goto cleanup;
    }
    free(tmp);
    tmp = NULL;
    printf("installed %s %s %s (ABI %s, %s) as %s%s\n  sha256 %s, recorded in %s\n"
           "  uses   %s\n",
           kindname, name, version, abi, license, dest_real, c->sandbox ? " (sandboxed)" : "",
           hex_copy, lock_path, json_string_value(json_object_get(rep.desc, "uses")));

cleanup:
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    json_decref(rep.desc);
    pluginlock_free(lock);
    free(src);
    free(dest_real);
    free(lock_path);
    runtime_free(rt);
    return ret;
}

static int plugins_remove(struct cli *c)
{
    int kind;
    const char *name;
    char err[2048] = "";
    if (c->nargs != 2 || split_kind_name(c->args[1], &kind, &name) != CLI_OK) {
        cli_error("usage: datachat plugins remove NAME (or KIND/NAME)");
        return CLI_USAGE;
    }
    struct runtime *rt = NULL;
    struct pluginlock *lock = NULL;
    char *lock_path = NULL;
    int ret = load_for_plugins(c, &rt);
    if (ret != CLI_OK)
        return ret;
    if (rt->builtin_config) {
        cli_error("E-PLUGIN-NOT-INSTALLED: the built-in configuration has no lock file; give "
                  "--config");
        ret = CLI_USAGE;
        goto cleanup;
    }
    lock_path = pluginlock_path_for(rt->cfg->path);
    if (!lock_path) {
        cli_error("out of memory");
        ret = CLI_ERROR;
        goto cleanup;
    }
    if (pluginlock_load(lock_path, &lock, err, sizeof(err)) != DC_OK) {
        cli_error("%s", err);
        ret = CLI_USAGE;
        goto cleanup;
    }
    const char *kn = kind ? dc_kind_name(kind) : NULL;
    long at = pluginlock_find(lock, kn, name);
    if (at < 0) {
        cli_error("E-PLUGIN-NOT-INSTALLED: no plugin named '%s' is recorded in %s; only "
                  "plugins installed with `datachat plugins install` can be removed",
                  name, lock_path);
        ret = CLI_USAGE;
        goto cleanup;
    }
    if (!kn) {
        for (size_t i = (size_t)at + 1; i < lock->n; i++)
            if (strcmp(lock->entries[i].name, name) == 0) {
                cli_error("E-PLUGIN-AMBIGUOUS: a %s and a %s plugin are both named '%s'; "
                          "give KIND/NAME",
                          lock->entries[at].kind, lock->entries[i].kind, name);
                ret = CLI_USAGE;
                goto cleanup;
            }
    }
    struct pluginlock_entry *e = &lock->entries[at];
    int gone = 0;
    if (unlink(e->file) != 0) {
        if (errno != ENOENT) {
            cli_error("%s: cannot remove: %s; the lock file was left as it was", e->file,
                      strerror(errno));
            ret = CLI_ERROR;
            goto cleanup;
        }
        gone = 1;
    }
    printf("removed %s %s (%s%s)\n", e->kind, e->name, e->file,
           gone ? ", the file was already gone" : "");
    pluginlock_remove_at(lock, (size_t)at);
    if (pluginlock_save(lock, lock_path, err, sizeof(err)) != DC_OK) {
        cli_error("%s", err);
        ret = CLI_ERROR;
    }

cleanup:
    pluginlock_free(lock);
    free(lock_path);
    runtime_free(rt);
    return ret;
}

/* ---- plugins new ---------------------------------------------------------- */

/* Templates ship with the SDK (sdk/templates): next to the executable in a
 * build tree, under ../share in an installed one. */
static char *template_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *dir = util_dirname(exe);
    static const char *const rel[] = {"share/datachat/templates", "../share/datachat/templates"};
    for (size_t i = 0; dir && i < sizeof(rel) / sizeof(rel[0]); i++) {
        char *p = util_join_path(dir, rel[i]);
        struct stat st;
        if (p && stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            free(dir);
            return p;
        }
        free(p);
    }
    free(dir);
    return NULL;
}

static int subst(const char *in, const char *name, const char *ident, const char *kind,
                 struct sbuf *out)
{
    const struct {
        const char *key, *val;
    } vars[] = {{"@NAME@", name}, {"@IDENT@", ident}, {"@KIND@", kind}};
    while (*in) {
        size_t k = 0;
        for (; k < sizeof(vars) / sizeof(vars[0]); k++)
            if (strncmp(in, vars[k].key, strlen(vars[k].key)) == 0)
                break;
        if (k < sizeof(vars) / sizeof(vars[0])) {
            sbuf_adds(out, vars[k].val);
            in += strlen(vars[k].key);
        } else {
            sbuf_add(out, in, 1);
            in++;
        }
    }
    return out->oom ? DC_ENOMEM : DC_OK;
}

/* Writes every file of tdir/sub into dest with the variables replaced. */
static int write_templates(const char *tdir, const char *sub, const char *dest,
                           const char *name, const char *ident, const char *kind)
{
    int ret = CLI_OK;
    char err[1024] = "";
    char *from = util_join_path(tdir, sub);
    DIR *d = from ? opendir(from) : NULL;
    struct dirent *e;
    if (!d) {
        cli_error("%s: cannot read the plugin templates: %s", from ? from : tdir,
                  strerror(errno));
        free(from);
        return CLI_ERROR;
    }
    while (ret == CLI_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        struct sbuf fname, body;
        char *src = util_join_path(from, e->d_name), *text = NULL, *dst = NULL;
        size_t len = 0;
        sbuf_init(&fname);
        sbuf_init(&body);
        if (!src || util_read_file(src, 1u << 20, &text, &len, err, sizeof(err)) != DC_OK) {
            cli_error("%s", src ? err : "out of memory");
            ret = CLI_ERROR;
        } else if (subst(e->d_name, name, ident, kind, &fname) != DC_OK ||
                   subst(text, name, ident, kind, &body) != DC_OK ||
                   !(dst = util_join_path(dest, fname.p))) {
            cli_error("out of memory");
            ret = CLI_ERROR;
        } else {
            int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (fd < 0 || write(fd, body.p, body.len) != (ssize_t)body.len) {
                cli_error("%s: cannot write: %s", dst, strerror(errno));
                ret = CLI_ERROR;
            } else {
                printf("  %s\n", dst);
            }
            if (fd >= 0 && close(fd) != 0 && ret == CLI_OK) {
                cli_error("%s: cannot write: %s", dst, strerror(errno));
                ret = CLI_ERROR;
            }
        }
        free(dst);
        free(text);
        free(src);
        sbuf_free(&fname);
        sbuf_free(&body);
    }
    closedir(d);
    free(from);
    return ret;
}

static int plugins_new(struct cli *c)
{
    if (c->nargs < 3 || c->nargs > 4) {
        cli_error("usage: datachat plugins new KIND NAME [DIR] (KIND: connector, llm, stage, "
                  "tool)");
        return CLI_USAGE;
    }
    const char *kind = c->args[1], *name = c->args[2];
    const char *dest = c->nargs == 4 ? c->args[3] : name;
    if (!kind_from_name(kind)) {
        cli_error("E-PLUGIN-KIND: unknown plugin kind '%s'; use connector, llm, stage or tool",
                  kind);
        return CLI_USAGE;
    }
    char ident[65];
    size_t n = strlen(name);
    int ok = n >= 1 && n <= 64 && ((name[0] >= 'a' && name[0] <= 'z'));
    for (size_t i = 0; ok && i < n; i++) {
        char ch = name[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
        ident[i] = ch == '-' ? '_' : ch;
    }
    if (!ok) {
        cli_error("E-PLUGIN-NAME: plugin name '%s' is invalid: 1-64 characters of [a-z0-9_-] "
                  "starting with a letter",
                  name);
        return CLI_USAGE;
    }
    ident[n] = '\0';
    char *tdir = template_dir();
    if (!tdir) {
        cli_error("E-PLUGIN-TEMPLATES: the plugin templates are not installed next to this "
                  "datachat (share/datachat/templates); reinstall the SDK");
        return CLI_ERROR;
    }
    struct stat st;
    if (lstat(dest, &st) == 0) {
        cli_error("%s: E-PLUGIN-EXISTS: already exists; give a new directory", dest);
        free(tdir);
        return CLI_USAGE;
    }
    if (mkdir(dest, 0755) != 0) {
        cli_error("%s: cannot create: %s", dest, strerror(errno));
        free(tdir);
        return CLI_ERROR;
    }
    printf("new %s plugin '%s' in %s:\n", kind, name, dest);
    int ret = write_templates(tdir, "common", dest, name, ident, kind);
    if (ret == CLI_OK)
        ret = write_templates(tdir, kind, dest, name, ident, kind);
    if (ret == CLI_OK)
        printf("build and test it:\n  cmake -S %s -B %s/build -DCMAKE_PREFIX_PATH=<sdk prefix>\n"
               "  cmake --build %s/build && ctest --test-dir %s/build\n",
               dest, dest, dest, dest);
    free(tdir);
    return ret;
}

int cmd_plugins(struct cli *c)
{
    const char *sub = c->nargs >= 1 ? c->args[0] : "";
    if (strcmp(sub, "list") == 0)
        return plugins_list(c);
    if (strcmp(sub, "check") == 0)
        return plugins_check(c);
    if (strcmp(sub, "info") == 0)
        return plugins_info(c);
    if (strcmp(sub, "install") == 0)
        return plugins_install(c);
    if (strcmp(sub, "remove") == 0)
        return plugins_remove(c);
    if (strcmp(sub, "new") == 0)
        return plugins_new(c);
    if (strcmp(sub, "__scan") == 0)
        return plugins_scan_child(c);
    cli_error("plugins needs a subcommand: list, check FILE, info NAME, install FILE|DIR "
              "[--sandbox], remove NAME, new KIND NAME [DIR]");
    return CLI_USAGE;
}
