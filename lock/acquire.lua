-- Acquire a lock and issue its fencing token, in one step.
-- KEYS[1] lock key, KEYS[2] fencing counter key (same hash tag).
-- ARGV[1] owner, ARGV[2] lock TTL in ms.
-- Returns the token when the lock is taken (or taken again by the same
-- owner, after a lost reply), 0 when another owner holds it.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then
    return 0
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
-- The token follows the server clock, in microseconds; the counter keeps it
-- increasing in between. A counter lives 5-6ms from the clock read that set
-- it (longer only when Redlock raised it ahead of this server's
-- clock: until the clock passes it, see raise.lua), so:
--
--   * hot path, no clock read: INCR finds a live counter; the result is
--     the token;
--   * else (INCR created the counter, or it is not a number) the token is
--     the server time + 1, stored as the counter for 5ms.
--
-- While the server clock does not step back, every token a counter issued
-- is below the time it expires (each script takes well over 1µs), so the
-- clock then gives a greater one: tokens strictly increase. A lost counter
-- (evicted, deleted, a restart without persistence) sends the next
-- acquisition to the clock too. A counter rolled back by a failover or a
-- restart that lost its last writes has expired by the time it is loaded
-- (its expiry is an absolute time), unless the new master took over within
-- 6ms of the last write it kept (Redis's own failover waits at least 500ms
-- to elect a replica) or its clock is behind.
local c = redis.pcall('INCR', KEYS[2])
if type(c) == 'number' and c > 1 then
  return c
end
local t = redis.call('TIME')
local tok = t[1] * 1000000 + t[2] + 1
redis.call('SET', KEYS[2], tok, 'PX', 5)
return tok
