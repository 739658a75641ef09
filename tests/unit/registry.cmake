# Test plugins for test_registry: one small MODULE per defect the loader
# must refuse, plus good ones. They land in build/tests/regplugins and their
# paths reach the test as REG_PLUGIN_<NAME> compile definitions.
set(DC_REGTEST_PLUGINS
  good good_dup good_tool no_symbol null_descriptor bad_magic small_descriptor
  abi_major2 abi_minor_newer small_vtable bad_name unknown_kind unresolved unknown_caps)

foreach(p ${DC_REGTEST_PLUGINS})
  add_library(regtest_${p} MODULE ${CMAKE_CURRENT_LIST_DIR}/badplugins/${p}.c)
  target_link_libraries(regtest_${p} PRIVATE datachat-sdk)
  set_target_properties(regtest_${p} PROPERTIES
    PREFIX ""
    OUTPUT_NAME ${p}
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/regplugins)
endforeach()
# The undefined reference must survive linking so that only dlopen's
# RTLD_NOW binding finds it.
target_link_options(regtest_unresolved PRIVATE -Wl,--unresolved-symbols=ignore-all)

if(TARGET test_registry)
  foreach(p ${DC_REGTEST_PLUGINS})
    string(TOUPPER ${p} up)
    target_compile_definitions(test_registry PRIVATE
      REG_PLUGIN_${up}="$<TARGET_FILE:regtest_${p}>")
    add_dependencies(test_registry regtest_${p})
  endforeach()
endif()
