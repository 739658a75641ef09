-- Not an attack: the call made after every attack to show the process
-- still serves, and that dc.query is audited.
function invoke(args)
  local rows, cols = dc.query(nil, "SELECT COUNT(*) AS n FROM orders", {})
  return { n = rows[1].n, col = cols[1] }
end
