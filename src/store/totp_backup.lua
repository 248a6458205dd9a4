-- Use a backup code of active TOTP: HDEL makes each usable once.
-- KEYS[1] TOTP key
-- ARGV[1] code hash
-- Returns 1 if the code was unused, else 0.
if redis.call('HGET', KEYS[1], 'active') ~= '1' then
  return 0
end
return redis.call('HDEL', KEYS[1], 'bk:' .. ARGV[1])
