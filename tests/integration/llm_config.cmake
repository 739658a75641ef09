# `llm:` config entries through the datachat executable (tests/integration/
# llm_config.sh): load, check, secrets, bad options, deterministic path intact.
if(TARGET llm-openai AND TARGET llm-anthropic AND TARGET datachat-demo-gen)
  add_test(NAME llm_config_cli
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/llm_config.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(llm_config_cli PROPERTIES TIMEOUT 600)
endif()
