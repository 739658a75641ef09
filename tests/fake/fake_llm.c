/*
 * fake_llm - a scripted loopback model server for the LLM tests.
 *
 *   fake_llm --script FILE [--record FILE]
 *
 * Listens on 127.0.0.1 on a free port, prints the port on stdout and serves
 * any path (OpenAI's /v1/chat/completions and Anthropic's /v1/messages
 * alike) until SIGTERM or SIGINT. Each request gets the next entry of the
 * script, a JSON array of objects:
 *   status       HTTP status (default 200)
 *   headers      {"Name": "value"} extra response headers (e.g. Retry-After)
 *   delay_ms     wait before answering
 *   body         the body text, or
 *   json         a JSON value sent as the body, or
 *   sse          ["data text", ...]: a text/event-stream, each item one event
 *   hang_after   with sse: send this many events, then go silent (30 s)
 *   repeat       {"text": "a", "bytes": N}: a body of N bytes
 * Past the script's end every request gets HTTP 500. Every request is
 * appended to the record file as one JSON line {method, path, headers, body}
 * so tests can see what a provider actually sent.
 */
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct server {
    json_t *script;
    size_t next;
    FILE *record;
    pthread_mutex_t mu;
};

struct upload {
    char *p;
    size_t len;
};

struct stream {
    json_t *entry; /* a reference of its own */
    size_t item;   /* next sse item */
    size_t off;    /* into the current chunk text */
    char *chunk;
    long long hang_after; /* -1: never */
    long long repeat_left;
    const char *repeat_text;
    size_t repeat_len;
    size_t repeat_off;
};

static void sleep_ms(long long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    json_t *h = cls;
    char low[256];
    size_t i = 0;
    for (; key[i] && i < sizeof(low) - 1; i++)
        low[i] = (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] + 32 : key[i]);
    low[i] = '\0';
    json_object_set_new(h, low, json_string(value ? value : ""));
    return MHD_YES;
}

static void record(struct server *s, struct MHD_Connection *conn, const char *method,
                   const char *url, const struct upload *up)
{
    if (!s->record)
        return;
    json_t *h = json_object();
    MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header, h);
    json_t *o = json_pack("{s:s, s:s, s:o, s:s%}", "method", method, "path", url, "headers", h,
                          "body", up->p ? up->p : "", up->len);
    char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (line) {
        fprintf(s->record, "%s\n", line);
        fflush(s->record);
    }
    free(line);
    json_decref(o);
}

static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *st = cls;
    if (st->repeat_left > 0) {
        size_t n = 0;
        while (n < max && st->repeat_left > 0) {
            buf[n++] = st->repeat_text[st->repeat_off++ % st->repeat_len];
            st->repeat_left--;
        }
        return (ssize_t)n;
    }
    json_t *items = json_object_get(st->entry, "sse");
    for (;;) {
        if (st->chunk && st->off < strlen(st->chunk)) {
            size_t n = strlen(st->chunk) - st->off;
            if (n > max)
                n = max;
            memcpy(buf, st->chunk + st->off, n);
            st->off += n;
            return (ssize_t)n;
        }
        free(st->chunk);
        st->chunk = NULL;
        st->off = 0;
        if (st->hang_after >= 0 && (long long)st->item >= st->hang_after) {
            sleep_ms(30000);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        json_t *it = json_array_get(items, st->item);
        if (!it)
            return MHD_CONTENT_READER_END_OF_STREAM;
        st->item++;
        const char *t = json_string_value(it);
        size_t need = strlen(t ? t : "") + 3;
        st->chunk = malloc(need);
        if (!st->chunk)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        snprintf(st->chunk, need, "%s\n\n", t ? t : "");
    }
}

static void free_stream(void *cls)
{
    struct stream *st = cls;
    free(st->chunk);
    json_decref(st->entry);
    free(st);
}

static struct MHD_Response *make_response(json_t *e)
{
    json_t *v;
    if ((v = json_object_get(e, "sse")) != NULL || json_object_get(e, "repeat")) {
        struct stream *st = calloc(1, sizeof(*st));
        if (!st)
            return NULL;
        st->entry = json_incref(e);
        st->hang_after = -1;
        if (json_is_integer(json_object_get(e, "hang_after")))
            st->hang_after = json_integer_value(json_object_get(e, "hang_after"));
        json_t *rep = json_object_get(e, "repeat");
        if (rep) {
            st->repeat_text = json_string_value(json_object_get(rep, "text"));
            if (!st->repeat_text || !*st->repeat_text)
                st->repeat_text = "x";
            st->repeat_len = strlen(st->repeat_text);
            st->repeat_left = json_integer_value(json_object_get(rep, "bytes"));
        }
        struct MHD_Response *r =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_stream, st, free_stream);
        if (!r)
            free_stream(st);
        else if (json_object_get(e, "sse"))
            MHD_add_response_header(r, "Content-Type", "text/event-stream");
        return r;
    }
    char *text = NULL;
    if ((v = json_object_get(e, "json")) != NULL)
        text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    else
        text = strdup(json_string_value(json_object_get(e, "body")) ? json_string_value(
                                                                          json_object_get(e, "body"))
                                                                    : "");
    if (!text)
        return NULL;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r)
        free(text);
    else
        MHD_add_response_header(r, "Content-Type", "application/json");
    return r;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    struct server *s = cls;
    struct upload *up = *con_cls;
    if (!up) {
        up = calloc(1, sizeof(*up));
        if (!up)
            return MHD_NO;
        *con_cls = up;
        return MHD_YES;
    }
    if (*upload_data_size) {
        char *p = realloc(up->p, up->len + *upload_data_size + 1);
        if (!p)
            return MHD_NO;
        memcpy(p + up->len, upload_data, *upload_data_size);
        up->p = p;
        up->len += *upload_data_size;
        up->p[up->len] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&s->mu);
    record(s, conn, method, url, up);
    json_t *e = json_incref(json_array_get(s->script, s->next));
    if (e)
        s->next++;
    pthread_mutex_unlock(&s->mu);
    if (!e)
        e = json_pack("{s:i, s:s}", "status", 500, "body", "{\"error\":\"fake_llm: script exhausted\"}");
    if (!e)
        return MHD_NO;
    if (json_is_integer(json_object_get(e, "delay_ms")))
        sleep_ms(json_integer_value(json_object_get(e, "delay_ms")));
    unsigned status = 200;
    if (json_is_integer(json_object_get(e, "status")))
        status = (unsigned)json_integer_value(json_object_get(e, "status"));
    struct MHD_Response *r = make_response(e);
    enum MHD_Result ret = MHD_NO;
    if (r) {
        const char *k;
        json_t *hv;
        json_object_foreach(json_object_get(e, "headers"), k, hv)
            MHD_add_response_header(r, k, json_string_value(hv) ? json_string_value(hv) : "");
        ret = MHD_queue_response(conn, status, r);
        MHD_destroy_response(r);
    }
    json_decref(e);
    return ret;
}

static void done(void *cls, struct MHD_Connection *conn, void **con_cls,
                 enum MHD_RequestTerminationCode toe)
{
    struct upload *up = *con_cls;
    if (up) {
        free(up->p);
        free(up);
        *con_cls = NULL;
    }
}

int main(int argc, char **argv)
{
    const char *script = NULL, *rec = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--script") == 0)
            script = argv[i + 1];
        else if (strcmp(argv[i], "--record") == 0)
            rec = argv[i + 1];
    }
    if (!script) {
        fprintf(stderr, "usage: fake_llm --script FILE [--record FILE]\n");
        return 2;
    }
    struct server s = {0};
    json_error_t je;
    s.script = json_load_file(script, 0, &je);
    if (!json_is_array(s.script)) {
        fprintf(stderr, "fake_llm: %s:%d: the script must be a JSON array (%s)\n", script,
                je.line, je.text);
        return 2;
    }
    if (rec && !(s.record = fopen(rec, "a"))) {
        fprintf(stderr, "fake_llm: %s: %s\n", rec, strerror(errno));
        return 2;
    }
    pthread_mutex_init(&s.mu, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle,
        &s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "fake_llm: cannot start the HTTP server on 127.0.0.1\n");
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("%u\n", info ? (unsigned)info->port : 0u);
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    /* Threads may sleep inside a hung stream: do not wait for them. Every
     * record line was flushed when written. */
    _exit(0);
}
