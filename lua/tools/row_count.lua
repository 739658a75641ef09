-- row_count: counts the rows of one table through dc.query, so the gate,
-- the caller's policy and the audit log apply as to any other statement.
--
--   datachat tools call row_count '{"table": "orders"}'
-- returns {"table": "orders", "rows": 1234}

options = {
  database = { type = "string", help = "the database to count in when args.database is absent" },
}

function invoke(args)
  local tbl = args.table
  if not dc.util.is_identifier(tbl) then
    error("row_count: give {\"table\": NAME} with a plain table name, got " .. tostring(tbl))
  end
  local db = args.database or dc.util.option("database")
  local rows = dc.query(db, "SELECT COUNT(*) AS n FROM " .. dc.util.quote_ident(tbl), {})
  return { table = tbl, rows = rows[1].n }
end
