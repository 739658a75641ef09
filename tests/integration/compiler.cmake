# Gold questions for the compiler stage (tests/eval/*.tsv), run through the
# built plugin by tests/eval/run_eval.c against the demo database (generated
# here) and, when /work/shared/datasets or DC_DATASETS has them, Chinook and
# Sakila (skipped, 77, when absent).
add_executable(run_eval ${CMAKE_SOURCE_DIR}/tests/eval/run_eval.c)
target_link_libraries(run_eval PRIVATE datachat-core m)
target_compile_definitions(run_eval PRIVATE DC_BINARY_DIR="${CMAKE_BINARY_DIR}")
add_dependencies(run_eval stage-compiler)
find_program(DC_BASH bash REQUIRED)
foreach(suite demo chinook sakila)
  add_test(NAME compiler_eval_${suite}
           COMMAND ${DC_BASH} ${CMAKE_SOURCE_DIR}/tests/eval/run.sh ${suite} $<TARGET_FILE:run_eval>)
  set_tests_properties(compiler_eval_${suite} PROPERTIES
    ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}"
    SKIP_RETURN_CODE 77
    TIMEOUT 600)
endforeach()
add_test(NAME compiler_cli COMMAND ${DC_BASH} ${CMAKE_SOURCE_DIR}/tests/eval/cli_compiler.sh)
set_tests_properties(compiler_cli PROPERTIES
  ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}"
  SKIP_RETURN_CODE 77
  TIMEOUT 300)
