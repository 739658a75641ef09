# A question with no search words never opens (or builds) the retrieval
# index: tests/integration/retrieval_skip.sh.
find_program(DC_BASH bash REQUIRED)
add_test(NAME retrieval_skips_index_without_search_words
         COMMAND ${DC_BASH} ${CMAKE_CURRENT_LIST_DIR}/retrieval_skip.sh)
set_tests_properties(retrieval_skips_index_without_search_words PROPERTIES
  ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}"
  SKIP_RETURN_CODE 77
  TIMEOUT 300)
