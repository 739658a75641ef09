# What a command loads at start (tests/integration/startup_libs.sh). Sanitizer
# builds link libcurl and libmicrohttpd on purpose (core/CMakeLists.txt), so
# the check runs in the normal build only.
if(NOT DC_ASAN)
  add_test(NAME startup_loads_http_and_tools_only_when_used
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/startup_libs.sh ${CMAKE_BINARY_DIR}
                   ${CMAKE_SOURCE_DIR})
  set_tests_properties(startup_loads_http_and_tools_only_when_used PROPERTIES TIMEOUT 120)
endif()
