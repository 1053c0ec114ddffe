-- The lease that lets one node of a region apply the frames of a given
-- origin region (Relay/Replication/ReplicationRouter.swift): a region's
-- peer endpoint may lead to any of its nodes, so two nodes can receive
-- batches of the same link at once (a shipper's takeover); only the
-- holder applies, the other refuses its batch and the origin ships again.
-- KEYS[1] r:in:<origin> (the cursor of frames applied)
-- KEYS[2] {r:in:<origin>}:lease (its hash tag puts it in KEYS[1]'s slot)
-- ARGV[1] the node's id
-- ARGV[2] "hold" (take it when free, renew it when held) or "release"
-- ARGV[3] time to live in ms (for "hold")
-- Returns, for "hold", the cursor when the node holds the lease after the
-- call, or -1 when another node holds it; for "release", 0.
local holder = redis.call('GET', KEYS[2])
if ARGV[2] == 'release' then
  if holder == ARGV[1] then redis.call('DEL', KEYS[2]) end
  return 0
end
if holder and holder ~= ARGV[1] then
  return -1
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
return tonumber(redis.call('GET', KEYS[1]) or '0')
