-- Advances the cursor of frames applied from an origin region
-- (Relay/Replication/ReplicationRouter.swift); it never moves back.
-- KEYS[1] r:in:<origin>
-- ARGV[1] the id just applied
-- Returns the cursor after the call.
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local id = tonumber(ARGV[1])
if id > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return id
end
return current
