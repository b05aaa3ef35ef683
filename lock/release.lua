-- Delete a lock held by ARGV[1]. Returns 1, or 0 when not held.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
