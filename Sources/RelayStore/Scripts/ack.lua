-- A device has a conversation's messages up to a seq: its cursor moves
-- forward (never back), and the conversation stops being dirty for it once
-- the cursor has reached everything fanned out.
-- KEYS[1] {d:D}:cur     hash: conversation -> seq acknowledged
-- KEYS[2] {d:D}:dirty   zset: conversation -> highest seq fanned out
-- ARGV: 1 conversation, 2 seq
-- Returns the cursor after the call.
local conversation, seq = ARGV[1], tonumber(ARGV[2])
local cursor = tonumber(redis.call('HGET', KEYS[1], conversation) or '0')
if seq > cursor then
  redis.call('HSET', KEYS[1], conversation, seq)
  cursor = seq
end
local dirty = redis.call('ZSCORE', KEYS[2], conversation)
if dirty and tonumber(dirty) <= cursor then
  redis.call('ZREM', KEYS[2], conversation)
end
return cursor
