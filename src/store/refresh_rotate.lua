-- Rotate a refresh token atomically (SPEC §5). Token hash fields: sid, uid,
-- exp; once rotated also rot (unix s), nexp (successor's expires_at), sealed.
-- KEYS[1] old token key, KEYS[2] new token key
-- ARGV[1] successor expires_at, ARGV[2] successor ttl_ms, ARGV[3] sealed
-- successor, ARGV[4] now (unix s), ARGV[5] grace_ms, ARGV[6] session key
-- prefix, ARGV[7] user index key prefix
-- Returns {"invalid"} | {"rotated", sid, uid, exp} | {"grace", sid, uid, exp,
-- sealed} | {"reused", sid, uid}.
local t = redis.call('HMGET', KEYS[1], 'sid', 'uid', 'rot', 'nexp', 'sealed')
local sid, uid, rot = t[1], t[2], t[3]
if not sid or not uid then
  return {'invalid'}
end
local skey = ARGV[6] .. sid
local now = tonumber(ARGV[4])
local grace = tonumber(ARGV[5])
if rot then
  if grace > 0 and (now - tonumber(rot)) * 1000 < grace then
    if redis.call('EXISTS', skey) == 0 then
      return {'invalid'}
    end
    return {'grace', sid, uid, t[4], t[5]}
  end
  -- Reuse after the grace window: assume theft, end the family's session.
  -- The old token stays until its own expiry so later reuse is seen too.
  redis.call('DEL', skey)
  redis.call('SREM', ARGV[7] .. uid, sid)
  return {'reused', sid, uid}
end
if redis.call('EXISTS', skey) == 0 then
  -- Logged out or revoked: the family ended with its session.
  redis.call('DEL', KEYS[1])
  return {'invalid'}
end
-- Mark rotated; the key keeps its own TTL.
redis.call('HSET', KEYS[1], 'rot', ARGV[4], 'nexp', ARGV[1], 'sealed', ARGV[3])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'sid', sid, 'uid', uid, 'exp', ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return {'rotated', sid, uid, ARGV[1]}
