//! The one concurrent map gatehouse keeps in memory: entries with a
//! monotonic deadline, split over [`SHARDS`] locks by a keyed hash. The
//! memory store keeps its records in it; the verified-token cache
//! (`auth::verified`) and the Redis backend's local session cache
//! (`store::redis::cache`) are bounded ones.
//!
//! Expired entries are dropped when read, and each shard sweeps itself after
//! as many new keys as survived its last sweep, so memory tracks the live
//! set (amortised O(1)). A bounded map (`capacity`) also sweeps when a shard
//! is full, and empties it if nothing has expired: a cache may forget, a
//! store may not, so only caches set a capacity.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// Number of lock shards per map.
pub const SHARDS: usize = 16;
/// A shard never sweeps more often than once per this many inserts.
const SWEEP_MIN: usize = 64;

/// One value and the instant it expires.
#[derive(Debug)]
pub struct Entry<V> {
    pub value: V,
    pub deadline: Instant,
}

/// One lock's worth of a TTL map.
#[derive(Debug)]
pub struct Shard<K, V> {
    map: HashMap<K, Entry<V>>,
    /// Inserts of new keys since the last sweep.
    inserts: usize,
    /// Sweep again after this many new keys: the size after the last sweep.
    next_sweep: usize,
    /// Most entries kept (bounded caches); None: unbounded (the store).
    capacity: Option<usize>,
}

impl<K, V> Default for Shard<K, V> {
    fn default() -> Self {
        Shard::bounded(None)
    }
}

impl<K, V> Shard<K, V> {
    fn bounded(capacity: Option<usize>) -> Self {
        Shard {
            map: HashMap::new(),
            inserts: 0,
            next_sweep: SWEEP_MIN,
            capacity,
        }
    }
}

impl<K: Hash + Eq, V> Shard<K, V> {
    /// The live entry under `key`; an expired one is removed on the way.
    pub fn live<Q>(&mut self, key: &Q, now: Instant) -> Option<&mut Entry<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.map.get(key).is_some_and(|e| e.deadline <= now) {
            self.map.remove(key);
        }
        self.map.get_mut(key)
    }

    pub fn insert(&mut self, key: K, value: V, deadline: Instant, now: Instant) {
        if self.capacity.is_some_and(|c| self.map.len() >= c) && !self.map.contains_key(&key) {
            self.sweep(now);
            if self.capacity.is_some_and(|c| self.map.len() >= c) {
                // A crude but bounded eviction: caches only.
                self.map.clear();
            }
        }
        if self.map.insert(key, Entry { value, deadline }).is_none() {
            self.inserts += 1;
            // Sweep after as many new keys as survived the last sweep: each
            // sweep's O(len) is paid for by the inserts since the last one,
            // and a shard holds at most twice its live entries (or SWEEP_MIN).
            if self.inserts >= self.next_sweep {
                self.sweep(now);
            }
        }
    }

    /// Remove `key`, returning its value if it was live.
    pub fn remove<Q>(&mut self, key: &Q, now: Instant) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map
            .remove(key)
            .filter(|e| e.deadline > now)
            .map(|e| e.value)
    }

    /// Keep only the entries `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.map.retain(|k, e| keep(k, &e.value));
    }

    pub fn clear(&mut self) {
        self.map.clear();
    }

    fn sweep(&mut self, now: Instant) {
        self.map.retain(|_, e| e.deadline > now);
        self.inserts = 0;
        self.next_sweep = self.map.len().max(SWEEP_MIN);
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Lock a shard. No code path panics while holding these locks; if one ever
/// did, the maps are still structurally sound, so carry on rather than
/// cascade.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A TTL map split over [`SHARDS`] locks by a keyed hash of the key.
#[derive(Debug)]
pub struct TtlMap<K, V> {
    shards: [Mutex<Shard<K, V>>; SHARDS],
    hasher: RandomState,
}

impl<K, V> Default for TtlMap<K, V> {
    fn default() -> Self {
        TtlMap::with_capacity(None)
    }
}

impl<K, V> TtlMap<K, V> {
    /// At most `per_shard` entries in each shard (a cache), or unbounded.
    pub fn with_capacity(per_shard: Option<usize>) -> Self {
        TtlMap {
            shards: std::array::from_fn(|_| Mutex::new(Shard::bounded(per_shard))),
            // Keyed per process: clients pick the keys (IPs, usernames,
            // tokens), so they must not be able to aim every key at one shard.
            hasher: RandomState::new(),
        }
    }

    /// Lock the shard `key` lives in, for a compound operation on it.
    pub fn lock<Q: Hash + ?Sized>(&self, key: &Q) -> MutexGuard<'_, Shard<K, V>> {
        // The modulo keeps the index in range: this cannot panic.
        let i = (self.hasher.hash_one(key) % SHARDS as u64) as usize;
        lock(&self.shards[i])
    }

    /// Every shard in turn (invalidations that match on values).
    pub fn each_shard(&self, mut f: impl FnMut(&mut Shard<K, V>)) {
        for shard in &self.shards {
            f(&mut lock(shard));
        }
    }
}

#[cfg(test)]
mod tests;
