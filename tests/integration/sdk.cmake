# SDK integration tests (tests/integration/sdk_install.sh):
#   sdk_install          install the build, build both SDK examples out of
#                        tree with CMake and with pkg-config, check them with
#                        `datachat plugins check` and run a stage swapped in
#                        by config alone
#   sdk_plugin_exports   every in-tree plugin exports only dc_plugin_describe
# Both need a full build first (the datachat executable and every plugin).
add_test(NAME sdk_install
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/sdk_install.sh install ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
add_test(NAME sdk_plugin_exports
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/sdk_install.sh exports ${CMAKE_BINARY_DIR})
set_tests_properties(sdk_install sdk_plugin_exports PROPERTIES
  SKIP_RETURN_CODE 77
  ENVIRONMENT "CMAKE_COMMAND=${CMAKE_COMMAND};DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}")
set_tests_properties(sdk_install PROPERTIES TIMEOUT 600)
