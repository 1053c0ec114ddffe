-- A conversation continues under a new epoch from `seq` on: a device that
-- had acknowledged past it (old-epoch messages the new sequencer never had)
-- must read again from there. Cursors only ever move back here.
-- KEYS[1] {d:D}:cur   hash: conversation -> seq acknowledged
-- ARGV: 1 conversation, 2 seq (the new epoch's first)
-- Returns the cursor after the call.
local cursor = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local first = tonumber(ARGV[2])
if cursor >= first then
  cursor = first - 1
  redis.call('HSET', KEYS[1], ARGV[1], cursor)
end
return cursor
