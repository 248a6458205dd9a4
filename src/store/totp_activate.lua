-- Activate a pending enrolment if its secret is still the confirmed one.
-- KEYS[1] TOTP key
-- ARGV[1] secret, ARGV[2] step used to confirm, ARGV[3..] backup code hashes
-- Returns 1 if activated, else 0. An active record has no TTL.
local v = redis.call('HMGET', KEYS[1], 'secret', 'active')
if v[1] ~= ARGV[1] or v[2] ~= '0' then
  return 0
end
redis.call('HSET', KEYS[1], 'active', '1', 'step', ARGV[2])
for i = 3, #ARGV do
  redis.call('HSET', KEYS[1], 'bk:' .. ARGV[i], '1')
end
redis.call('PERSIST', KEYS[1])
return 1
