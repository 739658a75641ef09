# Conversation sessions, chat, caches and feedback (docs/CONVERSATION.md):
# tests/integration/{session,chat,cache,feedback}_*.sh, each on its own
# generated demo database and state store.
foreach(t session_cli session_api chat_cli cache_cli feedback_cli)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${t}.sh)
    add_test(NAME ${t} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/${t}.sh)
    set_tests_properties(${t} PROPERTIES
      ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}"
      SKIP_RETURN_CODE 77 TIMEOUT 300)
  endif()
endforeach()
