-- Attack: allocate 2 GiB in one call (Lua refuses strings over INT_MAX
-- itself); with {"n": 1073741824}, 1 GiB, which the memory cap stops.
function invoke(args)
  local s = string.rep("x", args.n or 2^31)
  return { n = #s }
end
