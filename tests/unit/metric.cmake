# Wiring for the metric stage's tests: its extractor (extract.c) and the
# shared date phrases are pure C inside the plugin; the unit and fuzz tests
# compile them in directly.
set(DC_STAGE_METRIC_DIR ${CMAKE_SOURCE_DIR}/plugins/stage-metric)
foreach(t test_metric fuzz_metric_replay fuzz_metric)
  if(TARGET ${t})
    target_sources(${t} PRIVATE ${DC_STAGE_METRIC_DIR}/extract.c)
    target_include_directories(${t} PRIVATE ${DC_STAGE_METRIC_DIR})
    # The code shared with the compiler stage (plugins/common).
    target_link_libraries(${t} PRIVATE plugin-common)
  endif()
endforeach()
