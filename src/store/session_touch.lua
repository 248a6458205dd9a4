-- Look a session up and slide it, in one step: TTL = min(idle, expires_at - now),
-- last_seen = now. A session past its absolute timeout is deleted.
-- KEYS[1] session key
-- ARGV[1] now (unix s), ARGV[2] idle_ms
-- Returns the record JSON, or nil.
local v = redis.call('HMGET', KEYS[1], 'rec', 'exp', 'ls')
if not v[1] then
  return false
end
local ttl = math.min(tonumber(ARGV[2]), (tonumber(v[2]) - tonumber(ARGV[1])) * 1000)
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
  return false
end
-- last_seen has one-second resolution: write it only when it changes.
if v[3] ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'ls', ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl))
return v[1]
