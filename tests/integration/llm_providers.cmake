# The LLM provider plugins against the scripted loopback fake_llm
# (tests/fake): valid, streamed and JSON-mode answers, 429 + Retry-After,
# 5xx past the retry budget, a hung stream, malformed JSON, a 10 MB answer,
# a missing key, an unreachable server, an unknown model; and that the API
# key reaches the server but no log, trace, error or context value.
if(TARGET llm-openai AND TARGET llm-anthropic AND TARGET fake_llm)
  add_executable(llm_providers ${CMAKE_CURRENT_LIST_DIR}/llm_providers.c)
  target_link_libraries(llm_providers PRIVATE datachat-core ${CMOCKA_LIB})
  if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
    target_compile_options(llm_providers PRIVATE -Wno-dangling-pointer)
  endif()
  add_dependencies(llm_providers llm-openai llm-anthropic fake_llm)
  add_test(NAME llm_providers_against_fake_server COMMAND llm_providers ${CMAKE_BINARY_DIR})
  set_tests_properties(llm_providers_against_fake_server PROPERTIES TIMEOUT 600)
endif()

# The shared SSE/error parsers and the base_url check live in the llm-common
# static library; the fuzz targets (tests/fuzz/fuzz_llm_sse.c,
# fuzz_llm_url.c) link it.
foreach(t fuzz_llm_sse_replay fuzz_llm_sse fuzz_llm_url_replay fuzz_llm_url)
  if(TARGET ${t} AND TARGET llm-common)
    target_link_libraries(${t} PRIVATE llm-common)
  endif()
endforeach()
