-- Look an API key up and record its use, in one step. last_used ('lu') is
-- written only when unset or at least touch_every old: a busy key costs a
-- read per request, not a write.
-- KEYS[1] record key
-- ARGV[1] now (unix s), ARGV[2] touch_every (s)
-- Returns {record JSON, last_used or ''}, or nil.
local v = redis.call('HMGET', KEYS[1], 'rec', 'lu')
if not v[1] then
  return false
end
if not v[2] or tonumber(ARGV[1]) - tonumber(v[2]) >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'lu', ARGV[1])
  return {v[1], ARGV[1]}
end
return {v[1], v[2]}
