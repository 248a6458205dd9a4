//! `SentinelDeployment`: a master, one replica or more (`--replicaof`) and three
//! `redis-server --sentinel` (quorum 2, down-after 1 s, failover-timeout
//! 3 s) on free loopback ports, each process stopped by its PID on Drop.
//! `spawn` returns once the replica is in sync and every sentinel knows the
//! replica and the two other sentinels, so a failover can start at once.
//! Every wait is bounded.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::net::free_port;
use super::redis::RedisServer;

pub const MASTER_NAME: &str = "mymaster";
const READY_DEADLINE: Duration = Duration::from_secs(30);

/// A process we started, killed on Drop.
struct Proc {
    port: u16,
    child: Option<Child>,
}

impl Proc {
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

pub struct SentinelDeployment {
    pub master: RedisServer,
    replicas: Vec<Proc>,
    sentinels: Vec<Proc>,
    _dir: tempfile::TempDir,
}

impl SentinelDeployment {
    pub fn spawn() -> SentinelDeployment {
        Self::with_replicas(1)
    }

    /// A master with `n` replicas: with two, one is left to confirm writes
    /// (`wait_replicas = 1`) after the other is promoted.
    pub fn with_replicas(n: usize) -> SentinelDeployment {
        let master = RedisServer::spawn();
        let dir = tempfile::tempdir().expect("sentinel: tempdir");
        let replicas = (0..n)
            .map(|i| spawn_replica(dir.path(), i, master.port()))
            .collect();
        let sentinels = (0..3)
            .map(|i| spawn_sentinel(dir.path(), i, master.port()))
            .collect();
        let d = SentinelDeployment {
            master,
            replicas,
            sentinels,
            _dir: dir,
        };
        d.wait_ready();
        d
    }

    /// `["127.0.0.1:P1", ...]` as a TOML list, for `[store] sentinels`.
    pub fn sentinels_toml(&self) -> String {
        let items: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| format!("\"127.0.0.1:{}\"", s.port))
            .collect();
        format!("[{}]", items.join(", "))
    }

    pub fn replica_port(&self) -> u16 {
        self.replicas[0].port
    }

    /// Freeze (SIGSTOP) or thaw (SIGCONT) the first replica: it stays
    /// connected but confirms nothing while frozen.
    pub fn freeze_replica(&self, frozen: bool) {
        let pid = self.replicas[0]
            .child
            .as_ref()
            .map(|c| c.id())
            .expect("replica running");
        let sig = if frozen { "-STOP" } else { "-CONT" };
        let ok = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {pid}");
    }

    /// Wait until every sentinel names one of the replicas as the master;
    /// its port and the time it took.
    pub fn wait_promoted(&self, within: Duration) -> (u16, Duration) {
        let start = Instant::now();
        loop {
            let named = self.named_masters();
            if let Some(Some(p)) = named.first() {
                if self.replicas.iter().any(|r| r.port == *p)
                    && named.iter().all(|n| n == &Some(*p))
                {
                    return (*p, start.elapsed());
                }
            }
            assert!(
                start.elapsed() < within,
                "no replica promoted by all sentinels after {within:?}: {named:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The master's port as each sentinel names it (None: no answer).
    pub fn named_masters(&self) -> Vec<Option<u16>> {
        self.sentinels
            .iter()
            .map(|s| {
                let reply: Vec<String> = query(
                    s.port,
                    redis::cmd("SENTINEL")
                        .arg("get-master-addr-by-name")
                        .arg(MASTER_NAME),
                )
                .ok()?;
                reply.get(1)?.parse().ok()
            })
            .collect()
    }

    /// `SENTINEL FAILOVER`: a manual failover, which (unlike a crash) waits
    /// for the replica to have the master's writes before promoting it.
    pub fn failover(&self) {
        let r: Result<String, _> = query(
            self.sentinels[0].port,
            redis::cmd("SENTINEL").arg("FAILOVER").arg(MASTER_NAME),
        );
        assert_eq!(r.as_deref().ok(), Some("OK"), "SENTINEL FAILOVER: {r:?}");
    }

    /// Wait until every sentinel names `port` as the master; the time it took.
    pub fn wait_all_name(&self, port: u16, within: Duration) -> Duration {
        let start = Instant::now();
        while !self.named_masters().iter().all(|p| *p == Some(port)) {
            assert!(
                start.elapsed() < within,
                "sentinels still name {:?}, not {port}, after {within:?}",
                self.named_masters()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        start.elapsed()
    }

    fn wait_ready(&self) {
        let start = Instant::now();
        let replica_synced = || {
            self.replicas
                .iter()
                .all(|r| info(r.port, "replication").contains("master_link_status:up"))
        };
        let sentinel_ready = |s: &Proc| {
            let replicas: Vec<redis::Value> = query(
                s.port,
                redis::cmd("SENTINEL").arg("replicas").arg(MASTER_NAME),
            )
            .unwrap_or_default();
            let peers: Vec<redis::Value> = query(
                s.port,
                redis::cmd("SENTINEL").arg("sentinels").arg(MASTER_NAME),
            )
            .unwrap_or_default();
            replicas.len() == self.replicas.len() && peers.len() == 2
        };
        while !(replica_synced() && self.sentinels.iter().all(sentinel_ready)) {
            assert!(
                start.elapsed() < READY_DEADLINE,
                "sentinel deployment not ready within {READY_DEADLINE:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn spawn_replica(dir: &Path, i: usize, master: u16) -> Proc {
    let port = free_port();
    let data = dir.join(format!("replica-{i}"));
    std::fs::create_dir_all(&data).expect("replica dir");
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .args(["--replicaof", "127.0.0.1", &master.to_string()])
        .arg("--dir")
        .arg(&data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn replica");
    let p = Proc {
        port,
        child: Some(child),
    };
    wait_ping(port, "replica");
    p
}

fn spawn_sentinel(dir: &Path, i: usize, master: u16) -> Proc {
    let port = free_port();
    let conf = dir.join(format!("sentinel-{i}.conf"));
    // Each sentinel rewrites its own file (ids, discovered peers).
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbind 127.0.0.1\ndir {dir}\n\
             sentinel monitor {MASTER_NAME} 127.0.0.1 {master} 2\n\
             sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
             sentinel failover-timeout {MASTER_NAME} 3000\n\
             sentinel parallel-syncs {MASTER_NAME} 1\n",
            dir = dir.display()
        ),
    )
    .expect("sentinel.conf");
    let child = Command::new("redis-server")
        .arg(&conf)
        .arg("--sentinel")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redis-server --sentinel");
    let p = Proc {
        port,
        child: Some(child),
    };
    wait_ping(port, "sentinel");
    p
}

fn wait_ping(port: u16, what: &str) {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !super::redis::ping(addr) {
        assert!(
            Instant::now() < deadline,
            "{what} on {port} never answered PING"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One command on a fresh connection with a 1 s bound.
fn query<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> redis::RedisResult<T> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
    let mut c = client.get_connection_with_timeout(Duration::from_secs(1))?;
    c.set_read_timeout(Some(Duration::from_secs(1)))?;
    cmd.query(&mut c)
}

/// `INFO section` of the node on `port` ("" when it does not answer).
pub fn info(port: u16, section: &str) -> String {
    query(port, redis::cmd("INFO").arg(section)).unwrap_or_default()
}

/// `KEYS pattern` on the node on `port` (empty when it does not answer).
pub fn keys(port: u16, pattern: &str) -> Vec<String> {
    query(port, redis::cmd("KEYS").arg(pattern)).unwrap_or_default()
}
