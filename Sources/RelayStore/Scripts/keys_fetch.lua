-- Hands out one device's key bundle: identity key, signed prekey and ONE
-- one-time prekey, popped here so that each is handed out exactly once
-- however many fetches run at the same time; the last-resort prekey when
-- none is left.
--
-- KEYS[1] {d:D}:keys     hash: ik, spk, lr, rid, did (see keys_upload.lua)
-- KEYS[2] {d:D}:otk      list of OneTimePrekey bytes
-- KEYS[3] {d:D}:otk:low  set once the device was told its prekeys run low
-- ARGV: 1 threshold: fewer one-time prekeys left than this is "low"
-- Returns false when the device has no keys (or keys stored before the
-- Signal formats, without rid and did), else {identity key, signed prekey,
-- one-time prekey or "", last-resort prekey or "", one-time prekeys left,
-- 1 when they just crossed the threshold (tell the device) else 0,
-- registration id, device id}.
local keys = redis.call('HMGET', KEYS[1], 'ik', 'spk', 'lr', 'rid', 'did')
if not keys[1] or not keys[2] or not keys[4] or not keys[5] then
  return false
end
local otk = redis.call('LPOP', KEYS[2]) or ''
local left = redis.call('LLEN', KEYS[2])
local crossed = 0
if left < tonumber(ARGV[1]) and redis.call('SET', KEYS[3], '1', 'NX') then
  crossed = 1
end
return {keys[1], keys[2], otk, keys[3] or '', left, crossed, tonumber(keys[4]), tonumber(keys[5])}
