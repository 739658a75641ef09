-- Attack: push a hundred million values on the stack.
function invoke(args)
  return { table.unpack({}, 1, 100000000) }
end
