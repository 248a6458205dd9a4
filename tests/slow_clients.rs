//! Slow and greedy clients (issue 10 point 6): a request head must arrive
//! whole within `header_timeout` (slowloris gets 408 and a close), an idle
//! kept-alive connection is closed after `keepalive_timeout`, and
//! `max_connections_per_ip` / `max_connections` refuse the connection over
//! the limit with 503 while other clients are still served. Short timeouts
//! (1 s) and tens of connections keep it quick; every wait is bounded.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use common::conn::Conn;
use common::raw::RawReply;
use common::{Rig, StoreKind};

const SECOND: &str = "\"1s\"";

async fn rig_with_short_timeouts() -> Rig {
    Rig::with(StoreKind::Memory, |b| {
        b.set("server", "header_timeout", SECOND)
            .set("server", "keepalive_timeout", SECOND)
    })
    .await
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

/// A 200 from the echo upstream on a kept-alive connection.
async fn served(conn: &mut Conn, what: &str) {
    assert!(conn.get("/public/x").await, "{what}: write failed");
    let r = conn
        .answer(Duration::from_secs(5))
        .await
        .unwrap_or_else(|| panic!("{what}: no answer"));
    assert_eq!(r.status, 200, "{what}: {r:?}");
}

/// A JSON error answer in our format.
fn assert_error(what: &str, r: &RawReply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{what}: {r:?}");
    let json: serde_json::Value = serde_json::from_str(&r.body)
        .unwrap_or_else(|e| panic!("{what}: body is not JSON ({e}): {r:?}"));
    assert_eq!(json["error"], code, "{what}: {r:?}");
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert!(r.header("server").is_none(), "{what}: {r:?}");
}

#[tokio::test]
async fn slowloris_head_is_cut_after_header_timeout() {
    let rig = rig_with_short_timeouts().await;
    let addr = rig.gw.http_addr();
    let before = rig.echo.hits();

    // One header line every 300 ms: each read is quick, the head never ends.
    let mut conn = Conn::connect(addr).await;
    let started = Instant::now();
    assert!(conn.write(b"GET /public/x HTTP/1.1\r\nHost: x\r\n").await);
    let mut cut = None;
    for i in 0..20 {
        if conn.closed_within(Duration::from_millis(300)).await {
            cut = Some(started.elapsed());
            break;
        }
        if !conn.write(format!("X-Slow-{i}: y\r\n").as_bytes()).await {
            cut = Some(started.elapsed());
            break;
        }
    }
    let cut = cut.expect("a slowloris head was still open after 6 s");
    assert!(
        cut >= Duration::from_millis(900) && cut < Duration::from_secs(3),
        "cut after {cut:?}, header_timeout is 1 s"
    );
    let r = common::raw::parse(conn.pending(), true).expect("a 408 answer");
    assert_error("slowloris", &r, 408, "request_timeout");

    // A new connection that sends nothing is closed too.
    let mut silent = Conn::connect(addr).await;
    let started = Instant::now();
    assert!(
        silent.closed_within(Duration::from_secs(3)).await,
        "a silent connection stayed open"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));

    // Positive control: a slow head that completes in time is served.
    let mut conn = Conn::connect(addr).await;
    assert!(conn.write(b"GET /public/x HTTP/1.1\r\nHost: x\r\n").await);
    for i in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(conn.write(format!("X-Slow-{i}: y\r\n").as_bytes()).await);
    }
    assert!(conn.write(b"\r\n").await);
    let r = conn.answer(Duration::from_secs(5)).await.expect("answer");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        rig.echo.hits(),
        before + 1,
        "only the complete head was proxied"
    );
}

#[tokio::test]
async fn idle_keepalive_is_closed_and_busy_connections_stay() {
    let rig = rig_with_short_timeouts().await;
    let addr = rig.gw.http_addr();

    // Idle after one request: open a moment, closed after about 1 s.
    let mut idle = Conn::connect(addr).await;
    served(&mut idle, "first request").await;
    let started = Instant::now();
    assert!(
        !idle.closed_within(Duration::from_millis(400)).await,
        "closed long before keepalive_timeout"
    );
    assert!(
        idle.closed_within(Duration::from_secs(3)).await,
        "an idle kept-alive connection stayed open"
    );
    let closed_after = started.elapsed();
    assert!(
        closed_after >= Duration::from_millis(800),
        "closed after {closed_after:?}"
    );
    assert!(
        idle.pending().is_empty(),
        "unexpected bytes on an idle close"
    );

    // Positive control: a request every 400 ms keeps one connection usable
    // well past the idle timeout and the header timeout.
    let mut busy = Conn::connect(addr).await;
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < Duration::from_millis(2500) {
        served(&mut busy, &format!("request {n}")).await;
        n += 1;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert!(n >= 5, "{n} requests");
}

/// `n` connections from `from`, each proved admitted by a served request.
async fn hold(addr: SocketAddr, from: IpAddr, n: usize) -> Vec<Conn> {
    let mut held = Vec::new();
    for i in 0..n {
        let mut conn = Conn::connect_from(from, addr).await;
        served(&mut conn, &format!("{from} connection {i}")).await;
        held.push(conn);
    }
    held
}

/// A connection from `from` is answered 503 and closed without a request.
async fn refused(addr: SocketAddr, from: IpAddr, what: &str) {
    let mut conn = Conn::connect_from(from, addr).await;
    let r = conn
        .answer(Duration::from_secs(5))
        .await
        .unwrap_or_else(|| panic!("{what}: no 503"));
    assert_error(what, &r, 503, "unavailable");
    assert!(
        conn.closed_within(Duration::from_secs(2)).await,
        "{what}: left open"
    );
}

#[tokio::test]
async fn connection_limits_per_ip_and_per_process() {
    let rig = Rig::with(StoreKind::Memory, |b| {
        b.set("server", "max_connections_per_ip", "4")
            .set("server", "max_connections", "6")
    })
    .await;
    let addr = rig.gw.http_addr();
    let (hog, other, third) = (ip("127.0.0.2"), ip("127.0.0.3"), ip("127.0.0.4"));

    // One address holds its 4; its 5th is refused, another address is served.
    let mut hogged = hold(addr, hog, 4).await;
    refused(addr, hog, "5th connection from one address").await;
    let mut others = hold(addr, other, 2).await;

    // Now 6 are open: the process limit refuses any address.
    refused(addr, third, "7th connection in the process").await;
    for (i, conn) in hogged.iter_mut().chain(others.iter_mut()).enumerate() {
        served(conn, &format!("held connection {i}")).await;
    }

    // A closed connection frees its place (the gateway notices the close
    // a moment later: poll).
    drop(hogged.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut conn = Conn::connect_from(third, addr).await;
        if conn.get("/public/x").await {
            if let Some(r) = conn.answer(Duration::from_secs(5)).await {
                if r.status == 200 {
                    break;
                }
                assert_eq!(r.status, 503, "{r:?}");
            }
        }
        assert!(
            Instant::now() < deadline,
            "a freed place was not given back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
