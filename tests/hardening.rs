//! Hardening end to end (issue 4): CORS per route, security headers on
//! gateway and proxied answers, CSRF with a CORS-trusted origin, and
//! graceful shutdown on SIGTERM.

mod common;

use common::http::plain_client;
use common::{login, send, Rig, StoreKind, ALICE_PW};

const CORS_ROUTE: &str = r#"[[routes]]
path = "/spa/**"
upstream = "app"
methods = ["GET", "PUT"]
cors_origins = ["https://spa.example"]
cors_credentials = true

"#;

// Preflights, allowed and refused origins, CSRF for a CORS-trusted origin.
#[tokio::test]
async fn cors_per_route() {
    let rig = Rig::with(StoreKind::Memory, |b| b.routes_first(CORS_ROUTE)).await;
    let c = plain_client(None);
    let preflight = |origin: &'static str| {
        c.request(reqwest::Method::OPTIONS, rig.url("/spa/items"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "PUT")
            .header("Access-Control-Request-Headers", "content-type")
    };
    let ok = send(preflight("https://spa.example")).await;
    assert_eq!(ok.status, 204, "{}", ok.body);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://spa.example")
    );
    assert_eq!(ok.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(ok.header("access-control-allow-methods"), Some("PUT"));
    assert_eq!(
        ok.header("access-control-allow-headers"),
        Some("content-type")
    );
    send(preflight("https://evil.example"))
        .await
        .assert_error(403, "forbidden");
    // A preflight for a route without CORS is not answered as one.
    let r = send(
        c.request(reqwest::Method::OPTIONS, rig.url("/api/x"))
            .header("Origin", "https://spa.example")
            .header("Access-Control-Request-Method", "GET"),
    )
    .await;
    assert!(r.header("access-control-allow-origin").is_none());

    // Actual requests: the allowed origin gets ACAO, another does not.
    let alice = login(&c, &rig.base(), "alice", ALICE_PW).await;
    let get = |origin: &'static str| {
        c.get(rig.url("/spa/items"))
            .bearer_auth(&alice.access_token)
            .header("Origin", origin)
    };
    let r = send(get("https://spa.example")).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://spa.example")
    );
    assert_eq!(r.header("vary"), Some("Origin"));
    let r = send(get("https://evil.example")).await;
    assert_eq!(
        r.status, 200,
        "CORS does not block server-side; the browser does"
    );
    assert!(r.header("access-control-allow-origin").is_none());

    // Cookie-authenticated PUT: the CORS-trusted origin passes CSRF, others not.
    let put = |origin: &'static str| {
        c.put(rig.url("/spa/items"))
            .header("Cookie", format!("{}={}", common::COOKIE, alice.cookie))
            .header("Origin", origin)
    };
    assert_eq!(send(put("https://spa.example")).await.status, 200);
    send(put("https://evil.example"))
        .await
        .assert_error(403, "forbidden");
}

// Gateway answers and proxied answers carry the security headers.
#[tokio::test]
async fn security_headers() {
    let rig = Rig::start(StoreKind::Memory).await;
    let c = plain_client(None);
    let proxied = send(c.get(rig.url("/public/x"))).await;
    assert_eq!(proxied.status, 200);
    assert_eq!(proxied.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(proxied.header("x-frame-options"), Some("SAMEORIGIN"));
    assert!(proxied.header("referrer-policy").is_some());
    for path in [
        "/auth/login",
        "/auth/me",
        "/nowhere-routed-at-all",
        "/healthz",
    ] {
        let r = send(c.get(rig.url(path))).await;
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        if path.starts_with("/auth") {
            assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
        }
    }
    let page = send(c.get(rig.url("/auth/login"))).await;
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert!(page
        .header("content-security-policy")
        .unwrap_or_default()
        .contains("frame-ancestors 'none'"));

    // `[headers] security = false` leaves proxied answers as the app sent them.
    let plain = Rig::with(StoreKind::Memory, |b| b.set("headers", "security", "false")).await;
    let r = send(c.get(plain.url("/public/x"))).await;
    assert!(r.header("x-frame-options").is_none());
}

// SIGTERM: in-flight requests finish, new connections are refused, exit 0.
#[tokio::test]
async fn sigterm_drains_in_flight_requests() {
    let mut rig = Rig::start(StoreKind::Memory).await;
    common::assert_sigterm_drains(&mut rig, 1).await;
}

// An upstream that is down answers 502 with the JSON error body (SPEC §6).
#[tokio::test]
async fn upstream_down_is_502_json() {
    let closed: std::net::SocketAddr = format!("127.0.0.1:{}", common::net::free_port())
        .parse()
        .unwrap();
    let rig = Rig::with(StoreKind::Memory, |b| b.upstream_addr(closed)).await;
    let r = send(plain_client(None).get(rig.url("/public/x"))).await;
    r.assert_error(502, "bad_gateway");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(
        !r.body.contains("127.0.0.1"),
        "no internal detail: {}",
        r.body
    );
}
