# The stage plugin used by test_pipeline, built into its own directory.
add_library(test-stage-step MODULE ${CMAKE_CURRENT_LIST_DIR}/teststages/step.c)
target_link_libraries(test-stage-step PRIVATE datachat-sdk)
set_target_properties(test-stage-step PROPERTIES PREFIX "" C_VISIBILITY_PRESET hidden
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/teststages)
if(TARGET test_pipeline)
  add_dependencies(test_pipeline test-stage-step)
  target_compile_definitions(test_pipeline PRIVATE
    DC_TEST_STAGE_SO="${CMAKE_BINARY_DIR}/tests/teststages/test-stage-step.so")
endif()
