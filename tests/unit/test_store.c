/* The state store and the session helpers: the schema migrates once and is
 * versioned, turns come back in order, feedback yields corrected pairs,
 * cache entries expire and are counted, a file that is not a store is a
 * clear error; a follow-up's parts merge into the last turn's, and a
 * result survives the cache's encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include <datachat/value.h>

#include "result.h"
#include "session.h"
#include "store.h"

static char dir[512], path[600];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "%s/test-store-%ld", DC_BINARY_DIR, (long)getpid());
    snprintf(path, sizeof(path), "%s/state.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct store *open_ok(void)
{
    struct store *s = NULL;
    char err[512] = "";
    int rc = store_open(path, &s, err, sizeof(err));
    if (rc != DC_OK)
        fail_msg("store_open: %s", err);
    return s;
}

static void test_open_creates_and_migrates_once(void **state)
{
    (void)state;
    struct store *s = open_ok();
    assert_int_equal(store_version(s), STORE_SCHEMA_VERSION);
    store_close(s);
    s = open_ok(); /* a second open finds the schema current */
    assert_int_equal(store_version(s), STORE_SCHEMA_VERSION);
    store_close(s);
}

static void test_turns_come_back_oldest_first_and_survive_reopen(void **state)
{
    (void)state;
    char err[512];
    struct store *s = open_ok();
    const char *qs[] = {"how many orders", "and by month?", "only Brazil"};
    for (int i = 0; i < 3; i++) {
        struct store_turn t = {.question = (char *)qs[i],
                               .structure = "{}",
                               .outcome = i == 2 ? "clarify" : "answered"};
        assert_int_equal(store_turn_add(s, "s1", &t, err, sizeof(err)), DC_OK);
        assert_int_equal(t.turn, i + 1);
    }
    struct store_turn other = {.question = "list tables", .outcome = "answered"};
    assert_int_equal(store_turn_add(s, "s2", &other, err, sizeof(err)), DC_OK);
    assert_int_equal(other.turn, 1);
    store_close(s);

    s = open_ok();
    struct store_turn *t = NULL;
    size_t n = 0;
    assert_int_equal(store_turns_last(s, "s1", 2, &t, &n, err, sizeof(err)), DC_OK);
    assert_int_equal(n, 2);
    assert_int_equal(t[0].turn, 2);
    assert_string_equal(t[0].question, "and by month?");
    assert_string_equal(t[1].question, "only Brazil");
    store_turns_free(t, n);
    assert_int_equal(store_turns_last(s, "nobody", 5, &t, &n, err, sizeof(err)), DC_OK);
    assert_int_equal(n, 0);
    store_turns_free(t, n);
    int64_t k = 0;
    assert_int_equal(store_turns_count(s, "s1", "clarify", &k, err, sizeof(err)), DC_OK);
    assert_int_equal(k, 1);
    store_close(s);
}

/* A CLI question is one short process: closing the store must not
 * checkpoint (three syncs each time). The write-ahead log stays, and any
 * other reader of the file still sees the rows in it. */
static void test_close_keeps_the_wal_and_readers_see_its_rows(void **state)
{
    (void)state;
    char err[512], wal[700];
    struct store *s = open_ok();
    struct store_turn t = {.question = "how many orders", .structure = "{}",
                           .outcome = "answered"};
    assert_int_equal(store_turn_add(s, "w1", &t, err, sizeof(err)), DC_OK);
    store_close(s);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    struct stat st;
    assert_int_equal(stat(wal, &st), 0);
    assert_true(st.st_size > 0);

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM turns WHERE session = 'w1'",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 1);
    sqlite3_finalize(q);
    sqlite3_close(db);
}

static void test_feedback_offers_the_newest_corrected_pair(void **state)
{
    (void)state;
    char err[512];
    struct store *s = open_ok();
    struct store_answer a = {.id = "a1", .question = "revenue", .sql = "SELECT 1",
                             .database = "demo", .principal = "local"};
    assert_int_equal(store_answer_add(s, &a, err, sizeof(err)), DC_OK);
    struct store_answer got;
    assert_int_equal(store_answer_get(s, "a1", &got, err, sizeof(err)), DC_OK);
    assert_string_equal(got.sql, "SELECT 1");
    store_answer_clear(&got);
    assert_int_equal(store_answer_get(s, "zz", &got, err, sizeof(err)), DC_ENOTFOUND);
    assert_non_null(strstr(err, "E-FEEDBACK-UNKNOWN-ANSWER"));

    int64_t id = 0;
    assert_int_equal(store_feedback_add(s, &a, "right", NULL, NULL, &id, err, sizeof(err)),
                     DC_OK);
    assert_int_equal(store_feedback_add(s, &a, "wrong", "refunds count", "SELECT 2", &id, err,
                                        sizeof(err)),
                     DC_OK);
    assert_int_equal(id, 2);
    /* A verdict the schema does not know is refused by the store itself. */
    assert_int_not_equal(store_feedback_add(s, &a, "maybe", NULL, NULL, &id, err, sizeof(err)),
                         DC_OK);
    struct store_example *e = NULL;
    size_t n = 0;
    assert_int_equal(store_examples(s, "demo", 5, &e, &n, err, sizeof(err)), DC_OK);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].question, "revenue");
    assert_string_equal(e[0].sql, "SELECT 2");
    store_examples_free(e, n);
    assert_int_equal(store_examples(s, "other", 5, &e, &n, err, sizeof(err)), DC_OK);
    assert_int_equal(n, 0);
    store_examples_free(e, n);
    store_close(s);
}

static void test_cache_entries_expire_and_are_counted(void **state)
{
    (void)state;
    char err[512];
    struct store *s = open_ok();
    char *v = NULL;
    assert_int_equal(store_cache_get(s, STORE_CACHE_SQL, "k", &v, err, sizeof(err)),
                     DC_ENOTFOUND);
    assert_int_equal(store_cache_put(s, STORE_CACHE_SQL, "k", "SELECT 1", 60, err, sizeof(err)),
                     DC_OK);
    assert_int_equal(store_cache_get(s, STORE_CACHE_SQL, "k", &v, err, sizeof(err)), DC_OK);
    assert_string_equal(v, "SELECT 1");
    free(v);
    /* The two caches are separate tables. */
    assert_int_equal(store_cache_get(s, STORE_CACHE_RESULT, "k", &v, err, sizeof(err)),
                     DC_ENOTFOUND);
    assert_int_equal(store_cache_put(s, STORE_CACHE_RESULT, "old", "{}", -1, err, sizeof(err)),
                     DC_OK);
    assert_int_equal(store_cache_get(s, STORE_CACHE_RESULT, "old", &v, err, sizeof(err)),
                     DC_ENOTFOUND);
    struct store_cache_stats st;
    store_cache_stats(s, &st);
    assert_int_equal(st.sql_hits, 1);
    assert_int_equal(st.sql_misses, 1);
    assert_int_equal(st.result_hits, 0);
    assert_int_equal(st.result_misses, 2);
    struct store_llm_usage u = {"openai", "m", "ok", 10, 20, 1500};
    assert_int_equal(store_llm_usage_add(s, &u, err, sizeof(err)), DC_OK);
    store_close(s);
}

static void test_a_file_that_is_not_a_store_is_a_clear_error(void **state)
{
    (void)state;
    char cmd[1300];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && head -c 4096 /dev/urandom > '%s'", dir, path);
    assert_int_equal(system(cmd), 0);
    struct store *s = NULL;
    char err[512] = "";
    assert_int_equal(store_open(path, &s, err, sizeof(err)), DC_EINVAL);
    assert_null(s);
    assert_non_null(strstr(err, "E-STORE-CORRUPT"));
    assert_non_null(strstr(err, path));
}

static void test_a_newer_schema_is_refused(void **state)
{
    (void)state;
    struct store *s = open_ok();
    store_close(s);
    char cmd[1300];
    snprintf(cmd, sizeof(cmd),
             "sqlite3 '%s' 'INSERT INTO store_migrations VALUES (99, 0)' 2>/dev/null", path);
    if (system(cmd) != 0)
        skip();
    char err[512] = "";
    assert_int_equal(store_open(path, &s, err, sizeof(err)), DC_EINVAL);
    assert_non_null(strstr(err, "E-STORE-VERSION"));
}

static void test_followup_parts_merge_into_the_last_structure(void **state)
{
    (void)state;
    struct session_parts last, fu, m;
    session_parts_parse("how many orders in 2025 by status", &last);
    assert_string_equal(last.base, "how many orders");
    assert_string_equal(last.time, "in 2025");
    assert_string_equal(last.group, "by status");

    session_parts_parse("and by month?", &fu);
    assert_string_equal(fu.base, "");
    assert_string_equal(fu.group, "by month");
    session_parts_merge(&last, &fu, &m);
    char *t = session_parts_text(&m);
    assert_string_equal(t, "how many orders in 2025 by month");
    free(t);

    session_parts_parse("only Brazil", &fu);
    assert_int_equal(fu.nfilters, 1);
    assert_string_equal(fu.filters[0], "Brazil");
    session_parts_merge(&last, &fu, &m);
    session_parts_parse("what about Canada?", &fu);
    assert_true(fu.replace_filter);
    struct session_parts m2;
    session_parts_merge(&m, &fu, &m2);
    t = session_parts_text(&m2);
    assert_string_equal(t, "how many orders Canada in 2025 by status");
    free(t);

    session_parts_parse("what about last year?", &fu);
    assert_string_equal(fu.time, "last year");
    session_parts_merge(&last, &fu, &m);
    assert_string_equal(m.time, "last year");

    /* A question with a subject of its own is not a follow-up. */
    session_parts_parse("and how many customers are there", &fu);
    assert_string_equal(fu.base, "how many customers are there");
    /* "sorted by" is ordering, not a grouping. */
    session_parts_parse("products sorted by price", &fu);
    assert_string_equal(fu.base, "products sorted by price");
    assert_string_equal(fu.group, "");
}

static void test_structure_json_round_trips_the_parts(void **state)
{
    (void)state;
    struct session_parts p, back;
    session_parts_parse("revenue in Brazil last month by channel", &p);
    const char *kv[] = {"metric", "revenue", "table", NULL, NULL};
    char *j = session_structure_json(&p, kv);
    assert_non_null(j);
    assert_non_null(strstr(j, "\"metric\":\"revenue\""));
    assert_null(strstr(j, "\"table\""));
    assert_int_equal(session_structure_parts(j, &back), DC_OK);
    assert_string_equal(back.base, p.base);
    assert_string_equal(back.time, "last month");
    assert_string_equal(back.group, "by channel");
    assert_int_equal(back.nfilters, 1);
    free(j);
    assert_int_equal(session_structure_parts("[1]", &back), DC_EINVAL);
    assert_int_equal(session_structure_parts("not json", &back), DC_EINVAL);
}

static void test_result_survives_the_cache_encoding(void **state)
{
    (void)state;
    struct dc_result *r = result_new();
    assert_int_equal(result_add_column(r, "n", DC_INT, NULL), DC_OK);
    assert_int_equal(result_add_column(r, "name", DC_TEXT, NULL), DC_OK);
    assert_int_equal(result_add_column(r, "x", DC_REAL, NULL), DC_OK);
    struct dc_value row[3] = {dc_value_int(7), dc_value_text("Zoë", 4), dc_value_real(1.5)};
    assert_int_equal(result_append_row(r, row, 3), DC_OK);
    row[0] = DC_VALUE_NULL;
    assert_int_equal(result_append_row(r, row, 3), DC_OK);
    char *text = NULL;
    assert_int_equal(session_result_encode(r, &text), DC_OK);
    struct dc_result *back = NULL;
    assert_int_equal(session_result_decode(text, &back), DC_OK);
    char h1[65], h2[65];
    assert_int_equal(result_hash(r, h1), DC_OK);
    assert_int_equal(result_hash(back, h2), DC_OK);
    assert_string_equal(h1, h2);
    free(text);
    result_free(back);
    assert_int_not_equal(session_result_decode("{\"columns\":1}", &back), DC_OK);
    assert_int_not_equal(session_result_decode("garbage", &back), DC_OK);
    /* Bytes that are not text are never cached. */
    struct dc_value blob = {.type = DC_BLOB, .v.s = {"\xff\x00", 2}};
    struct dc_result *b = result_new();
    assert_int_equal(result_add_column(b, "b", DC_BLOB, NULL), DC_OK);
    assert_int_equal(result_append_row(b, &blob, 1), DC_OK);
    assert_int_equal(session_result_encode(b, &text), DC_EUNSUPPORTED);
    result_free(b);
    result_free(r);
}

static void test_session_ids_and_normalised_questions(void **state)
{
    (void)state;
    assert_true(session_id_valid("abc-1_2.x:y"));
    assert_false(session_id_valid(""));
    assert_false(session_id_valid("a b"));
    assert_false(session_id_valid("x/../y"));
    char long_id[80];
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    assert_false(session_id_valid(long_id));
    char *n = session_normalise("  How many   Orders?? ");
    assert_string_equal(n, "how many orders");
    free(n);
    char k1[65], k2[65];
    const char *a[] = {"x", "y"}, *b[] = {"xy", ""};
    assert_int_equal(session_key(a, 2, k1), DC_OK);
    assert_int_equal(session_key(b, 2, k2), DC_OK);
    assert_string_not_equal(k1, k2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_and_migrates_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_turns_come_back_oldest_first_and_survive_reopen,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_keeps_the_wal_and_readers_see_its_rows, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_feedback_offers_the_newest_corrected_pair, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cache_entries_expire_and_are_counted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_file_that_is_not_a_store_is_a_clear_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_newer_schema_is_refused, setup, teardown),
        cmocka_unit_test(test_followup_parts_merge_into_the_last_structure),
        cmocka_unit_test(test_structure_json_round_trips_the_parts),
        cmocka_unit_test(test_result_survives_the_cache_encoding),
        cmocka_unit_test(test_session_ids_and_normalised_questions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
