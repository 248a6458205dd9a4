-- One sign-in attempt into a user's history (SPEC §14): newest first, at
-- most ARGV[2] kept, the list living ARGV[3] ms after its latest entry.
-- KEYS[1] = the user's history list; ARGV[1] = the event (JSON).
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
