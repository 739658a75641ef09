# The metric stage through the CLI on the demo database (tests/integration/metric_cli.sh).
add_test(NAME metric_cli COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/metric_cli.sh)
set_tests_properties(metric_cli PROPERTIES
  ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}"
  SKIP_RETURN_CODE 77
  TIMEOUT 300)
