-- Attack: swallow the deadline error with pcall and keep going.
function invoke(args)
  while true do
    pcall(function() while true do end end)
  end
end
