//! The Redis store: redis-rs ConnectionManager (multiplexed, reconnecting),
//! key prefix, a TTL on every key, Lua scripts (EVALSHA) for atomic steps.
