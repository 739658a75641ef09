# Wiring for the compiler stage's tests: its core (lexicon, question,
# planner, sqlemit) is pure C inside the plugin; the unit and fuzz tests
# compile it in directly.
set(DC_STAGE_COMPILER_DIR ${CMAKE_SOURCE_DIR}/plugins/stage-compiler)
set(DC_STAGE_COMPILER_CORE
  ${DC_STAGE_COMPILER_DIR}/lexicon.c ${DC_STAGE_COMPILER_DIR}/question.c
  ${DC_STAGE_COMPILER_DIR}/planner.c ${DC_STAGE_COMPILER_DIR}/sqlemit.c)
foreach(t test_compiler fuzz_compiler_replay fuzz_compiler)
  if(TARGET ${t})
    target_sources(${t} PRIVATE ${DC_STAGE_COMPILER_CORE})
    target_include_directories(${t} PRIVATE ${DC_STAGE_COMPILER_DIR})
    # The code shared with the metric stage (plugins/common).
    target_link_libraries(${t} PRIVATE plugin-common)
  endif()
endforeach()
