-- route_by_keyword: sends questions that mention a configured word down the
-- `match` edge and every other question down `other`. With a `reply`
-- option, a matching question also gets that text as its answer.
--
--   triage:
--     use: "lua:../../lua/stages/route_by_keyword.lua"
--     with: { keyword: salary, reply: "Ask HR about salaries." }
--     on: { match: reply, other: intent }

outcomes = { "match", "other" }

-- What `with:` may hold; the config loader refuses anything else.
options = {
  keyword = { type = "string", required = true, help = "the word that routes to `match`" },
  reply = { type = "string", help = "an answer for matching questions" },
}

function run(ctx)
  local word = dc.util.option("keyword")
  if word == nil then
    error("route_by_keyword needs `with: { keyword: WORD }`")
  end
  if dc.util.has_word(ctx.question, word) then
    dc.trace("the question mentions '" .. word .. "'")
    dc.emit("route.keyword", word)
    local reply = dc.util.option("reply")
    if reply ~= nil then
      dc.emit("answer", reply)
    end
    return "match"
  end
  dc.trace("the question does not mention '" .. word .. "'")
  return "other"
end
