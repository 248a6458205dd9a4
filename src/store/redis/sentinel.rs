//! The sentinel source (SPEC §12): the master is asked of the sentinels
//! (redis-rs `Sentinel::async_master_for`: `SENTINEL MASTERS`, then `ROLE`
//! on the named node) at start, again after any failed call (connection
//! error, timeout, `READONLY`), at once on a sentinel's `+switch-master`
//! announcement, and every second. A different answer becomes a new target;
//! the store's connections follow on their next call. redis-rs resolves
//! only when asked, so this task is what makes the gateway follow a
//! failover without restart.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use futures_util::StreamExt;
use redis::sentinel::{Sentinel, SentinelNodeConnectionInfo};
use redis::RedisConnectionInfo;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::source::{Source, Target};
use crate::store::StoreError;

/// Re-ask this often even without a failure: after a manual failover the
/// old master stays writable until it is demoted (SPEC §12), and a lost
/// `+switch-master` message must not leave us there.
const POLL: Duration = Duration::from_secs(1);
/// At most one question per this gap, however many calls fail at once.
const MIN_GAP: Duration = Duration::from_millis(100);
/// Pause before subscribing to a sentinel again.
const RESUBSCRIBE: Duration = Duration::from_millis(500);

/// What the resolver task and the store share.
struct Shared {
    current: ArcSwapOption<Target>,
    /// The current target's address, to tell a move from the same answer.
    address: std::sync::Mutex<String>,
    generation: AtomicU64,
    wake: Notify,
    /// Told whenever a target is adopted (for `target_within`).
    adopted: Notify,
}

pub struct SentinelSource {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for SentinelSource {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// How to reach the sentinels and the data nodes.
pub struct SentinelSettings<'a> {
    /// `host:port` of each sentinel.
    pub sentinels: &'a [String],
    pub master: &'a str,
    /// ACL user and password on the data nodes (not on the sentinels).
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    /// TLS to the sentinels and the data nodes.
    pub tls: bool,
    /// Bound on one round of questions.
    pub timeout: Duration,
}

impl SentinelSource {
    /// Start asking. No I/O before returning (the gateway starts while the
    /// sentinels are down); must run inside a Tokio runtime.
    pub fn start(settings: &SentinelSettings<'_>) -> Result<Arc<Self>, StoreError> {
        let urls: Vec<String> = settings
            .sentinels
            .iter()
            .map(|a| format!("{}://{a}/", if settings.tls { "rediss" } else { "redis" }))
            .collect();
        if urls.is_empty() {
            return Err(StoreError::Unavailable("no sentinels configured".into()));
        }
        let sentinel = Sentinel::build(urls.clone())
            .map_err(|e| StoreError::Unavailable(format!("sentinels: {:?}", e.kind())))?;
        let mut node = RedisConnectionInfo::default();
        if let Some(u) = settings.username {
            node = node.set_username(u);
        }
        if let Some(p) = settings.password {
            node = node.set_password(p);
        }
        let mut node = SentinelNodeConnectionInfo::default().set_redis_connection_info(node);
        if settings.tls {
            node = node.set_tls_mode(redis::TlsMode::Secure);
        }
        let shared = Arc::new(Shared {
            current: ArcSwapOption::empty(),
            address: std::sync::Mutex::new(String::new()),
            generation: AtomicU64::new(0),
            wake: Notify::new(),
            adopted: Notify::new(),
        });
        let mut tasks = vec![tokio::spawn(resolve_forever(
            sentinel,
            settings.master.to_string(),
            node,
            settings.timeout,
            shared.clone(),
        ))];
        for url in urls {
            tasks.push(tokio::spawn(watch_switch_master(url, shared.clone())));
        }
        Ok(Arc::new(SentinelSource { shared, tasks }))
    }
}

#[async_trait]
impl Source for SentinelSource {
    fn target(&self) -> Option<Arc<Target>> {
        self.shared.current.load_full()
    }
    async fn target_within(&self, within: Duration) -> Option<Arc<Target>> {
        let adopted = self.shared.adopted.notified();
        tokio::pin!(adopted);
        // Registered before the check, so an adoption in between is not missed.
        adopted.as_mut().enable();
        if let Some(t) = self.target() {
            return Some(t);
        }
        self.shared.wake.notify_one();
        let _ = tokio::time::timeout(within, adopted).await;
        self.target()
    }
    fn failed(&self, generation: u64) {
        // A failure on a target we already left says nothing new.
        if generation >= self.shared.generation.load(Ordering::Acquire) {
            self.shared.wake.notify_one();
        }
    }
}

/// The resolver: one question at a time, on a wake-up or every `POLL`.
async fn resolve_forever(
    mut sentinel: Sentinel,
    master: String,
    node: SentinelNodeConnectionInfo,
    timeout: Duration,
    shared: Arc<Shared>,
) {
    loop {
        let asked = tokio::time::timeout(timeout, sentinel.async_master_for(&master, Some(&node)));
        match asked.await {
            Ok(Ok(client)) => adopt(&shared, client),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, master = %master, "sentinels name no usable master")
            }
            Err(_) => tracing::warn!(master = %master, "sentinels did not answer in time"),
        }
        tokio::time::sleep(MIN_GAP).await;
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Make `client` the target unless it is the one we already have. An
/// unanswered question keeps the old target: its calls fail (503) until
/// the sentinels name a master again.
fn adopt(shared: &Shared, client: redis::Client) {
    let address = client.get_connection_info().addr().to_string();
    let mut current = shared
        .address
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if *current == address {
        return;
    }
    let generation = shared.generation.fetch_add(1, Ordering::AcqRel) + 1;
    tracing::info!(master = %address, generation, "redis master (from the sentinels)");
    shared
        .current
        .store(Some(Arc::new(Target { generation, client })));
    *current = address;
    shared.adopted.notify_waiters();
}

/// Ask again as soon as a sentinel announces `+switch-master`.
async fn watch_switch_master(url: String, shared: Arc<Shared>) {
    loop {
        if let Ok(client) = redis::Client::open(url.as_str()) {
            if let Ok(mut pubsub) = client.get_async_pubsub().await {
                if pubsub.subscribe("+switch-master").await.is_ok() {
                    let mut messages = pubsub.on_message();
                    while messages.next().await.is_some() {
                        shared.wake.notify_one();
                    }
                }
            }
        }
        tokio::time::sleep(RESUBSCRIBE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Shared {
        Shared {
            current: ArcSwapOption::empty(),
            address: std::sync::Mutex::new(String::new()),
            generation: AtomicU64::new(0),
            wake: Notify::new(),
            adopted: Notify::new(),
        }
    }

    fn client(port: u16) -> redis::Client {
        redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client")
    }

    #[test]
    fn only_a_different_master_is_a_new_generation() {
        let s = shared();
        adopt(&s, client(7000));
        let first = s.current.load_full().map(|t| t.generation);
        adopt(&s, client(7000));
        assert_eq!(s.current.load_full().map(|t| t.generation), first);
        adopt(&s, client(7001));
        let second = s.current.load_full().expect("target");
        assert_eq!(Some(second.generation), first.map(|g| g + 1));
        assert!(second
            .client
            .get_connection_info()
            .addr()
            .to_string()
            .ends_with("7001"));
    }

    #[tokio::test]
    async fn failures_on_a_former_master_do_not_wake_the_resolver() {
        let source = SentinelSource {
            shared: Arc::new(shared()),
            tasks: Vec::new(),
        };
        adopt(&source.shared, client(7000));
        adopt(&source.shared, client(7001));
        source.failed(1);
        let woke = tokio::time::timeout(Duration::from_millis(50), source.shared.wake.notified());
        assert!(woke.await.is_err(), "a stale failure woke the resolver");
        source.failed(2);
        let woke = tokio::time::timeout(Duration::from_millis(50), source.shared.wake.notified());
        assert!(woke.await.is_ok(), "a current failure did not wake it");
    }
}
