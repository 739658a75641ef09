-- A syntax error: loading must cite this file and line 4.
function invoke(args)
  local x = {
  return x
end
