# The HTTP API (datachat serve) end to end with curl: server_api (every
# route, auth, bad requests, SSE, OpenAPI in sync), server_load (200
# concurrent clients, slow client, rate limit, graceful shutdown) and
# server_metrics (promtool check metrics). Each starts its own server on a
# free loopback port.
foreach(t server_api server_load server_metrics)
  add_test(NAME ${t} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/${t}.sh)
  set_tests_properties(${t} PROPERTIES
    ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}"
    SKIP_RETURN_CODE 77 TIMEOUT 300)
endforeach()
set_tests_properties(server_load PROPERTIES RUN_SERIAL TRUE)
