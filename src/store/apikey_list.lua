-- All live API keys; index entries of expired keys are pruned.
-- KEYS[1] name index
-- ARGV[1] record key prefix
-- Returns {rec, last_used, rec, last_used, ...}.
local out = {}
local flat = redis.call('HGETALL', KEYS[1])
for i = 1, #flat, 2 do
  local v = redis.call('HMGET', ARGV[1] .. flat[i + 1], 'rec', 'lu')
  if v[1] then
    out[#out + 1] = v[1]
    out[#out + 1] = v[2] or ''
  else
    redis.call('HDEL', KEYS[1], flat[i])
  end
end
return out
