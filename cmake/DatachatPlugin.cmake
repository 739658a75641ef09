# dc_add_plugin(NAME <kind-name> SOURCES ... [LIBS ...])
# Builds one in-tree plugin as build/plugins/<kind-name>.so with hidden
# visibility (only dc_plugin_describe is exported) and installs it.
function(dc_add_plugin)
  cmake_parse_arguments(P "" "NAME" "SOURCES;LIBS" ${ARGN})
  add_library(${P_NAME} MODULE ${P_SOURCES})
  target_link_libraries(${P_NAME} PRIVATE datachat-sdk ${P_LIBS})
  set_target_properties(${P_NAME} PROPERTIES
    PREFIX ""
    OUTPUT_NAME ${P_NAME}
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${DC_PLUGIN_BUILD_DIR})
  install(TARGETS ${P_NAME} LIBRARY DESTINATION ${DC_PLUGIN_INSTALL_DIR})
  set_property(GLOBAL APPEND PROPERTY DC_ALL_PLUGINS ${P_NAME})
endfunction()
