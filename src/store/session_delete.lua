-- End one session and drop it from its user's index.
-- KEYS[1] session key
-- ARGV[1] user index key prefix, ARGV[2] sid
-- Returns 1 if it existed, else 0.
local uid = redis.call('HGET', KEYS[1], 'uid')
if not uid then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('SREM', ARGV[1] .. uid, ARGV[2])
return 1
