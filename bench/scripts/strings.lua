-- Lua's idiom for building a string piece by piece (s = s .. "x" would be quadratic).
local parts = {}
for i = 1, 100000 do parts[#parts + 1] = "x" end
local s = table.concat(parts)
return #s
