# `datachat eval` over the gold-question suites (tests/eval/suites/*.tsv on
# the demo database generated in the build tree; tests/eval/{chinook,sakila}.tsv
# on the shared datasets, skipped with 77 when absent), the command's own
# behaviour on tiny suites (eval_cli.sh), and the compiler in the CLI.
find_program(DC_BASH bash REQUIRED)
foreach(suite catalog intent retrieval qa chinook sakila)
  add_test(NAME eval_suite_${suite}
           COMMAND ${DC_BASH} ${CMAKE_SOURCE_DIR}/tests/eval/run.sh ${suite})
  set_tests_properties(eval_suite_${suite} PROPERTIES
    ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}"
    SKIP_RETURN_CODE 77
    TIMEOUT 600)
endforeach()
add_test(NAME eval_cli_reports_wrong_answers_and_bad_suites
         COMMAND ${DC_BASH} ${CMAKE_SOURCE_DIR}/tests/eval/eval_cli.sh)
set_tests_properties(eval_cli_reports_wrong_answers_and_bad_suites PROPERTIES
  ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}"
  SKIP_RETURN_CODE 77
  TIMEOUT 300)
add_test(NAME compiler_cli COMMAND ${DC_BASH} ${CMAKE_SOURCE_DIR}/tests/eval/cli_compiler.sh)
set_tests_properties(compiler_cli PROPERTIES
  ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}"
  SKIP_RETURN_CODE 77
  TIMEOUT 300)
# The suite-file parser lives with the CLI (core/cli/eval_suite.c); its fuzz
# target (tests/fuzz/fuzz_evalsuite.c, registered by tests/fuzz/fuzz.cmake)
# compiles it in.
foreach(t fuzz_evalsuite_replay fuzz_evalsuite)
  if(TARGET ${t})
    target_sources(${t} PRIVATE ${CMAKE_SOURCE_DIR}/core/cli/eval_suite.c)
    target_include_directories(${t} PRIVATE ${CMAKE_SOURCE_DIR}/core/cli)
  endif()
endforeach()
