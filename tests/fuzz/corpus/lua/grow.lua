function run() local s = "" for i = 1, 1e6 do s = s .. "xxxxxxxxxx" end return s end
