# The tool system end to end (docs/TOOLS.md): tools_cli drives every
# built-in tier through `datachat tools`, filesystem escapes, schema
# violations, policies on the database tools and the CLI approval flow;
# tools_http the approval flow over POST /api/v1/tools/execute and
# /api/v1/approvals/{id} on a real server, and tier-5 `use: http` tools.
foreach(t tools_cli tools_http)
  add_test(NAME ${t} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/${t}.sh)
  set_tests_properties(${t} PROPERTIES
    ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}"
    SKIP_RETURN_CODE 77 TIMEOUT 300)
endforeach()
