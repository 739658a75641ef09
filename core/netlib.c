#include "netlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/value.h>

#include "util.h"

#ifndef DC_CURL_SONAME
#error "DC_CURL_SONAME must name libcurl's soname (set by core/CMakeLists.txt)"
#endif
#ifndef DC_MHD_SONAME
#error "DC_MHD_SONAME must name libmicrohttpd's soname (set by core/CMakeLists.txt)"
#endif

struct sym {
    const char *name;
    size_t off;
};

#define CURL_SYM(f, m) {#f, offsetof(struct netlib_curl, m)}
static const struct sym curl_syms[] = {
    CURL_SYM(curl_url, url),
    CURL_SYM(curl_url_set, url_set),
    CURL_SYM(curl_url_get, url_get),
    CURL_SYM(curl_url_cleanup, url_cleanup),
    CURL_SYM(curl_free, free),
    CURL_SYM(curl_easy_init, easy_init),
    CURL_SYM(curl_easy_escape, easy_escape),
    CURL_SYM(curl_easy_setopt, easy_setopt),
    CURL_SYM(curl_easy_perform, easy_perform),
    CURL_SYM(curl_easy_getinfo, easy_getinfo),
    CURL_SYM(curl_easy_strerror, easy_strerror),
    CURL_SYM(curl_easy_cleanup, easy_cleanup),
    CURL_SYM(curl_slist_append, slist_append),
    CURL_SYM(curl_slist_free_all, slist_free_all),
};

#define MHD_SYM(f, m) {#f, offsetof(struct netlib_mhd, m)}
static const struct sym mhd_syms[] = {
    MHD_SYM(MHD_start_daemon, start_daemon),
    MHD_SYM(MHD_stop_daemon, stop_daemon),
    MHD_SYM(MHD_quiesce_daemon, quiesce_daemon),
    MHD_SYM(MHD_run, run),
    MHD_SYM(MHD_get_timeout, get_timeout),
    MHD_SYM(MHD_get_daemon_info, get_daemon_info),
    MHD_SYM(MHD_get_connection_info, get_connection_info),
    MHD_SYM(MHD_set_connection_option, set_connection_option),
    MHD_SYM(MHD_lookup_connection_value, lookup_connection_value),
    MHD_SYM(MHD_create_response_from_buffer, create_response_from_buffer),
    MHD_SYM(MHD_create_response_from_callback, create_response_from_callback),
    MHD_SYM(MHD_add_response_header, add_response_header),
    MHD_SYM(MHD_queue_response, queue_response),
    MHD_SYM(MHD_destroy_response, destroy_response),
    MHD_SYM(MHD_suspend_connection, suspend_connection),
    MHD_SYM(MHD_resume_connection, resume_connection),
};

/* The one piece of process-wide state in the module: each library is loaded
 * once and its table never changes afterwards, so every thread may read it.
 * pthread_once orders the writes before any reader sees ok. */
struct lib {
    pthread_once_t once;
    const char *soname;
    const struct sym *syms;
    size_t nsyms;
    void *table;
    int ok;
    char err[256];
};

static struct netlib_curl curl_table;
static struct netlib_mhd mhd_table;
static struct lib curl_lib = {PTHREAD_ONCE_INIT, DC_CURL_SONAME, curl_syms,
                              sizeof(curl_syms) / sizeof(curl_syms[0]), &curl_table, 0, ""};
static struct lib mhd_lib = {PTHREAD_ONCE_INIT, DC_MHD_SONAME, mhd_syms,
                             sizeof(mhd_syms) / sizeof(mhd_syms[0]), &mhd_table, 0, ""};

static void lib_load(struct lib *l)
{
    /* RTLD_LOCAL: plugins that link the same library get their own
     * reference through the loader; nothing here is exported to them. */
    void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        snprintf(l->err, sizeof(l->err), "E-NET-LIBRARY: cannot load %s (%s); install the "
                 "package that provides it", l->soname, why ? why : "unknown reason");
        return;
    }
    for (size_t i = 0; i < l->nsyms; i++) {
        void *fn = dlsym(h, l->syms[i].name);
        if (!fn) {
            snprintf(l->err, sizeof(l->err), "E-NET-LIBRARY: %s has no function %s; it is "
                     "older than the one DataChat was built with", l->soname, l->syms[i].name);
            return; /* the handle stays open: other code may hold the library too */
        }
        /* POSIX guarantees a function pointer fits in and round-trips through
         * the object pointer dlsym returns. */
        memcpy((char *)l->table + l->syms[i].off, &fn, sizeof(fn));
    }
    l->ok = 1;
}

static void curl_once(void)
{
    lib_load(&curl_lib);
}

static void mhd_once(void)
{
    lib_load(&mhd_lib);
}

static const void *lib_get(struct lib *l, void (*once)(void), char *err, size_t errlen)
{
    if (pthread_once(&l->once, once) != 0) {
        util_err(err, errlen, DC_EIO, "E-NET-LIBRARY: cannot initialise %s", l->soname);
        return NULL;
    }
    if (!l->ok) {
        util_err(err, errlen, DC_EIO, "%s", l->err);
        return NULL;
    }
    return l->table;
}

const struct netlib_curl *netlib_curl(char *err, size_t errlen)
{
    return lib_get(&curl_lib, curl_once, err, errlen);
}

const struct netlib_mhd *netlib_mhd(char *err, size_t errlen)
{
    return lib_get(&mhd_lib, mhd_once, err, errlen);
}

int netlib_url_parts(const char *url, char **scheme, char **host, char *err, size_t errlen)
{
    const struct netlib_curl *cu = netlib_curl(err, errlen);
    char *s = NULL, *h = NULL;
    int rc = DC_OK;
    *scheme = NULL;
    *host = NULL;
    if (!cu)
        return DC_EIO;
    CURLU *u = cu->url();
    if (!u)
        return util_err(err, errlen, DC_ENOMEM, "out of memory");
    if (!url || cu->url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        cu->url_get(u, CURLUPART_SCHEME, &s, 0) != CURLUE_OK ||
        cu->url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK) {
        rc = util_err(err, errlen, DC_EINVAL, "'%.200s' is not an absolute URL with a host",
                      url ? url : "(none)");
        goto cleanup;
    }
    /* Copied so callers free with free(), not with the library's allocator. */
    *scheme = strdup(s);
    *host = strdup(h);
    if (!*scheme || !*host) {
        free(*scheme);
        free(*host);
        *scheme = *host = NULL;
        rc = util_err(err, errlen, DC_ENOMEM, "out of memory");
    }
cleanup:
    cu->free(s);
    cu->free(h);
    cu->url_cleanup(u);
    return rc;
}
