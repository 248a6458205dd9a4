-- GCRA step (SPEC §8), atomic, on Redis's own clock. The same arithmetic as
-- gcra::step in integer microseconds (exact in Lua doubles below 2^53); only
-- the allow/refuse test is needed here, Rust recomputes the header numbers
-- from the state returned.
-- KEYS[1] limit key
-- ARGV[1] interval_us, ARGV[2] capacity_us
-- Returns {now_us, stored_tat_us or ""} as strings: the state the step saw.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local stored = redis.call('GET', KEYS[1])
local tat = now
if stored then
  tat = math.max(tonumber(stored), now)
end
local new_tat = tat + tonumber(ARGV[1])
if new_tat - now <= tonumber(ARGV[2]) then
  -- Kept until the budget is full again; after that it equals absence.
  local ttl_ms = math.max(1, math.ceil((new_tat - now) / 1000))
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl_ms)
end
return {string.format('%.0f', now), stored or ''}
