-- Attack: recurse until the stack is exhausted.
local function down(n)
  return 1 + down(n + 1)
end

function invoke(args)
  return { n = down(1) }
end
