-- Creates a group conversation with its creator as admin.
-- KEYS[1] {c:G}:meta, KEYS[2] {c:G}:members
-- ARGV: 1 creator, 2 now (ms), 3 home region, 4 maximum members, 5.. members
-- Returns the member count, or an error: EXISTS, GROUP_FULL.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('EXISTS group id taken')
end
local count = 1
redis.call('HSET', KEYS[2], ARGV[1], 'admin')
for i = 5, #ARGV do
  if ARGV[i] ~= ARGV[1] and redis.call('HSETNX', KEYS[2], ARGV[i], 'member') == 1 then
    count = count + 1
  end
end
if count > tonumber(ARGV[4]) then
  redis.call('DEL', KEYS[2])
  return redis.error_reply('GROUP_FULL at most ' .. ARGV[4] .. ' members')
end
redis.call('HSET', KEYS[1], 'kind', 'group', 'epoch', 1, 'seq', 0, 'created', ARGV[2], 'home', ARGV[3])
return count
