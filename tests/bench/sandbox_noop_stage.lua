-- The no-op Lua stage of the sandbox benchmark (tests/bench/sandbox_bench.c):
-- one context read over IPC, one outcome back.
outcomes = { "ok" }
function run(ctx)
  if ctx.question == nil then
    return "ok"
  end
  return "ok"
end
