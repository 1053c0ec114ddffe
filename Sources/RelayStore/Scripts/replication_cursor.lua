-- Advances the cursor of frames applied from an origin region
-- (Relay/Replication/ReplicationRouter.swift); it never moves back.
-- KEYS[1] r:in:<origin>
-- KEYS[2] (optional) {r:in:<origin>}:lease, the applying node's lease
--         (inbound_lease.lua), renewed here
-- ARGV[1] the id just applied
-- ARGV[2] the node's id (with KEYS[2])
-- ARGV[3] the lease's time to live in ms (with KEYS[2])
-- Returns the cursor after the call, or -1 (and moves nothing) when
-- KEYS[2] is given and another node holds that lease. A lease that ran out
-- while nobody else took it (a batch that took longer than its time to
-- live) is taken again: no other node applied anything meanwhile.
if KEYS[2] then
  local holder = redis.call('GET', KEYS[2])
  if holder and holder ~= ARGV[2] then
    return -1
  end
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
end
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local id = tonumber(ARGV[1])
if id > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return id
end
return current
