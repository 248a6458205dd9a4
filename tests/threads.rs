//! `threads = N` with `work_stealing = false`: N single-threaded services,
//! each with its own SO_REUSEPORT listener (src/server/shards.rs). Every
//! shard must behave as the whole gateway does, on plain and TLS listeners,
//! and a second gatehouse must not be able to share the port.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::gateway::BIN;
use common::{login, send, Rig, StoreKind, ALICE_PW};

/// Listening sockets on `port` (IPv4), from /proc/net/tcp.
fn listeners_on(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let local = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1].ends_with(&local) && f[3] == "0A"
        })
        .count()
}

async fn sharded() -> Rig {
    Rig::with(StoreKind::Memory, |b| {
        b.tls(true)
            .set("server", "threads", "2")
            .set("server", "work_stealing", "false")
    })
    .await
}

#[tokio::test]
async fn every_shard_serves_and_checks_like_the_whole_gateway() {
    let rig = sharded().await;
    assert_eq!(
        listeners_on(rig.gw.http_addr().port()),
        2,
        "one listener per thread"
    );
    assert_eq!(
        listeners_on(rig.gw.https_addr().port()),
        2,
        "one TLS listener per thread"
    );

    let tok = login(&rig.gw.plain_client(), &rig.base(), "alice", ALICE_PW).await;
    for base in [rig.gw.http_url(), rig.gw.https_url()] {
        // Fresh connections land on either shard: each must know the
        // session, forward the identity and refuse a request without it.
        for i in 0..24 {
            let client = rig.gw.plain_client();
            let r = send(
                client
                    .get(format!("{base}/admin/x"))
                    .bearer_auth(&tok.access_token),
            )
            .await;
            assert_eq!(r.echo().one("x-auth-user"), Some("alice"), "{base} #{i}");
            let r = send(rig.gw.plain_client().get(format!("{base}/admin/x"))).await;
            r.assert_error(401, "unauthorized");
        }
    }
    // A logout seen by one shard holds on all of them at once.
    let r = send(
        rig.gw
            .plain_client()
            .post(rig.url("/auth/logout"))
            .bearer_auth(&tok.access_token),
    )
    .await;
    assert!(
        r.status == 200 || r.status == 204,
        "logout: {} {}",
        r.status,
        r.body
    );
    for _ in 0..16 {
        let r = send(
            rig.gw
                .plain_client()
                .get(rig.url("/admin/x"))
                .bearer_auth(&tok.access_token),
        )
        .await;
        r.assert_error(401, "unauthorized");
    }
}

#[tokio::test]
async fn a_second_gatehouse_cannot_share_the_port() {
    let rig = sharded().await;
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(rig.gw.config_path())
        .current_dir(rig.gw.dir())
        .output()
        .expect("run a second gatehouse");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let addr = rig.gw.http_addr().to_string();
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
    // The first one still answers.
    let r = send(rig.gw.plain_client().get(rig.url("/healthz"))).await;
    assert_eq!(r.status, 200);
}

// SIGTERM with several services: requests in flight on every shard finish,
// new connections are refused, and the process exits 0.
#[tokio::test]
async fn sigterm_drains_every_shard() {
    let mut rig = sharded().await;
    // A client each: a connection each, spread over the shards.
    common::assert_sigterm_drains(&mut rig, 8).await;
}

// A rate limit is one budget for the whole process, whichever shard a
// connection lands on: 4 at once (limit 3 + burst 1) over 12 fresh
// connections, on the memory store.
#[tokio::test]
async fn one_rate_limit_budget_across_shards() {
    let rig = Rig::with(StoreKind::Memory, |b| {
        b.set("server", "threads", "2")
            .set("server", "work_stealing", "false")
            .routes_first(
                "[[routes]]\npath = \"/limited/**\"\nupstream = \"app\"\nauth = \"public\"\nrate_limit = \"tight\"\n\n",
            )
            .extra("[rate_limits.tight]\nkey = \"ip\"\nlimit = 3\nper = \"60s\"\nburst = 1\n")
    })
    .await;
    let mut passed = 0;
    for _ in 0..12 {
        let r = send(rig.gw.plain_client().get(rig.url("/limited/x"))).await;
        match r.status {
            200 => passed += 1,
            429 => {}
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert_eq!(passed, 4, "limit + burst for the process, not per shard");
}
