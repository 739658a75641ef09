# fuzz_libfuzzer_gate: libFuzzer on the gate (fuzz_pgparse, fuzz_gate) for a
# bounded time (DC_FUZZ_SECONDS, default 60, each) in a clang build
# directory of its own; see libfuzzer.sh. Registered only when clang is
# installed, labelled fuzz so `ctest -L fuzz` runs it alone (and
# `ctest -LE fuzz` leaves it out).
find_program(DC_CLANG_FOR_FUZZ NAMES clang)
if(DC_CLANG_FOR_FUZZ)
  add_test(NAME fuzz_libfuzzer_gate
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/libfuzzer.sh ${CMAKE_BINARY_DIR}/libfuzzer)
  set_tests_properties(fuzz_libfuzzer_gate PROPERTIES
    LABELS fuzz SKIP_RETURN_CODE 77 TIMEOUT 1800 RUN_SERIAL TRUE
    ENVIRONMENT "DC_FUZZ_CC=${DC_CLANG_FOR_FUZZ}")
endif()
