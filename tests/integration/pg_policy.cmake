# Access policies on PostgreSQL through the CLI (pg_policy_cli.sh), on the
# cluster scripts/test starts; skips (77) without one unless CI=true.
if(TARGET connector-postgres AND TARGET stage-answer)
  add_test(NAME postgres_policy_cli
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/pg_policy_cli.sh ${CMAKE_BINARY_DIR}
                   ${CMAKE_SOURCE_DIR})
  set_tests_properties(postgres_policy_cli PROPERTIES
    SKIP_RETURN_CODE 77 TIMEOUT 300 RUN_SERIAL TRUE)
endif()
