-- Creates a group conversation with its creator as admin.
-- KEYS[1] {c:G}:meta, KEYS[2] {c:G}:members, KEYS[3] {c:G}:order (user -> join
-- rank: the creator 1, then the members in the order given; meta "joins" is the last rank)
-- ARGV: 1 creator, 2 now (ms), 3 home region, 4 maximum members, 5.. members
-- Returns the member count, or an error: EXISTS, GROUP_FULL.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('EXISTS group id taken')
end
local count = 1
redis.call('HSET', KEYS[2], ARGV[1], 'admin')
redis.call('ZADD', KEYS[3], 1, ARGV[1])
for i = 5, #ARGV do
  if ARGV[i] ~= ARGV[1] and redis.call('HSETNX', KEYS[2], ARGV[i], 'member') == 1 then
    count = count + 1
    redis.call('ZADD', KEYS[3], count, ARGV[i])
  end
end
if count > tonumber(ARGV[4]) then
  redis.call('DEL', KEYS[2], KEYS[3])
  return redis.error_reply('GROUP_FULL at most ' .. ARGV[4] .. ' members')
end
redis.call('HSET', KEYS[1], 'kind', 'group', 'epoch', 1, 'seq', 0, 'created', ARGV[2], 'home', ARGV[3], 'joins', count)
return count
