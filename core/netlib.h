/*
 * netlib - libcurl and libmicrohttpd, loaded the first time the core needs
 * them. Most commands never speak HTTP, yet linking the two libraries into
 * the executable pulled about thirty more shared objects (TLS, Kerberos,
 * LDAP, IDN) into every process start. This module dlopens each library by
 * the soname the build found, resolves the functions the core calls, and
 * hands out a read-only table; callers use the table instead of the symbols.
 * It never unloads a library and never decides anything about a request.
 */
#ifndef DC_NETLIB_H
#define DC_NETLIB_H

#include <stddef.h>

#include <curl/curl.h>
#include <microhttpd.h>

struct netlib_curl {
    __typeof__(&curl_url) url;
    __typeof__(&curl_url_set) url_set;
    __typeof__(&curl_url_get) url_get;
    __typeof__(&curl_url_cleanup) url_cleanup;
    __typeof__(&curl_free) free;
    __typeof__(&curl_easy_init) easy_init;
    __typeof__(&curl_easy_escape) easy_escape;
    __typeof__(&curl_easy_setopt) easy_setopt;
    __typeof__(&curl_easy_perform) easy_perform;
    __typeof__(&curl_easy_getinfo) easy_getinfo;
    __typeof__(&curl_easy_strerror) easy_strerror;
    __typeof__(&curl_easy_cleanup) easy_cleanup;
    __typeof__(&curl_slist_append) slist_append;
    __typeof__(&curl_slist_free_all) slist_free_all;
};

struct netlib_mhd {
    __typeof__(&MHD_start_daemon) start_daemon;
    __typeof__(&MHD_stop_daemon) stop_daemon;
    __typeof__(&MHD_quiesce_daemon) quiesce_daemon;
    __typeof__(&MHD_run) run;
    __typeof__(&MHD_get_timeout) get_timeout;
    __typeof__(&MHD_get_daemon_info) get_daemon_info;
    __typeof__(&MHD_get_connection_info) get_connection_info;
    __typeof__(&MHD_set_connection_option) set_connection_option;
    __typeof__(&MHD_lookup_connection_value) lookup_connection_value;
    __typeof__(&MHD_create_response_from_buffer) create_response_from_buffer;
    __typeof__(&MHD_create_response_from_callback) create_response_from_callback;
    __typeof__(&MHD_add_response_header) add_response_header;
    __typeof__(&MHD_queue_response) queue_response;
    __typeof__(&MHD_destroy_response) destroy_response;
    __typeof__(&MHD_suspend_connection) suspend_connection;
    __typeof__(&MHD_resume_connection) resume_connection;
};

/* The libcurl table, loading the library on the first call (thread-safe).
 * NULL with E-NET-LIBRARY in err when it cannot be loaded or lacks a
 * function; later calls give the same answer without retrying. */
const struct netlib_curl *netlib_curl(char *err, size_t errlen);
/* The same for libmicrohttpd. */
const struct netlib_mhd *netlib_mhd(char *err, size_t errlen);

/* The scheme and host of an absolute URL, each freed by the caller with
 * free(). DC_EINVAL when url is not one, DC_EIO when libcurl is missing. */
int netlib_url_parts(const char *url, char **scheme, char **host, char *err, size_t errlen);

#endif
