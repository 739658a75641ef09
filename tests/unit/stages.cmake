# Wiring for the tests of the three foundation stages (intent, catalog,
# answer). The classifier is a pure C file inside the intent plugin; the
# unit and fuzz tests compile it in. The stage tests dlopen the built
# plugins, so they depend on them.
set(DC_STAGE_INTENT_DIR ${CMAKE_SOURCE_DIR}/plugins/stage-intent)
foreach(t test_intent fuzz_intent_replay fuzz_intent)
  if(TARGET ${t})
    target_sources(${t} PRIVATE ${DC_STAGE_INTENT_DIR}/classify.c)
    target_include_directories(${t} PRIVATE ${DC_STAGE_INTENT_DIR})
  endif()
endforeach()
if(TARGET test_intent)
  add_dependencies(test_intent stage-intent)
endif()
if(TARGET test_catalog)
  add_dependencies(test_catalog stage-catalog)
endif()
if(TARGET test_answer)
  add_dependencies(test_answer stage-answer)
endif()
