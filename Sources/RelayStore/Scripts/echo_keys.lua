-- Returns its keys and arguments, to test the script mechanism:
-- { KEYS[1], ..., ARGV[1], ... } as one flat array.
local out = {}
for i = 1, #KEYS do out[#out + 1] = KEYS[i] end
for i = 1, #ARGV do out[#out + 1] = ARGV[i] end
return out
