outcomes = "ok"
