/* gate_overhead BUILD_DIR SQLITE_DB [PG_DBNAME]: what the gate costs per
 * query next to what a database round trip costs.
 *
 * 1,000 queries are generated from realistic shapes over the demo schema
 * (joins, aggregates, CTEs, subqueries, filters) with varying constants,
 * then timed one by one, without and with an access policy (a row filter
 * on orders, payments and order_items, a row filter and an e-mail mask
 * on customers: every query reads at least one of them):
 * pgparse_check alone (libpg_query parse and the walk); with the policy,
 * pgparse_check_rewrite (one parse that checks and collects, the scan, the
 * splice and its proof, the shadow queries checked once beforehand as the
 * gate does on first use), the same in paranoid mode (plus a full parse of
 * the result that re-checks and verifies it) and, for comparison, the
 * separate passes (check, rewrite, check again); gate_explain on the SQLite demo database (the connector's
 * prepare with the gate's authorizer) and, with PG_DBNAME (PGHOST... in
 * the environment), gate_explain on PostgreSQL (pgparse plus the server's
 * prepare, and with the policy the catalog check of the names used).
 * Beside them, the connector's own prepare + execute of a trivial SELECT 1
 * on each database. Prints medians, p95s and ratios to that round trip.
 * Fails only when a generated query is not accepted (the figures would
 * then measure refusals) or a database cannot be used; the 50 us target
 * (parse + policy + rewrite) is reported. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <datachat/host.h>
#include <datachat/plugin.h>

#include "audit.h"
#include "config.h"
#include "db.h"
#include "gate.h"
#include "hostapi.h"
#include "pgparse.h"
#include "policy.h"
#include "schema.h"
#include "registry.h"
#include "result.h"
#include "util.h"

#define NQUERIES 1000
#define NTRIPS 300
#define TARGET_US 50.0

struct conn {
    void *dl;
    struct dc_plugin_ref ref;
    struct cfg_opt opt[1];
    struct dc_opts opts;
    struct db db;
    int ready;
};

static const char *const shapes[] = {
    "SELECT o.order_id, o.status, c.country FROM orders o JOIN customers c ON c.customer_id = "
    "o.customer_id WHERE o.total_amount > %d ORDER BY o.order_id LIMIT %d",
    "SELECT c.country, count(*) AS n, sum(o.total_amount) AS total FROM orders o JOIN customers "
    "c ON c.customer_id = o.customer_id WHERE o.status = '%s' GROUP BY c.country ORDER BY total "
    "DESC LIMIT %d",
    "WITH big AS (SELECT customer_id, sum(total_amount) AS spent FROM orders WHERE channel = "
    "'%s' GROUP BY customer_id) SELECT c.first_name, c.last_name, b.spent FROM big b JOIN "
    "customers c ON c.customer_id = b.customer_id WHERE b.spent > %d ORDER BY b.spent DESC "
    "LIMIT 10",
    "SELECT p.name, sum(oi.quantity * oi.unit_price * (1 - oi.discount)) AS revenue FROM "
    "order_items oi JOIN products p ON p.product_id = oi.product_id JOIN categories cat ON "
    "cat.category_id = p.category_id WHERE cat.name <> '%s' GROUP BY p.name HAVING "
    "sum(oi.quantity) > %d ORDER BY revenue DESC LIMIT 20",
    "SELECT r.name AS region, count(DISTINCT c.customer_id) AS customers FROM regions r LEFT "
    "JOIN customers c ON c.region_id = r.region_id AND c.segment = '%s' WHERE r.region_id > %d "
    "GROUP BY r.name ORDER BY 2 DESC",
    "SELECT method, status, count(*) AS n, avg(amount) AS avg_amount FROM payments WHERE "
    "method <> '%s' AND amount BETWEEN %d AND 5000 GROUP BY method, status",
    "SELECT o.order_id FROM orders o WHERE o.customer_id IN (SELECT customer_id FROM customers "
    "WHERE country = '%s' AND is_active = 1) AND NOT EXISTS (SELECT 1 FROM payments p WHERE "
    "p.order_id = o.order_id AND p.status = 'failed') LIMIT %d",
    "SELECT o.channel, count(*) AS orders, sum(CASE WHEN o.status IN ('cancelled', 'refunded') "
    "THEN 1 ELSE 0 END) AS lost FROM orders o WHERE o.shipping_country = '%s' AND "
    "o.total_amount >= %d GROUP BY o.channel ORDER BY orders DESC",
};
static const char *const words[] = {"paid", "web", "enterprise", "Germany", "card",
                                    "shipped", "mobile", "France", "Books", "consumer"};

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Median and p95 in microseconds of n samples in nanoseconds (sorted here). */
static void stats(int64_t *ns, size_t n, double *med, double *p95)
{
    qsort(ns, n, sizeof(*ns), cmp_i64);
    *med = (double)ns[n / 2] / 1000.0;
    *p95 = (double)ns[(n * 95) / 100] / 1000.0;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* This thread's CPU time: on a loaded machine the wall-clock figures also
 * hold the time the thread waited for a CPU; this does not (a shared CPU's
 * caches and clock still slow it down). */
static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int conn_init(struct conn *c, const char *build, const char *plugin, const char *key,
                     const char *value, const char *name)
{
    char path[512];
    struct dc_host h;
    snprintf(path, sizeof(path), "%s/plugins/%s.so", build, plugin);
    c->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!c->dl) {
        fprintf(stderr, "gate_overhead: %s\n", dlerror());
        return -1;
    }
    dc_plugin_describe_fn fn = (dc_plugin_describe_fn)dlsym(c->dl, DC_PLUGIN_SYMBOL);
    if (!fn)
        return -1;
    c->ref.desc = fn();
    c->ref.kind = c->ref.desc->kind;
    c->ref.vtable = c->ref.desc->vtable;
    c->ref.name = (char *)name;
    c->opt[0].key = (char *)key;
    c->opt[0].value = (char *)value;
    c->opts.opts = c->opt;
    c->opts.nopts = 1;
    c->opts.decl = ((const struct dc_connector_vtable *)c->ref.vtable)->options;
    hostapi_init(&h, NULL);
    if (db_init(&c->db, name, &c->ref, &c->opts, &h) != DC_OK)
        return -1;
    char err[512] = "";
    if (db_open(&c->db, err, sizeof(err)) != DC_OK) {
        fprintf(stderr, "gate_overhead: %s\n", err);
        return -1;
    }
    c->ready = 1;
    return 0;
}

static void conn_fini(struct conn *c)
{
    if (c->ready)
        db_fini(&c->db);
    if (c->dl)
        dlclose(c->dl);
}

static int allow_all(void *ctx, int action, const char *object, const char *detail)
{
    (void)ctx;
    (void)action;
    (void)object;
    (void)detail;
    return DC_OK;
}

/* The connector's own prepare + execute + finalize of SELECT 1 (trusted
 * text: the authorizer allows everything). */
static int round_trip(struct conn *c, double *med, double *p95)
{
    static int64_t ns[NTRIPS];
    const struct dc_connector_vtable *vt = c->db.vt;
    char err[512] = "";
    struct dc_authorizer az = {sizeof(az), NULL, allow_all, NULL};
    for (int i = 0; i < NTRIPS; i++) {
        struct dc_stmt_info info;
        struct dc_limits lim = {sizeof(lim), 10, 0, 0};
        void *stmt = NULL;
        memset(&info, 0, sizeof(info));
        info.struct_size = sizeof(info);
        struct dc_result *r = result_new();
        if (!r)
            return -1;
        int64_t t0 = now_ns();
        int rc = vt->prepare(c->db.conn, "SELECT 1", &az, &stmt, &info, err, sizeof(err));
        if (rc == DC_OK)
            rc = vt->execute(c->db.conn, stmt, NULL, 0, &lim, r, err, sizeof(err));
        if (stmt)
            vt->finalize(c->db.conn, stmt);
        ns[i] = now_ns() - t0;
        result_free(r);
        if (rc != DC_OK) {
            fprintf(stderr, "gate_overhead: SELECT 1 on %s: %s\n", c->db.name, err);
            return -1;
        }
    }
    stats(ns, NTRIPS, med, p95);
    return 0;
}

static int gate_times(struct gate *g, struct conn *c, char **qs, double *med, double *p95)
{
    static int64_t ns[NQUERIES];
    for (size_t i = 0; i < NQUERIES; i++) {
        struct gate_decision dec;
        int64_t t0 = now_ns();
        int rc = gate_explain(g, "bench", &c->db, qs[i], &dec);
        ns[i] = now_ns() - t0;
        if (rc != DC_OK) {
            fprintf(stderr, "gate_overhead: %s refused query %zu: %s: %s\n  %s\n", c->db.name,
                    i, dec.code, dec.reason, qs[i]);
            gate_decision_clear(&dec);
            return -1;
        }
        gate_decision_clear(&dec);
    }
    stats(ns, NQUERIES, med, p95);
    return 0;
}

/* The policy of the "with policy" figures, on both databases. */
static const char bench_policy[] =
    "principals:\n"
    "  bench:\n"
    "    databases:\n"
    "      sqlite: &rules\n"
    "        default_table: { allowed: true }\n"
    "        tables:\n"
    "          orders: { row_filter: \"status <> 'test'\" }\n"
    "          payments: { row_filter: \"amount >= 0\" }\n"
    "          order_items: { row_filter: \"quantity > 0\" }\n"
    "          customers:\n"
    "            row_filter: \"is_active = 1\"\n"
    "            columns: { masked: { email: email } }\n"
    "      postgres: *rules\n";

struct shadows {
    struct policy_rules *rules;
    struct pgparse_shadow sh[8];
    struct pgparse_fragment *frag[8];
    size_t n;
};

/* The shadows the gate would build for principal bench on s. */
static int shadows_build(const struct policy_set *ps, const char *db, const struct dc_schema *s,
                         struct shadows *out)
{
    memset(out, 0, sizeof(*out));
    if (policy_resolve(ps, "bench", db, &out->rules) != DC_OK)
        return -1;
    for (size_t i = 0; i < out->rules->ntables && out->n < 8; i++) {
        const struct policy_table *pt = out->rules->tables[i].t;
        const struct dc_table_info *ti = schema_find(s, pt->name);
        if (!policy_table_shadowed(pt) || !ti)
            continue;
        struct pgparse_shadow *sh = &out->sh[out->n++];
        sh->schema = ti->schema_name;
        sh->name = ti->name;
        if (!(sh->query = policy_shadow_query(pt, ti, "postgres")))
            return -1;
        /* Checked once, as the gate does the first time it applies it. */
        char code[40], err[400];
        if (pgparse_fragment_new(sh->query, &out->frag[out->n - 1], code, err, sizeof(err)) !=
            DC_OK) {
            fprintf(stderr, "gate_overhead: the shadow of %s is refused: %s %s\n", sh->name,
                    code, err);
            return -1;
        }

    }
    return out->n ? 0 : -1;
}

static void shadows_free(struct shadows *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free((char *)s->sh[i].query);
        pgparse_fragment_free(s->frag[i]);
    }
    policy_rules_free(s->rules);
}

/* pgparse_check_rewrite (mode 0), the separate passes (mode 1), or
 * pgparse_check_rewrite in paranoid mode (2). */
static int rewrite_times(char **qs, const struct shadows *sh, int mode, double *med, double *p95,
                         double *cpu_med)
{
    static int64_t ns[NQUERIES], cpu[NQUERIES];
    char err[512] = "";
    for (size_t i = 0; i < NQUERIES; i++) {
        struct pgparse_info info, again;
        struct pgparse_rewrite rw;
        memset(&info, 0, sizeof(info));
        memset(&again, 0, sizeof(again));
        memset(&rw, 0, sizeof(rw));
        rw.verify = mode == 2 ? PGPARSE_VERIFY_BOTH : PGPARSE_VERIFY_PROOF;
        rw.frags = (const struct pgparse_fragment *const *)sh->frag;
        int64_t t0 = now_ns(), c0 = cpu_ns();
        int rc;
        if (mode != 1) {
            rc = pgparse_check_rewrite(qs[i], sh->sh, sh->n, &info, &rw, err, sizeof(err));
        } else {
            rc = pgparse_check(qs[i], &info, err, sizeof(err));
            if (rc == DC_OK)
                rc = pgparse_rewrite(qs[i], sh->sh, sh->n, &rw, err, sizeof(err));
            if (rc == DC_OK && rw.nrewritten)
                rc = pgparse_check(rw.sql, &again, err, sizeof(err));
        }
        ns[i] = now_ns() - t0;
        cpu[i] = cpu_ns() - c0;
        int rewritten = rw.nrewritten > 0;
        pgparse_info_clear(&info);
        pgparse_info_clear(&again);
        pgparse_rewrite_clear(&rw);
        if (rc != DC_OK || !rewritten) {
            fprintf(stderr, "gate_overhead: policy rewrite of query %zu: %s\n  %s\n", i,
                    rc != DC_OK ? err : "nothing rewritten", qs[i]);
            return -1;
        }
    }
    stats(ns, NQUERIES, med, p95);
    double cpu_p95;
    stats(cpu, NQUERIES, cpu_med, &cpu_p95);
    return 0;
}

static void row(const char *what, double med, double p95)
{
    printf("  %-52s %10.1f %10.1f\n", what, med, p95);
}

int main(int argc, char **argv)
{
    static int64_t ns[NQUERIES], cpu[NQUERIES];
    char *qs[NQUERIES];
    char dir[] = "/tmp/dc-bench-gate-XXXXXX", apath[128], err[512] = "";
    struct conn lite, pg;
    struct audit *audit = NULL;
    struct gate *g = NULL, *gp = NULL;
    struct policy_set *ps = NULL;
    struct shadows sh;
    static struct cfg_diags diags;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int status = 1;
    double pp_med, pp_p95, pr_med, pr_p95, po_med, po_p95, pv_med, pv_p95, gl_med, gl_p95,
        glp_med, glp_p95, rl_med, rl_p95;
    double gp_med = 0, gp_p95 = 0, gpp_med = 0, gpp_p95 = 0, rp_med = 0, rp_p95 = 0;
    double pp_cpu, pr_cpu, pv_cpu, po_cpu, unused;
    memset(&lite, 0, sizeof(lite));
    memset(&pg, 0, sizeof(pg));
    memset(&sh, 0, sizeof(sh));
    memset(qs, 0, sizeof(qs));
    if (argc < 3) {
        fprintf(stderr, "usage: %s BUILD_DIR SQLITE_DB [PG_DBNAME]\n", argv[0]);
        return 2;
    }
    const char *pgdb = argc > 3 ? argv[3] : NULL;
    for (size_t i = 0; i < NQUERIES; i++) {
        char buf[1200];
        const char *shape = shapes[next_rand(&seed) % (sizeof(shapes) / sizeof(shapes[0]))];
        const char *w = words[next_rand(&seed) % (sizeof(words) / sizeof(words[0]))];
        int k = (int)(next_rand(&seed) % 500) + 1;
        /* Every shape takes one word, then one number. */
        snprintf(buf, sizeof(buf), shape, w, k);
        qs[i] = strdup(buf);
        if (!qs[i])
            goto cleanup;
    }
    if (!mkdtemp(dir))
        goto cleanup;
    snprintf(apath, sizeof(apath), "%s/audit.jsonl", dir);
    if (audit_open(apath, AUDIT_FSYNC_NEVER, &audit, err, sizeof(err)) != DC_OK) {
        fprintf(stderr, "gate_overhead: %s\n", err);
        goto cleanup;
    }
    if (policy_load_string(bench_policy, sizeof(bench_policy) - 1, "bench-policy.yaml", &ps,
                           &diags) != DC_OK) {
        fprintf(stderr, "gate_overhead: the bench policy does not load\n");
        goto cleanup;
    }
    struct gate_limits lim = {1000, 30000, 1 << 20};
    if (gate_new(audit, &lim, &g) != DC_OK || gate_new(audit, &lim, &gp) != DC_OK)
        goto cleanup;
    gate_set_policies(gp, ps);
    if (conn_init(&lite, argv[1], "connector-sqlite", "path", argv[2], "sqlite") != 0)
        goto cleanup;
    if (pgdb && conn_init(&pg, argv[1], "connector-postgres", "dbname", pgdb, "postgres") != 0)
        goto cleanup;
    const struct dc_schema *schema = db_schema(pgdb ? &pg.db : &lite.db, err, sizeof(err));
    if (!schema || shadows_build(ps, pgdb ? "postgres" : "sqlite", schema, &sh) != 0) {
        fprintf(stderr, "gate_overhead: no shadows for the bench policy: %s\n", err);
        goto cleanup;
    }

    /* Warm caches (catalog, libpg_query's memory contexts) outside the timing. */
    for (size_t i = 0; i < 20; i++) {
        struct gate_decision dec;
        gate_explain(g, "bench", &lite.db, qs[i], &dec);
        gate_decision_clear(&dec);
        gate_explain(gp, "bench", pgdb ? &pg.db : &lite.db, qs[i], &dec);
        gate_decision_clear(&dec);
    }
    for (size_t i = 0; i < NQUERIES; i++) {
        struct pgparse_info info;
        memset(&info, 0, sizeof(info));
        int64_t t0 = now_ns(), c0 = cpu_ns();
        int rc = pgparse_check(qs[i], &info, err, sizeof(err));
        ns[i] = now_ns() - t0;
        cpu[i] = cpu_ns() - c0;
        pgparse_info_clear(&info);
        if (rc != DC_OK) {
            fprintf(stderr, "gate_overhead: pgparse refused query %zu: %s\n  %s\n", i, err,
                    qs[i]);
            goto cleanup;
        }
    }
    stats(ns, NQUERIES, &pp_med, &pp_p95);
    stats(cpu, NQUERIES, &pp_cpu, &unused);
    if (rewrite_times(qs, &sh, 0, &pr_med, &pr_p95, &pr_cpu) != 0 ||
        rewrite_times(qs, &sh, 2, &pv_med, &pv_p95, &pv_cpu) != 0 ||
        rewrite_times(qs, &sh, 1, &po_med, &po_p95, &po_cpu) != 0)
        goto cleanup;
    if (gate_times(g, &lite, qs, &gl_med, &gl_p95) != 0 ||
        gate_times(gp, &lite, qs, &glp_med, &glp_p95) != 0 ||
        round_trip(&lite, &rl_med, &rl_p95) != 0)
        goto cleanup;
    if (pgdb && (gate_times(g, &pg, qs, &gp_med, &gp_p95) != 0 ||
                 gate_times(gp, &pg, qs, &gpp_med, &gpp_p95) != 0 ||
                 round_trip(&pg, &rp_med, &rp_p95) != 0))
        goto cleanup;

    printf("gate_overhead: %d queries from %zu shapes over the demo schema, without and with "
           "a policy (%zu shadowed tables)\n",
           NQUERIES, sizeof(shapes) / sizeof(shapes[0]), sh.n);
    printf("  %-52s %10s %10s\n", "", "median us", "p95 us");
    row("pgparse_check, no policy (parse + walk)", pp_med, pp_p95);
    row("pgparse_check_rewrite, policy (parse once + proof)", pr_med, pr_p95);
    row("same, paranoid (+ full re-parse of the result)", pv_med, pv_p95);
    row("separate passes, policy (check, rewrite, check)", po_med, po_p95);
    row("gate_explain, SQLite, no policy", gl_med, gl_p95);
    row("gate_explain, SQLite, policy (temp views)", glp_med, glp_p95);
    row("connector SELECT 1, SQLite", rl_med, rl_p95);
    if (pgdb) {
        row("gate_explain, PostgreSQL, no policy (+ prepare)", gp_med, gp_p95);
        row("gate_explain, PostgreSQL, policy (+ catalog, prepare)", gpp_med, gpp_p95);
        row("connector SELECT 1, PostgreSQL", rp_med, rp_p95);
    } else {
        printf("  PostgreSQL: not measured (no database named; PGHOST unset?)\n");
    }
    printf("  ratios to the connector's SELECT 1 (medians):\n");
    printf("    SQLite: pgparse %.2f, with policy %.2f; gate_explain %.2f, with policy %.2f\n",
           pp_med / rl_med, pr_med / rl_med, gl_med / rl_med, glp_med / rl_med);
    if (pgdb)
        printf("    PostgreSQL: pgparse %.2f, with policy %.2f; gate_explain %.2f, with policy "
               "%.2f\n",
               pp_med / rp_med, pr_med / rp_med, gp_med / rp_med, gpp_med / rp_med);
    printf("  this thread's CPU time (medians, us; wall time less waiting for a CPU): "
           "pgparse_check %.1f, with policy %.1f, paranoid %.1f, separate passes %.1f\n",
           pp_cpu, pr_cpu, pv_cpu, po_cpu);
    printf("  target: parse + policy + rewrite median < %.0f us: no policy %s (%.1f us), policy "
           "%s (%.1f us)\n",
           TARGET_US, pp_med < TARGET_US ? "met" : "NOT met", pp_med,
           pr_med < TARGET_US ? "met" : "NOT met", pr_med);
    status = 0;
cleanup:
    shadows_free(&sh);
    conn_fini(&pg);
    conn_fini(&lite);
    gate_free(gp);
    gate_free(g);
    policy_set_free(ps);
    audit_close(audit);
    if (audit) {
        char p[200];
        unlink(apath);
        snprintf(p, sizeof(p), "%s.head", apath);
        unlink(p);
        rmdir(dir);
    }
    for (size_t i = 0; i < NQUERIES; i++)
        free(qs[i]);
    return status;
}
