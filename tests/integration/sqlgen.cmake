# The sqlgen stage (plugins/stage-sqlgen): its text work compiled into the
# unit and fuzz tests, and the whole stage through the datachat executable
# against the scripted fake model server (tests/integration/sqlgen_cli.sh).
set(DC_SQLGEN_DIR ${CMAKE_SOURCE_DIR}/plugins/stage-sqlgen)
foreach(t test_sqlgen_text fuzz_sqlgen_extract_replay fuzz_sqlgen_extract)
  if(TARGET ${t})
    target_sources(${t} PRIVATE ${DC_SQLGEN_DIR}/sqlgen_text.c
                   ${CMAKE_SOURCE_DIR}/plugins/common/textbuf.c)
    target_include_directories(${t} PRIVATE ${DC_SQLGEN_DIR} ${CMAKE_SOURCE_DIR}/plugins/common)
  endif()
endforeach()
if(TARGET stage-sqlgen AND TARGET llm-openai AND TARGET fake_llm AND TARGET datachat-demo-gen)
  add_test(NAME sqlgen_stage_against_fake_model
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/sqlgen_cli.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(sqlgen_stage_against_fake_model PROPERTIES TIMEOUT 900)
endif()
