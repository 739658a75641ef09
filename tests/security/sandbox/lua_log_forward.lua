-- Not an attack: a script's dc.log line must reach the core's log whether
-- the script runs in-process or in a datachat-worker (which has no stderr).
function invoke(args)
  if args.flood then
    flood(args.flood)
    return { flooded = true }
  end
  dc.log("warn", "forwarded-log-marker", 42)
  return { logged = true }
end

-- args.flood: many lines; the core keeps at most 100 per call
function flood(n)
  for i = 1, n do dc.log("warn", "flood line", i) end
end
