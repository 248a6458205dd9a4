//! End-to-end harness (STYLE §6): real redis-server, a real echo upstream
//! and the real `gatehouse` binary, each on ephemeral loopback ports, each
//! owned by the test that started it and stopped on Drop. Tests poll to a
//! deadline; nothing sleeps for a fixed time.
//!
//! Every integration test file does `mod common;` and uses a subset of this.

// Each tests/*.rs is its own crate and uses a different part of the harness.
#![allow(dead_code, unused_imports)]

pub mod browser;
pub mod bulk;
pub mod cluster;
pub mod conn;
pub mod echo;
pub mod echo_server;
pub mod fauth;
pub mod front;
pub mod gateway;
pub mod grpc;
pub mod h2client;
pub mod h2raw;
pub mod http;
pub mod idp;
pub mod jwt;
pub mod net;
pub mod raw;
pub mod redis;
pub mod sentinel;
pub mod snippet;
pub mod tls;
pub mod users;

pub use browser::Browser;
pub use echo::EchoUpstream;
pub use gateway::{Gateway, GatewayBuilder, StoreKind, AUDIENCE, ISSUER};
pub use http::{login, login_form, login_json, send, Echo, Login, Reply, COOKIE, REFRESH_COOKIE};
pub use redis::RedisServer;
pub use tls::TestCa;
pub use users::{TestUser, ALICE_PW, BOB_PW, CAROL_PW, DAVE_PW, ERIN_PW};

/// A gateway in front of an echo upstream, on the chosen store. Fields drop
/// in order: gateway first, then upstream, then redis.
pub struct Rig {
    pub gw: Gateway,
    pub echo: EchoUpstream,
    pub redis: Option<RedisServer>,
}

impl Rig {
    /// Default policy and users on `store`.
    pub async fn start(store: StoreKind) -> Rig {
        Rig::with(store, |b| b).await
    }

    /// Like `start`, with the builder adjusted by `f`.
    pub async fn with(store: StoreKind, f: impl FnOnce(GatewayBuilder) -> GatewayBuilder) -> Rig {
        let echo = EchoUpstream::spawn();
        let redis = (store == StoreKind::Redis).then(RedisServer::spawn);
        let mut b = Gateway::builder().upstream(&echo);
        b = match &redis {
            Some(r) => b.redis(r),
            None => b.memory(),
        };
        let gw = f(b).spawn().await;
        Rig { gw, echo, redis }
    }

    /// `http://127.0.0.1:PORT` of the gateway.
    pub fn base(&self) -> String {
        self.gw.http_url()
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gw.http_url())
    }
}

/// SIGTERM with `in_flight` slow requests under way, each on a connection
/// of its own: every one finishes with 200, new connections are refused,
/// and the process exits 0.
pub async fn assert_sigterm_drains(rig: &mut Rig, in_flight: usize) {
    use std::time::Duration;
    let slow: Vec<_> = (0..in_flight)
        .map(|_| {
            let rb = rig
                .gw
                .plain_client()
                .get(rig.url("/public/slow"))
                .header("X-Echo-Delay-Ms", "1500");
            tokio::spawn(async move { send(rb).await })
        })
        .collect();
    // The echo counts a request only when it answers, so there is nothing
    // to poll for: give the requests a moment to be in flight.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rig.echo.hits(), 0, "still in flight");
    rig.gw.signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..4 {
        let late = rig
            .gw
            .plain_client()
            .get(rig.url("/public/late"))
            .send()
            .await;
        assert!(
            late.is_err(),
            "a new connection after SIGTERM is refused: {late:?}"
        );
    }
    for task in slow {
        let r = task.await.expect("request task");
        assert_eq!(r.status, 200, "the in-flight request finished: {}", r.body);
    }
    let status = rig
        .gw
        .wait_exit(Duration::from_secs(10))
        .expect("gateway exited after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
}
