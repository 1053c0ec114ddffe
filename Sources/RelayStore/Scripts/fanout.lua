-- Tells a device that a conversation has messages up to a seq. The device's
-- node then reads the conversation log from the device's cursor, so
-- messages arrive in log order whatever order fan-outs run in (a fan-out
-- delayed by a crash, or overtaken on another Redis connection, cannot
-- reorder anything). Idempotent.
-- KEYS[1] {d:D}:dirty   zset: conversation -> highest seq fanned out
-- ARGV: 1 channel, then conversation, seq pairs
-- Returns the channel's subscriber count (0: the device is offline).
for i = 2, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], 'GT', ARGV[i + 1], ARGV[i])
  -- ZADD GT does not add a missing member with a lower score; it does add new ones.
end
return redis.call('PUBLISH', ARGV[1], '1')
