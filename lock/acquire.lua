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
-- The token is max(counter + 1, server time in microseconds): strictly
-- increasing while the counter lives, and still increasing (with the
-- server clock) if the counter, or its last increments, are lost to
-- expiry, a restart or a failover. Usually the clock is ahead, so one
-- SET ... GET both stores the time and reads the old counter; in the rare
-- other case the counter + 1 is stored instead.
local t = redis.call('TIME')
local tok = t[1] * 1000000 + t[2]
local old
if ARGV[3] == '0' then
  old = redis.call('SET', KEYS[2], string.format('%.0f', tok), 'GET')
else
  old = redis.call('SET', KEYS[2], string.format('%.0f', tok), 'PX', ARGV[3], 'GET')
end
old = tonumber(old)
if old and old >= tok then
  tok = old + 1
  if ARGV[3] == '0' then
    redis.call('SET', KEYS[2], string.format('%.0f', tok))
  else
    redis.call('SET', KEYS[2], string.format('%.0f', tok), 'PX', ARGV[3])
  end
end
return tok
