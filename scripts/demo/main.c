/* datachat-demo-gen: command line front end of demo_gen.
 * Exit codes: 0 written, 1 could not write (I/O, SQLite, existing file
 * without --force), 2 bad command line. */
#include "demo_gen.h"
#include "demo_sql.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define PROG "datachat-demo-gen"
#define DEFAULT_SEED 42
#define DEFAULT_END_DATE "2026-06-30"

static const char usage_text[] =
    "usage: " PROG " --out PATH [--sql-out FILE] [--seed N] [--end-date YYYY-MM-DD] [--scale F]\n"
    "       [--force]\n"
    "\n"
    "Writes the retail demo database (SQLite) to PATH. The same seed, end date\n"
    "and scale always give the same database.\n"
    "\n"
    "  --out PATH             file to write (PATH.tmp while writing)\n"
    "  --sql-out FILE         also write the same data as a PostgreSQL script, for\n"
    "                         psql -v ON_ERROR_STOP=1 -f FILE\n"
    "  --seed N               unsigned 64-bit seed (default 42)\n"
    "  --end-date YYYY-MM-DD  last day of data; three years end there (default " DEFAULT_END_DATE ")\n"
    "  --scale F              size factor, > 0 and <= 100 (default 1, about 340k rows)\n"
    "  --force                replace PATH (and FILE) if they exist\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG ": ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see " PROG " --help)\n");
    va_end(ap);
    return 2;
}

static int parse_seed(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_scale(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v <= 0.0 || v > DEMO_SCALE_MAX)
        return -1;
    *out = v;
    return 0;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
    struct demo_opts o = {.out = NULL, .seed = DEFAULT_SEED, .scale = 1.0, .force = 0};
    const char *end_date = DEFAULT_END_DATE;
    const char *sql_out = NULL;
    struct stat sb;
    char err[512];
    struct demo_stats st;
    struct timespec t0;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (strcmp(arg, "--force") == 0) {
            o.force = 1;
            continue;
        }
        /* --flag VALUE and --flag=VALUE */
        static const char *const valued[] = {"--out", "--seed", "--end-date", "--scale",
                                             "--sql-out"};
        const char *flag = NULL, *val = NULL;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++) {
            size_t n = strlen(valued[k]);
            if (strncmp(arg, valued[k], n) == 0 && (arg[n] == '\0' || arg[n] == '=')) {
                flag = valued[k];
                if (arg[n] == '=')
                    val = arg + n + 1;
                else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                    val = argv[++i];
                break;
            }
        }
        if (flag == NULL)
            return usage_error("unknown flag '%s'", arg);
        if (val == NULL)
            return usage_error("%s needs a value", flag);
        if (strcmp(flag, "--out") == 0) {
            if (val[0] == '\0')
                return usage_error("--out needs a non-empty path");
            o.out = val;
        } else if (strcmp(flag, "--sql-out") == 0) {
            if (val[0] == '\0')
                return usage_error("--sql-out needs a non-empty path");
            sql_out = val;
        } else if (strcmp(flag, "--seed") == 0) {
            if (parse_seed(val, &o.seed) != 0)
                return usage_error("--seed must be an unsigned 64-bit integer, got '%s'", val);
        } else if (strcmp(flag, "--end-date") == 0) {
            end_date = val;
            if (demo_parse_date(val, &o.end_day) != 0)
                return usage_error("--end-date must be a real date YYYY-MM-DD between 2000 and 2199, "
                                   "got '%s'", val);
        } else {
            if (parse_scale(val, &o.scale) != 0)
                return usage_error("--scale must be a number > 0 and <= 100, got '%s'", val);
        }
    }
    if (o.out == NULL)
        return usage_error("--out PATH is required");
    if (demo_parse_date(end_date, &o.end_day) != 0)
        return usage_error("bad default end date '%s'", end_date);

    if (sql_out && strcmp(sql_out, o.out) == 0)
        return usage_error("--sql-out must name another file than --out");
    if (sql_out && !o.force && stat(sql_out, &sb) == 0) {
        fprintf(stderr, PROG ": %s already exists; pass --force to replace it\n", sql_out);
        return 1;
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = demo_generate(&o, &st, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    /* The SQL script is read back from the finished file, so the SQLite
     * database is exactly what it would be without --sql-out. */
    if (sql_out && demo_write_sql(o.out, sql_out, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    double secs = seconds_since(&t0);
    printf("wrote %s (seed %llu, end date %s, scale %g)\n", o.out, (unsigned long long)o.seed,
           end_date, o.scale);
    if (sql_out)
        printf("wrote %s (the same data for PostgreSQL)\n", sql_out);
    for (int t = 0; t < DEMO_TABLE_COUNT; t++)
        printf("  %-14s %10lld\n", st.table[t], (long long)st.rows[t]);
    printf("  %-14s %10lld rows in %.2f s\n", "total", (long long)st.total, secs);
    return 0;
}
