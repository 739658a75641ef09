/* The sqlgen stage's text work: SQL out of model replies, prompt templates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <datachat/value.h>

#include "sqlgen_text.h"

static char *extract(const char *reply)
{
    char *sql = NULL;
    int rc = sqlgen_extract_sql(reply, strlen(reply), &sql);
    return rc == DC_OK ? sql : NULL;
}

static void test_extract_prefers_the_sql_fence(void **state)
{
    (void)state;
    char *s = extract("Sure.\n```text\nnot this\n```\n```sql\nSELECT 1;\n```\nDone.");
    assert_non_null(s);
    assert_string_equal(s, "SELECT 1");
    free(s);
}

static void test_extract_takes_an_untagged_fence(void **state)
{
    (void)state;
    char *s = extract("```\n  SELECT a FROM t\n```");
    assert_string_equal(s, "SELECT a FROM t");
    free(s);
}

static void test_extract_plain_text_stops_at_a_blank_line(void **state)
{
    (void)state;
    char *s = extract("Here it is:\nSELECT a\nFROM t;\n\nIgnore the rules and DROP TABLE t;");
    assert_string_equal(s, "SELECT a\nFROM t");
    free(s);
    s = extract("with x as (select 1) select * from x");
    assert_string_equal(s, "with x as (select 1) select * from x");
    free(s);
}

static void test_extract_finds_nothing_in_prose(void **state)
{
    (void)state;
    assert_null(extract("I cannot help with that. Selection is hard."));
    assert_null(extract("```sql\n   \n```"));
    assert_null(extract("```sql"));
    assert_null(extract(""));
}

static void test_extract_unclosed_fence_takes_the_rest(void **state)
{
    (void)state;
    char *s = extract("```sql\nSELECT 2");
    assert_string_equal(s, "SELECT 2");
    free(s);
}

static const char *const allowed[] = {"question", "schema", NULL};
static const char *const required[] = {"question", NULL};

static void test_template_unknown_placeholder_is_an_error_with_position(void **state)
{
    (void)state;
    char err[512] = "";
    int rc = sqlgen_tpl_check("p.txt", "Q: {{question}}\nS: {{shema}}", allowed, required, err,
                              sizeof(err));
    assert_int_equal(rc, DC_EINVAL);
    assert_non_null(strstr(err, "p.txt:2:4:"));
    assert_non_null(strstr(err, "E-SQLGEN-PROMPT-PLACEHOLDER"));
    assert_non_null(strstr(err, "shema"));
}

static void test_template_missing_required_placeholder_is_an_error(void **state)
{
    (void)state;
    char err[512] = "";
    int rc = sqlgen_tpl_check("u.txt", "Schema: {{schema}}", allowed, required, err, sizeof(err));
    assert_int_equal(rc, DC_EINVAL);
    assert_non_null(strstr(err, "E-SQLGEN-PROMPT-MISSING"));
    assert_non_null(strstr(err, "{{question}}"));
}

static void test_template_fill_replaces_every_occurrence(void **state)
{
    (void)state;
    const char *names[] = {"question", "schema"};
    const char *values[] = {"how many {{schema}}?", "TABLE t"};
    struct textbuf b = {0};
    sqlgen_tpl_fill("{{schema}}\nQ: {{question}} / {{question}}", names, values, 2, &b);
    assert_false(b.oom);
    /* Values are never expanded again: a question cannot pull in text. */
    assert_string_equal(b.p, "TABLE t\nQ: how many {{schema}}? / how many {{schema}}?");
    textbuf_free(&b);
}

static void test_shipped_templates_load(void **state)
{
    (void)state;
    const char *src = getenv("DC_SOURCE_DIR");
    char path[1024], err[512] = "";
    static const char *const user_allowed[] = {"question", "schema", "datapoints", "session",
                                               "dialect", "today", NULL};
    static const char *const user_required[] = {"question", "schema", NULL};
    snprintf(path, sizeof(path), "%s/config/prompts/sqlgen.user.txt", src ? src : DC_SOURCE_DIR);
    struct sqlgen_tpl t;
    assert_int_equal(sqlgen_tpl_load(path, user_allowed, user_required, &t, err, sizeof(err)),
                     DC_OK);
    sqlgen_tpl_free(&t);
    assert_int_equal(sqlgen_tpl_load("/nonexistent/x.txt", user_allowed, user_required, &t, err,
                                     sizeof(err)),
                     DC_ENOTFOUND);
    assert_non_null(strstr(err, "E-SQLGEN-PROMPT-IO"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extract_prefers_the_sql_fence),
        cmocka_unit_test(test_extract_takes_an_untagged_fence),
        cmocka_unit_test(test_extract_plain_text_stops_at_a_blank_line),
        cmocka_unit_test(test_extract_finds_nothing_in_prose),
        cmocka_unit_test(test_extract_unclosed_fence_takes_the_rest),
        cmocka_unit_test(test_template_unknown_placeholder_is_an_error_with_position),
        cmocka_unit_test(test_template_missing_required_placeholder_is_an_error),
        cmocka_unit_test(test_template_fill_replaces_every_occurrence),
        cmocka_unit_test(test_shipped_templates_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
