/* Unit tests of the @NAME@ LLM provider against the SDK's fake host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <datachat/testing.h>

/* Defined by DC_PLUGIN_DEFINE in @IDENT@.c. */
const struct dc_plugin_descriptor *dc_plugin_describe(void);

static const struct dc_llm_vtable *vtable(void)
{
    const struct dc_plugin_descriptor *d = dc_plugin_describe();
    assert_int_equal(d->kind, DC_KIND_LLM);
    assert_string_equal(d->name, "@NAME@");
    return d->vtable;
}

static void test_replies_with_the_configured_text(void **state)
{
    (void)state;
    const struct dc_llm_vtable *vt = vtable();
    struct dc_test_host *t = dc_test_host_new();
    assert_non_null(t);
    /* The table the real host gives this plugin: only what it declares. */
    assert_int_equal(dc_test_use_descriptor(t, dc_plugin_describe()), DC_OK);
    dc_test_set_options(t, vt->options);
    dc_test_set_opt(t, "reply", "SELECT count(*) FROM orders");
    void *st = NULL;
    char err[256] = "";
    assert_int_equal(vt->init(dc_test_host_table(t), dc_test_opts(t), &st, err, sizeof(err)),
                     DC_OK);
    assert_int_equal(vt->complete(st, dc_test_ctx(t), "{\"messages\": []}"), DC_OK);
    assert_string_equal(dc_test_get(t, "llm.reply"), "SELECT count(*) FROM orders");
    assert_non_null(dc_test_get(t, "llm.usage"));
    assert_int_equal(dc_test_nsets(t), 2);
    assert_string_equal(dc_test_set_key(t, 0), "llm.reply");
    assert_int_equal(dc_test_nlogs(t), 1);
    vt->fini(st);
    dc_test_host_free(t);
}

static void test_the_default_reply_applies_without_options(void **state)
{
    (void)state;
    const struct dc_llm_vtable *vt = vtable();
    struct dc_test_host *t = dc_test_host_new();
    assert_non_null(t);
    /* The table the real host gives this plugin: only what it declares. */
    assert_int_equal(dc_test_use_descriptor(t, dc_plugin_describe()), DC_OK);
    dc_test_set_options(t, vt->options);
    void *st = NULL;
    char err[256] = "";
    assert_int_equal(vt->init(dc_test_host_table(t), dc_test_opts(t), &st, err, sizeof(err)),
                     DC_OK);
    assert_int_equal(vt->complete(st, dc_test_ctx(t), ""), DC_EINVAL);
    assert_string_equal(dc_test_fail_code(t), "E-LLM-REQUEST");
    assert_int_equal(vt->complete(st, dc_test_ctx(t), "{}"), DC_OK);
    assert_string_equal(dc_test_get(t, "llm.reply"), "SELECT 1");
    vt->fini(st);
    dc_test_host_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replies_with_the_configured_text),
        cmocka_unit_test(test_the_default_reply_applies_without_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
