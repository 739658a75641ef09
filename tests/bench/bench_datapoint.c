/* bench_datapoint [N [LIMIT_MS]]: writes N DataPoint files (metrics with templates and
 * typed parameters, dimensions, concepts, cross-references) to a temporary
 * directory, then times loading and checking them as the runtime does
 * (dp_set_load_dir + dp_set_finish). Prints the figure; fails when the
 * load takes DC_BENCH_LIMIT_MS or more (1000 ms unless the build says
 * otherwise). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datapoint.h"
#include "util.h"

#ifndef DC_BENCH_LIMIT_MS
#define DC_BENCH_LIMIT_MS 1000
#endif

static int write_file(const char *dir, size_t i, size_t *bytes)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/dp_%05zu.yaml", dir, i);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int n;
    if (i % 3 == 0) {
        n = fprintf(f,
                    "id: metric_%zu\n"
                    "type: metric\n"
                    "name: Metric number %zu\n"
                    "definition: >\n"
                    "  Sum of amount over completed rows of table_%zu, for a period.\n"
                    "owner: team_%zu\n"
                    "tags: [finance, kpi]\n"
                    "synonyms: [measure %zu, figure %zu, total %zu]\n"
                    "data_sources:\n"
                    "  - table: table_%zu\n"
                    "    columns: [amount, created_at, status]\n"
                    "    filters: [\"status IN ('paid', 'shipped')\"]\n"
                    "related_concepts: [concept_%zu]\n"
                    "execution:\n"
                    "  parameters:\n"
                    "    start_date: {type: date, default: \"2000-01-01\"}\n"
                    "    end_date: {type: date, default: \"2100-01-01\"}\n"
                    "    grain: {type: enum, values: [day, month, year], default: month}\n"
                    "  backend_variants:\n"
                    "    sqlite: |\n"
                    "      SELECT strftime(CASE {{grain}} WHEN 'day' THEN '%%Y-%%m-%%d'\n"
                    "                      WHEN 'month' THEN '%%Y-%%m' ELSE '%%Y' END,\n"
                    "                      created_at) AS period, SUM(amount) AS total\n"
                    "      FROM table_%zu\n"
                    "      WHERE created_at >= {{start_date}} AND created_at < {{end_date}}\n"
                    "      GROUP BY period\n",
                    i, i, i % 1000, i % 17, i, i, i, i % 1000, i + 1, i % 1000);
    } else if (i % 3 == 1) {
        n = fprintf(f,
                    "id: concept_%zu\n"
                    "type: concept\n"
                    "name: Concept %zu\n"
                    "definition: A business idea described in words, number %zu.\n"
                    "synonyms: [idea %zu, notion %zu]\n"
                    "data_sources:\n"
                    "  - table: table_%zu\n"
                    "    columns: [status]\n"
                    "related_concepts: [metric_%zu]\n",
                    i, i, i, i, i, i % 1000, i - 1);
    } else {
        n = fprintf(f,
                    "id: dimension_%zu\n"
                    "type: dimension\n"
                    "name: Dimension %zu\n"
                    "definition: A way to slice figures, number %zu.\n"
                    "synonyms: [slice %zu, breakdown %zu]\n"
                    "data_sources:\n"
                    "  - table: table_%zu\n"
                    "    columns: [region, segment, channel]\n"
                    "relationships:\n"
                    "  - {to: concept_%zu, type: part_of}\n",
                    i, i, i, i, i, i % 1000, i - 1);
    }
    if (fclose(f) != 0 || n < 0)
        return -1;
    *bytes += (size_t)n;
    return 0;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[600];
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 10000;
    long limit = argc > 2 ? strtol(argv[2], NULL, 10) : DC_BENCH_LIMIT_MS;
    if (limit < DC_BENCH_LIMIT_MS)
        limit = DC_BENCH_LIMIT_MS;
    /* The last one must not point past the set. */
    while (n % 3 == 0 || n % 3 == 1)
        n++;
    char dir[] = "/tmp/dc-bench-dp-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (write_file(dir, i, &bytes) != 0) {
            perror("write");
            remove_dir(dir);
            return 1;
        }
    }
    int ret = 0;
    double best = 1e18;
    for (int round = 0; round < 3; round++) {
        struct dp_set *s = NULL;
        struct dp_diags dg = {0};
        int64_t t0 = util_now_us();
        int rc = dp_set_new(&s);
        if (rc == DC_OK)
            rc = dp_set_load_dir(s, dir, DP_USER, &dg);
        if (rc == DC_OK)
            rc = dp_set_finish(s, &dg);
        double ms = (double)(util_now_us() - t0) / 1000.0;
        if (rc != DC_OK || dp_set_count(s) != n) {
            char line[1600] = "";
            if (dg.n)
                dp_diag_format(&dg.d[0], line, sizeof(line));
            fprintf(stderr, "load failed (rc %d, %zu loaded): %s\n", rc, dp_set_count(s), line);
            ret = 1;
        }
        dp_set_free(s);
        dp_diags_free(&dg);
        if (ms < best)
            best = ms;
        if (ret)
            break;
    }
    if (!ret) {
        printf("loaded %zu DataPoints (%zu KiB of YAML) in %.1f ms, %.1f us each "
               "(best of 3; target < 1000 ms, fails at %ld ms)\n",
               n, bytes / 1024, best, best * 1000.0 / (double)n, limit);
        if (best >= (double)limit) {
            fprintf(stderr, "too slow: %.1f ms >= %ld ms\n", best, limit);
            ret = 1;
        }
    }
    remove_dir(dir);
    return ret;
}
