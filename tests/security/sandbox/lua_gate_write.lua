-- Attack: write through dc.query. The gate refuses and audits it.
function invoke(args)
  dc.query(nil, "DELETE FROM orders", {})
  return {}
end
