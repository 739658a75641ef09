# gate_overhead: the gate's cost per query (1,000 generated demo-schema
# queries through pgparse_check and gate_explain) against a connector's
# SELECT 1 round trip, on SQLite and, when scripts/test's cluster is up
# (PGHOST), on PostgreSQL. Prints medians, p95s and ratios; see
# gate_overhead.c. Runs alone so other tests do not skew the figures.
if(TARGET datachat-demo-gen AND TARGET connector-sqlite AND TARGET connector-postgres)
  pkg_check_modules(PQ_BENCH_GATE REQUIRED IMPORTED_TARGET libpq)
  add_executable(gate_overhead ${CMAKE_CURRENT_LIST_DIR}/gate_overhead.c)
  target_link_libraries(gate_overhead PRIVATE datachat-core)
  add_dependencies(gate_overhead connector-sqlite connector-postgres datachat-demo-gen)
  add_test(NAME bench_gate_overhead
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/gate_overhead.sh ${CMAKE_BINARY_DIR}
                   $<TARGET_FILE:gate_overhead>)
  set_tests_properties(bench_gate_overhead PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE)
endif()
