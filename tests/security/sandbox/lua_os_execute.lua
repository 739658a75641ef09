-- Attack: run a shell command. The os library is never opened.
function invoke(args)
  os.execute("id > /tmp/datachat-pwned")
  return {}
end
