//! The contract on a Sentinel-managed master and replica: two
//! `redis-server`s plus one `redis-server --sentinel` monitoring them, the
//! store built from
//! `[store] sentinels`, so every contract call goes through the master the
//! sentinel names (the failover itself is tests/sentinel_failover.rs).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, raw_ping, RedisServer, TIMEOUT};
use crate::store::{LimitStore, RedisStore, Store, StoreBackend, StoreConfig};

pub(crate) struct SentinelDeployment {
    pub master: RedisServer,
    /// Confirms writes when the contract runs with `wait_replicas = 1`.
    _replica: RedisServer,
    sentinel: Option<Child>,
    port: u16,
    _dir: tempfile::TempDir,
}

impl SentinelDeployment {
    pub fn spawn() -> Self {
        let master = RedisServer::spawn();
        let replica = RedisServer::spawn_replica_of(master.port);
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor mymaster 127.0.0.1 {} 1\n",
                dir.path().display(),
                master.port
            ),
        )
        .expect("sentinel.conf");
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server --sentinel");
        let d = SentinelDeployment {
            master,
            _replica: replica,
            sentinel: Some(child),
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !raw_ping(port) {
            assert!(Instant::now() < deadline, "sentinel did not answer PING");
            std::thread::sleep(Duration::from_millis(10));
        }
        let info = || -> Option<String> {
            let c = redis::Client::open(d._replica.url()).ok()?;
            let mut c = c.get_connection_with_timeout(Duration::from_secs(1)).ok()?;
            redis::cmd("INFO").arg("replication").query(&mut c).ok()
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !info().is_some_and(|i| i.contains("master_link_status:up")) {
            assert!(Instant::now() < deadline, "replica never in sync");
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    /// A store on the master the sentinel names, once it has named one.
    pub async fn store(&self, prefix: &str) -> RedisStore {
        let s = self.store_now(prefix);
        let deadline = Instant::now() + Duration::from_secs(5);
        while s.ping().await.is_err() {
            assert!(Instant::now() < deadline, "no master from the sentinel");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        s
    }

    /// A store just built: the sentinel has not been asked yet.
    pub fn store_now(&self, prefix: &str) -> RedisStore {
        RedisStore::from_config(&self.config(prefix)).expect("sentinel store")
    }

    fn config(&self, prefix: &str) -> StoreConfig {
        StoreConfig {
            backend: StoreBackend::Redis,
            url: String::new(),
            key_prefix: prefix.into(),
            timeout: TIMEOUT,
            local_cache: Duration::ZERO,
            sentinels: vec![format!("127.0.0.1:{}", self.port)],
            sentinel_master: "mymaster".into(),
            cluster: Vec::new(),
            tls: false,
            ca_pem: None,
            wait_replicas: 0,
            username: None,
            password: None,
        }
    }
}

impl Drop for SentinelDeployment {
    fn drop(&mut self) {
        if let Some(mut c) = self.sentinel.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The store really talks to the monitored master: a key written through
/// it is on that server. The first call right after construction succeeds
/// (it waits for the sentinel's first answer, as `gatehouse user lock` needs).
#[tokio::test]
async fn sentinel_store_writes_to_the_named_master() {
    let d = SentinelDeployment::spawn();
    let s = d.store_now("gh:");
    s.record_login_failure("probe", Duration::from_secs(60))
        .await
        .expect("write");
    let direct = redis::Client::open(d.master.url()).expect("client");
    let mut c = direct
        .get_multiplexed_async_connection()
        .await
        .expect("master");
    let n: Option<u32> = redis::cmd("GET")
        .arg("gh:lf:probe")
        .query_async(&mut c)
        .await
        .expect("GET");
    assert_eq!(n, Some(1));
}

/// `password_env` / `username` reach the data node: a master with a
/// password (and a sentinel given it) is usable with the password and
/// refused without it, through the sentinel and through `url`.
#[tokio::test]
async fn sentinel_store_authenticates_to_the_master() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut master = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .args(["--requirepass", "pw-7a2e"])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redis-server");
    let sport = free_port();
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port {sport}\nbind 127.0.0.1\ndir {}\n\
             sentinel monitor mymaster 127.0.0.1 {port} 1\n\
             sentinel auth-pass mymaster pw-7a2e\n",
            dir.path().display()
        ),
    )
    .expect("sentinel.conf");
    let mut sentinel = Command::new("redis-server")
        .arg(&conf)
        .arg("--sentinel")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sentinel");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !raw_ping(sport) {
        assert!(Instant::now() < deadline, "sentinel did not answer PING");
        std::thread::sleep(Duration::from_millis(10));
    }
    let cfg = |password: Option<&str>| StoreConfig {
        backend: StoreBackend::Redis,
        url: String::new(),
        key_prefix: "gh:".into(),
        timeout: TIMEOUT,
        local_cache: Duration::ZERO,
        sentinels: vec![format!("127.0.0.1:{sport}")],
        sentinel_master: "mymaster".into(),
        cluster: Vec::new(),
        tls: false,
        ca_pem: None,
        wait_replicas: 0,
        username: Some("default".into()),
        password: password.map(|p| crate::store::RedisPassword(p.into())),
    };
    let with = RedisStore::from_config(&cfg(Some("pw-7a2e"))).expect("store");
    let without = RedisStore::from_config(&cfg(None)).expect("store");
    let deadline = Instant::now() + Duration::from_secs(5);
    while with.ping().await.is_err() {
        assert!(Instant::now() < deadline, "no master with the password");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        without.ping().await.is_err(),
        "a password-less store got in"
    );
    // With `url`, the same keys override the URL's (none here).
    let one_node = |password: Option<&str>| StoreConfig {
        url: format!("redis://127.0.0.1:{port}/"),
        sentinels: Vec::new(),
        ..cfg(password)
    };
    let with = RedisStore::from_config(&one_node(Some("pw-7a2e"))).expect("store");
    assert!(with.ping().await.is_ok(), "url + password_env");
    let without = RedisStore::from_config(&one_node(None)).expect("store");
    assert!(
        without.ping().await.is_err(),
        "url without the password got in"
    );
    for c in [&mut master, &mut sentinel] {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// `wait_replicas = 1` on the master and its replica: the contract's
/// sessions, API keys and locks all pass with every change confirmed by the
/// replica (a generous bound: WAIT answers once the replica acknowledges,
/// which on a loaded 2-core machine can take a while).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_holds_with_every_change_confirmed_by_the_replica() {
    let d = SentinelDeployment::spawn();
    let cfg = StoreConfig {
        wait_replicas: 1,
        timeout: Duration::from_secs(5),
        ..d.config("gh:")
    };
    let store = || async {
        let s = RedisStore::from_config(&cfg).expect("store");
        let deadline = Instant::now() + Duration::from_secs(10);
        while s.ping().await.is_err() {
            assert!(Instant::now() < deadline, "no master from the sentinel");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        std::sync::Arc::new(s)
    };
    super::sessions_crud(store().await).await;
    super::api_keys(store().await).await;
    super::user_locks(store().await).await;
}
