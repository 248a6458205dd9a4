//! A real Redis Cluster for tests: `n` `redis-server --cluster-enabled yes`
//! masters on free loopback ports, joined by `redis-cli --cluster create`,
//! each killed by its PID on drop. Only std and tempfile, so the store's
//! contract tests and the end-to-end tests (tests/common/cluster.rs, which
//! includes this file) share it.

// Shared by two crates (the lib tests and tests/), each using a part.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Bound on the cluster forming, and on any one node starting.
const READY: Duration = Duration::from_secs(20);

struct Node {
    port: u16,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

pub struct ClusterNodes {
    nodes: Vec<Node>,
    /// `requirepass` (and `masterauth`) of every node, if any.
    password: Option<String>,
}

/// A free port whose cluster bus port (+10000) is free too.
fn free_cluster_port() -> u16 {
    for _ in 0..200 {
        let Ok(l) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(port) = l.local_addr().map(|a| a.port()) else {
            continue;
        };
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair for a cluster node");
}

/// `redis-cli` with `args` (and the nodes' password).
fn cli(password: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new("redis-cli");
    if let Some(p) = password {
        cmd.args(["--no-auth-warning", "-a", p]);
    }
    cmd.args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run redis-cli")
}

impl ClusterNodes {
    /// `n` (>= 3) masters, all slots assigned, state ok on every node.
    pub fn spawn(n: usize) -> Self {
        Self::spawn_with(n, None)
    }

    /// As `spawn`, every node requiring `password` (ACL user `default`).
    pub fn spawn_with(n: usize, password: Option<&str>) -> Self {
        let mut nodes = Vec::new();
        for _ in 0..n {
            nodes.push(start_node(password));
        }
        let cluster = ClusterNodes {
            nodes,
            password: password.map(str::to_string),
        };
        let addrs: Vec<String> = cluster.seeds();
        let mut args: Vec<&str> = vec!["--cluster", "create"];
        args.extend(addrs.iter().map(String::as_str));
        args.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        let out = cli(password, &args);
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        cluster.wait_ok();
        cluster
    }

    /// `127.0.0.1:PORT` of every node (the `[store] cluster` seeds).
    pub fn seeds(&self) -> Vec<String> {
        self.ports()
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect()
    }

    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// `redis-cli -p PORT args...`, its output as text.
    pub fn ask(&self, port: u16, args: &[&str]) -> String {
        let p = port.to_string();
        let mut all = vec!["-p", p.as_str()];
        all.extend_from_slice(args);
        String::from_utf8_lossy(&cli(self.password.as_deref(), &all).stdout)
            .trim()
            .to_string()
    }

    /// The node id of the node on `port`.
    pub fn node_id(&self, port: u16) -> String {
        self.ask(port, &["CLUSTER", "MYID"])
    }

    /// How many slots the node on `port` owns (its `CLUSTER NODES` line).
    pub fn owned_slots(&self, port: u16) -> u32 {
        let nodes = self.ask(port, &["CLUSTER", "NODES"]);
        let Some(me) = nodes.lines().find(|l| l.contains("myself")) else {
            return 0;
        };
        me.split_whitespace()
            .skip(8)
            .filter(|r| !r.starts_with('['))
            .map(|r| match r.split_once('-') {
                Some((a, b)) => b.parse::<u32>().unwrap_or(0) + 1 - a.parse::<u32>().unwrap_or(0),
                None => 1,
            })
            .sum()
    }

    /// The port of the master holding a key that matches `pattern` (SCAN
    /// on each master: a key lives on exactly one).
    pub fn holder(&self, pattern: &str) -> Option<u16> {
        self.ports().into_iter().find(|&p| {
            self.ask(p, &["ROLE"]).starts_with("master")
                && !self.ask(p, &["--scan", "--pattern", pattern]).is_empty()
        })
    }

    /// Move `slots` slots from the node on `from` to the node on `to` with
    /// `redis-cli --cluster reshard` (keys migrate with them).
    pub fn reshard(&self, from: u16, to: u16, slots: u32) -> Output {
        let entry = format!("127.0.0.1:{from}");
        let (from_id, to_id) = (self.node_id(from), self.node_id(to));
        let slots = slots.to_string();
        cli(
            self.password.as_deref(),
            &[
                "--cluster",
                "reshard",
                &entry,
                "--cluster-from",
                &from_id,
                "--cluster-to",
                &to_id,
                "--cluster-slots",
                &slots,
                "--cluster-yes",
            ],
        )
    }

    /// Until every node says `cluster_state:ok` (bounded).
    pub fn wait_ok(&self) {
        let deadline = Instant::now() + READY;
        for n in &self.nodes {
            while !self
                .ask(n.port, &["CLUSTER", "INFO"])
                .contains("cluster_state:ok")
            {
                assert!(
                    Instant::now() < deadline,
                    "cluster state not ok in {READY:?}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn start_node(password: Option<&str>) -> Node {
    let port = free_cluster_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let auth: Vec<&str> = password
        .map(|p| vec!["--requirepass", p, "--masterauth", p])
        .unwrap_or_default();
    let child = Command::new("redis-server")
        .args(&auth)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
        // A master emptied by a reshard stays a master (Redis 7 would make
        // it a replica of the node that took its slots).
        .args(["--cluster-allow-replica-migration", "no"])
        .args(["--cluster-config-file", "nodes.conf"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redis-server (cluster node)");
    let node = Node {
        port,
        child: Some(child),
        _dir: dir,
    };
    let deadline = Instant::now() + READY;
    while cli(password, &["-p", &port.to_string(), "PING"]).stdout != b"PONG\n" {
        assert!(
            Instant::now() < deadline,
            "cluster node {port} did not answer PING"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    node
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
