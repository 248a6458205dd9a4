-- Use a TOTP time step: only above the last used one, so a code works once.
-- KEYS[1] TOTP key
-- ARGV[1] step
-- Returns 1 if accepted (and recorded), else 0.
local v = redis.call('HMGET', KEYS[1], 'active', 'step')
if v[1] ~= '1' then
  return 0
end
if tonumber(ARGV[1]) <= tonumber(v[2] or '0') then
  return 0
end
redis.call('HSET', KEYS[1], 'step', ARGV[1])
return 1
