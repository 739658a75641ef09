/* Fuzz target: one DataPoint file from arbitrary bytes, loaded beside a
 * fixed valid set (so cross-file checks and precedence run), then rendered
 * with sample and hostile arguments for every backend, and linted against
 * a small fake catalog. Nothing may leak, crash or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <datachat/host.h>

#include "datapoint.h"
#include "schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char base_metric[] =
    "id: revenue\ntype: metric\nname: Revenue\nrelated_concepts: [region]\n"
    "execution:\n  parameters: {start: {type: date, default: \"2024-01-01\"}}\n"
    "  sql_template: SELECT sum(total) FROM orders WHERE day >= {{start}}\n";
static const char base_managed[] =
    "id: schema.demo.orders\ntype: schema\nname: orders\ndatabase: demo\ntable: orders\n"
    "columns:\n  - {name: total, type: REAL}\n";
static const char base_concept[] = "id: region\ntype: dimension\nname: Region\n";

static int fake_prepare(void *arg, const char *sql, char *err, size_t errlen)
{
    (void)arg;
    if (strstr(sql, "nope")) {
        if (errlen)
            err[0] = '\0';
        return DC_EINVAL;
    }
    return DC_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dp_set *s = NULL;
    struct dp_diags dg = {0};
    if (dp_set_new(&s) != DC_OK)
        return 0;
    dp_set_load_string(s, base_metric, sizeof(base_metric) - 1, "base/revenue.yaml", DP_USER,
                       &dg);
    dp_set_load_string(s, base_concept, sizeof(base_concept) - 1, "base/region.yaml", DP_USER,
                       &dg);
    dp_set_load_string(s, base_managed, sizeof(base_managed) - 1, "managed/orders.yaml",
                       DP_MANAGED, &dg);
    int src = size > 0 && (data[0] & 1) ? DP_MANAGED : DP_USER;
    dp_set_load_string(s, (const char *)data, size, "fuzz.yaml", src, &dg);
    dp_set_finish(s, &dg);
    for (size_t i = 0; i < dg.n; i++) {
        char line[2048];
        dp_diag_format(&dg.d[i], line, sizeof(line));
    }
    static const char *const backends[] = {"sqlite", "postgres", NULL};
    for (size_t i = 0; i < dp_set_count_all(s); i++) {
        const struct dp *d = dp_set_at_all(s, i);
        const struct dc_datapoint_info *in = dp_info(d);
        struct dp_arg args[16];
        size_t na = 0;
        for (size_t k = 0; k < in->nparams && na < 16; k++) {
            args[na].name = in->params[k]->name;
            args[na].value = dp_param_sample(in->params[k]);
            na++;
        }
        for (size_t b = 0; b < 3; b++) {
            struct dp_rendered r;
            char err[256];
            if (dp_render(d, backends[b], args, na, &r, err, sizeof(err)) == DC_OK)
                dp_rendered_free(&r);
            struct dp_arg evil[2] = {{na ? args[0].name : "x", "1'; DROP TABLE x; --"},
                                     {"zz", "1"}};
            if (dp_render(d, backends[b], evil, 1 + (b == 2), &r, err, sizeof(err)) == DC_OK)
                dp_rendered_free(&r);
        }
        (void)dp_shadows(d);
        (void)dp_shadowed_by(d);
    }
    struct dc_schema *sc = schema_new();
    if (sc) {
        struct dc_column_info cols[] = {
            {sizeof(cols[0]), "total", "REAL", DC_REAL, 0, 0, NULL, NULL},
            {sizeof(cols[0]), "day", "DATE", DC_DATE, 0, 0, NULL, NULL}};
        struct dc_table_info t = {sizeof(t), NULL, "orders", "table", 3, NULL, 2, cols, 0, NULL};
        schema_add_table(sc, &t);
        struct dp_live live = {.db_name = "demo", .backend = "sqlite", .schema = sc,
                               .prepare = fake_prepare, .unbound = 1};
        dp_lint_live(s, NULL, &live, &dg);
        schema_free(sc);
    }
    dp_diags_free(&dg);
    dp_set_free(s);
    return 0;
}
