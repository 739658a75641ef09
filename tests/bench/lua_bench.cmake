# Lua stage call cost against an in-process no-op stage call, pooled and
# fresh lua_State (tests/bench/lua_bench.c). Targets: < 50 us per Lua stage
# call, < 1 us per in-process call; sanitizers get ten times the room.
add_executable(lua_bench ${CMAKE_SOURCE_DIR}/tests/bench/lua_bench.c)
target_link_libraries(lua_bench PRIVATE datachat-core)
if(DC_ASAN)
  add_test(NAME bench_lua_stage COMMAND lua_bench 500 10)
else()
  add_test(NAME bench_lua_stage COMMAND lua_bench 50 1)
endif()
set_tests_properties(bench_lua_stage PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE)
