//! The contract on a Sentinel-managed master: a `redis-server` plus one
//! `redis-server --sentinel` monitoring it, the store built from
//! `[store] sentinels`, so every contract call goes through the master the
//! sentinel names (the failover itself is tests/sentinel_failover.rs).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, raw_ping, RedisServer, TIMEOUT};
use crate::store::{LimitStore, RedisStore, Store, StoreBackend, StoreConfig};

pub(crate) struct SentinelDeployment {
    pub master: RedisServer,
    sentinel: Option<Child>,
    port: u16,
    _dir: tempfile::TempDir,
}

impl SentinelDeployment {
    pub fn spawn() -> Self {
        let master = RedisServer::spawn();
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
            sentinel: Some(child),
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !raw_ping(port) {
            assert!(Instant::now() < deadline, "sentinel did not answer PING");
            std::thread::sleep(Duration::from_millis(10));
        }
        d
    }

    /// A store on the master the sentinel names, once it has named one.
    pub async fn store(&self, prefix: &str) -> RedisStore {
        let cfg = StoreConfig {
            backend: StoreBackend::Redis,
            url: String::new(),
            key_prefix: prefix.into(),
            timeout: TIMEOUT,
            local_cache: Duration::ZERO,
            sentinels: vec![format!("127.0.0.1:{}", self.port)],
            sentinel_master: "mymaster".into(),
            username: None,
            password: None,
        };
        let s = RedisStore::from_config(&cfg).expect("sentinel store");
        let deadline = Instant::now() + Duration::from_secs(5);
        while s.ping().await.is_err() {
            assert!(Instant::now() < deadline, "no master from the sentinel");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        s
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
/// it is on that server.
#[tokio::test]
async fn sentinel_store_writes_to_the_named_master() {
    let d = SentinelDeployment::spawn();
    let s = d.store("gh:").await;
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
