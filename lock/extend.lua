-- Extend a lock held by ARGV[1] to ARGV[2] ms. Returns 1, or 0 when not held.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
