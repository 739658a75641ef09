/* A name with capitals, a space and punctuation. */
#include "common.h"

DC_PLUGIN_DEFINE(DC_KIND_STAGE, "Bad Name!", "1.0", "MIT", NULL, &regtest_stage_vt)
