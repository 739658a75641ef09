-- Attack: load a native module through require.
function invoke(args)
  local m = require("os")
  return {}
end
