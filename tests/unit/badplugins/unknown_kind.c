/* A kind number no host knows. */
#include "common.h"

DC_PLUGIN_DEFINE(99, "oddkind", "1.0", "MIT", NULL, &regtest_stage_vt)
