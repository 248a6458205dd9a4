-- Start a TOTP enrolment (pending, with a TTL) unless TOTP is active.
-- KEYS[1] TOTP key (hash: secret, active, step, bk:<hash> per backup code)
-- ARGV[1] secret, ARGV[2] ttl_ms
-- Returns 1 if started, 0 if TOTP is already active.
if redis.call('HGET', KEYS[1], 'active') == '1' then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'secret', ARGV[1], 'active', '0', 'step', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
