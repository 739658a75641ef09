# Retrieval through the CLI (tests/integration/retrieval_cli.sh): trace
# hits with scores, index file reuse, rebuild on damage or change.
find_program(DC_BASH bash REQUIRED)
add_test(NAME retrieval_cli COMMAND ${DC_BASH} ${CMAKE_CURRENT_LIST_DIR}/retrieval_cli.sh)
set_tests_properties(retrieval_cli PROPERTIES
  ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}"
  SKIP_RETURN_CODE 77
  TIMEOUT 300)
