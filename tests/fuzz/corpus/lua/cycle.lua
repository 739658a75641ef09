local t = {} t[t] = t return dc.json.encode(t)
