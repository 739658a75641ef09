-- Attack: never return.
function invoke(args)
  while true do end
end
