-- Redlock: raise the fencing counter KEYS[2] to at least ARGV[2] while
-- ARGV[1] still holds the lock KEYS[1]. Returns 1, or 0 when the lock is
-- not held. A raised counter lives until this server's clock passes it,
-- then 5-6ms, as acquire.lua's counters do, so that the clock takes over
-- only above every token it issued.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local want = tonumber(ARGV[2])
if (tonumber(redis.call('GET', KEYS[2])) or 0) >= want then
  return 1
end
local t = redis.call('TIME')
local ahead = want - (t[1] * 1000000 + t[2])
redis.call('SET', KEYS[2], want, 'PX', math.max(5, math.floor(ahead / 1000) + 5))
return 1
