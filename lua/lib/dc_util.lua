-- dc_util: helpers every DataChat Lua stage and tool can use as dc.util.
-- The host loads this file into each sandboxed state before the script and
-- hands it over read-only, so it must stay stateless: no module-level
-- tables a caller could fill and a later run could see.

local M = {}

-- Lower-cased words of a text (letters, digits and '_'), in order.
function M.words(text)
  local out = {}
  for w in string.gmatch(string.lower(text or ""), "[%w_]+") do
    out[#out + 1] = w
  end
  return out
end

-- True when text contains word as a whole word, ignoring case.
function M.has_word(text, word)
  if type(word) ~= "string" or word == "" then
    return false
  end
  local want = string.lower(word)
  for _, w in ipairs(M.words(text)) do
    if w == want then
      return true
    end
  end
  return false
end

-- A plain SQL identifier: a letter or '_' then letters, digits or '_'.
function M.is_identifier(name)
  return type(name) == "string" and #name <= 63 and string.match(name, "^[%a_][%w_]*$") ~= nil
end

-- name as a double-quoted SQL identifier; errors on anything but a plain one.
function M.quote_ident(name)
  if not M.is_identifier(name) then
    error("not a plain SQL identifier: " .. tostring(name), 2)
  end
  return '"' .. name .. '"'
end

-- The option called key from the stage's or tool's `with:`, or fallback.
function M.option(key, fallback)
  local v = config[key]
  if v == nil then
    return fallback
  end
  return v
end

return M
