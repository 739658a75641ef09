/* A correct stage plugin named "good". */
#include "common.h"

DC_PLUGIN_DEFINE(DC_KIND_STAGE, "good", "1.2.3", "MIT", "a well-formed test stage",
                 &regtest_stage_vt)
