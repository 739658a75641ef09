/* Exports a function, but not dc_plugin_describe. */
#include <datachat/plugin.h>

DC_EXPORT int regtest_something_else(void);
DC_EXPORT int regtest_something_else(void)
{
    return 42;
}
