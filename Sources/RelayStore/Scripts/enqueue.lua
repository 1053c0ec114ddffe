-- Puts entries on one device's durable queue and wakes the node that holds
-- the device's connection. Idempotent: an entry already queued keeps its
-- place (a re-run fan-out after a crash adds nothing twice).
--
-- KEYS[1] {d:D}:q        zset: position -> entry ("m|<conversation>|<seq>" or "s|<status bytes>")
-- KEYS[2] {d:D}:n        the queue's position counter
-- KEYS[3] {d:D}:dropped  count of entries dropped at the cap
-- ARGV: 1 channel, 2 maximum entries, 3.. entries
-- Returns {added, subscribers of the channel (0: the device is offline),
-- dropped now, {position of each entry, 0 where it was already queued}}.
-- The wake-up is "q<last position added>", so a node that already handed
-- the entries over need not read the queue.
local added = 0
local positions = {}
local last = 0
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    positions[#positions + 1] = 0
  else
    local position = redis.call('INCR', KEYS[2])
    redis.call('ZADD', KEYS[1], position, ARGV[i])
    added = added + 1
    positions[#positions + 1] = position
    last = position
  end
end
local dropped = 0
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[2])
if excess > 0 then
  -- The cap: the oldest entries go, and the count is kept for the device.
  redis.call('ZPOPMIN', KEYS[1], excess)
  redis.call('INCRBY', KEYS[3], excess)
  dropped = excess
end
local subscribers = 0
if added > 0 then
  subscribers = redis.call('SPUBLISH', ARGV[1], 'q' .. last)
end
return {added, subscribers, dropped, positions}
