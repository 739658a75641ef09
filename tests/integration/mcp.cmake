# The MCP server: mcp_stdio (`datachat mcp`, JSON-RPC lines checked with
# jq), mcp_http (POST /mcp with curl) and mcp_sdk (the official TypeScript
# SDK client over both transports; needs npm to reach its registry).
foreach(t mcp_stdio mcp_http mcp_sdk)
  add_test(NAME ${t} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/${t}.sh)
  set_tests_properties(${t} PROPERTIES
    ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}"
    SKIP_RETURN_CODE 77 TIMEOUT 900)
endforeach()
