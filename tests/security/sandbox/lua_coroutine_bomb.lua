-- Attack: create coroutines until memory runs out. The coroutine
-- library is not opened, and a table bomb stops at the memory cap.
function invoke(args)
  if args.tables then
    local t = {}
    for i = 1, 1e9 do t[i] = { i, i, i, i } end
  end
  local all = {}
  for i = 1, 1e7 do all[i] = coroutine.create(function() end) end
  return {}
end
