-- Tells a device that a conversation has messages up to a seq. The device's
-- node then reads the conversation log from the device's cursor, so
-- messages arrive in log order whatever order fan-outs run in (a fan-out
-- delayed by a crash, or overtaken on another Redis connection, cannot
-- reorder anything). Idempotent.
--
-- A conversation the device has already acknowledged up to the seq is left
-- alone: the node may hand a just-accepted message to a connected device
-- before this mark lands, and the device's acknowledgement may come first.
-- KEYS[1] {d:D}:dirty   zset: conversation -> highest seq fanned out
-- KEYS[2] {d:D}:cur     hash: conversation -> seq acknowledged
-- ARGV: 1 channel, then conversation, seq pairs
-- Returns the channel's subscriber count (0: the device is offline, or
-- nothing was marked). The wake-up names the conversation and seq
-- ("m<seq>:<conversation>") when there is one pair, so a node that already
-- handed that message over need not read anything; else it is "1".
local marked = 0
local last
for i = 2, #ARGV, 2 do
  local cursor = tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '0')
  if tonumber(ARGV[i + 1]) > cursor then
    -- ZADD GT does not add a missing member with a lower score; it does add new ones.
    redis.call('ZADD', KEYS[1], 'GT', ARGV[i + 1], ARGV[i])
    marked = marked + 1
    last = i
  end
end
if marked == 0 then return 0 end
if #ARGV == 3 then
  return redis.call('SPUBLISH', ARGV[1], 'm' .. ARGV[last + 1] .. ':' .. ARGV[last])
end
return redis.call('SPUBLISH', ARGV[1], '1')
