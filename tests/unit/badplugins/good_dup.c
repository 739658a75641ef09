/* A correct stage plugin that reuses the name "good": a duplicate. */
#include "common.h"

DC_PLUGIN_DEFINE(DC_KIND_STAGE, "good", "9.9.9", "MIT", "same name as good.so",
                 &regtest_stage_vt)
