# Live SSE on POST /api/v1/chat (server_sse.sh): trace steps arrive as their
# stages finish, timed against a model call the fake LLM server delays.
if(TARGET stage-sqlgen AND TARGET llm-openai AND TARGET fake_llm AND TARGET datachat-demo-gen)
  add_test(NAME server_sse_trace_events_arrive_live
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/server_sse.sh)
  set_tests_properties(server_sse_trace_events_arrive_live PROPERTIES
    ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}"
    TIMEOUT 300 SKIP_RETURN_CODE 77)
endif()
