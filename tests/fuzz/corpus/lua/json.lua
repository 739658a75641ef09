function invoke(args)
  local t = dc.json.decode('{"a":[1,2,{"b":null}],"c":"\\u00e9","d":1.5e300}')
  local s = dc.json.encode({ x = t, y = { 1, 2, 3 }, z = args })
  dc.log("info", s, #s)
  dc.trace("encoded", #s)
  dc.emit("fuzz.k", { s = s })
  print(dc.get("question"), config.missing)
  return { s = s, q = select("#", pcall(dc.query, nil, "SELECT 1", { 1, "x", true, 2.5 })) }
end
outcomes = { "ok" }
function run(ctx)
  local w = {}
  for word in ctx.question:gmatch("%a+") do w[#w + 1] = word:upper() end
  dc.emit("words", table.concat(w, ","))
  return utf8.char(111, 107)
end
