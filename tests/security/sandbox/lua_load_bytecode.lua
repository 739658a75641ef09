-- Attack: load precompiled bytecode, which skips the verifier-free
-- parser and can corrupt the VM. No loader is reachable from a script.
function invoke(args)
  assert(loadstring == nil and dofile == nil and loadfile == nil)
  local f = load("\27Lua\84\0\25\147\13\10\26\10\4\8\8", "x", "b")
  return {}
end
