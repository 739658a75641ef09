# Sandboxed Lua pipeline stages through the CLI (issue 8): routing, emit and
# trace over IPC, os.execute and a spinning script failing cleanly with an
# audit record, and `config check` running sandboxed top levels in the worker.
add_test(NAME lua_sandbox_stage COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/lua_sandbox_stage.sh)
set_tests_properties(lua_sandbox_stage PROPERTIES
  ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}"
  SKIP_RETURN_CODE 77 TIMEOUT 120)
