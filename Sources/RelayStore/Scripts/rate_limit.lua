-- Takes tokens from one token bucket: RelayCore's TokenBucket.take, the same
-- operations in the same order on the same IEEE-754 doubles (see its doc
-- comment), so the two agree bit for bit.
--
-- KEYS[1] {d:D}:rl:<kind>  hash: tokens (%.17g), updated (ms)
-- ARGV: 1 capacity, 2 refill per second, 3 now (ms; "" to use the Redis
--       server's clock, one clock for every node), 4 cost, 5 idle expiry (ms:
--       after it the bucket is full again, so a missing key means full)
-- Returns {allowed (0|1), retry after (ms, 0 when allowed), tokens after
-- (as stored, '%.17g'), updated after (ms)}: the state, for a node that holds
-- the bucket of a device connected to it from here on.
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[4])
local now
if ARGV[3] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
else
  now = tonumber(ARGV[3])
end

local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens, updated
if state[1] and state[2] then
  tokens, updated = tonumber(state[1]), tonumber(state[2])
else
  tokens, updated = capacity, now
end

local elapsed = math.max(0, now - updated)
tokens = math.min(capacity, tokens + elapsed * rate / 1000)
updated = math.max(updated, now)

local allowed, wait = 0, 0
if tokens >= cost then
  allowed = 1
  tokens = tokens - cost
else
  -- A denied take costs nothing.
  wait = math.ceil((cost - tokens) * 1000 / rate)
end
local stored = string.format('%.17g', tokens)
redis.call('HSET', KEYS[1], 'tokens', stored, 'updated', string.format('%d', updated))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {allowed, wait, stored, updated}
