-- Stores a message sequenced in another region (a replicated fan-out or a
-- mirror copy) in this region's copy of the conversation. Idempotent. One
-- slot: every key carries the conversation's hash tag.
--
-- KEYS[1] {c:C}:meta, KEYS[2] {c:C}:members, KEYS[3] {c:C}:log,
-- KEYS[4] {c:C}:dedup:<device>:<client message id>
-- ARGV: 1 prefix "{c:C}", 2 epoch, 3 seq, 4 user, 5 device, 6 time (ms),
--       7 ciphertext, 8 client message id, 9 reply-to seq, 10 ttl (s),
--       11 dedup ttl (s), 12 first user of a 1:1 conversation ("" for a
--       group), 13 second user, 14.. device id, ciphertext pairs
-- Returns {applied (1) | stale (-1), rewound (0|1), created (0|1)}: stale when this region
-- knows a higher epoch; rewound when the epoch is new here, which drops
-- what this region held from `seq` on (the old epoch's messages that the
-- new sequencer never had); created when this region had no copy of the
-- conversation before.
local epoch, seq = tonumber(ARGV[2]), tonumber(ARGV[3])
local known = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
if epoch < known then return {-1, 0, 0} end

local rewound = 0
if known > 0 and epoch > known then
  for _, old in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], seq, '+inf')) do
    redis.call('DEL', ARGV[1] .. ':m:' .. old, ARGV[1] .. ':m:' .. old .. ':x')
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[3], seq, '+inf')
  redis.call('HSET', KEYS[1], 'seq', seq)
  rewound = 1
end

local created = 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  created = 1
  local kind = 'group'
  if ARGV[12] ~= '' then kind = 'direct' end
  redis.call('HSET', KEYS[1], 'kind', kind, 'seq', 0, 'created', ARGV[6])
end
if ARGV[12] ~= '' then
  redis.call('HSETNX', KEYS[2], ARGV[12], 'member')
  redis.call('HSETNX', KEYS[2], ARGV[13], 'member')
end
redis.call('HSET', KEYS[1], 'epoch', epoch)
if seq > tonumber(redis.call('HGET', KEYS[1], 'seq') or '0') then
  redis.call('HSET', KEYS[1], 'seq', seq)
end

local key = ARGV[1] .. ':m:' .. seq
if rewound == 1 or redis.call('HGET', key, 'e') ~= tostring(epoch) then
  redis.call('DEL', key, key .. ':x')
  redis.call('HSET', key, 'u', ARGV[4], 'd', ARGV[5], 't', ARGV[6], 'c', ARGV[7], 'cm', ARGV[8], 'r', ARGV[9], 'e', epoch)
  local ttl = tonumber(ARGV[10])
  redis.call('EXPIRE', key, ttl)
  if #ARGV > 13 then
    for i = 14, #ARGV, 2 do
      redis.call('HSET', key .. ':x', ARGV[i], ARGV[i + 1])
    end
    redis.call('EXPIRE', key .. ':x', ttl)
  end
end
redis.call('ZADD', KEYS[3], seq, seq)
redis.call('SET', KEYS[4], epoch .. ':' .. seq, 'EX', ARGV[11])
return {1, rewound, created}
