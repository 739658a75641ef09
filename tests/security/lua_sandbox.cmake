# The Lua sandbox attack suite (tests/security/sandbox/lua_*.lua), run by
# lua_attacks.c in one runtime so that "the process still serves" is tested.
if(TARGET datachat-demo-gen AND TARGET connector-sqlite AND TARGET stage-answer)
  add_executable(lua_attacks ${CMAKE_CURRENT_LIST_DIR}/sandbox/lua_attacks.c)
  target_link_libraries(lua_attacks PRIVATE datachat-core)
  add_dependencies(lua_attacks datachat connector-sqlite stage-answer datachat-demo-gen)
  add_test(NAME security_lua_sandbox
           COMMAND sh -c "mkdir -p \"$2\" && \"$1\" --force --out \"$2/lua_attacks.db\" >/dev/null && \"$3\" \"$4\" \"$2/lua_attacks.db\" \"$5\" \"$2\""
                   lua_attacks $<TARGET_FILE:datachat-demo-gen> ${CMAKE_CURRENT_BINARY_DIR}/lua-sandbox
                   $<TARGET_FILE:lua_attacks> $<TARGET_FILE:datachat>
                   ${CMAKE_CURRENT_LIST_DIR}/sandbox)
  set_tests_properties(security_lua_sandbox PROPERTIES TIMEOUT 120)
endif()
