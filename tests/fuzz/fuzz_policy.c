/* Policy file parser: any bytes must load cleanly or fail with
 * diagnostics, never crash or leak; a set that loads must resolve for
 * every principal it defines and describe itself. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cfg_diags diags;
    struct policy_set *ps = NULL;
    if (policy_load_string((const char *)data, size, "fuzz.yaml", &ps, &diags) != 0)
        return 0;
    for (size_t i = 0; i < ps->np; i++) {
        for (size_t j = 0; j <= ps->p[i].ndbs; j++) {
            struct policy_rules *r = NULL;
            const char *db = j < ps->p[i].ndbs ? ps->p[i].dbs[j].name : "none";
            if (policy_resolve(ps, ps->p[i].name, db, &r) != 0)
                continue;
            char **lines = NULL;
            size_t n = 0;
            if (policy_describe(r, &lines, &n) == 0)
                policy_strv_free(lines, n);
            policy_rules_free(r);
        }
    }
    policy_set_free(ps);
    return 0;
}
