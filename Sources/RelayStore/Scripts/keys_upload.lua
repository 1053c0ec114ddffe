-- Stores a device's keys (checked by the relay: Signal key forms, ids, the
-- signed prekey's XEdDSA signature). Only the device itself uploads, so
-- every key is under its hash tag {d:D}.
--
-- KEYS[1] {d:D}:keys     hash: ik (identity key), spk (SignedPrekey bytes),
--                        lr (last-resort OneTimePrekey bytes), rid
--                        (registration id), did (Signal device id)
-- KEYS[2] {d:D}:otk      list of OneTimePrekey bytes, handed out from the left
-- KEYS[3] {d:D}:otk:low  set once the device was told its prekeys run low
-- KEYS[4] {d:D}:otk:used prekeys the home handed out before this region
--                        held them (a standby, keys_consume.lua): left out
-- ARGV: 1 identity key, 2 signed prekey, 3 last-resort prekey ("" keeps the
--       stored one), 4 registration id, 5 device id, 6 one-time prekeys kept
--       at most, 7.. one-time prekeys
-- Returns the number of one-time prekeys now stored.
local previous = redis.call('HGET', KEYS[1], 'ik')
if previous and previous ~= ARGV[1] then
  -- A new identity: prekeys of the old one must not be handed out.
  redis.call('DEL', KEYS[2])
  redis.call('HDEL', KEYS[1], 'lr')
end
redis.call('HSET', KEYS[1], 'ik', ARGV[1], 'spk', ARGV[2], 'rid', ARGV[4], 'did', ARGV[5])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'lr', ARGV[3])
end
local fresh = {}
local used = redis.call('EXISTS', KEYS[4]) == 1
for i = 7, #ARGV do
  if used and redis.call('ZREM', KEYS[4], ARGV[i]) == 1 then
    -- Handed out already (by the home this region mirrors): never again.
  else
    fresh[#fresh + 1] = ARGV[i]
  end
end
for i = 1, #fresh, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(fresh, i, math.min(i + 999, #fresh)))
end
-- Past the cap the oldest go.
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[6]), -1)
redis.call('DEL', KEYS[3])
return redis.call('LLEN', KEYS[2])
