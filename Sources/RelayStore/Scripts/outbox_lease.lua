-- The lease that lets one node of a region ship a given outbox
-- (Relay/Replication/Shipper.swift).
-- KEYS[1] {r:<peer>}:lease
-- ARGV[1] the node's id
-- ARGV[2] "hold" (take it when free, renew it when held) or "release"
-- ARGV[3] time to live in ms (for "hold")
-- Returns 1 when the node holds the lease after the call, else 0.
local holder = redis.call('GET', KEYS[1])
if ARGV[2] == 'release' then
  if holder == ARGV[1] then redis.call('DEL', KEYS[1]) end
  return 0
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
if holder then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
