//! Where the Redis store's connections go: a fixed URL, or (SPEC §12) the
//! master the sentinels name. The store asks its source for the current
//! target on every call and reports failed calls back, so a source that can
//! move re-resolves and the store then swaps its connections; the store
//! logic itself never knows which kind of source it has.

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
