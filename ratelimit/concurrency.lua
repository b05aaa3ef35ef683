-- Concurrency limit with leases: KEYS[1] is a sorted set of lease ids scored by expiry (µs).
-- ARGV[1]: 'acquire', 'extend' or 'release'; ARGV[2]: lease id; ARGV[3]: max in flight;
-- ARGV[4]: lease length in µs.
-- acquire: {1, in flight, 0} or, when full, {0, in flight, µs until the first lease expires}.
-- extend: {1, in flight, 0} if the lease was still held, else {0, in flight, 0}.
-- release: {1, in flight, 0}.
-- Expired leases are dropped first. The key expires (PX, at least 1 ms) with its last lease.
if redis.replicate_commands then redis.replicate_commands() end -- TIME is not deterministic

local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1483228800) * 1000000 + tonumber(t[2])
local key, op, id = KEYS[1], ARGV[1], ARGV[2]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)

local function expire()
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then
    redis.call('PEXPIRE', key, math.max(1, math.ceil((tonumber(last[2]) - now) / 1000)))
  end
end

if op == 'release' then
  redis.call('ZREM', key, id)
  return {1, redis.call('ZCARD', key), 0}
end
local lease = tonumber(ARGV[4])
if op == 'extend' then
  if not redis.call('ZSCORE', key, id) then
    return {0, redis.call('ZCARD', key), 0}
  end
  redis.call('ZADD', key, 'XX', now + lease, id)
  expire()
  return {1, redis.call('ZCARD', key), 0}
end
local n = redis.call('ZCARD', key)
if n >= tonumber(ARGV[3]) then
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {0, n, math.max(1, math.ceil(tonumber(first[2]) - now))}
end
redis.call('ZADD', key, now + lease, id)
expire()
return {1, n + 1, 0}
