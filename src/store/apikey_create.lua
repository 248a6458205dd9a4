-- Store a new API key unless a live key already has its name.
-- KEYS[1] name index (hash name -> key hash), KEYS[2] record key
-- ARGV[1] name, ARGV[2] key hash, ARGV[3] record JSON, ARGV[4] ttl_ms (0:
-- none, the key lives until revoked), ARGV[5] record key prefix
-- Returns 1 if stored, 0 if the name is taken.
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and redis.call('EXISTS', ARGV[5] .. old) == 1 then
  return 0
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'rec', ARGV[3])
if tonumber(ARGV[4]) > 0 then
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
