-- Look a session up and slide it, in one step: TTL = min(idle, expires_at - now),
-- last_seen = now. A session past its absolute timeout is deleted.
-- KEYS[1] session key
-- ARGV[1] now (unix s), ARGV[2] idle_ms
-- Returns the record JSON, or nil.
local v = redis.call('HMGET', KEYS[1], 'rec', 'exp')
if not v[1] then
  return false
end
local ttl = math.min(tonumber(ARGV[2]), (tonumber(v[2]) - tonumber(ARGV[1])) * 1000)
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
  return false
end
redis.call('HSET', KEYS[1], 'ls', ARGV[1])
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl))
return v[1]
