-- Appends frames to a replication outbox (Relay/Replication/Outbox.swift).
-- KEYS[1] {r:<peer>}:n   the counter: the last id given
-- KEYS[2] {r:<peer>}:out the stream; entry id <id>-0, fields i=id, t=appended ms, f=frame
-- ARGV[1] now (ms since the Unix epoch)
-- ARGV[2] the wake-up channel r:<peer>, published "n<last id>"
-- ARGV[3..] serialized frames, in order
-- Returns the ids given, consecutive with no gaps.
local ids = {}
for i = 3, #ARGV do
  local id = redis.call('INCR', KEYS[1])
  local text = string.format('%d', id)
  redis.call('XADD', KEYS[2], text .. '-0', 'i', text, 't', ARGV[1], 'f', ARGV[i])
  ids[#ids + 1] = id
end
if #ids > 0 then
  redis.call('PUBLISH', ARGV[2], 'n' .. string.format('%d', ids[#ids]))
end
return ids
