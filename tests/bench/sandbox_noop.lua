-- The no-op Lua tool of the sandbox benchmark (tests/bench/sandbox_bench.c).
function invoke(args)
  return { ok = 1 }
end
