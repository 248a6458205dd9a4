//! Where the Redis store's connections go: a fixed URL, or (SPEC §12) the
//! master the sentinels name. The store asks its source for the current
//! target on every call and reports failed calls back, so a source that can
//! move re-resolves and the store then swaps its connections; the store
//! logic itself never knows which kind of source it has.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

/// One place to connect to. `generation` changes whenever the source moves,
/// so per-thread connections made for an older target are dropped.
pub struct Target {
    pub generation: u64,
    pub client: redis::Client,
}

#[async_trait]
pub trait Source: Send + Sync {
    /// The current target; None while none is known (calls fail: 503).
    fn target(&self) -> Option<Arc<Target>>;
    /// The current target, waiting up to `within` for a first one (a store
    /// used right after start, as the admin commands do, must not fail
    /// only because the sentinels have not answered yet).
    async fn target_within(&self, _within: Duration) -> Option<Arc<Target>> {
        self.target()
    }
    /// A call on `generation` failed in a way a moved master explains
    /// (connection error, timeout, `READONLY`): a moving source asks again.
    fn failed(&self, generation: u64);
}

/// `[store] url`: one node, forever.
pub struct Fixed(Arc<Target>);

impl Fixed {
    pub fn new(client: redis::Client) -> Self {
        Fixed(Arc::new(Target {
            generation: 0,
            client,
        }))
    }
}

#[async_trait]
impl Source for Fixed {
    fn target(&self) -> Option<Arc<Target>> {
        Some(self.0.clone())
    }
    fn failed(&self, _generation: u64) {
        // Nothing to re-ask: the ConnectionManager reconnects to the same URL.
    }
}

/// A Redis Cluster's seed nodes, for what needs one plain node connection
/// (the `local_cache` invalidation subscriber: a cluster passes `PUBLISH`
/// to every node). A failure moves on to the next seed.
pub struct Seeds {
    clients: Vec<redis::Client>,
    generation: AtomicU64,
}

impl Seeds {
    /// `clients` must not be empty.
    pub fn new(clients: Vec<redis::Client>) -> Self {
        Seeds {
            clients,
            generation: AtomicU64::new(0),
        }
    }
}

#[async_trait]
impl Source for Seeds {
    fn target(&self) -> Option<Arc<Target>> {
        let generation = self.generation.load(Ordering::Acquire);
        let n = self.clients.len() as u64;
        let client = self.clients.get((generation % n.max(1)) as usize)?.clone();
        Some(Arc::new(Target { generation, client }))
    }
    fn failed(&self, generation: u64) {
        let _ = self.generation.compare_exchange(
            generation,
            generation + 1,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_move_on_once_per_failure_of_the_current_one() {
        let c = |p: u16| redis::Client::open(format!("redis://127.0.0.1:{p}/")).expect("client");
        let s = Seeds::new(vec![c(7000), c(7001)]);
        let port = |t: Option<Arc<Target>>| {
            t.map(|t| t.client.get_connection_info().addr().to_string())
                .unwrap_or_default()
        };
        assert!(port(s.target()).ends_with("7000"));
        s.failed(0);
        s.failed(0); // the same failure seen twice moves once
        assert!(port(s.target()).ends_with("7001"));
        s.failed(1);
        assert!(port(s.target()).ends_with("7000"));
    }
}
