# The adversarial policy suite on PostgreSQL: pg_cases.txt run through
# `datachat sql` as several principals against pg_hr.sql and pg_policy.yaml
# in a database of its own on the cluster scripts/test starts (pg_run.sh
# says how). Without a cluster it skips (77), except under CI=true.
if(TARGET connector-postgres AND TARGET stage-answer)
  add_test(NAME security_policy_postgres
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/pg_run.sh $<TARGET_FILE:datachat>
                   ${CMAKE_CURRENT_LIST_DIR} ${CMAKE_CURRENT_BINARY_DIR}/security-pg)
  set_tests_properties(security_policy_postgres PROPERTIES
    SKIP_RETURN_CODE 77 TIMEOUT 600 RUN_SERIAL TRUE)
  # The same corpus with the gate in paranoid mode: every policy rewrite the
  # splice proof accepts is also parsed again whole, and a disagreement is
  # refused as E-GATE-INTERNAL, which no case expects (docs/SECURITY.md).
  add_test(NAME security_policy_postgres_paranoid
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/pg_run.sh $<TARGET_FILE:datachat>
                   ${CMAKE_CURRENT_LIST_DIR} ${CMAKE_CURRENT_BINARY_DIR}/security-pg-paranoid)
  set_tests_properties(security_policy_postgres_paranoid PROPERTIES
    ENVIRONMENT "DC_GATE_PARANOID=1"
    SKIP_RETURN_CODE 77 TIMEOUT 600 RUN_SERIAL TRUE)
endif()
