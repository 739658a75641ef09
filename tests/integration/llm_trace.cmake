# Model calls in the trace and the state store (llm_trace.sh): one trace step
# per sqlgen attempt in the CLI and API answers, one llm_usage row per call,
# the API key nowhere.
if(TARGET stage-sqlgen AND TARGET llm-openai AND TARGET fake_llm AND TARGET datachat-demo-gen)
  add_test(NAME llm_trace_attempt_steps_and_usage_rows
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/llm_trace.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(llm_trace_attempt_steps_and_usage_rows PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77)
endif()
