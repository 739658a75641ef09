/* Feeds arbitrary bytes, as a config file's llm base_url would hold them,
 * to the providers' URL check (libcurl's parser plus the cases it lets
 * through): it must answer DC_OK or DC_EINVAL with an E-CFG-LLM-URL text,
 * never crash, and never accept an empty port or a non-http(s) scheme. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "llmhttp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *url = malloc(size + 1);
    char err[1024];
    if (!url)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    err[0] = '\0';
    int rc = llm_url_check("fuzz", url, err, sizeof(err));
    if (rc != DC_OK && rc != DC_EINVAL && rc != DC_ENOMEM)
        abort();
    if (rc == DC_EINVAL && strncmp(err, "E-CFG-LLM-URL: base_url: ", 25) != 0)
        abort();
    if (rc == DC_OK && strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
        abort();
    if (rc == DC_OK && strlen(url) == size) {
        /* An accepted URL names a host and, after a ':' port mark, a port. */
        const char *auth = strstr(url, "://") + 3;
        size_t alen = strcspn(auth, "/?#");
        if (alen == 0 || auth[alen - 1] == ':')
            abort();
    }
    free(url);
    return 0;
}
