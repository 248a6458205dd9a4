-- Lock a user out and end all their sessions, in one step: no session of
-- theirs outlives the lock.
-- KEYS[1] lock key, KEYS[2] user index key
-- ARGV[1] session key prefix
-- Returns how many live sessions were ended.
redis.call('SET', KEYS[1], '1')
local n = 0
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  n = n + redis.call('DEL', ARGV[1] .. sid)
end
redis.call('DEL', KEYS[2])
return n
