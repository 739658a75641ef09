# ABI checks (tests/abi/):
#   sdk_testing_host_table_full  the test kit's fake host fills every entry
#                                of struct dc_host, including ones appended
#                                in later minor versions
add_executable(abi_host_table_full ${CMAKE_CURRENT_LIST_DIR}/host_table_full.c)
target_link_libraries(abi_host_table_full PRIVATE datachat-sdk-testing)
add_test(NAME sdk_testing_host_table_full COMMAND abi_host_table_full)
#   abi_1_0_plugins_load_on_this_host  examples built against the frozen ABI
#                                1.0 headers (tests/abi/1.0) load and run
#   abi_sdk_testing_matches_baseline   abidiff against tests/abi/*.abi: an
#                                incompatible change fails with the report
add_test(NAME abi_1_0_plugins_load_on_this_host
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/abi_check.sh compat ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
add_test(NAME abi_sdk_testing_matches_baseline
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/abi_check.sh abidiff ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(abi_1_0_plugins_load_on_this_host abi_sdk_testing_matches_baseline PROPERTIES
  SKIP_RETURN_CODE 77
  TIMEOUT 300)
