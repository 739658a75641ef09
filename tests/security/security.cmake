# The adversarial policy suite: cases.txt run through `datachat sql` as
# several principals against hr.sql and hr_policy.yaml (run.sh says how).
add_executable(security_mkdb ${CMAKE_CURRENT_LIST_DIR}/mkdb.c)
target_link_libraries(security_mkdb PRIVATE PkgConfig::SQLITE3)
add_test(NAME security_policy_sqlite
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/run.sh $<TARGET_FILE:datachat>
                 $<TARGET_FILE:security_mkdb> ${CMAKE_CURRENT_LIST_DIR}
                 ${CMAKE_CURRENT_BINARY_DIR}/security)
set_tests_properties(security_policy_sqlite PROPERTIES SKIP_RETURN_CODE 77)
if(TARGET connector-sqlite AND TARGET stage-answer)
  add_dependencies(security_mkdb connector-sqlite stage-answer)
endif()
# test_policy dlopens the SQLite connector from the build tree.
if(TARGET test_policy AND TARGET connector-sqlite)
  add_dependencies(test_policy connector-sqlite)
  target_compile_definitions(test_policy PRIVATE
    DC_SQLITE_PLUGIN="$<TARGET_FILE:connector-sqlite>")
endif()
# The example policy for the demo database stays valid and does what its
# comments say.
if(TARGET datachat-demo-gen)
  add_test(NAME security_demo_policy
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/demo_policy.sh $<TARGET_FILE:datachat>
                   $<TARGET_FILE:datachat-demo-gen> ${CMAKE_SOURCE_DIR}
                   ${CMAKE_CURRENT_BINARY_DIR}/security-demo)
endif()
