-- load.lua: read a session, enforcing both deadlines with the server clock.
-- KEYS[1]  session key
-- ARGV[1]  touch interval (ms): the idle deadline is pushed back only when
--          the last touch is at least this old
-- Reply: {1, deadline, expires, touched, {field, value, ...}}
--      | {0} unknown | {2, user} past a deadline (deleted) | {3, hash} moved by a rotation
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HGETALL', KEYS[1])
if #v == 0 then
  return {0}
end
local m = {}
for i = 1, #v, 2 do
  m[v[i]] = v[i + 1]
end
if m['_x'] then
  return {0}
end
if m['_m'] then
  return {3, m['_m']}
end
local abs, idle, seen = tonumber(m['_a']), tonumber(m['_i']), tonumber(m['_s'])
if not abs or not idle or not seen then
  return {0}
end
if now >= abs or now >= seen + idle then
  redis.call('DEL', KEYS[1])
  return {2, m['_u'] or ''}
end
local touched = 0
if now - seen >= tonumber(ARGV[1]) then
  seen = now
  redis.call('HSET', KEYS[1], '_s', string.format('%.0f', now))
  redis.call('PEXPIRE', KEYS[1], math.min(idle, abs - now))
  touched = 1
end
return {1, abs, math.min(abs, seen + idle), touched, v}
