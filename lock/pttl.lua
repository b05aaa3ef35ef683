-- Remaining TTL in ms of a lock held by ARGV[1], or -3 when not held.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PTTL', KEYS[1])
end
return -3
