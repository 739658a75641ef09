# The Lua sandbox attack suite (tests/security/sandbox/lua_*.lua), run by
# lua_attacks.c in one runtime so that "the process still serves" is tested.
if(TARGET datachat-demo-gen AND TARGET connector-sqlite AND TARGET stage-answer)
  add_executable(lua_attacks ${CMAKE_CURRENT_LIST_DIR}/sandbox/lua_attacks.c)
  target_link_libraries(lua_attacks PRIVATE datachat-core)
  # next to datachat-worker, where the core looks for it
  set_target_properties(lua_attacks PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
  add_dependencies(lua_attacks datachat connector-sqlite stage-answer datachat-demo-gen
                   datachat-worker)
  foreach(mode inprocess sandboxed)
    set(t security_lua_sandbox)
    if(mode STREQUAL "sandboxed")
      set(t security_lua_sandbox_worker)
    endif()
    add_test(NAME ${t}
             COMMAND sh -c "mkdir -p \"$2\" && \"$1\" --force --out \"$2/lua_attacks.db\" >/dev/null && \"$3\" \"$4\" \"$2/lua_attacks.db\" \"$5\" \"$2\" $6"
                     lua_attacks $<TARGET_FILE:datachat-demo-gen>
                     ${CMAKE_CURRENT_BINARY_DIR}/lua-sandbox-${mode}
                     $<TARGET_FILE:lua_attacks> $<TARGET_FILE:datachat>
                     ${CMAKE_CURRENT_LIST_DIR}/sandbox ${mode})
    set_tests_properties(${t} PROPERTIES TIMEOUT 600)
  endforeach()
endif()
