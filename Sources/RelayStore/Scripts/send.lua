-- Accepts one message into a conversation: dedup, membership, sequence,
-- store, log, pending fan-out. One call, one slot: every key carries the
-- conversation's hash tag {c:<id>}.
--
-- KEYS[1] {c:C}:meta      hash: epoch, seq, kind, home, ttl
-- KEYS[2] {c:C}:members   hash: user -> role ("member" | "admin")
-- KEYS[3] {c:C}:log       zset: seq -> seq (the conversation's order)
-- KEYS[4] {c:C}:dedup:<device>:<client message id>   "epoch:seq"
-- KEYS[5] {c:C}:pending   zset: seq -> accepted at (fan-out not finished)
-- ARGV: 1 prefix "{c:C}", 2 user, 3 device, 4 client message id,
--       5 now (ms), 6 ciphertext, 7 reply-to seq, 8 retention (s),
--       9 dedup ttl (s), 10 direct peer ("" for groups), 11 message ttl (s, 0 = conversation's),
--       12 epoch floor (the home region's term: a failover raises it), 13.. device id, ciphertext pairs
-- Returns {duplicate (0|1), epoch, seq, ttl (s) the message is kept}.
local prior = redis.call('GET', KEYS[4])
if prior then
  local epoch, seq = string.match(prior, '^(%d+):(%d+)$')
  return {1, tonumber(epoch), tonumber(seq)}
end

local user = ARGV[2]
local peer = ARGV[10]
-- One read of what the checks need: the epoch (absent until the conversation
-- exists: every script that makes one sets it), the fence, the retention.
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'fenced', 'ttl')
if peer ~= '' then
  if not meta[1] then
    -- A 1:1 conversation comes into being with its first message.
    redis.call('HSET', KEYS[1], 'kind', 'direct', 'epoch', 1, 'seq', 0, 'created', ARGV[5])
    redis.call('HSET', KEYS[2], user, 'member', peer, 'member')
    meta[1] = '1'
  end
  -- Its members are the two users its id names: the relay checked that
  -- `user` is one of them (ChatRouter.checkConversation), so no lookup.
elseif redis.call('HEXISTS', KEYS[2], user) == 0 then
  return redis.error_reply('NOT_MEMBER ' .. user .. ' is not a member')
end
if meta[2] == '1' then
  return redis.error_reply('FENCED conversation is fenced in this region')
end

local epoch = tonumber(meta[1] or '1')
if tonumber(ARGV[12]) > epoch then
  -- Sequenced under a new term from here on (this region took over, or got back, the conversation).
  epoch = tonumber(ARGV[12])
  redis.call('HSET', KEYS[1], 'epoch', epoch)
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local key = ARGV[1] .. ':m:' .. seq
redis.call('HSET', key, 'u', user, 'd', ARGV[3], 't', ARGV[5], 'c', ARGV[6], 'cm', ARGV[4], 'r', ARGV[7], 'e', epoch)

-- Retention: the conversation's disappearing TTL, the message's, or the log's.
local ttl = tonumber(ARGV[8])
local conversationTTL = tonumber(meta[3] or '0')
if conversationTTL > 0 and conversationTTL < ttl then ttl = conversationTTL end
local messageTTL = tonumber(ARGV[11])
if messageTTL > 0 and messageTTL < ttl then ttl = messageTTL end
redis.call('EXPIRE', key, ttl)

if #ARGV > 12 then
  local perDevice = key .. ':x'
  for i = 13, #ARGV, 2 do
    redis.call('HSET', perDevice, ARGV[i], ARGV[i + 1])
  end
  redis.call('EXPIRE', perDevice, ttl)
end

redis.call('ZADD', KEYS[3], seq, seq)
redis.call('SET', KEYS[4], epoch .. ':' .. seq, 'EX', ARGV[9])
redis.call('ZADD', KEYS[5], ARGV[5], seq)
return {0, epoch, seq, ttl}
