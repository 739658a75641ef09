# bench_http: wrk against `datachat serve` on loopback, POST /api/v1/chat
# (catalog question) vs GET /health in the same run; prints both req/s and
# p99 and the ratio (tests/bench/http_bench.sh). Runs alone so other tests
# do not skew the figures; skipped (77) when wrk is not installed.
add_test(NAME bench_http COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/http_bench.sh 3 16)
set_tests_properties(bench_http PROPERTIES
  ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}"
  SKIP_RETURN_CODE 77 TIMEOUT 120 RUN_SERIAL TRUE)
