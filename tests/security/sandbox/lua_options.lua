-- Not an attack: a script that declares its options, so that the config
-- loader can refuse an unknown, missing or wrongly typed `with:` entry.
options = {
  label = { type = "string", required = true, help = "a word to echo" },
  limit = { type = "int", default = 10 },
  tags = { type = "list" },
}

function invoke(args)
  return { label = config.label, limit = tonumber(config.limit) }
end
