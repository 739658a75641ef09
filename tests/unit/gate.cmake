# test_gate, test_connector_sqlite and the gate fuzz replay dlopen the SQLite
# connector straight from the build tree, so it must be built first.
foreach(t test_gate test_connector_sqlite fuzz_gate_replay fuzz_gate)
  if(TARGET ${t} AND TARGET connector-sqlite)
    add_dependencies(${t} connector-sqlite)
    target_compile_definitions(${t} PRIVATE
      DC_SQLITE_PLUGIN="$<TARGET_FILE:connector-sqlite>")
  endif()
endforeach()
