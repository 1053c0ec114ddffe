-- Records that a peer acknowledged a replication outbox up to an id
-- (Relay/Replication/Outbox.swift). The cursor only moves forward, never
-- past the last id given, and what it passes is removed from the stream.
-- KEYS[1] {r:<peer>}:acked
-- KEYS[2] {r:<peer>}:out
-- KEYS[3] {r:<peer>}:n
-- KEYS[4] {r:<peer>}:bytes  hash; acked = the acknowledged frame's c
-- ARGV[1] the id acknowledged
-- ARGV[2] the wake-up channel r:<peer>, published "a<acked>" when it moved
-- Returns the acknowledged id after the call.
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local last = tonumber(redis.call('GET', KEYS[3]) or '0')
local id = math.min(tonumber(ARGV[1]), last)
if id <= current then
  return current
end
local text = string.format('%d', id)
local entry = redis.call('XRANGE', KEYS[2], text .. '-0', text .. '-0')
if entry[1] then
  local fields = entry[1][2]
  for i = 1, #fields, 2 do
    if fields[i] == 'c' then
      redis.call('HSET', KEYS[4], 'acked', fields[i + 1])
    end
  end
end
redis.call('SET', KEYS[1], text)
redis.call('XTRIM', KEYS[2], 'MINID', string.format('%d', id + 1) .. '-0')
redis.call('SPUBLISH', ARGV[2], 'a' .. text)
return id
