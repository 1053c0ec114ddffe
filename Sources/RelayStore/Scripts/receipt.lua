-- Records that a member read a conversation up to a seq. Read markers only
-- move forward, and never past the conversation's latest message.
-- KEYS[1] {c:C}:meta, KEYS[2] {c:C}:members, KEYS[3] {c:C}:read (hash: user -> seq)
-- ARGV: 1 user, 2 seq
-- Returns {advanced (0|1), previous seq}, or NOT_MEMBER / BAD_SEQ.
local user, seq = ARGV[1], tonumber(ARGV[2])
if redis.call('HEXISTS', KEYS[2], user) == 0 then
  return redis.error_reply('NOT_MEMBER ' .. user .. ' is not a member')
end
local latest = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if seq > latest then
  return redis.error_reply('BAD_REQUEST read up to ' .. seq .. ' but the latest is ' .. latest)
end
local previous = tonumber(redis.call('HGET', KEYS[3], user) or '0')
if seq <= previous then return {0, previous} end
redis.call('HSET', KEYS[3], user, seq)
return {1, previous}
