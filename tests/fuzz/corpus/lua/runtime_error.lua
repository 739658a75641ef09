-- A plain bug: the error must cite this file and its lines, and nothing of
-- the host.
local function inner(t)
  return t.missing.field
end

local function outer()
  local v = inner({})
  return v
end

function invoke(args)
  local v = outer()
  return { v = v }
end
