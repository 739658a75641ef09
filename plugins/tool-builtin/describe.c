/* The one descriptor of a built-in tool plugin; CMakeLists.txt compiles
 * this file once per tool with BUILTIN_NAME and BUILTIN_VT set. */
#include "builtin.h"

#ifndef BUILTIN_VT
#error "BUILTIN_VT must name the tool's vtable (see CMakeLists.txt)"
#endif

DC_PLUGIN_DEFINE_CAPS(DC_KIND_TOOL, BUILTIN_NAME, "0.1.0", "MIT",
                      "built-in tool " BUILTIN_NAME " (plugins/tool-builtin)", &BUILTIN_VT,
                      DC_CAP_DB_QUERY | DC_CAP_DB_SCHEMA | DC_CAP_DATAPOINTS)
