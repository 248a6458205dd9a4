-- End all of a user's sessions.
-- KEYS[1] user index key
-- ARGV[1] session key prefix
-- Returns how many live sessions were ended.
local n = 0
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  n = n + redis.call('DEL', ARGV[1] .. sid)
end
redis.call('DEL', KEYS[1])
return n
