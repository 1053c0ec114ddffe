-- Appends frames to a replication outbox (Relay/Replication/Outbox.swift),
-- within the outbox's cap; past it the link is broken (decision 0015).
-- KEYS[1] {r:<peer>}:n      the counter: the last id given
-- KEYS[2] {r:<peer>}:out    the stream; entry id <id>-0, fields i=id,
--                           t=appended ms, f=frame, c=bytes appended so far
--                           (cumulative, this frame included)
-- KEYS[3] {r:<peer>}:acked  the highest id the peer acknowledged
-- KEYS[4] {r:<peer>}:bytes  hash: in = bytes ever appended, acked = bytes
--                           the peer acknowledged (c of the acked frame)
-- KEYS[5] {r:<peer>}:broken hash, present while the link is broken: at (ms),
--                           frames and bytes held when it broke, after (the
--                           acknowledged id then), discarded (frames dropped)
-- ARGV[1] now (ms since the Unix epoch)
-- ARGV[2] the wake-up channel r:<peer>, published "n<last id>" (or "b<last
--         id>" when this append broke the link)
-- ARGV[3] the cap in frames held (0: none)
-- ARGV[4] the cap in bytes held (0: none)
-- ARGV[5..] serialized frames, in order
-- Returns the ids given, consecutive with no gaps. While the link is broken
-- ids are still given, and the frames are discarded and counted.
local ids = {}
local count = #ARGV - 4
if count <= 0 then
  return ids
end
if redis.call('EXISTS', KEYS[5]) == 1 then
  for i = 5, #ARGV do
    ids[#ids + 1] = redis.call('INCR', KEYS[1])
  end
  redis.call('HINCRBY', KEYS[5], 'discarded', count)
  return ids
end
local size = 0
for i = 5, #ARGV do
  size = size + string.len(ARGV[i])
end
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local acked = tonumber(redis.call('GET', KEYS[3]) or '0')
local bytesIn = tonumber(redis.call('HGET', KEYS[4], 'in') or '0')
local bytesAcked = tonumber(redis.call('HGET', KEYS[4], 'acked') or '0')
local heldFrames = math.max(0, last - acked)
local heldBytes = math.max(0, bytesIn - bytesAcked)
local maxFrames = tonumber(ARGV[3])
local maxBytes = tonumber(ARGV[4])
if (maxFrames > 0 and heldFrames + count > maxFrames) or (maxBytes > 0 and heldBytes + size > maxBytes) then
  redis.call('HSET', KEYS[5], 'at', ARGV[1], 'frames', heldFrames, 'bytes', heldBytes,
    'after', acked, 'discarded', heldFrames + count)
  redis.call('DEL', KEYS[2])
  for i = 5, #ARGV do
    ids[#ids + 1] = redis.call('INCR', KEYS[1])
  end
  redis.call('SPUBLISH', ARGV[2], 'b' .. string.format('%d', ids[#ids]))
  return ids
end
local total = bytesIn
for i = 5, #ARGV do
  local id = redis.call('INCR', KEYS[1])
  local text = string.format('%d', id)
  total = total + string.len(ARGV[i])
  redis.call('XADD', KEYS[2], text .. '-0', 'i', text, 't', ARGV[1], 'f', ARGV[i], 'c', string.format('%d', total))
  ids[#ids + 1] = id
end
redis.call('HSET', KEYS[4], 'in', string.format('%d', total))
redis.call('SPUBLISH', ARGV[2], 'n' .. string.format('%d', ids[#ids]))
return ids
