-- KEYS[1] user hash; ARGV[1] password hash. Returns 1 if created, 0 if it existed.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'fence', 0, 'migrations', 0)
return 1
