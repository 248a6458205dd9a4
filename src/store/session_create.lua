-- Store a session and index it under its user, pruning dead members.
-- KEYS[1] session key, KEYS[2] user index key
-- ARGV[1] record JSON, ARGV[2] last_seen, ARGV[3] expires_at, ARGV[4] user_id,
-- ARGV[5] session ttl_ms, ARGV[6] index ttl_ms (until expires_at),
-- ARGV[7] session key prefix, ARGV[8] sid
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'ls', ARGV[2], 'exp', ARGV[3], 'uid', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('EXISTS', ARGV[7] .. sid) == 0 then
    redis.call('SREM', KEYS[2], sid)
  end
end
redis.call('SADD', KEYS[2], ARGV[8])
-- The index lives as long as the user's longest possible session.
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[6]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
end
return 1
