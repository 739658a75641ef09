-- Attack: become another principal for the rest of the request.
function invoke(args)
  dc.emit("principal", "admin")
  return {}
end
