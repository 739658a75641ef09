# DataPoints and profiling. test_profile runs the real runtime, so the
# SQLite connector and the answer stage must be built first; dp_cli drives
# `datachat dp` and `datachat profile` on a generated demo database.
foreach(t test_profile)
  if(TARGET ${t})
    add_dependencies(${t} connector-sqlite stage-answer)
  endif()
endforeach()
add_test(NAME dp_cli
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/dp_cli.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
set_tests_properties(dp_cli PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)

