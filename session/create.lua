-- create.lua: store a new session hash, never without a TTL.
-- KEYS[1]  session key
-- ARGV[1]  idle timeout (ms)
-- ARGV[2]  lifetime (ms) when ARGV[3] is "0", else the absolute deadline (ms)
-- ARGV[3]  creation time (ms), "0" for now
-- ARGV[4]  user ("" for none)
-- ARGV[5..] field name, value pairs
-- Reply: {1, deadline, expires} | {0} key exists (tombstone) | {2} already past its deadline
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0}
end
local idle = tonumber(ARGV[1])
local created = tonumber(ARGV[3])
local abs
if created == 0 then
  created = now
  abs = now + tonumber(ARGV[2])
else
  abs = tonumber(ARGV[2])
end
local ttl = math.min(idle, abs - now)
if ttl <= 0 then
  return {2}
end
local function s(n) return string.format('%.0f', n) end
redis.call('HSET', KEYS[1], '_a', s(abs), '_i', s(idle), '_s', s(now), '_c', s(created))
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], '_u', ARGV[4])
end
for i = 5, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[1], ttl)
return {1, abs, now + ttl}
