# Retrieval benchmarks (tests/bench/retrieval_bench.c): a synthetic
# 1,000-table catalog and 10,000 DataPoints. Each prints absolute figures
# and ratios against a baseline measured in the same run, and fails only on
# a gross regression of a ratio, never on wall time: the machine is shared.
add_executable(retrieval_bench ${CMAKE_SOURCE_DIR}/tests/bench/retrieval_bench.c)
target_link_libraries(retrieval_bench PRIVATE datachat-core)
if(DC_ASAN)
  # Sanitizers slow parsing and searching several times more than reading.
  set(DC_RETR_STARTUP_RATIO 10)
  set(DC_RETR_QUERY_RATIO 1000)
else()
  # A later process (catalog + stat fingerprint + index file, no DataPoint
  # parsed) takes about half of reading the files' bytes; a process that
  # parses them again takes 2-5x.
  set(DC_RETR_STARTUP_RATIO 1.5)
  # Search p50 is some 30-50x a one-document index since common words are
  # cut before ranking; ranking every match of every word was 1600x.
  set(DC_RETR_QUERY_RATIO 150)
endif()
# Startup: a later process's catalog + fingerprint + index file against
# reading the files' bytes; it must reuse the file without parsing any
# DataPoint, and beat the first process.
add_test(NAME bench_retrieval_startup
         COMMAND retrieval_bench startup 10000 1000 ${DC_RETR_STARTUP_RATIO})
# Query latency: p50 of 1,000 searches of generated questions against the
# same searches on a one-document index.
add_test(NAME bench_retrieval_query
         COMMAND retrieval_bench query 10000 1000 ${DC_RETR_QUERY_RATIO})
set_tests_properties(bench_retrieval_startup bench_retrieval_query PROPERTIES
  TIMEOUT 300 RUN_SERIAL TRUE)
