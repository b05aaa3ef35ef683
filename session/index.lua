-- index.lua: add a session hash to a user's index (a sorted set scored by
-- the session's absolute deadline), drop members past their deadline and
-- keep the index's TTL at its latest deadline.
-- KEYS[1]  user index key
-- ARGV[1]  session hash, ARGV[2] its absolute deadline (ms)
-- Reply: number of live members
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))
if tonumber(ARGV[2]) > now then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #top == 0 then
  return 0
end
local ttl = tonumber(top[2]) - now
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl))
return redis.call('ZCARD', KEYS[1])
