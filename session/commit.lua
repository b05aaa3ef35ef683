-- commit.lua: per-field writes to a live session; never creates the key.
-- KEYS[1]  session key
-- ARGV[1]  number of fields to set (n)
-- ARGV[2]  "1" to set the user to ARGV[3] ("" removes it), "0" to keep it
-- ARGV[3]  user
-- ARGV[4 .. 3+2n]  field name, value pairs to set
-- ARGV[4+2n ..]    field names to delete
-- Reply: {1, deadline, expires} | {0} unknown | {2, user} past a deadline | {3, hash} moved
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', KEYS[1], '_a', '_i', '_s', '_x', '_m', '_u')
if h[4] then
  return {0}
end
if h[5] then
  return {3, h[5]}
end
local abs, idle, seen = tonumber(h[1]), tonumber(h[2]), tonumber(h[3])
if not abs or not idle or not seen then
  return {0}
end
if now >= abs or now >= seen + idle then
  redis.call('DEL', KEYS[1])
  return {2, h[6] or ''}
end
-- One HSET (and at most one HDEL) per 1000 arguments: few calls, and
-- never more values than unpack can return.
local function batched(cmd, args)
  for i = 1, #args, 1000 do
    redis.call(cmd, KEYS[1], unpack(args, i, math.min(i + 999, #args)))
  end
end
local n = tonumber(ARGV[1])
local last = 3 + 2 * n
local set = {}
for i = 4, last do
  set[#set + 1] = ARGV[i]
end
set[#set + 1] = '_s'
set[#set + 1] = string.format('%.0f', now)
if ARGV[2] == '1' and ARGV[3] ~= '' then
  set[#set + 1] = '_u'
  set[#set + 1] = ARGV[3]
end
batched('HSET', set)
local del = {}
for i = last + 1, #ARGV do
  del[#del + 1] = ARGV[i]
end
if ARGV[2] == '1' and ARGV[3] == '' then
  del[#del + 1] = '_u'
end
if #del > 0 then
  batched('HDEL', del)
end
local ttl = math.min(idle, abs - now)
redis.call('PEXPIRE', KEYS[1], ttl)
return {1, abs, now + ttl}
