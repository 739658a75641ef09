# 10,000 DataPoints must load well under a second; the figure is printed.
add_executable(bench_datapoint ${CMAKE_SOURCE_DIR}/tests/bench/bench_datapoint.c)
target_link_libraries(bench_datapoint PRIVATE datachat-core)
if(DC_ASAN)
  # Sanitizers slow parsing several times over; the bound is for real builds.
  target_compile_definitions(bench_datapoint PRIVATE DC_BENCH_LIMIT_MS=10000)
endif()
# In ctest the bound is 3 s and the test runs alone: other tests and builds
# on a 2-core machine must not turn a timing check into a coin toss, while
# a real regression (quadratic checks, a syscall storm) still fails it.
add_test(NAME bench_datapoint_load COMMAND bench_datapoint 10000 3000)
set_tests_properties(bench_datapoint_load PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE)
