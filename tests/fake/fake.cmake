# Loopback fake servers the tests start themselves. fake_llm serves the
# OpenAI-compatible and Anthropic APIs from a per-test script (tests/fake/
# fake_llm.c says how) and records every request it receives.
pkg_check_modules(MHD_FAKE REQUIRED IMPORTED_TARGET libmicrohttpd)
add_executable(fake_llm ${CMAKE_CURRENT_LIST_DIR}/fake_llm.c)
target_link_libraries(fake_llm PRIVATE PkgConfig::MHD_FAKE PkgConfig::JANSSON Threads::Threads)
