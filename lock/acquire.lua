-- Acquire a lock and issue its fencing token, in one step.
-- KEYS[1] lock key, KEYS[2] fencing counter key (same hash tag).
-- ARGV[1] owner, ARGV[2] lock TTL in ms, ARGV[3] counter TTL in ms ("0": none).
-- Returns the token when the lock is taken (or taken again by the same
-- owner, after a lost reply), 0 when another owner holds it.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then
    return 0
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
-- The token follows the server clock, in microseconds, and the counter
-- keeps it increasing where the clock does not. With now the server time:
--
--   * the counter + 1, if it is within a millisecond of now: the counter
--     was set by an acquisition in the last millisecond (hot path: one
--     INCR, no write of the time);
--   * the counter + 1, if it is ahead of now + 1: the clock stepped back,
--     or Redlock raised the counter;
--   * else now + 1: the counter is older, missing (first use, expired,
--     lost to a restart) or not a number.
--
-- So while the clock does not step back, no token exceeds the time it was
-- issued at + 1 (hence tokens issued after a counter is lost, at the new
-- time + 1, exceed all earlier ones), and a counter left behind by a
-- failover or restart that lost its last writes is taken as is only if
-- that happened within a millisecond of the lost writes, which no failover
-- or restart does.
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local c = redis.pcall('INCR', KEYS[2])
if type(c) == 'number' and c >= now - 1000 then
  if c > now + 1 and ARGV[3] ~= '0' then
    redis.call('PEXPIRE', KEYS[2], ARGV[3])
  end
  return c
end
local tok = now + 1
if ARGV[3] == '0' then
  redis.call('SET', KEYS[2], string.format('%.0f', tok))
else
  redis.call('SET', KEYS[2], string.format('%.0f', tok), 'PX', ARGV[3])
end
return tok
