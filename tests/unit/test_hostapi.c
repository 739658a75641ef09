/* The host table handed to plugins: what a plugin may and may not change
 * in a request's context. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <datachat/host.h>

#include "ctx.h"
#include "hostapi.h"

/* A stage that could set "principal" would have its queries run under
 * another principal's policy (regression: ctx_set was the raw setter). */
static void test_plugin_cannot_change_the_principal(void **state)
{
    (void)state;
    struct dc_host h;
    hostapi_init(&h, NULL);
    struct ctx_backend be;
    memset(&be, 0, sizeof(be));
    struct dc_ctx *c = ctx_new(&be);
    assert_non_null(c);
    assert_int_equal(ctx_set(c, "principal", "analyst"), DC_OK);
    assert_int_equal(h.ctx_set(c, "principal", "admin"), DC_EDENIED);
    assert_string_equal(ctx_get(c, "principal"), "analyst");
    assert_int_equal(h.ctx_set(c, "answer", "text"), DC_OK);
    assert_string_equal(h.ctx_get(c, "answer"), "text");
    ctx_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plugin_cannot_change_the_principal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
