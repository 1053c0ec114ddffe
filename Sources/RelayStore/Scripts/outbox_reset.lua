-- Ends a broken replication link (Relay/Replication/Outbox.swift; `relayctl
-- outbox reset`): what was discarded is given up for good, and shipping
-- resumes with the next frame appended. The receiver sees the ids in
-- between as trimmed (lost) and reports them.
-- KEYS[1] {r:<peer>}:n
-- KEYS[2] {r:<peer>}:out
-- KEYS[3] {r:<peer>}:acked
-- KEYS[4] {r:<peer>}:bytes
-- KEYS[5] {r:<peer>}:broken
-- ARGV[1] the wake-up channel r:<peer>, published "r<id>"
-- Returns {was broken (0/1), the id shipping resumes after, frames discarded}.
if redis.call('EXISTS', KEYS[5]) == 0 then
  return {0, tonumber(redis.call('GET', KEYS[3]) or '0'), 0}
end
local discarded = tonumber(redis.call('HGET', KEYS[5], 'discarded') or '0')
local last = redis.call('GET', KEYS[1]) or '0'
redis.call('SET', KEYS[3], last)
redis.call('DEL', KEYS[2], KEYS[5])
local bytesIn = redis.call('HGET', KEYS[4], 'in') or '0'
redis.call('HSET', KEYS[4], 'acked', bytesIn)
redis.call('SPUBLISH', ARGV[1], 'r' .. last)
return {1, tonumber(last), discarded}
