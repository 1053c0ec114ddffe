-- Mirror (standby): one-time prekeys the home handed out are dropped here,
-- so that this region never hands them out after a failover. A prekey not
-- held (its upload's frame has not arrived: the home appends the upload's
-- and the fetch's frames after two separate scripts, so the consumption can
-- come first) is remembered in KEYS[2], and keys_upload.lua leaves it out.
--
-- KEYS[1] {d:D}:otk       list of OneTimePrekey bytes (see keys_upload.lua)
-- KEYS[2] {d:D}:otk:used  sorted set: consumed prekeys not held yet, by time
-- ARGV: 1 entries kept in KEYS[2] at most (the oldest go), 2 now (ms),
--       3.. the consumed OneTimePrekey bytes, as stored
-- Returns the number of prekeys dropped from KEYS[1].
local dropped = 0
for i = 3, #ARGV do
  local removed = redis.call('LREM', KEYS[1], 1, ARGV[i])
  if removed > 0 then
    dropped = dropped + removed
  else
    redis.call('ZADD', KEYS[2], tonumber(ARGV[2]), ARGV[i])
  end
end
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[1]) - 1)
return dropped
