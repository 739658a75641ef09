-- Attack: turn a function into bytecode to feed a loader elsewhere.
function invoke(args)
  local code = string.dump(function() return 1 end)
  return { n = #code }
end
