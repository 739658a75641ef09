-- The allowed path of dc.http in the worker (tests/security/sandbox/http_core.c):
-- the core's transport answers, the script sees status and body.
function invoke(args)
  local status, body = dc.http("POST", args.url, "ping")
  dc.log("warn", "fetched", args.url)
  return { status = status, body = body }
end
