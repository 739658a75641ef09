# dc.http of a sandboxed Lua tool through the core (docs/SECURITY.md): the
# tool's http_allow list, the core's libcurl transport against a real
# loopback server, the audit record of every request, and the config
# errors of http_allow.
add_test(NAME tools_sandbox_http COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/tools_sandbox_http.sh)
set_tests_properties(tools_sandbox_http PROPERTIES
  ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}"
  SKIP_RETURN_CODE 77 TIMEOUT 300)
