local fs = {}
for i = 0, 1000000 - 1 do
    local k = i
    fs[i + 1] = function() return k + 1 end
end
local sum = 0
for i = 1, #fs do sum = sum + fs[i]() end
return sum
