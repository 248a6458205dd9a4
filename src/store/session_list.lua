-- A user's live sessions; dead index members are pruned.
-- KEYS[1] user index key
-- ARGV[1] session key prefix
-- Returns {rec, last_seen, rec, last_seen, ...}.
local out = {}
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local v = redis.call('HMGET', ARGV[1] .. sid, 'rec', 'ls')
  if v[1] then
    out[#out + 1] = v[1]
    out[#out + 1] = v[2] or ''
  else
    redis.call('SREM', KEYS[1], sid)
  end
end
return out
