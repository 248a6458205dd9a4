//! Opt-in local cache of positive session lookups for the Redis store
//! (`[store] local_cache`), kept honest by invalidation over Redis pub/sub.
//!
//! Every path that ends sessions publishes `s:<sid>` or `u:<user id>` on
//! `<prefix>revoked`; every gateway subscribes and evicts. So a logout or
//! revocation reaches other gateways within the pub/sub delivery time, and
//! the entry lifetime (`local_cache`, at most 5 s) bounds the damage of a
//! lost message. The cache is used only while the subscription is up; an
//! epoch counter keeps a lookup that raced an invalidation out of the cache.
//! Absolute expiry is checked on every hit; idle expiry cannot pass within
//! the entry lifetime, since every hit comes from a touch less than that ago.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::source::Source;
use crate::store::ttl_map::TtlMap;
use crate::store::SessionRecord;

/// Sessions per shard at most (16 shards).
const SHARD_CAPACITY: usize = 8192;

pub struct SessionCache {
    ttl: Duration,
    /// Each entry lives `ttl` from the lookup that cached it.
    map: TtlMap<String, SessionRecord>,
    /// Bumped by every invalidation.
    epoch: AtomicU64,
    /// Whether the invalidation subscription is up.
    live: AtomicBool,
}

impl SessionCache {
    pub fn new(ttl: Duration) -> Arc<Self> {
        Arc::new(SessionCache {
            ttl,
            map: TtlMap::with_capacity(Some(SHARD_CAPACITY)),
            epoch: AtomicU64::new(0),
            live: AtomicBool::new(false),
        })
    }

    /// A fresh cached session, if the subscription is up.
    pub fn get(&self, sid: &str, now: i64) -> Option<SessionRecord> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        let mut shard = self.map.lock(sid);
        let rec = &shard.live(sid, Instant::now())?.value;
        (rec.expires_at > now).then(|| rec.clone())
    }

    /// The epoch to pass to `insert` for a lookup starting now.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Cache a record fetched since `epoch`, unless an invalidation came in between.
    pub fn insert(&self, epoch: u64, rec: &SessionRecord) {
        if !self.live.load(Ordering::Acquire) || self.epoch() != epoch {
            return;
        }
        let now = Instant::now();
        self.map
            .lock(rec.sid.as_str())
            .insert(rec.sid.clone(), rec.clone(), now + self.ttl, now);
    }

    /// Apply one invalidation message (`s:<sid>` or `u:<user id>`).
    pub fn invalidate(&self, message: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Some(sid) = message.strip_prefix("s:") {
            self.map.lock(sid).remove(sid, Instant::now());
        } else if let Some(uid) = message.strip_prefix("u:") {
            self.map
                .each_shard(|s| s.retain(|_, rec| rec.user_id != uid));
        } else {
            self.clear();
        }
    }

    fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.map.each_shard(|s| s.clear());
    }

    fn set_live(&self, live: bool) {
        // Whatever happened while not subscribed is unknown: start empty.
        self.clear();
        self.live.store(live, Ordering::Release);
    }
}

/// Keep a subscription to `channel` and feed it to `cache`, reconnecting
/// forever (to the source's current target); the cache is off whenever the
/// subscription is down.
pub async fn subscribe_forever(source: Arc<dyn Source>, channel: String, cache: Arc<SessionCache>) {
    loop {
        let Some(target) = source.target() else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        match target.client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if pubsub.subscribe(&channel).await.is_ok() {
                    cache.set_live(true);
                    let mut messages = pubsub.on_message();
                    while let Some(msg) = messages.next().await {
                        match msg.get_payload::<String>() {
                            Ok(text) => cache.invalidate(&text),
                            Err(_) => cache.invalidate(""),
                        }
                    }
                }
                cache.set_live(false);
            }
            Err(e) => {
                tracing::debug!(error = %e, "session cache: cannot subscribe for invalidations")
            }
        }
        // The node went away or never answered: a source that can move
        // (sentinels, cluster seeds) offers another next time.
        source.failed(target.generation);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(sid: &str, uid: &str, expires_at: i64) -> SessionRecord {
        SessionRecord {
            sid: sid.into(),
            user_id: uid.into(),
            username: uid.into(),
            email: String::new(),
            roles: vec![],
            created: 0,
            last_seen: 0,
            expires_at,
            ip: String::new(),
            user_agent: String::new(),
        }
    }

    #[test]
    fn only_while_subscribed_and_only_until_invalidated() {
        let c = SessionCache::new(Duration::from_secs(5));
        let e = c.epoch();
        c.insert(e, &rec("s1", "u1", 100));
        assert!(c.get("s1", 10).is_none(), "not cached while not subscribed");
        c.set_live(true);
        let e = c.epoch();
        c.insert(e, &rec("s1", "u1", 100));
        c.insert(e, &rec("s2", "u1", 100));
        c.insert(e, &rec("s3", "u2", 100));
        assert!(c.get("s1", 10).is_some());
        assert!(
            c.get("s1", 100).is_none(),
            "absolute expiry is checked on every hit"
        );
        c.invalidate("s:s1");
        assert!(c.get("s1", 10).is_none());
        assert!(c.get("s2", 10).is_some());
        c.invalidate("u:u1");
        assert!(c.get("s2", 10).is_none());
        assert!(c.get("s3", 10).is_some());
        c.set_live(false);
        assert!(c.get("s3", 10).is_none(), "off when the subscription drops");
    }

    #[test]
    fn a_lookup_that_raced_an_invalidation_is_not_cached() {
        let c = SessionCache::new(Duration::from_secs(5));
        c.set_live(true);
        let before = c.epoch();
        c.invalidate("s:s1");
        c.insert(before, &rec("s1", "u1", 100));
        assert!(c.get("s1", 10).is_none());
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let c = SessionCache::new(Duration::from_millis(20));
        c.set_live(true);
        c.insert(c.epoch(), &rec("s1", "u1", 100));
        assert!(c.get("s1", 10).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(c.get("s1", 10).is_none());
    }
}
