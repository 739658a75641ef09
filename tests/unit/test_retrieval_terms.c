/* retrieval_has_terms: the check that lets the runtime skip opening the
 * retrieval index for a question with nothing to search for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <datachat/value.h>

#include "retrieval.h"

static int has(const char *s)
{
    return retrieval_has_terms(s, strlen(s));
}

static void test_retrieval_stop_words_only_have_no_terms(void **state)
{
    (void)state;
    assert_int_equal(has("list tables"), 0);
    assert_int_equal(has("What tables are there?"), 0);
    assert_int_equal(has("show me the tables, please"), 0);
    assert_int_equal(has(""), 0);
    assert_int_equal(has(" ?! ;"), 0);
    assert_int_equal(retrieval_has_terms(NULL, 0), 0);
}

static void test_retrieval_content_word_is_a_term(void **state)
{
    (void)state;
    assert_int_equal(has("describe orders"), 1);
    assert_int_equal(has("which table has email addresses"), 1);
    assert_int_equal(has("list tables 2024"), 1);
    /* agrees with the match expression builder */
    char *e = NULL;
    assert_int_equal(retrieval_match_expr("list tables", 11, &e), DC_ENOTFOUND);
    assert_null(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retrieval_stop_words_only_have_no_terms),
        cmocka_unit_test(test_retrieval_content_word_is_a_term),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
