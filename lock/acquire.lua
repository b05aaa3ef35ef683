-- Acquire a lock and issue its fencing token, in one step.
-- KEYS[1] lock key, KEYS[2] fencing counter key (same hash tag).
-- ARGV[1] owner, ARGV[2] lock TTL in ms, ARGV[3] counter TTL in ms ("0": none),
-- ARGV[4] the client's clock in microseconds since the Unix epoch.
-- Returns the token when the lock is taken (or taken again by the same
-- owner, after a lost reply), 0 when another owner holds it.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then
    return 0
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
-- The token follows the server clock, in microseconds, and the counter
-- keeps it increasing where the clock does not. INCR the counter; then:
--
--   * hot path, no clock read: if the result is within a millisecond of
--     the client's clock or ahead of it, it is the token. The counter was
--     written by an acquisition in the last millisecond, or it is ahead
--     (a client clock behind, the server clock stepped back, Redlock raised
--     it), in which case its TTL is renewed so that it cannot expire while
--     in use;
--   * else (the counter is older, missing -- INCR made it 1 --, or not a
--     number) read the server clock: the token is max(counter + 1, server time + 1), stored as the
--     new counter.
--
-- So while the server clock does not step back, no token exceeds the
-- server time it was issued at + 1 (each script takes well over 1µs), and a
-- lost counter (expired, evicted, or restarted without persistence) is
-- missing, which sends the next acquisition to the server clock: its token
-- exceeds every earlier one. A counter rolled back by a failover that lost
-- its last writes is taken as is only by a client whose clock is behind the
-- lost acquisitions by more than the failover took, less a millisecond.
local now = tonumber(ARGV[4])
local c = redis.pcall('INCR', KEYS[2])
if type(c) == 'number' and c > 1 and c >= now - 1000 then
  if c > now + 1 and ARGV[3] ~= '0' then
    redis.call('PEXPIRE', KEYS[2], ARGV[3])
  end
  return c
end
local t = redis.call('TIME')
local tok = t[1] * 1000000 + t[2] + 1
if type(c) == 'number' and c > tok then
  tok = c
end
if ARGV[3] == '0' then
  redis.call('SET', KEYS[2], string.format('%.0f', tok))
else
  redis.call('SET', KEYS[2], string.format('%.0f', tok), 'PX', ARGV[3])
end
return tok
