# Sandbox round trip (tests/bench/sandbox_bench.c): a warm datachat-worker
# call of the no-op tool against the same tool in process, in one run. The
# target is under 2 ms at p50; sanitizer builds get more room.
add_executable(sandbox_bench ${CMAKE_SOURCE_DIR}/tests/bench/sandbox_bench.c)
target_link_libraries(sandbox_bench PRIVATE datachat-core)
add_dependencies(sandbox_bench sbtest-noop datachat-worker)
if(DC_ASAN)
  set(DC_SANDBOX_MAX_US 10000)
else()
  set(DC_SANDBOX_MAX_US 2000)
endif()
add_test(NAME bench_sandbox_round_trip
         COMMAND sandbox_bench $<TARGET_FILE:datachat-worker> $<TARGET_FILE:sbtest-noop> 2000
                 ${DC_SANDBOX_MAX_US} ${CMAKE_CURRENT_LIST_DIR}/sandbox_noop.lua
                 ${CMAKE_CURRENT_LIST_DIR}/sandbox_noop_stage.lua)
set_tests_properties(bench_sandbox_round_trip PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE)
