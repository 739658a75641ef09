/* Feeds arbitrary bytes to audit_verify as a log file, then checks that a
 * log verify accepts can be reopened, extended and still verifies. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <datachat/value.h>

#include "audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int write_input(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = size ? fwrite(data, 1, size, f) : 0;
    int rc = fclose(f);
    return (n == size && rc == 0) ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[] = "/tmp/fuzz-audit-XXXXXX";
    char path[64], head[80];
    if (!mkdtemp(dir))
        return 0;
    snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
    snprintf(head, sizeof(head), "%s.head", path);
    if (write_input(path, data, size) != 0)
        goto cleanup;

    struct audit_verify_report rep;
    if (audit_verify(path, &rep) != DC_OK)
        abort();
    if (rep.ok != (rep.bad_line == 0) || (rep.ok && rep.reason[0] != '\0'))
        abort();
    if (memchr(rep.reason, '\0', sizeof(rep.reason)) == NULL)
        abort();

    struct audit *a = NULL;
    char err[512];
    int rc = audit_open(path, AUDIT_FSYNC_NEVER, &a, err, sizeof(err));
    if (rep.ok && rc != DC_OK)
        abort();
    if (rc == DC_OK) {
        struct audit_record r = {.event = "query", .sql = "SELECT 1", .outcome = "ok",
                                 .rows = 1, .duration_us = -1};
        if (audit_append(a, &r, err, sizeof(err)) != DC_OK)
            abort();
        audit_close(a);
        struct audit_verify_report after;
        if (audit_verify(path, &after) != DC_OK)
            abort();
        if (rep.ok && (!after.ok || after.records != rep.records + 1))
            abort();
    }
cleanup:
    unlink(head);
    unlink(path);
    rmdir(dir);
    return 0;
}
