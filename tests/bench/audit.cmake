# bench_audit: appends/s with and without fsync. Built only on request
# (cmake --build BUILD --target bench_audit) and never run by ctest.
add_executable(bench_audit EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/bench_audit.c)
target_link_libraries(bench_audit PRIVATE datachat-core)
