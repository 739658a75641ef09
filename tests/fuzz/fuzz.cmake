# Fuzz targets: every tests/fuzz/fuzz_<name>.c defines LLVMFuzzerTestOneInput.
# With DC_FUZZ=ON (clang) each becomes a libFuzzer binary. Always, each is
# also linked with replay_main.c and registered as a ctest that replays its
# seed corpus tests/fuzz/corpus/<name>/ (run under ASan+UBSan in CI).
file(GLOB DC_FUZZ_TARGETS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/fuzz_*.c)
foreach(src ${DC_FUZZ_TARGETS})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" short ${name})
  add_executable(${name}_replay ${src} ${CMAKE_CURRENT_LIST_DIR}/replay_main.c)
  target_link_libraries(${name}_replay PRIVATE datachat-core)
  add_test(NAME fuzz_replay_${short}
           COMMAND ${name}_replay ${CMAKE_CURRENT_LIST_DIR}/corpus/${short})
  set_tests_properties(fuzz_replay_${short} PROPERTIES
    ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}")
  if(DC_FUZZ)
    add_executable(${name} ${src})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${name} PRIVATE datachat-core)
  endif()
endforeach()
