-- Redlock: raise the fencing counter KEYS[2] to at least ARGV[2] while
-- ARGV[1] still holds the lock KEYS[1]. ARGV[3]: counter TTL in ms (0: none).
-- Returns 1, or 0 when the lock is not held.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local want = tonumber(ARGV[2])
if (tonumber(redis.call('GET', KEYS[2])) or 0) < want then
  if tonumber(ARGV[3]) > 0 then
    redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  else
    redis.call('SET', KEYS[2], ARGV[2])
  end
end
return 1
