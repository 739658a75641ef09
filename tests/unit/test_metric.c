/* The metric stage's extractor (plugins/stage-metric/extract.c): which
 * metric a question names, and the parameter values it states, against the
 * shipped demo DataPoints (loaded with the core loader) and hand-built
 * ones for ambiguity and the naming convention. Today is 2026-06-30, as in
 * the eval suite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapoint.h"
#include "datephrase.h"
#include "extract.h"

struct fixture {
    struct dp_set *set;
    const struct dc_datapoint_info *dps[64];
    size_t n;
    long today;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f || dp_set_new(&f->set) != DC_OK)
        return -1;
    const char *src = getenv("DC_SOURCE_DIR");
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/datapoints/user", src ? src : DC_SOURCE_DIR);
    struct dp_diags dg = {0};
    if (dp_set_load_dir(f->set, dir, DP_USER, &dg) != DC_OK ||
        dp_set_finish(f->set, &dg) != DC_OK) {
        dp_diags_free(&dg);
        return -1;
    }
    dp_diags_free(&dg);
    for (size_t i = 0; i < dp_set_count(f->set) && f->n < 64; i++)
        f->dps[f->n++] = dp_info(dp_set_at(f->set, i));
    f->today = q_days(2026, 6, 30);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    dp_set_free(f->set);
    free(f);
    return 0;
}

static const char *val(const struct mx_match *m, const char *name)
{
    for (size_t i = 0; i < m->nvals; i++)
        if (strcmp(m->vals[i].param->name, name) == 0)
            return m->vals[i].value;
    return NULL;
}

static void ask(struct fixture *f, const char *q, struct mx_match *m)
{
    assert_int_equal(mx_extract(q, strlen(q), f->today, f->dps, f->n, "demo", NULL, m), 0);
}

static void expect_ok(struct fixture *f, const char *q, const char *id, struct mx_match *m)
{
    ask(f, q, m);
    if (m->outcome != MX_OK)
        fail_msg("'%s': outcome %d (%s)", q, m->outcome, m->why);
    assert_string_equal(m->dp->id, id);
}

static void test_metric_revenue_last_month_is_may(void **state)
{
    struct mx_match m;
    expect_ok(*state, "revenue last month", "revenue", &m);
    assert_string_equal(val(&m, "start_date"), "2026-05-01");
    assert_string_equal(val(&m, "end_date"), "2026-06-01");
    assert_null(val(&m, "grain"));
    assert_string_equal(m.phrase, "revenue");
}

static void test_metric_synonym_plural_finds_revenue(void **state)
{
    struct mx_match m;
    expect_ok(*state, "What were our sales last month?", "revenue", &m);
    assert_string_equal(m.phrase, "sales");
    assert_string_equal(val(&m, "start_date"), "2026-05-01");
}

static void test_metric_monthly_revenue_in_2025(void **state)
{
    struct mx_match m;
    expect_ok(*state, "monthly revenue in 2025", "revenue", &m);
    assert_string_equal(val(&m, "grain"), "month");
    assert_string_equal(val(&m, "start_date"), "2025-01-01");
    assert_string_equal(val(&m, "end_date"), "2026-01-01");
}

static void test_metric_granularity_phrasings(void **state)
{
    struct mx_match m;
    expect_ok(*state, "revenue per week since March", "revenue", &m);
    assert_string_equal(val(&m, "grain"), "week");
    assert_string_equal(val(&m, "start_date"), "2026-03-01");
    assert_null(val(&m, "end_date"));
    expect_ok(*state, "daily order count in the past 30 days", "order_count", &m);
    assert_string_equal(val(&m, "grain"), "day");
    assert_string_equal(val(&m, "start_date"), "2026-06-01");
    assert_string_equal(val(&m, "end_date"), "2026-07-01");
    expect_ok(*state, "revenue by quarter this year", "revenue", &m);
    assert_string_equal(val(&m, "grain"), "quarter");
    assert_string_equal(val(&m, "start_date"), "2026-01-01");
    assert_string_equal(val(&m, "end_date"), "2027-01-01");
    expect_ok(*state, "yearly turnover", "revenue", &m);
    assert_string_equal(val(&m, "grain"), "year");
}

static void test_metric_time_ranges(void **state)
{
    struct mx_match m;
    expect_ok(*state, "refund rate in Q2 2026", "refund_rate", &m);
    assert_string_equal(val(&m, "start_date"), "2026-04-01");
    assert_string_equal(val(&m, "end_date"), "2026-07-01");
    expect_ok(*state, "revenue between 2024-01-01 and 2024-03-31", "revenue", &m);
    assert_string_equal(val(&m, "start_date"), "2024-01-01");
    assert_string_equal(val(&m, "end_date"), "2024-04-01");
    expect_ok(*state, "revenue yesterday", "revenue", &m);
    assert_string_equal(val(&m, "start_date"), "2026-06-29");
    assert_string_equal(val(&m, "end_date"), "2026-06-30");
    expect_ok(*state, "active buyers in 2023", "active_customers", &m);
    assert_string_equal(val(&m, "start_date"), "2023-01-01");
    assert_string_equal(val(&m, "end_date"), "2024-01-01");
}

static void test_metric_breakdown_and_filters(void **state)
{
    struct mx_match m;
    expect_ok(*state, "average order value by region", "average_order_value", &m);
    assert_string_equal(val(&m, "by"), "region");
    assert_null(val(&m, "region"));
    expect_ok(*state, "order count in Europe for the web channel", "order_count", &m);
    assert_string_equal(val(&m, "region"), "Europe");
    assert_string_equal(val(&m, "channel"), "web");
    assert_null(val(&m, "by"));
    expect_ok(*state, "AOV in Middle East & Africa for each channel", "average_order_value", &m);
    assert_string_equal(val(&m, "region"), "Middle East & Africa");
    assert_string_equal(val(&m, "by"), "channel");
}

static void test_metric_unknown_granularity_asks_back(void **state)
{
    struct mx_match m;
    ask(*state, "revenue by fortnight", &m);
    assert_int_equal(m.outcome, MX_CLARIFY);
    assert_true(m.bad_param);
    assert_non_null(strstr(m.why, "'fortnight'"));
    assert_non_null(strstr(m.why, "grain is one of total, day, week, month, quarter, year"));
}

static void test_metric_two_metrics_ask_back(void **state)
{
    struct mx_match m;
    ask(*state, "revenue or order count", &m);
    assert_int_equal(m.outcome, MX_CLARIFY);
    assert_false(m.bad_param);
    assert_non_null(strstr(m.why, "revenue"));
    assert_non_null(strstr(m.why, "order_count"));
}

static const struct dc_dp_param p_start = {sizeof(struct dc_dp_param), "from_day", "timestamp",
                                           NULL, 0, "2000-01-01 00:00:00", 0, NULL};
static const struct dc_dp_param p_end = {sizeof(struct dc_dp_param), "to_day", "date", NULL, 0,
                                         "2100-01-01", 0, "last day counted (inclusive)"};
static const struct dc_dp_param *const two_params[] = {&p_start, &p_end};
static const char *const bookings_syn[] = {"bookings"};

static struct dc_datapoint_info metric(const char *id, const char *name, size_t nparams)
{
    struct dc_datapoint_info d;
    memset(&d, 0, sizeof(d));
    d.struct_size = sizeof(d);
    d.id = id;
    d.type = "metric";
    d.name = name;
    d.synonyms = bookings_syn;
    d.nsynonyms = 1;
    d.sql_template = "SELECT 1";
    d.params = two_params;
    d.nparams = nparams;
    return d;
}

static void test_metric_equal_matches_name_the_choices(void **state)
{
    struct fixture *f = *state;
    struct dc_datapoint_info a = metric("gross_bookings", "Gross bookings", 2);
    struct dc_datapoint_info b = metric("net_bookings", "Net bookings", 2);
    const struct dc_datapoint_info *dps[] = {&a, &b};
    struct mx_match m;
    const char *q = "bookings in 2025";
    mx_extract(q, strlen(q), f->today, dps, 2, NULL, NULL, &m);
    assert_int_equal(m.outcome, MX_CLARIFY);
    assert_int_equal(m.nchoices, 2);
    assert_non_null(strstr(m.why, "Gross bookings (gross_bookings) or Net bookings (net_bookings)"));
    /* the longer phrase decides */
    q = "net bookings in 2025";
    mx_extract(q, strlen(q), f->today, dps, 2, NULL, NULL, &m);
    assert_int_equal(m.outcome, MX_OK);
    assert_string_equal(m.dp->id, "net_bookings");
}

static void test_metric_date_convention_timestamp_and_inclusive_end(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mx_date_role(&p_start), MX_ROLE_START);
    assert_int_equal(mx_date_role(&p_end), MX_ROLE_END_INCL);
    struct dc_datapoint_info a = metric("net_bookings", "Net bookings", 2);
    const struct dc_datapoint_info *dps[] = {&a};
    struct mx_match m;
    const char *q = "net bookings in March 2025";
    mx_extract(q, strlen(q), f->today, dps, 1, NULL, NULL, &m);
    assert_int_equal(m.outcome, MX_OK);
    assert_string_equal(val(&m, "from_day"), "2025-03-01 00:00:00");
    assert_string_equal(val(&m, "to_day"), "2025-03-31");
    assert_string_equal(m.vals[0].phrase, "in March 2025");
}

static void test_metric_without_dates_cannot_take_a_range(void **state)
{
    struct fixture *f = *state;
    struct dc_datapoint_info a = metric("net_bookings", "Net bookings", 0);
    const struct dc_datapoint_info *dps[] = {&a};
    struct mx_match m;
    const char *q = "net bookings last year";
    mx_extract(q, strlen(q), f->today, dps, 1, NULL, NULL, &m);
    assert_int_equal(m.outcome, MX_CLARIFY);
    assert_true(m.bad_param);
    assert_non_null(strstr(m.why, "no date parameters"));
}

/* Business meaning before bare names: a metric phrase whose words the
 * catalog also has (is_active, customers) is still the metric's, and the
 * names it shadows are reported for the trace. */
static void test_metric_datapoint_phrase_wins_over_schema_words(void **state)
{
    struct fixture *f = *state;
    static const char *const names[] = {"customers", "customer_id", "is_active", "orders",
                                        "order_date"};
    struct mx_schema_words sw = {names, 5};
    struct mx_match m;
    const char *q = "how many active customers";
    mx_extract(q, strlen(q), f->today, f->dps, f->n, "demo", &sw, &m);
    assert_int_equal(m.outcome, MX_OK);
    assert_string_equal(m.dp->id, "active_customers");
    assert_non_null(strstr(m.shadowed, "is_active"));
    assert_non_null(strstr(m.shadowed, "customers"));
    /* the same words apart are not the metric's phrase: the compiler's */
    q = "how many customers are active";
    mx_extract(q, strlen(q), f->today, f->dps, f->n, "demo", &sw, &m);
    assert_int_equal(m.outcome, MX_NO_MATCH);
    /* a rest the metric cannot answer gives the literal reading its chance */
    q = "active customers per is active";
    mx_extract(q, strlen(q), f->today, f->dps, f->n, "demo", &sw, &m);
    assert_int_equal(m.outcome, MX_NO_MATCH);
    assert_non_null(strstr(m.why, "cannot answer the rest"));
    /* a business word the schema lacks shadows nothing */
    mx_extract("active buyers", 13, f->today, f->dps, f->n, "demo", &sw, &m);
    assert_int_equal(m.outcome, MX_OK);
    assert_string_equal(m.shadowed, "");
}

static void test_metric_unknown_words_go_to_the_compiler(void **state)
{
    struct mx_match m;
    ask(*state, "revenue from customers in Brazil with gold cards", &m);
    assert_int_equal(m.outcome, MX_NO_MATCH);
    assert_non_null(strstr(m.why, "'brazil'"));
    ask(*state, "how many products are active", &m);
    assert_int_equal(m.outcome, MX_NO_MATCH);
    ask(*state, "", &m);
    assert_int_equal(m.outcome, MX_NO_MATCH);
}

static void test_metric_injection_never_becomes_a_value(void **state)
{
    struct mx_match m;
    ask(*state, "revenue since 2024-01-01'; DROP TABLE x", &m);
    assert_int_not_equal(m.outcome, MX_OK);
    for (size_t i = 0; i < m.nvals; i++)
        assert_null(strchr(m.vals[i].value, '\''));
    ask(*state, "revenue by month'; DROP TABLE orders; --", &m);
    assert_int_not_equal(m.outcome, MX_OK);
}

static void test_metric_long_question_is_no_match(void **state)
{
    struct fixture *f = *state;
    size_t n = MX_MAX_BYTES + 10;
    char *q = malloc(n + 1);
    assert_non_null(q);
    memset(q, 'a', n);
    memcpy(q, "revenue ", 8);
    q[n] = '\0';
    struct mx_match m;
    mx_extract(q, n, f->today, f->dps, f->n, "demo", NULL, &m);
    assert_int_equal(m.outcome, MX_NO_MATCH);
    /* many short words: past the token cap, still clean */
    for (size_t i = 0; i + 1 < n; i += 2) {
        q[i] = 'x';
        q[i + 1] = ' ';
    }
    mx_extract(q, n, f->today, f->dps, f->n, "demo", NULL, &m);
    assert_int_equal(m.outcome, MX_NO_MATCH);
    free(q);
}

static void test_metric_other_database_is_not_matched(void **state)
{
    struct fixture *f = *state;
    struct dc_datapoint_info a = metric("net_bookings", "Net bookings", 2);
    a.database = "warehouse";
    const struct dc_datapoint_info *dps[] = {&a};
    struct mx_match m;
    mx_extract("net bookings", 12, f->today, dps, 1, "demo", NULL, &m);
    assert_int_equal(m.outcome, MX_NO_MATCH);
    mx_extract("net bookings", 12, f->today, dps, 1, "warehouse", NULL, &m);
    assert_int_equal(m.outcome, MX_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metric_revenue_last_month_is_may),
        cmocka_unit_test(test_metric_synonym_plural_finds_revenue),
        cmocka_unit_test(test_metric_monthly_revenue_in_2025),
        cmocka_unit_test(test_metric_granularity_phrasings),
        cmocka_unit_test(test_metric_time_ranges),
        cmocka_unit_test(test_metric_breakdown_and_filters),
        cmocka_unit_test(test_metric_unknown_granularity_asks_back),
        cmocka_unit_test(test_metric_two_metrics_ask_back),
        cmocka_unit_test(test_metric_equal_matches_name_the_choices),
        cmocka_unit_test(test_metric_date_convention_timestamp_and_inclusive_end),
        cmocka_unit_test(test_metric_without_dates_cannot_take_a_range),
        cmocka_unit_test(test_metric_datapoint_phrase_wins_over_schema_words),
        cmocka_unit_test(test_metric_unknown_words_go_to_the_compiler),
        cmocka_unit_test(test_metric_injection_never_becomes_a_value),
        cmocka_unit_test(test_metric_long_question_is_no_match),
        cmocka_unit_test(test_metric_other_database_is_not_matched),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
