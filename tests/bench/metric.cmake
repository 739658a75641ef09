# Metric questions through the whole CLI against sqlite3 running the same
# statement with the same bound values (tests/bench/metric_vs_sqlite3.sh).
# It measures and prints the ratio (target <= 1.30) and always passes unless
# the script itself breaks; it runs alone so timings are not a coin toss.
add_test(NAME bench_metric_vs_sqlite3
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/metric_vs_sqlite3.sh --runs 3 --warmup 1)
set_tests_properties(bench_metric_vs_sqlite3 PROPERTIES
  ENVIRONMENT "DATACHAT=${CMAKE_BINARY_DIR}/datachat;DEMO_DB=${CMAKE_BINARY_DIR}/eval-demo.db"
  PASS_REGULAR_EXPRESSION "RATIO "
  RUN_SERIAL TRUE
  TIMEOUT 300)
