# Demo data and project scripts: the generator's integration test and a
# syntax check of the shell scripts the README and CI run.
if(TARGET datachat-demo-gen)
  add_test(NAME demo_gen_integration
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_demo_gen.sh $<TARGET_FILE:datachat-demo-gen>)
  set_tests_properties(demo_gen_integration PROPERTIES TIMEOUT 900
    ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}")
endif()

set(DC_SHELL_SCRIPTS
  ${CMAKE_SOURCE_DIR}/scripts/setup
  ${CMAKE_SOURCE_DIR}/scripts/test
  ${CMAKE_SOURCE_DIR}/scripts/bench
  ${CMAKE_SOURCE_DIR}/.ci/run
  ${CMAKE_SOURCE_DIR}/tests/bench/cli_vs_sqlite3.sh
  ${CMAKE_CURRENT_LIST_DIR}/test_demo_gen.sh)
add_test(NAME scripts_shell_syntax
         COMMAND sh -c "for f in \"$@\"; do bash -n \"$f\" || exit 1; done" sh ${DC_SHELL_SCRIPTS})
