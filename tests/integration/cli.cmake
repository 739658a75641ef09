# The datachat binary run as a user would: bad input of every kind, JSON
# output, doctor, config check/graph, audit verify. Needs sqlite3 and the
# demo generator.
add_test(NAME cli_bad_input
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cli.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
set_tests_properties(cli_bad_input PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
