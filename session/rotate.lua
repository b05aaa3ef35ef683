-- rotate.lua: first half of a rotation, on the old key. Applies pending
-- changes, returns the whole session and kills the old key: deleted at once,
-- or (grace > 0) replaced by a stub that forwards to the new hash for the
-- grace window. The caller then writes the new key with create.lua.
-- KEYS[1]  old session key
-- ARGV[1]  grace (ms), ARGV[2] new session hash
-- ARGV[3]  number of fields to set (n), ARGV[4] user flag, ARGV[5] user
-- ARGV[6 .. 5+2n] pairs to set, then names to delete
-- Reply: {1, deadline, idle, created, {field, value, ...}} | {0} unknown or moved | {2, user} past a deadline
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', KEYS[1], '_a', '_i', '_s', '_x', '_m', '_u', '_c')
if h[4] or h[5] then
  return {0}
end
local abs, idle, seen, created = tonumber(h[1]), tonumber(h[2]), tonumber(h[3]), tonumber(h[7])
if not abs or not idle or not seen or not created then
  return {0}
end
if now >= abs or now >= seen + idle then
  redis.call('DEL', KEYS[1])
  return {2, h[6] or ''}
end
local n = tonumber(ARGV[3])
local last = 5 + 2 * n
for i = 6, last, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
for i = last + 1, #ARGV do
  redis.call('HDEL', KEYS[1], ARGV[i])
end
if ARGV[4] == '1' then
  if ARGV[5] == '' then
    redis.call('HDEL', KEYS[1], '_u')
  else
    redis.call('HSET', KEYS[1], '_u', ARGV[5])
  end
end
local v = redis.call('HGETALL', KEYS[1])
local user = redis.call('HGET', KEYS[1], '_u')
redis.call('DEL', KEYS[1])
local grace = math.min(tonumber(ARGV[1]), abs - now)
if grace > 0 then
  redis.call('HSET', KEYS[1], '_m', ARGV[2])
  if user then
    redis.call('HSET', KEYS[1], '_u', user)
  end
  redis.call('PEXPIRE', KEYS[1], grace)
end
return {1, abs, idle, created, v}
