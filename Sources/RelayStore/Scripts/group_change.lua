-- Adds or removes members of a group; only admins may, except that a
-- member may remove itself (leave). The last admin leaving promotes the
-- successor the caller chose with RelayCore's Group rule (the member that
-- joined earliest, from KEYS[4]).
-- KEYS[1] {c:G}:meta, KEYS[2] {c:G}:members, KEYS[3] {c:G}:joined (user -> seq when added:
-- a member's devices start reading the log there), KEYS[4] {c:G}:order (user -> join rank)
-- ARGV: 1 actor, 2 "add" | "remove" | "leave" | "admin" | "unadmin", 3 maximum members, 4 successor ("" if none), 5.. users
-- Returns the member count, or an error: NOT_FOUND, NOT_ADMIN, GROUP_FULL, NOT_MEMBER.
if redis.call('HGET', KEYS[1], 'kind') ~= 'group' then
  return redis.error_reply('NOT_FOUND no such group')
end
local actor, op = ARGV[1], ARGV[2]
local role = redis.call('HGET', KEYS[2], actor)
if not role then return redis.error_reply('NOT_MEMBER ' .. actor .. ' is not a member') end
if op ~= 'leave' and role ~= 'admin' then
  return redis.error_reply('NOT_ADMIN only admins may change members')
end
if op == 'add' then
  local now = redis.call('HGET', KEYS[1], 'seq') or '0'
  for i = 5, #ARGV do
    if redis.call('HSETNX', KEYS[2], ARGV[i], 'member') == 1 then
      redis.call('HSET', KEYS[3], ARGV[i], now)
      redis.call('ZADD', KEYS[4], redis.call('HINCRBY', KEYS[1], 'joins', 1), ARGV[i])
    end
  end
  if redis.call('HLEN', KEYS[2]) > tonumber(ARGV[3]) then
    for i = 5, #ARGV do
      if redis.call('HGET', KEYS[2], ARGV[i]) == 'member' then
        redis.call('HDEL', KEYS[2], ARGV[i])
        redis.call('ZREM', KEYS[4], ARGV[i])
      end
    end
    return redis.error_reply('GROUP_FULL at most ' .. ARGV[3] .. ' members')
  end
elseif op == 'remove' then
  for i = 5, #ARGV do
    redis.call('HDEL', KEYS[2], ARGV[i])
    redis.call('ZREM', KEYS[4], ARGV[i])
  end
elseif op == 'leave' then
  redis.call('HDEL', KEYS[2], actor)
  redis.call('ZREM', KEYS[4], actor)
  if role == 'admin' and ARGV[4] ~= '' then
    local admins = 0
    for _, r in ipairs(redis.call('HVALS', KEYS[2])) do if r == 'admin' then admins = admins + 1 end end
    if admins == 0 then redis.call('HSET', KEYS[2], ARGV[4], 'admin') end
  end
elseif op == 'admin' or op == 'unadmin' then
  for i = 5, #ARGV do
    if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 1 then
      redis.call('HSET', KEYS[2], ARGV[i], op == 'admin' and 'admin' or 'member')
    end
  end
end
return redis.call('HLEN', KEYS[2])
