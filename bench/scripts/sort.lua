local a = {}
local x = 42
for i = 1, 1000000 do
    x = (x * 16807) % 2147483647
    a[i] = x
end
table.sort(a, function(p, q) return p < q end)
return a[1] <= a[1000000]
