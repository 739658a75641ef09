-- A script reaching for the network: in-process it has no transport at all;
-- sandboxed, its worker must ask the core, which refuses a host that is not
-- on the tool's allow list (none is configured here).
function invoke(args)
  local status, body = dc.http("GET", args.url or "http://169.254.169.254/latest/meta-data/")
  return { status = status, body = body }
end
