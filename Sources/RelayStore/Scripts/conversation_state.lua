-- Takes a conversation's state from the region that sequences it (a mirror
-- or a replica): kind, epoch and seq only grow; members are replaced.
-- KEYS[1] {c:C}:meta, KEYS[2] {c:C}:members
-- ARGV: 1 kind, 2 epoch, 3 seq, 4 ttl (s), 5.. user, role pairs
-- Returns the number of members.
local meta, members = KEYS[1], KEYS[2]
if redis.call('EXISTS', meta) == 0 then
  redis.call('HSET', meta, 'kind', ARGV[1], 'epoch', ARGV[2], 'seq', ARGV[3])
end
if tonumber(ARGV[2]) > tonumber(redis.call('HGET', meta, 'epoch') or '0') then
  redis.call('HSET', meta, 'epoch', ARGV[2])
end
if tonumber(ARGV[3]) > tonumber(redis.call('HGET', meta, 'seq') or '0') then
  redis.call('HSET', meta, 'seq', ARGV[3])
end
if tonumber(ARGV[4]) > 0 then
  redis.call('HSET', meta, 'ttl', ARGV[4])
else
  redis.call('HDEL', meta, 'ttl')
end
redis.call('DEL', members)
for i = 5, #ARGV, 2 do
  redis.call('HSET', members, ARGV[i], ARGV[i + 1])
end
return redis.call('HLEN', members)
