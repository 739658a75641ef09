-- Attack: read a file. The io library is never opened.
function invoke(args)
  local f = io.open("/etc/passwd")
  return { data = f:read("a") }
end
