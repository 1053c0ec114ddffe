-- Sets a conversation's disappearing-messages TTL (0 turns it off). In a
-- group only admins may; in a 1:1 conversation either user.
-- KEYS[1] {c:C}:meta, KEYS[2] {c:C}:members
-- ARGV: 1 user, 2 ttl seconds
-- Returns the TTL set, or NOT_MEMBER / NOT_ADMIN / NOT_FOUND.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('NOT_FOUND no such conversation')
end
local role = redis.call('HGET', KEYS[2], ARGV[1])
if not role then return redis.error_reply('NOT_MEMBER ' .. ARGV[1] .. ' is not a member') end
if redis.call('HGET', KEYS[1], 'kind') == 'group' and role ~= 'admin' then
  return redis.error_reply('NOT_ADMIN only admins may change the settings')
end
redis.call('HSET', KEYS[1], 'ttl', ARGV[2])
return tonumber(ARGV[2])
