/* A descriptor declaring a capability bit no host of this SDK knows. */
#include "common.h"

DC_PLUGIN_DEFINE_CAPS(DC_KIND_STAGE, "unknowncaps", "1.0", "MIT", "declares bit 40",
                      &regtest_stage_vt, DC_CAP_DB_QUERY | ((uint64_t)1 << 40))
