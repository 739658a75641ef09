# End-to-end catalog questions through the CLI against a generated demo
# database (tests/integration/catalog_cli.sh). Skipped (77) until the CLI,
# the demo generator and the plugins are built.
find_program(DC_BASH bash REQUIRED)
add_test(NAME catalog_cli COMMAND ${DC_BASH} ${CMAKE_CURRENT_LIST_DIR}/catalog_cli.sh)
set_tests_properties(catalog_cli PROPERTIES
  ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}"
  SKIP_RETURN_CODE 77
  TIMEOUT 300)
