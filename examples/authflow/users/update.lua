-- KEYS[1] user hash; ARGV[1] new password hash; ARGV[2] fencing token.
-- Returns 1 if written, 0 if the token is stale, -1 if there is no user.
local fence = redis.call('HGET', KEYS[1], 'fence')
if not fence then
  return -1
end
if tonumber(ARGV[2]) <= tonumber(fence) then
  return 0
end
redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'fence', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'migrations', 1)
return 1
