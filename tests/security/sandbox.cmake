# The sandbox attack suite (issue 8): hostile tool plugins built into their
# own directory (never installed), run by sandbox-attack-runner through one
# runtime. The runner sits next to datachat-worker, where the core looks.
add_library(sbtest-attack MODULE ${CMAKE_CURRENT_LIST_DIR}/sandbox/so_attack.c)
add_library(sbtest-noop MODULE ${CMAKE_CURRENT_LIST_DIR}/sandbox/so_noop.c)
add_library(sbtest-abi10 MODULE ${CMAKE_CURRENT_LIST_DIR}/sandbox/so_abi10.c)
add_library(sbtest-http MODULE ${CMAKE_CURRENT_LIST_DIR}/sandbox/so_http.c)
foreach(p sbtest-attack sbtest-noop sbtest-abi10 sbtest-http)
  target_link_libraries(${p} PRIVATE datachat-sdk)
  set_target_properties(${p} PROPERTIES PREFIX "" C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/sbplugins)
endforeach()
set_target_properties(sbtest-abi10 PROPERTIES OUTPUT_NAME sbabi10)
set_target_properties(sbtest-http PROPERTIES OUTPUT_NAME sbhttp)

add_executable(sandbox-attack-runner ${CMAKE_CURRENT_LIST_DIR}/sandbox/runner.c)
target_link_libraries(sandbox-attack-runner PRIVATE datachat-core PkgConfig::SQLITE3)
set_target_properties(sandbox-attack-runner PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
add_dependencies(sandbox-attack-runner sbtest-attack sbtest-noop datachat-worker)
foreach(p connector-sqlite stage-answer)
  if(TARGET ${p})
    add_dependencies(sandbox-attack-runner ${p})
  endif()
endforeach()
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/tests/sandbox-attack)
add_test(NAME security_sandbox_attacks
         COMMAND sandbox-attack-runner ${CMAKE_BINARY_DIR}/tests/sbplugins
                 ${CMAKE_BINARY_DIR}/tests/sandbox-attack)
# Nothing a tool writes may reach the core's own output.
set_tests_properties(security_sandbox_attacks PROPERTIES
  FAIL_REGULAR_EXPRESSION "LEAKED-TO-CORE-OUTPUT" TIMEOUT 600)

# dc.http of a sandboxed Lua tool: the core's allow list, then its transport.
add_executable(sandbox-http-core ${CMAKE_CURRENT_LIST_DIR}/sandbox/http_core.c)
target_link_libraries(sandbox-http-core PRIVATE datachat-core)
add_dependencies(sandbox-http-core datachat-worker)
add_test(NAME security_sandbox_lua_http
         COMMAND sandbox-http-core $<TARGET_FILE:datachat-worker>
                 ${CMAKE_CURRENT_LIST_DIR}/sandbox/lua_http_core.lua)

# Sandboxed Lua stages, `describe` (config check in the worker) and an
# ABI 1.0 tool plugin, through core/sandbox.h against the real worker.
add_executable(sandbox-stage-core ${CMAKE_CURRENT_LIST_DIR}/sandbox/stage_core.c)
target_link_libraries(sandbox-stage-core PRIVATE datachat-core)
add_dependencies(sandbox-stage-core datachat-worker sbtest-abi10)
add_test(NAME security_sandbox_lua_stage
         COMMAND sandbox-stage-core $<TARGET_FILE:datachat-worker> ${CMAKE_BINARY_DIR}/tests/sbplugins)
