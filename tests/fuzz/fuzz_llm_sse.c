/* Feeds arbitrary bytes, as a model server's stream or error body would
 * arrive, to the LLM plugins' shared parsers: the SSE parser in chunks whose
 * sizes the input chooses (the same events must come out however the bytes
 * are split), the error-body excerpt and key redaction. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llmhttp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct tally {
    size_t events;
    size_t bytes;
};

static int count_event(void *arg, const char *event, const char *data, size_t len)
{
    struct tally *t = arg;
    if (!event || !data || strlen(data) != len)
        abort(); /* data must be NUL-terminated at len */
    t->events++;
    t->bytes += len;
    return t->events > 100000 ? DC_ELIMIT : DC_OK;
}

static void run(const char *p, size_t n, size_t step, struct tally *t)
{
    struct llm_sse s;
    llm_sse_init(&s, 4096, count_event, t);
    int rc = DC_OK;
    for (size_t off = 0; off < n && rc == DC_OK; off += step)
        rc = llm_sse_feed(&s, p + off, n - off < step ? n - off : step);
    if (rc == DC_OK)
        llm_sse_finish(&s);
    llm_sse_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t step = (size_t)data[0] % 17 + 1;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    struct tally whole = {0, 0}, split = {0, 0};
    run(p, n, n ? n : 1, &whole);
    run(p, n, step, &split);
    /* CR then LF split across chunks must not count as two line ends. */
    if (whole.events != split.events || whole.bytes != split.bytes)
        abort();

    char ex[128];
    llm_error_excerpt(p, n, ex, sizeof(ex));
    if (strlen(ex) >= sizeof(ex))
        abort();

    char text[256];
    size_t k = n < sizeof(text) - 1 ? n : sizeof(text) - 1;
    memcpy(text, p, k);
    text[k] = '\0';
    llm_redact(text, sizeof(text), "ab");
    if (strstr(text, "ab"))
        abort();
    return 0;
}
