-- Deletes every key of one limited key (they share a hash slot).
return redis.call('DEL', unpack(KEYS))
