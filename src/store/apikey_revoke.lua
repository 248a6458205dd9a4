-- Revoke an API key by name.
-- KEYS[1] name index
-- ARGV[1] name, ARGV[2] record key prefix
-- Returns 1 if a live key was revoked, else 0.
local h = redis.call('HGET', KEYS[1], ARGV[1])
if not h then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
return redis.call('DEL', ARGV[2] .. h)
