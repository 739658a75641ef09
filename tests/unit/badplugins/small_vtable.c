/* A stage whose vtable holds only its struct_size (8 bytes). */
#include <datachat/plugin.h>

struct tiny_vtable {
    size_t struct_size;
};

static const struct tiny_vtable vt = {sizeof(struct tiny_vtable)};

DC_PLUGIN_DEFINE(DC_KIND_STAGE, "smallvt", "1.0", "MIT", NULL, &vt)
