# The PostgreSQL connector against the throwaway cluster scripts/test starts
# (PGHOST, PGPORT, PGUSER in the environment): the CLI end to end
# (postgres.sh) and the gate with the connector in one process
# (postgres_gate.c). Without a cluster both skip (77), except under CI=true,
# where a missing cluster is a failure.
if(TARGET connector-postgres AND TARGET datachat-demo-gen)
  add_test(NAME postgres_connector_integration
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/postgres.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(postgres_connector_integration PROPERTIES
    SKIP_RETURN_CODE 77 TIMEOUT 600 RUN_SERIAL TRUE)

  pkg_check_modules(PQ_TEST REQUIRED IMPORTED_TARGET libpq)
  add_executable(postgres_gate ${CMAKE_CURRENT_LIST_DIR}/postgres_gate.c
                 ${CMAKE_CURRENT_LIST_DIR}/../support/pg_fixture.c)
  target_include_directories(postgres_gate PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../support)
  target_link_libraries(postgres_gate PRIVATE datachat-core ${CMOCKA_LIB} PkgConfig::PQ_TEST)
  add_dependencies(postgres_gate connector-postgres)
  add_test(NAME postgres_gate_in_process COMMAND postgres_gate ${CMAKE_BINARY_DIR})
  set_tests_properties(postgres_gate_in_process PROPERTIES
    SKIP_RETURN_CODE 77 TIMEOUT 300 RUN_SERIAL TRUE)
endif()
