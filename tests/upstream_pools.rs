//! Several addresses per upstream (SPEC §11, issue 13 point 4): traffic
//! spread by `balance`; an address that dies costs idempotent requests
//! nothing (one retry elsewhere) and gets no traffic once its health check
//! marks it down; it gets traffic again when it is back; all down is 502
//! JSON. Plus the per-address metrics (point 7) and the upstream timeouts
//! (point 5): 504 JSON after `read_timeout`, a route's `timeout` replacing it.
//! Real echo upstreams, stopped and restarted on their own ports.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::gateway::DEFAULT_ROLES;
use common::http::plain_client;
use common::net::free_port;
use common::{send, EchoUpstream, Gateway, GatewayBuilder};

const ROUTES: &str = r#"[[routes]]
path = "/slow/**"
upstream = "app"
auth = "public"
timeout = "3s"

[[routes]]
path = "/**"
upstream = "app"
auth = "public"
"#;

fn list(addrs: &[SocketAddr]) -> String {
    let quoted: Vec<String> = addrs.iter().map(|a| format!("\"{a}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// A gateway over `echoes`, with fast health checks and an admin listener.
fn builder(echoes: &[&EchoUpstream], balance: &str, admin: u16) -> GatewayBuilder {
    let addrs: Vec<SocketAddr> = echoes.iter().map(|e| e.addr()).collect();
    Gateway::builder()
        .policy(&format!("{DEFAULT_ROLES}\n{ROUTES}"))
        .unset("upstreams.app", "addr")
        .set("upstreams.app", "addrs", &list(&addrs))
        .set("upstreams.app", "balance", &format!("\"{balance}\""))
        .set("upstreams.app", "read_timeout", "\"1s\"")
        .set("upstreams.app.health", "interval", "\"200ms\"")
        .set("upstreams.app.health", "timeout", "\"200ms\"")
        .set("upstreams.app.health", "unhealthy_after", "1")
        .set("upstreams.app.health", "healthy_after", "1")
        .set("admin", "listen", &format!("\"127.0.0.1:{admin}\""))
        // The test client may name its client IP (consistent balancing).
        .set("server", "trusted_proxies", "[\"127.0.0.1/32\"]")
}

async fn get_status(gw: &Gateway, path: &str, xff: Option<&str>) -> (u16, String) {
    let mut rb = plain_client(None).get(format!("{}{path}", gw.http_url()));
    if let Some(ip) = xff {
        rb = rb.header("X-Forwarded-For", ip);
    }
    let r = send(rb).await;
    (r.status, r.body)
}

fn hits(echoes: &[&EchoUpstream]) -> Vec<usize> {
    echoes.iter().map(|e| e.hits()).collect()
}

fn delta(after: &[usize], before: &[usize]) -> Vec<usize> {
    after.iter().zip(before).map(|(a, b)| a - b).collect()
}

async fn metrics(admin: u16) -> String {
    send(plain_client(None).get(format!("http://127.0.0.1:{admin}/metrics")))
        .await
        .body
}

/// Wait (bounded) until the admin metrics show `addr` with health `want`.
async fn wait_health(admin: u16, addr: SocketAddr, want: u8) {
    let line = format!("gatehouse_upstream_healthy{{addr=\"{addr}\",upstream=\"app\"}} {want}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = metrics(admin).await;
        if text.contains(&line) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no `{line}` within 10 s:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn round_robin_failover_recovery_and_all_down() {
    let a = EchoUpstream::spawn();
    let mut b = Some(EchoUpstream::spawn());
    let c = EchoUpstream::spawn();
    let b_addr = b.as_ref().unwrap().addr();
    let admin = free_port();
    let gw = builder(&[&a, b.as_ref().unwrap(), &c], "round_robin", admin)
        .spawn()
        .await;
    for e in [a.addr(), b_addr, c.addr()] {
        wait_health(admin, e, 1).await;
    }

    // Spread: 30 requests, 10 each.
    let before = hits(&[&a, b.as_ref().unwrap(), &c]);
    for _ in 0..30 {
        assert_eq!(get_status(&gw, "/x", None).await.0, 200);
    }
    let spread = delta(&hits(&[&a, b.as_ref().unwrap(), &c]), &before);
    assert_eq!(spread, vec![10, 10, 10], "round robin over three");

    // b dies: idempotent requests never see it, before and after the
    // health check notices.
    drop(b.take());
    for _ in 0..12 {
        let (status, body) = get_status(&gw, "/x", None).await;
        assert_eq!(status, 200, "a GET after b died: {body}");
    }
    wait_health(admin, b_addr, 0).await;
    let before = hits(&[&a, &c]);
    for _ in 0..20 {
        assert_eq!(get_status(&gw, "/x", None).await.0, 200);
    }
    let spread = delta(&hits(&[&a, &c]), &before);
    assert_eq!(spread, vec![10, 10], "the two left share the traffic");

    // b is back on its address: it gets traffic again.
    let b = EchoUpstream::spawn_at(b_addr);
    wait_health(admin, b_addr, 1).await;
    for _ in 0..30 {
        assert_eq!(get_status(&gw, "/x", None).await.0, 200);
    }
    assert!(b.hits() >= 9, "b back in rotation: {} hits", b.hits());

    // Per-address request counters.
    let text = metrics(admin).await;
    for e in [a.addr(), b_addr, c.addr()] {
        assert!(
            text.contains(&format!(
                "gatehouse_upstream_requests_total{{addr=\"{e}\",upstream=\"app\"}}"
            )),
            "{text}"
        );
    }

    // All down: 502 JSON once the checks agree (and even before: the retry
    // finds no live address either).
    drop(a);
    drop(b);
    drop(c);
    let (status, body) = get_status(&gw, "/x", None).await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("\"error\":\"bad_gateway\""), "{body}");
    wait_health(admin, b_addr, 0).await;
    let (status, body) = get_status(&gw, "/x", None).await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("\"error\":\"bad_gateway\""), "{body}");
}

/// A request with a body is not retried: a POST that met the dead address
/// gets 502 while GETs in the same window all pass.
#[tokio::test(flavor = "multi_thread")]
async fn only_safe_requests_are_retried() {
    let a = EchoUpstream::spawn();
    let b = EchoUpstream::spawn();
    let admin = free_port();
    // Health checks far apart, so the dead address stays in rotation here.
    let gw = builder(&[&a, &b], "round_robin", admin)
        .set("upstreams.app.health", "interval", "\"1h\"")
        .spawn()
        .await;
    wait_health(admin, b.addr(), 1).await;
    drop(b);
    let client = plain_client(None);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = send(client.post(format!("{}/x", gw.http_url())).body("payload")).await;
        statuses.push(r.status);
    }
    statuses.sort();
    assert_eq!(statuses, vec![200, 200, 502, 502], "POSTs alternate");
    for _ in 0..4 {
        assert_eq!(get_status(&gw, "/x", None).await.0, 200);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn random_and_consistent_balancing() {
    let echoes = [
        EchoUpstream::spawn(),
        EchoUpstream::spawn(),
        EchoUpstream::spawn(),
    ];
    let refs: Vec<&EchoUpstream> = echoes.iter().collect();

    let admin = free_port();
    let gw = builder(&refs, "random", admin).spawn().await;
    let before = hits(&refs);
    for _ in 0..90 {
        assert_eq!(get_status(&gw, "/x", None).await.0, 200);
    }
    let spread = delta(&hits(&refs), &before);
    assert!(
        spread.iter().all(|&n| n >= 10),
        "random reaches all: {spread:?}"
    );
    drop(gw);

    let admin = free_port();
    let gw = builder(&refs, "consistent", admin).spawn().await;
    // One client IP always lands on one address ...
    let mut seen_for = Vec::new();
    for client in 1..=12u8 {
        let ip = format!("198.51.100.{client}");
        let before = hits(&refs);
        for _ in 0..5 {
            assert_eq!(get_status(&gw, "/x", Some(&ip)).await.0, 200);
        }
        let d = delta(&hits(&refs), &before);
        let used: Vec<usize> = (0..3).filter(|&i| d[i] > 0).collect();
        assert_eq!(used.len(), 1, "{ip} spread over {d:?}");
        seen_for.push(used[0]);
    }
    // ... and different clients use more than one address.
    seen_for.sort();
    seen_for.dedup();
    assert!(seen_for.len() >= 2, "12 clients all on one address");
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_read_timeout_is_504_and_a_route_timeout_replaces_it() {
    let echo = EchoUpstream::spawn();
    let admin = free_port();
    let gw = builder(&[&echo], "round_robin", admin).spawn().await;
    let client = plain_client(None);
    let slow = |path: &str| {
        client
            .get(format!("{}{path}", gw.http_url()))
            .header("X-Echo-Delay-Ms", "2000")
    };
    // read_timeout = 1s on the upstream.
    let r = send(slow("/x")).await;
    assert_eq!(r.status, 504, "{}", r.body);
    assert!(
        r.body.contains("\"error\":\"gateway_timeout\""),
        "{}",
        r.body
    );
    // The /slow/** route allows 3 s.
    let r = send(slow("/slow/x")).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// An upstream that accepts connections but answers every request 503:
/// alive to a TCP check, sick to an HTTP one. Counts the requests it got.
async fn sick_upstream() -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut head = Vec::new();
                loop {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                    while let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                        let request = String::from_utf8_lossy(&head[..end]).to_string();
                        head.drain(..end + 4);
                        if !request.contains("/healthz") {
                            counter.fetch_add(1, Ordering::SeqCst);
                        }
                        let answer =
                            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nsick";
                        if tcp.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, seen)
}

/// `[upstreams.X.health] path`: an HTTP check (2xx passes) marks an address
/// down that a TCP check would keep, and it then gets no traffic.
#[tokio::test(flavor = "multi_thread")]
async fn http_health_checks_mark_a_non_2xx_address_down() {
    use std::sync::atomic::Ordering;
    let good = EchoUpstream::spawn();
    let (sick, sick_requests) = sick_upstream().await;
    let admin = free_port();
    let gw = Gateway::builder()
        .policy(&format!("{DEFAULT_ROLES}\n{ROUTES}"))
        .unset("upstreams.app", "addr")
        .set("upstreams.app", "addrs", &list(&[good.addr(), sick]))
        .set("upstreams.app.health", "path", "\"/healthz\"")
        .set("upstreams.app.health", "interval", "\"200ms\"")
        .set("upstreams.app.health", "timeout", "\"200ms\"")
        .set("upstreams.app.health", "unhealthy_after", "1")
        .set("admin", "listen", &format!("\"127.0.0.1:{admin}\""))
        .spawn()
        .await;
    wait_health(admin, sick, 0).await;
    wait_health(admin, good.addr(), 1).await;
    let before = sick_requests.load(Ordering::SeqCst);
    for _ in 0..20 {
        let (status, body) = get_status(&gw, "/x", None).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        sick_requests.load(Ordering::SeqCst),
        before,
        "the address failing its HTTP check got traffic"
    );
}
