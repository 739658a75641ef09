# The PostgreSQL connector's failure paths and its pool (pg_errors.sh): a
# short-lived cluster of the test's own (password authentication, unix
# socket plus 127.0.0.1 on a free port) so that the server can be stopped
# and restarted under a running process. Skips (77) when the PostgreSQL
# server binaries are missing, except under CI=true.
if(TARGET connector-postgres)
  pkg_check_modules(PQ_ERRORS_TEST REQUIRED IMPORTED_TARGET libpq)
  add_executable(pg_errors_pool ${CMAKE_CURRENT_LIST_DIR}/pg_errors_pool.c
                 ${CMAKE_CURRENT_LIST_DIR}/../support/pg_fixture.c)
  target_include_directories(pg_errors_pool PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../support)
  target_link_libraries(pg_errors_pool PRIVATE datachat-core ${CMOCKA_LIB}
                        PkgConfig::PQ_ERRORS_TEST Threads::Threads)
  add_dependencies(pg_errors_pool connector-postgres)
  add_test(NAME postgres_errors_and_pool
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/pg_errors.sh ${CMAKE_BINARY_DIR}
                   $<TARGET_FILE:pg_errors_pool>)
  set_tests_properties(postgres_errors_and_pool PROPERTIES
    SKIP_RETURN_CODE 77 TIMEOUT 300 RUN_SERIAL TRUE)
endif()
