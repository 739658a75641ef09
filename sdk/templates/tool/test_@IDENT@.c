/* Unit tests of the @NAME@ tool against the SDK's fake host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <datachat/testing.h>

/* Defined by DC_PLUGIN_DEFINE in @IDENT@.c. */
const struct dc_plugin_descriptor *dc_plugin_describe(void);

static const struct dc_tool_vtable *vtable(void)
{
    const struct dc_plugin_descriptor *d = dc_plugin_describe();
    assert_int_equal(d->kind, DC_KIND_TOOL);
    assert_string_equal(d->name, "@NAME@");
    return d->vtable;
}

static void test_echoes_the_text_after_the_configured_prefix(void **state)
{
    (void)state;
    const struct dc_tool_vtable *vt = vtable();
    struct dc_test_host *t = dc_test_host_new();
    assert_non_null(t);
    /* The table the real host gives this plugin: only what it declares. */
    assert_int_equal(dc_test_use_descriptor(t, dc_plugin_describe()), DC_OK);
    dc_test_set_options(t, vt->options);
    assert_int_equal(dc_test_set_opt(t, "prefix", "heard"), DC_OK);
    void *st = NULL;
    char err[256] = "";
    assert_int_equal(vt->init(dc_test_host_table(t), dc_test_opts(t), &st, err, sizeof(err)),
                     DC_OK);
    assert_int_equal(dc_test_ctx_put(t, "args", "{\"text\": \"hi\"}"), DC_OK);
    assert_int_equal(vt->invoke(st, dc_test_ctx(t)), DC_OK);
    assert_string_equal(dc_test_get(t, "result"), "{\"echo\":\"heard: hi\"}");
    assert_null(dc_test_fail_code(t));
    vt->fini(st);
    dc_test_host_free(t);
}

static void test_refuses_a_call_without_text(void **state)
{
    (void)state;
    const struct dc_tool_vtable *vt = vtable();
    struct dc_test_host *t = dc_test_host_new();
    assert_non_null(t);
    /* The table the real host gives this plugin: only what it declares. */
    assert_int_equal(dc_test_use_descriptor(t, dc_plugin_describe()), DC_OK);
    dc_test_set_options(t, vt->options);
    void *st = NULL;
    char err[256] = "";
    assert_int_equal(vt->init(dc_test_host_table(t), dc_test_opts(t), &st, err, sizeof(err)),
                     DC_OK);
    assert_int_equal(dc_test_ctx_put(t, "args", "{\"text\": 7}"), DC_OK);
    assert_int_not_equal(vt->invoke(st, dc_test_ctx(t)), DC_OK);
    assert_string_equal(dc_test_fail_code(t), "E-TOOL-ARGS");
    assert_null(dc_test_get(t, "result"));
    vt->fini(st);
    dc_test_host_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echoes_the_text_after_the_configured_prefix),
        cmocka_unit_test(test_refuses_a_call_without_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
