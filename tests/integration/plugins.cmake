# Plugin management (tests/integration/plugins_install.sh):
#   plugins_install_pin_remove  install copies, pins and records a plugin; a
#                               changed file is refused until re-installed;
#                               remove undoes it; each bad candidate (directory,
#                               symlink elsewhere, non-ELF, foreign ELF, NULL
#                               descriptor, symbol exported twice,
#                               crash/hang/exit while loading, name
#                               clash, malformed lock) is refused, nothing changed
add_test(NAME plugins_install_pin_remove
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/plugins_install.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(plugins_install_pin_remove PROPERTIES
  SKIP_RETURN_CODE 77
  TIMEOUT 300
  ENVIRONMENT "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}")

#   plugins_new_scaffolds_build_and_pass  every kind scaffolded by the
#                               installed datachat builds against the installed
#                               SDK alone and its cmocka test (the test kit)
#                               passes; pkg-config works too
add_test(NAME plugins_new_scaffolds_build_and_pass
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/plugins_new.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(plugins_new_scaffolds_build_and_pass PROPERTIES
  SKIP_RETURN_CODE 77
  TIMEOUT 600
  ENVIRONMENT "CMAKE_COMMAND=${CMAKE_COMMAND};DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}")

#   plugins_examples_work_out_of_tree   route-stage, echo-llm and csv-connector
#                               built against the installed SDK (CMake and
#                               pkg-config) and used through a config file
add_test(NAME plugins_examples_work_out_of_tree
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/plugins_examples.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(plugins_examples_work_out_of_tree PROPERTIES
  SKIP_RETURN_CODE 77
  TIMEOUT 600
  ENVIRONMENT "CMAKE_COMMAND=${CMAKE_COMMAND};DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}")

#   plugins_sdk_doc_commands    every `sh test` block of docs/SDK.md runs, in
#                               order, against an installed SDK
add_test(NAME plugins_sdk_doc_commands
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/plugins_sdk_doc.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(plugins_sdk_doc_commands PROPERTIES
  SKIP_RETURN_CODE 77
  TIMEOUT 600
  ENVIRONMENT "CMAKE_COMMAND=${CMAKE_COMMAND};DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_BINARY_DIR=${CMAKE_BINARY_DIR}")

#   plugins_capabilities_least_privilege  (plugins_caps.sh) a plugin's host
#                               table holds only the capability groups it
#                               declares: an undeclared one is E-PLUGIN-CAPABILITY
#                               naming plugin and capability, never a crash;
#                               ABI 1.0 plugins get everything; check, info,
#                               list --json, install and the test kit agree
add_test(NAME plugins_capabilities_least_privilege
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/plugins_caps.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(plugins_capabilities_least_privilege PROPERTIES
  SKIP_RETURN_CODE 77
  TIMEOUT 300)
