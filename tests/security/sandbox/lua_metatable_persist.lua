-- Attack: change shared tables in one call and check in the next whether the
-- change survived. Every attempt must fail (or stay local to the call).
function invoke(args)
  if args.phase == "tamper" then
    local tried = {}
    tried.string_mt = pcall(function() getmetatable("").__index = { upper = function() return "pwned" end } end)
    tried.string_field = pcall(function() string.upper = function() return "pwned" end end)
    tried.rawset = pcall(rawset, string, "upper", function() return "pwned" end)
    tried.setmetatable = pcall(setmetatable, string, {})
    tried.math = pcall(function() math.floor = nil end)
    tried.dc = pcall(function() dc.query = nil end)
    setmetatable(_G, { __index = function() return "pwned" end })
    tampered = true
    print = function() end
    return tried
  end
  return {
    upper = ("a"):upper(),
    string_upper = string.upper("b"),
    floor = math.floor(1.5),
    query = type(dc.query),
    global = tampered == nil,
    undefined = some_undefined_name == nil,
    print = type(print),
  }
end
