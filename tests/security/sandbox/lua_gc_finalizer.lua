-- Attack: leave code behind that runs after the call, when the state is
-- collected.
function invoke(args)
  setmetatable({}, { __gc = function() while true do end end })
  return {}
end
