# The intent stage's model fallback against the fake model server
# (intent_llm.sh): unclear questions routed by the model, refusals never sent.
if(TARGET stage-intent AND TARGET llm-openai AND TARGET fake_llm AND TARGET datachat-demo-gen)
  add_test(NAME intent_llm_fallback_routes_unclear_never_refusals
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/intent_llm.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(intent_llm_fallback_routes_unclear_never_refusals PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77)
endif()
