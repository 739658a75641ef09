#include "registry.h"

#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <datachat/value.h>

#include "pluginlock.h"
#include "util.h"

/* The descriptor of ABI 1.0 ends with `description`; a plugin built against
 * any 1.x SDK declares at least this much. Fields added by later minors lie
 * past it and are only read when struct_size covers them. */
#define REG_DESC_MIN_1_0 \
    (offsetof(struct dc_plugin_descriptor, description) + sizeof(const char *))

#define REG_NAME_MAX 64
/* Bounds on the descriptor strings we copy, so a missing terminator in a
 * broken plugin cannot make us read its whole address space. */
#define REG_VERSION_MAX 64
#define REG_LICENSE_MAX 128
#define REG_BUILD_SIG_MAX 512
#define REG_DESCRIPTION_MAX 1024

#define REG_MSG_MAX (PATH_MAX * 2 + 1024)

struct registry {
    struct dc_plugin_ref **refs;
    size_t nrefs, caprefs;
    struct dc_plugin_refusal *refusals;
    size_t nrefusals, caprefusals;
    char **dirs;   /* searched on demand by registry_resolve */
    size_t ndirs;
    struct pluginlock *lock; /* pinned hashes of installed plugins, owned */
};

int registry_new(struct registry **out)
{
    if (!out)
        return DC_EINVAL;
    *out = calloc(1, sizeof(**out));
    return *out ? DC_OK : DC_ENOMEM;
}

void registry_ref_clear(struct dc_plugin_ref *info)
{
    if (!info)
        return;
    free(info->path);
    free(info->name);
    free(info->version);
    free(info->license);
    free(info->build_sig);
    free(info->description);
    memset(info, 0, sizeof(*info));
}

void registry_free(struct registry *r)
{
    if (!r)
        return;
    for (size_t i = r->nrefs; i > 0; i--) {
        struct dc_plugin_ref *ref = r->refs[i - 1];
        if (ref->dl)
            dlclose(ref->dl);
        registry_ref_clear(ref);
        free(ref);
    }
    free(r->refs);
    for (size_t i = 0; i < r->nrefusals; i++) {
        free(r->refusals[i].path);
        free(r->refusals[i].reason);
    }
    free(r->refusals);
    for (size_t i = 0; i < r->ndirs; i++)
        free(r->dirs[i]);
    free(r->dirs);
    pluginlock_free(r->lock);
    free(r);
}

size_t registry_min_vtable_size(int kind)
{
    switch (kind) {
    case DC_KIND_CONNECTOR:
        return offsetof(struct dc_connector_vtable, introspect) +
               sizeof(((struct dc_connector_vtable *)0)->introspect);
    case DC_KIND_LLM:
        return offsetof(struct dc_llm_vtable, complete) +
               sizeof(((struct dc_llm_vtable *)0)->complete);
    case DC_KIND_STAGE:
        return offsetof(struct dc_stage_vtable, run) +
               sizeof(((struct dc_stage_vtable *)0)->run);
    case DC_KIND_TOOL:
        return offsetof(struct dc_tool_vtable, invoke) +
               sizeof(((struct dc_tool_vtable *)0)->invoke);
    default:
        return 0;
    }
}

static int record_refusal(struct registry *r, const char *path, const char *reason)
{
    if (!r)
        return DC_OK;
    /* A file is tried again by each lookup that misses (resolve, then
     * load_all); it is one refusal, listed once. */
    for (size_t i = 0; i < r->nrefusals; i++)
        if (strcmp(r->refusals[i].path, path) == 0 && strcmp(r->refusals[i].reason, reason) == 0)
            return DC_OK;
    if (r->nrefusals == r->caprefusals) {
        size_t cap = r->caprefusals ? r->caprefusals * 2 : 8;
        struct dc_plugin_refusal *p = realloc(r->refusals, cap * sizeof(*p));
        if (!p)
            return DC_ENOMEM;
        r->refusals = p;
        r->caprefusals = cap;
    }
    char *pc = strdup(path);
    char *rc = strdup(reason);
    if (!pc || !rc) {
        free(pc);
        free(rc);
        return DC_ENOMEM;
    }
    r->refusals[r->nrefusals].path = pc;
    r->refusals[r->nrefusals].reason = rc;
    r->nrefusals++;
    return DC_OK;
}

/* Formats "path: reason" into msg; every refusal goes through here so the
 * file name is always the first thing a user reads. */
static int refuse(char *msg, size_t msglen, int code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int refuse(char *msg, size_t msglen, int code, const char *path, const char *fmt, ...)
{
    int n = snprintf(msg, msglen, "%s: ", path);
    if (n >= 0 && (size_t)n < msglen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg + n, msglen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Copies at most max-1 bytes of a plugin string for use in a message,
 * replacing anything unprintable so a hostile name cannot forge output. */
static void quote_for_message(const char *s, char *out, size_t max)
{
    size_t i = 0;
    for (; i + 1 < max && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[i] = '\0';
}

/* Owner and mode checks shared by plugin files and their directories. */
static int check_owner_mode(const struct stat *st, const char *what, const char *real,
                            const char *path, char *msg, size_t msglen)
{
    uid_t euid = geteuid();
    if (st->st_uid != 0 && st->st_uid != euid)
        return refuse(msg, msglen, DC_EDENIED, path,
                      "%s %s is owned by uid %u, but plugins must be owned by root or by the "
                      "user running datachat (uid %u); run `chown %u %s` or move the plugin "
                      "to a directory you own",
                      what, real, (unsigned)st->st_uid, (unsigned)euid,
                      (unsigned)euid, real);
    if (st->st_mode & (S_IWGRP | S_IWOTH))
        return refuse(msg, msglen, DC_EDENIED, path,
                      "%s %s has mode %04o and is %s-writable, so another user could "
                      "replace the code datachat runs; run `chmod go-w %s`",
                      what, real, (unsigned)(st->st_mode & 07777),
                      (st->st_mode & S_IWOTH) ? "world" : "group", real);
    return DC_OK;
}

/* resolved_in: realpath(path) when the caller already has it (taken over,
 * freed on failure), else NULL. */
static int check_file_safety(const char *path, char *resolved_in, char **resolved_out, char *msg,
                             size_t msglen)
{
    int rc = DC_OK;
    char *dir = NULL;
    struct stat st;
    char *resolved = resolved_in ? resolved_in : realpath(path, NULL);
    if (!resolved) {
        int e = errno;
        if (e == ENOMEM)
            return refuse(msg, msglen, DC_ENOMEM, path, "out of memory resolving the path");
        return refuse(msg, msglen, e == ENOENT ? DC_ENOTFOUND : DC_EIO, path,
                      "cannot resolve the path: %s; check that the file (and any symlink "
                      "target) exists",
                      strerror(e));
    }
    if (stat(resolved, &st) != 0) {
        rc = refuse(msg, msglen, DC_EIO, path, "cannot stat %s: %s", resolved, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = refuse(msg, msglen, DC_EINVAL, path,
                    "%s is not a regular file; give the path of a plugin .so file", resolved);
        goto cleanup;
    }
    rc = check_owner_mode(&st, "file", resolved, path, msg, msglen);
    if (rc != DC_OK)
        goto cleanup;
    dir = util_dirname(resolved);
    if (!dir) {
        rc = refuse(msg, msglen, DC_ENOMEM, path, "out of memory");
        goto cleanup;
    }
    if (stat(dir, &st) != 0) {
        rc = refuse(msg, msglen, DC_EIO, path, "cannot stat directory %s: %s", dir,
                    strerror(errno));
        goto cleanup;
    }
    rc = check_owner_mode(&st, "directory", dir, path, msg, msglen);

cleanup:
    free(dir);
    if (rc == DC_OK)
        *resolved_out = resolved;
    else
        free(resolved);
    return rc;
}

#if defined(__x86_64__)
#define REG_ELF_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define REG_ELF_MACHINE EM_AARCH64
#elif defined(__i386__)
#define REG_ELF_MACHINE EM_386
#endif

static const char *elf_machine_name(unsigned m)
{
    switch (m) {
    case EM_X86_64: return "x86-64";
    case EM_AARCH64: return "aarch64";
    case EM_386: return "i386";
    case EM_ARM: return "arm";
    case EM_RISCV: return "riscv";
    case EM_PPC64: return "ppc64";
    case EM_S390: return "s390";
    default: return "another architecture";
    }
}

/* The ELF header, read before dlopen: the loader's own message for a text
 * file or a foreign architecture ("invalid ELF header", "wrong ELF class")
 * does not tell a user what to do. */
static int check_elf(const char *file, const char *path, char *msg, size_t msglen)
{
    Elf64_Ehdr eh;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return refuse(msg, msglen, DC_EIO, path, "cannot open %s: %s", file, strerror(errno));
    ssize_t n = read(fd, &eh, sizeof(eh));
    close(fd);
    if (n < (ssize_t)EI_NIDENT || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
        return refuse(msg, msglen, DC_EABI, path,
                      "not an ELF shared object; give the .so file your plugin build "
                      "produced");
    int host_class = sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32;
    if (eh.e_ident[EI_CLASS] != host_class || n < (ssize_t)sizeof(Elf32_Ehdr))
        return refuse(msg, msglen, DC_EABI, path,
                      "an ELF file for a %d-bit machine, this host is %d-bit; rebuild the "
                      "plugin on (or for) this machine",
                      eh.e_ident[EI_CLASS] == ELFCLASS64 ? 64 : 32, host_class == ELFCLASS64 ? 64 : 32);
    /* e_type and e_machine sit at the same offsets in both classes. */
    if (eh.e_type != ET_DYN)
        return refuse(msg, msglen, DC_EABI, path,
                      "an ELF file but not a shared object (e_type %u); build the plugin as "
                      "a shared library (add_library(... MODULE) or cc -shared)",
                      (unsigned)eh.e_type);
#ifdef REG_ELF_MACHINE
    if (eh.e_machine != REG_ELF_MACHINE)
        return refuse(msg, msglen, DC_EABI, path,
                      "built for %s (ELF machine %u), this host is %s; rebuild the plugin "
                      "on (or for) this machine",
                      elf_machine_name(eh.e_machine), (unsigned)eh.e_machine,
                      elf_machine_name(REG_ELF_MACHINE));
#endif
    return DC_OK;
}

/* Whether [off, off + len) lies inside n bytes, without overflow. */
static int in_image(uint64_t off, uint64_t len, size_t n)
{
    return off <= n && len <= n - off;
}

/* Where the export count reads its bytes: straight from an image in memory
 * (tests, fuzzing) or by pread from the plugin file, which copies just the
 * section headers and the dynamic symbol and string tables instead of
 * mapping the whole file (each mapped page is a fault at every start). */
struct elf_src {
    const unsigned char *img; /* NULL: read from fd */
    int fd;
    uint64_t n;               /* bytes in the image or the file */
};

/* [off, off + len) of the source, or NULL (out of memory, short read).
 * *owned is what the caller frees. The range must already be in_image. */
static const unsigned char *src_get(const struct elf_src *s, uint64_t off, uint64_t len,
                                    unsigned char **owned)
{
    *owned = NULL;
    if (s->img)
        return s->img + off;
    unsigned char *buf = malloc(len ? (size_t)len : 1);
    if (!buf)
        return NULL;
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(s->fd, buf + got, (size_t)len - got, (off_t)(off + got));
        if (r <= 0) {
            free(buf);
            return NULL;
        }
        got += (size_t)r;
    }
    *owned = buf;
    return buf;
}

/* One SHT_DYNSYM table and its string table. */
static void count_in_dynsym(const unsigned char *syms, uint64_t symsz, const char *strs,
                            uint64_t strsz, const char *name, int *count)
{
    size_t want = strlen(name);
    for (uint64_t k = 0; k < symsz / sizeof(Elf64_Sym); k++) {
        Elf64_Sym sym;
        memcpy(&sym, syms + k * sizeof(sym), sizeof(sym));
        int bind = ELF64_ST_BIND(sym.st_info);
        if (sym.st_shndx == SHN_UNDEF || (bind != STB_GLOBAL && bind != STB_WEAK) ||
            ELF64_ST_VISIBILITY(sym.st_other) != STV_DEFAULT || sym.st_name >= strsz)
            continue;
        /* Each version of a versioned symbol is its own entry with the
         * same name ("sym@V1", "sym@@V2" are decorations of readelf). */
        size_t room = (size_t)(strsz - sym.st_name);
        if (room > want && memcmp(strs + sym.st_name, name, want) == 0 &&
            strs[sym.st_name + want] == '\0')
            (*count)++;
    }
}

static int count_exports(const struct elf_src *src, const char *name, int *count)
{
    Elf64_Ehdr eh;
    unsigned char *hbuf = NULL, *shbuf = NULL;
    int rc = DC_OK, found = 0;
    *count = 0;
    if (!name || src->n < sizeof(eh))
        return DC_EINVAL;
    const unsigned char *h = src_get(src, 0, sizeof(eh), &hbuf);
    if (!h)
        return DC_EIO;
    memcpy(&eh, h, sizeof(eh));
    free(hbuf);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB)
        return DC_EUNSUPPORTED;
    if (eh.e_shoff == 0 || eh.e_shnum == 0)
        return DC_ENOTFOUND; /* stripped of section headers: nothing to count */
    if (eh.e_shentsize != sizeof(Elf64_Shdr) ||
        !in_image(eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr), src->n))
        return DC_EINVAL;
    const unsigned char *shdrs =
        src_get(src, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr), &shbuf);
    if (!shdrs)
        return DC_EIO;
    for (size_t i = 0; i < eh.e_shnum && rc == DC_OK; i++) {
        Elf64_Shdr sh, st;
        memcpy(&sh, shdrs + i * sizeof(sh), sizeof(sh));
        if (sh.sh_type != SHT_DYNSYM)
            continue;
        found = 1;
        if (sh.sh_entsize != sizeof(Elf64_Sym) || !in_image(sh.sh_offset, sh.sh_size, src->n) ||
            sh.sh_link >= eh.e_shnum) {
            rc = DC_EINVAL;
            break;
        }
        memcpy(&st, shdrs + (size_t)sh.sh_link * sizeof(st), sizeof(st));
        if (st.sh_type != SHT_STRTAB || !in_image(st.sh_offset, st.sh_size, src->n)) {
            rc = DC_EINVAL;
            break;
        }
        unsigned char *sbuf = NULL, *tbuf = NULL;
        const unsigned char *syms = src_get(src, sh.sh_offset, sh.sh_size, &sbuf);
        const unsigned char *strs = syms ? src_get(src, st.sh_offset, st.sh_size, &tbuf) : NULL;
        if (strs)
            count_in_dynsym(syms, sh.sh_size, (const char *)strs, st.sh_size, name, count);
        else
            rc = DC_EIO;
        free(sbuf);
        free(tbuf);
    }
    free(shbuf);
    if (rc != DC_OK)
        return rc;
    return found ? DC_OK : DC_ENOTFOUND;
}

int registry_elf_count_exports(const void *img, size_t n, const char *name, int *count)
{
    *count = 0;
    if (!img)
        return DC_EINVAL;
    const struct elf_src src = {.img = img, .fd = -1, .n = n};
    return count_exports(&src, name, count);
}

/* dlsym picks one of several exported definitions (the default version);
 * the host would trust a descriptor the author may not have meant. */
static int check_exports_once(const char *file, const char *path, char *msg, size_t msglen)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return refuse(msg, msglen, DC_EIO, path, "cannot open %s: %s", file, strerror(errno));
    struct stat st;
    int rc = DC_OK, count = 0;
    if (fstat(fd, &st) != 0) {
        rc = refuse(msg, msglen, DC_EIO, path, "cannot read %s: %s", file, strerror(errno));
        goto cleanup;
    }
    if (st.st_size <= 0) {
        rc = refuse(msg, msglen, DC_EABI, path, "%s is empty; give the .so file your plugin "
                    "build produced", file);
        goto cleanup;
    }
    const struct elf_src src = {.img = NULL, .fd = fd, .n = (uint64_t)st.st_size};
    int crc = count_exports(&src, DC_PLUGIN_SYMBOL, &count);
    if (crc == DC_EIO)
        rc = refuse(msg, msglen, DC_EIO, path, "cannot read %s (short read or out of memory)",
                    file);
    else if (crc == DC_EINVAL)
        rc = refuse(msg, msglen, DC_EABI, path,
                    "its ELF section or symbol tables are truncated or corrupt; rebuild it");
    else if (crc == DC_OK && count > 1)
        rc = refuse(msg, msglen, DC_EABI, path,
                    "E-PLUGIN-SYMBOL-TWICE: exports %s %d times (several symbol versions, "
                    "e.g. from .symver or a version script); a plugin exports it exactly once, "
                    "as DC_PLUGIN_DEFINE writes it",
                    DC_PLUGIN_SYMBOL, count);
cleanup:
    close(fd);
    return rc;
}

/* A file recorded in the lock must still be the file that was installed. */
static int check_pin(const struct registry *r, const char *file, const char *path, char *msg,
                     size_t msglen)
{
    const struct pluginlock_entry *e = r ? pluginlock_find_file(r->lock, file) : NULL;
    if (!e)
        return DC_OK;
    char hex[65], herr[512];
    if (pluginlock_hash_file(file, hex, herr, sizeof(herr)) != DC_OK)
        return refuse(msg, msglen, DC_EIO, path, "cannot hash the pinned file: %s", herr);
    if (strcmp(hex, e->sha256) != 0)
        return refuse(msg, msglen, DC_EDENIED, path,
                      "E-PLUGIN-PIN: the file changed since it was installed (sha256 %.12s..., "
                      "the lock file records %.12s... for %s plugin \"%s\"); re-install to "
                      "accept the new file: `datachat plugins install FILE`",
                      hex, e->sha256, e->kind, e->name);
    return DC_OK;
}

static int valid_name(const char *s)
{
    size_t i = 0;
    for (; i <= REG_NAME_MAX && s[i]; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 (i > 0 && (c == '_' || c == '-'));
        if (!ok)
            return 0;
    }
    return i >= 1 && i <= REG_NAME_MAX;
}

/* Copies a descriptor string of at most max bytes; DC_ELIMIT when longer. */
static int copy_bounded(const char *s, size_t max, char **out)
{
    *out = NULL;
    if (!s) {
        *out = strdup("");
        return *out ? DC_OK : DC_ENOMEM;
    }
    size_t n = strnlen(s, max + 1);
    if (n > max)
        return DC_ELIMIT;
    *out = util_strndup(s, n);
    return *out ? DC_OK : DC_ENOMEM;
}

static const struct dc_plugin_ref *find_path(const struct registry *r, const char *resolved)
{
    if (!r)
        return NULL;
    for (size_t i = 0; i < r->nrefs; i++)
        if (strcmp(r->refs[i]->path, resolved) == 0)
            return r->refs[i];
    return NULL;
}

/* The field exists only in descriptors built against ABI 1.3 or later;
 * older ones get the whole host table, as they always had. */
static uint64_t descriptor_caps(const struct dc_plugin_descriptor *d, uint32_t size)
{
    if (size < offsetof(struct dc_plugin_descriptor, capabilities) + sizeof(d->capabilities))
        return DC_CAP_UNDECLARED;
    return d->capabilities;
}

static int check_descriptor(const struct dc_plugin_descriptor *d, const char *path,
                            char *msg, size_t msglen)
{
    uint32_t magic, size;
    /* A misaligned pointer is not a descriptor, and reading through it
     * would be undefined behaviour. */
    if ((uintptr_t)d % _Alignof(struct dc_plugin_descriptor) != 0)
        return refuse(msg, msglen, DC_EABI, path,
                      "descriptor address %p is misaligned; build it with DC_PLUGIN_DEFINE",
                      (const void *)d);
    memcpy(&magic, &d->magic, sizeof(magic));
    if (magic != DC_PLUGIN_MAGIC)
        return refuse(msg, msglen, DC_EABI, path,
                      "descriptor magic is 0x%08x, expected 0x%08x; the file is not a "
                      "datachat plugin or its descriptor is corrupt; rebuild it with "
                      "DC_PLUGIN_DEFINE",
                      (unsigned)magic, (unsigned)DC_PLUGIN_MAGIC);
    memcpy(&size, &d->struct_size, sizeof(size));
    if (size < REG_DESC_MIN_1_0)
        return refuse(msg, msglen, DC_EABI, path,
                      "descriptor struct_size %u smaller than ABI 1.0's %zu; rebuild it "
                      "with DC_PLUGIN_DEFINE against the installed SDK",
                      (unsigned)size, (size_t)REG_DESC_MIN_1_0);
    if (d->abi_major != DC_ABI_MAJOR)
        return refuse(msg, msglen, DC_EABI, path,
                      "built for ABI %u.%u, this host speaks %u.%u; rebuild against the "
                      "installed SDK",
                      (unsigned)d->abi_major, (unsigned)d->abi_minor, (unsigned)DC_ABI_MAJOR,
                      (unsigned)DC_ABI_MINOR);
    if (d->abi_minor > DC_ABI_MINOR)
        return refuse(msg, msglen, DC_EABI, path,
                      "needs ABI %u.%u, host provides %u.%u; upgrade datachat (or rebuild "
                      "the plugin against this host's SDK)",
                      (unsigned)d->abi_major, (unsigned)d->abi_minor, (unsigned)DC_ABI_MAJOR,
                      (unsigned)DC_ABI_MINOR);
    size_t minvt = registry_min_vtable_size(d->kind);
    if (minvt == 0)
        return refuse(msg, msglen, DC_EABI, path,
                      "unknown plugin kind %d; known kinds are connector (1), llm (2), "
                      "stage (3) and tool (4)",
                      d->kind);
    if (!d->vtable)
        return refuse(msg, msglen, DC_EABI, path,
                      "the %s plugin has no vtable; pass its struct dc_%s_vtable to "
                      "DC_PLUGIN_DEFINE",
                      dc_kind_name(d->kind), dc_kind_name(d->kind));
    if ((uintptr_t)d->vtable % _Alignof(size_t) != 0)
        return refuse(msg, msglen, DC_EABI, path,
                      "the %s vtable at %p is misaligned; define it as a struct dc_%s_vtable",
                      dc_kind_name(d->kind), d->vtable, dc_kind_name(d->kind));
    size_t vtsize;
    memcpy(&vtsize, d->vtable, sizeof(vtsize));
    if (vtsize < minvt)
        return refuse(msg, msglen, DC_EABI, path,
                      "%s vtable struct_size %zu smaller than ABI 1.0's %zu; set "
                      ".struct_size = sizeof(struct dc_%s_vtable) and rebuild",
                      dc_kind_name(d->kind), vtsize, minvt, dc_kind_name(d->kind));
    if (!d->name)
        return refuse(msg, msglen, DC_EINVAL, path, "the descriptor has no name");
    if (!valid_name(d->name)) {
        char shown[REG_NAME_MAX + 2];
        quote_for_message(d->name, shown, sizeof(shown));
        return refuse(msg, msglen, DC_EINVAL, path,
                      "plugin name \"%s\" is invalid: a name is 1-64 characters of "
                      "[a-z0-9_-] starting with a letter or digit",
                      shown);
    }
    uint64_t caps = descriptor_caps(d, size);
    if (caps != DC_CAP_UNDECLARED && (caps & ~DC_CAP_ALL))
        return refuse(msg, msglen, DC_EABI, path,
                      "plugin \"%s\" declares capability bits 0x%llx this host does not know "
                      "(known: 0x%llx); use only DC_CAP_* values of the installed SDK",
                      d->name, (unsigned long long)(caps & ~DC_CAP_ALL),
                      (unsigned long long)DC_CAP_ALL);
    if (!d->version)
        return refuse(msg, msglen, DC_EINVAL, path,
                      "plugin \"%s\" has no version string", d->name);
    if (!d->license)
        return refuse(msg, msglen, DC_EINVAL, path,
                      "plugin \"%s\" has no license string", d->name);
    return DC_OK;
}

static int copy_descriptor(const struct dc_plugin_descriptor *d, struct dc_plugin_ref *ref,
                           const char *path, char *msg, size_t msglen)
{
    static const struct {
        const char *field;
        size_t max;
    } limits[] = {{"name", REG_NAME_MAX},
                  {"version", REG_VERSION_MAX},
                  {"license", REG_LICENSE_MAX},
                  {"build_sig", REG_BUILD_SIG_MAX},
                  {"description", REG_DESCRIPTION_MAX}};
    const char *src[] = {d->name, d->version, d->license, d->build_sig, d->description};
    char **dst[] = {&ref->name, &ref->version, &ref->license, &ref->build_sig,
                    &ref->description};
    for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
        int rc = copy_bounded(src[i], limits[i].max, dst[i]);
        if (rc == DC_ENOMEM)
            return refuse(msg, msglen, DC_ENOMEM, path, "out of memory");
        if (rc != DC_OK)
            return refuse(msg, msglen, DC_EINVAL, path,
                          "descriptor %s is longer than %zu bytes; shorten it",
                          limits[i].field, limits[i].max);
    }
    ref->kind = d->kind;
    ref->abi_major = d->abi_major;
    ref->abi_minor = d->abi_minor;
    ref->caps = descriptor_caps(d, d->struct_size);
    ref->desc = d;
    ref->vtable = d->vtable;
    return DC_OK;
}

/* Every check, in order; on success ref holds an open handle and copies of
 * the descriptor strings. Nothing from the plugin runs before dlopen and
 * nothing but dc_plugin_describe runs at all. */
static int open_checked(const struct registry *r, const char *path, char *resolved,
                        struct dc_plugin_ref *ref, char *msg, size_t msglen)
{
    int rc;
    void *dl = NULL;
    memset(ref, 0, sizeof(*ref));
    if (!path || !*path) {
        free(resolved);
        return refuse(msg, msglen, DC_EINVAL, "(empty path)", "no plugin file given");
    }

    rc = check_file_safety(path, resolved, &ref->path, msg, msglen);
    if (rc != DC_OK)
        goto cleanup;
    rc = check_elf(ref->path, path, msg, msglen);
    if (rc != DC_OK)
        goto cleanup;
    rc = check_exports_once(ref->path, path, msg, msglen);
    if (rc != DC_OK)
        goto cleanup;
    rc = check_pin(r, ref->path, path, msg, msglen);
    if (rc != DC_OK)
        goto cleanup;

    dlerror();
    /* RTLD_NODELETE: a plugin's code stays mapped after dlclose, so thread-
     * local storage, atexit handlers or threads a plugin (or a library it
     * pulled in) left behind never point into unmapped memory. */
    dl = dlopen(ref->path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!dl) {
        const char *e = dlerror();
        rc = refuse(msg, msglen, DC_EIO, path,
                    "cannot load: %s; a library it needs is missing or it uses a symbol "
                    "nothing provides (check with `ldd -r %s`)",
                    e ? e : "unknown dlopen error", ref->path);
        goto cleanup;
    }

    dlerror();
    void *sym = dlsym(dl, DC_PLUGIN_SYMBOL);
    if (!sym) {
        rc = refuse(msg, msglen, DC_EABI, path,
                    "does not export " DC_PLUGIN_SYMBOL " (build it with DC_PLUGIN_DEFINE)");
        goto cleanup;
    }
    dc_plugin_describe_fn describe;
    memcpy(&describe, &sym, sizeof(describe));
    const struct dc_plugin_descriptor *d = describe();
    if (!d) {
        rc = refuse(msg, msglen, DC_EABI, path,
                    DC_PLUGIN_SYMBOL "() returned no descriptor; build it with "
                                     "DC_PLUGIN_DEFINE");
        goto cleanup;
    }
    rc = check_descriptor(d, path, msg, msglen);
    if (rc != DC_OK)
        goto cleanup;

    if (r) {
        for (size_t i = 0; i < r->nrefs; i++) {
            const struct dc_plugin_ref *o = r->refs[i];
            if (o->kind == d->kind && strcmp(o->name, d->name) == 0 &&
                strcmp(o->path, ref->path) != 0) {
                rc = refuse(msg, msglen, DC_EINVAL, path,
                            "a %s plugin named \"%s\" is already loaded from %s; remove one "
                            "of the two files or rename one plugin",
                            dc_kind_name(d->kind), d->name, o->path);
                goto cleanup;
            }
        }
    }

    rc = copy_descriptor(d, ref, path, msg, msglen);
    if (rc != DC_OK)
        goto cleanup;
    ref->dl = dl;
    dl = NULL;

cleanup:
    if (dl)
        dlclose(dl);
    if (rc != DC_OK)
        registry_ref_clear(ref);
    return rc;
}

static void copy_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

int registry_load_file(struct registry *r, const char *path, const struct dc_plugin_ref **out,
                       char *err, size_t errlen)
{
    int rc;
    char *msg = NULL;
    struct dc_plugin_ref *ref = NULL;
    if (out)
        *out = NULL;
    if (!r)
        return util_err(err, errlen, DC_EINVAL, "registry_load_file: no registry");
    msg = malloc(REG_MSG_MAX);
    if (!msg)
        return util_err(err, errlen, DC_ENOMEM, "%s: out of memory", path ? path : "");
    msg[0] = '\0';

    /* Loading the same file twice (a directory listed twice, a file given
     * twice) is a no-op, not a clash with itself. */
    char *resolved = path ? realpath(path, NULL) : NULL;
    const struct dc_plugin_ref *same = resolved ? find_path(r, resolved) : NULL;
    if (same) {
        free(resolved);
        if (out)
            *out = same;
        rc = DC_OK;
        goto cleanup;
    }

    ref = calloc(1, sizeof(*ref));
    if (!ref) {
        free(resolved);
        rc = refuse(msg, REG_MSG_MAX, DC_ENOMEM, path ? path : "", "out of memory");
        goto cleanup;
    }
    /* open_checked takes resolved over (NULL: it resolves and reports). */
    rc = open_checked(r, path, resolved, ref, msg, REG_MSG_MAX);
    if (rc != DC_OK)
        goto cleanup;
    if (r->nrefs == r->caprefs) {
        size_t cap = r->caprefs ? r->caprefs * 2 : 8;
        struct dc_plugin_ref **p = realloc(r->refs, cap * sizeof(*p));
        if (!p) {
            dlclose(ref->dl);
            registry_ref_clear(ref);
            rc = refuse(msg, REG_MSG_MAX, DC_ENOMEM, path, "out of memory");
            goto cleanup;
        }
        r->refs = p;
        r->caprefs = cap;
    }
    r->refs[r->nrefs++] = ref;
    if (out)
        *out = ref;
    ref = NULL;

cleanup:
    if (rc != DC_OK) {
        copy_err(err, errlen, msg);
        if (rc != DC_ENOMEM && record_refusal(r, path && *path ? path : "(empty path)", msg) != DC_OK)
            rc = DC_ENOMEM;
    }
    free(ref);
    free(msg);
    return rc;
}

int registry_check_file(struct registry *r, const char *path, struct dc_plugin_ref *info,
                        char *err, size_t errlen)
{
    struct dc_plugin_ref tmp;
    struct dc_plugin_ref *ref = info ? info : &tmp;
    char *msg = malloc(REG_MSG_MAX);
    if (!msg) {
        if (info)
            memset(info, 0, sizeof(*info));
        return util_err(err, errlen, DC_ENOMEM, "%s: out of memory", path ? path : "");
    }
    msg[0] = '\0';
    int rc = open_checked(r, path, NULL, ref, msg, REG_MSG_MAX);
    if (rc != DC_OK) {
        copy_err(err, errlen, msg);
    } else {
        /* The handle closes now, so nothing may keep pointing into it. */
        dlclose(ref->dl);
        ref->dl = NULL;
        ref->desc = NULL;
        ref->vtable = NULL;
        if (!info)
            registry_ref_clear(&tmp);
    }
    free(msg);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_so_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && name[0] != '.' && strcmp(name + n - 3, ".so") == 0;
}

static int check_dir_safety(struct registry *r, const char *dir, char *msg, size_t msglen)
{
    int rc = DC_OK;
    struct stat st;
    char *resolved = realpath(dir, NULL);
    if (!resolved) {
        rc = refuse(msg, msglen, errno == ENOMEM ? DC_ENOMEM : DC_EIO, dir,
                    "cannot resolve the plugin directory: %s", strerror(errno));
        goto cleanup;
    }
    if (stat(resolved, &st) != 0) {
        rc = refuse(msg, msglen, DC_EIO, dir, "cannot stat %s: %s", resolved, strerror(errno));
        goto cleanup;
    }
    if (!S_ISDIR(st.st_mode)) {
        rc = refuse(msg, msglen, DC_EINVAL, dir,
                    "%s is not a directory; list plugin directories under plugins.dirs",
                    resolved);
        goto cleanup;
    }
    rc = check_owner_mode(&st, "plugin directory", resolved, dir, msg, msglen);
    if (rc != DC_OK) {
        size_t n = strlen(msg);
        snprintf(msg + n, msglen - n, "; no plugin in it was loaded");
    }

cleanup:
    if (rc != DC_OK && rc != DC_ENOMEM && record_refusal(r, dir, msg) != DC_OK)
        rc = DC_ENOMEM;
    free(resolved);
    return rc;
}

int registry_load_dir(struct registry *r, const char *dir)
{
    int rc = DC_OK;
    int loaded = 0;
    DIR *d = NULL;
    char **names = NULL;
    size_t nnames = 0, capnames = 0;
    char *msg = NULL;
    struct stat st;

    if (!r || !dir)
        return DC_EINVAL;
    if (lstat(dir, &st) != 0 && errno == ENOENT)
        return 0;
    msg = malloc(REG_MSG_MAX);
    if (!msg)
        return DC_ENOMEM;
    rc = check_dir_safety(r, dir, msg, REG_MSG_MAX);
    if (rc != DC_OK)
        goto cleanup;

    d = opendir(dir);
    if (!d) {
        rc = refuse(msg, REG_MSG_MAX, DC_EIO, dir, "cannot read the plugin directory: %s",
                    strerror(errno));
        if (record_refusal(r, dir, msg) != DC_OK)
            rc = DC_ENOMEM;
        goto cleanup;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!has_so_suffix(e->d_name))
            continue;
        if (nnames == capnames) {
            size_t cap = capnames ? capnames * 2 : 16;
            char **p = realloc(names, cap * sizeof(*p));
            if (!p) {
                rc = DC_ENOMEM;
                goto cleanup;
            }
            names = p;
            capnames = cap;
        }
        names[nnames] = util_join_path(dir, e->d_name);
        if (!names[nnames]) {
            rc = DC_ENOMEM;
            goto cleanup;
        }
        nnames++;
    }
    if (nnames > 1)
        qsort(names, nnames, sizeof(*names), cmp_names);

    for (size_t i = 0; i < nnames; i++) {
        size_t before = r->nrefs;
        int lrc = registry_load_file(r, names[i], NULL, NULL, 0);
        if (lrc == DC_ENOMEM) {
            rc = DC_ENOMEM;
            goto cleanup;
        }
        if (lrc == DC_OK && r->nrefs > before)
            loaded++;
    }
    rc = DC_OK;

cleanup:
    if (d)
        closedir(d);
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    free(msg);
    if (rc == DC_ENOMEM)
        return DC_ENOMEM;
    return loaded;
}

const struct dc_plugin_ref *registry_find(const struct registry *r, int kind, const char *name)
{
    if (!r || !name)
        return NULL;
    for (size_t i = 0; i < r->nrefs; i++)
        if (r->refs[i]->kind == kind && strcmp(r->refs[i]->name, name) == 0)
            return r->refs[i];
    return NULL;
}

size_t registry_count(const struct registry *r)
{
    return r ? r->nrefs : 0;
}

const struct dc_plugin_ref *registry_at(const struct registry *r, size_t i)
{
    return r && i < r->nrefs ? r->refs[i] : NULL;
}

size_t registry_nrefusals(const struct registry *r)
{
    return r ? r->nrefusals : 0;
}

const struct dc_plugin_refusal *registry_refusal_at(const struct registry *r, size_t i)
{
    return r && i < r->nrefusals ? &r->refusals[i] : NULL;
}

int registry_add_dir(struct registry *r, const char *dir)
{
    if (!r || !dir)
        return DC_EINVAL;
    for (size_t i = 0; i < r->ndirs; i++)
        if (strcmp(r->dirs[i], dir) == 0)
            return DC_OK;
    char **dirs = realloc(r->dirs, (r->ndirs + 1) * sizeof(*dirs));
    if (!dirs)
        return DC_ENOMEM;
    r->dirs = dirs;
    r->dirs[r->ndirs] = strdup(dir);
    if (!r->dirs[r->ndirs])
        return DC_ENOMEM;
    r->ndirs++;
    return DC_OK;
}

int registry_load_all(struct registry *r)
{
    int total = 0;
    for (size_t i = 0; r && i < r->ndirs; i++) {
        int n = registry_load_dir(r, r->dirs[i]);
        if (n < 0)
            return n;
        total += n;
    }
    return total;
}

const struct dc_plugin_ref *registry_resolve(struct registry *r, int kind, const char *name)
{
    const struct dc_plugin_ref *p = registry_find(r, kind, name);
    if (p || !r || !name || !valid_name(name))
        return p;
    /* The file naming convention first: one dlopen instead of all. A file
     * whose descriptor says otherwise is loaded under its own name and the
     * search goes on. */
    for (size_t i = 0; i < r->ndirs; i++) {
        struct sbuf b;
        struct stat st;
        sbuf_init(&b);
        sbuf_addf(&b, "%s/%s-%s.so", r->dirs[i], dc_kind_name(kind), name);
        char *path = sbuf_detach(&b);
        if (path && stat(path, &st) == 0)
            registry_load_file(r, path, NULL, NULL, 0);
        free(path);
        p = registry_find(r, kind, name);
        if (p)
            return p;
    }
    registry_load_all(r);
    return registry_find(r, kind, name);
}

void registry_set_lock(struct registry *r, struct pluginlock *lock)
{
    if (!r) {
        pluginlock_free(lock);
        return;
    }
    pluginlock_free(r->lock);
    r->lock = lock;
}

const struct pluginlock *registry_lock(const struct registry *r)
{
    return r ? r->lock : NULL;
}

int registry_check_safety(const char *path, int is_dir, char *err, size_t errlen)
{
    int rc;
    char *resolved = NULL;
    char *msg = malloc(REG_MSG_MAX);
    if (!msg)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    msg[0] = '\0';
    if (is_dir)
        rc = check_dir_safety(NULL, path, msg, REG_MSG_MAX);
    else
        rc = check_file_safety(path, NULL, &resolved, msg, REG_MSG_MAX);
    if (rc == DC_OK && !is_dir)
        rc = check_elf(resolved, path, msg, REG_MSG_MAX);
    if (rc != DC_OK)
        copy_err(err, errlen, msg);
    free(resolved);
    free(msg);
    return rc;
}
