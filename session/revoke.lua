-- revoke.lua: revoke one session of a user, leaving a short tombstone so a
-- rotation in flight cannot recreate the key.
-- KEYS[1]  session key
-- ARGV[1]  user, ARGV[2] tombstone TTL (ms)
-- Reply: 1 a live session of the user was revoked, 0 otherwise
local revoked = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  local h = redis.call('HMGET', KEYS[1], '_u', '_m', '_x')
  if h[3] or h[1] ~= ARGV[1] then
    return 0
  end
  if not h[2] then
    revoked = 1
  end
  redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[1], '_x', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return revoked
