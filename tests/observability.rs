//! Metrics and audit log (SPEC §9): the admin listener serves the expected
//! series after traffic, the public listener does not serve /metrics, and
//! the audit events are emitted without any secret in them.

mod common;

use common::http::plain_client;
use common::net::free_port;
use common::{login, login_json, send, Rig, StoreKind, ALICE_PW, BOB_PW};

#[tokio::test]
async fn metrics_and_audit_log() {
    let admin = free_port();
    let rig = Rig::with(StoreKind::Memory, |b| {
        b.set("admin", "listen", &format!("\"127.0.0.1:{admin}\""))
    })
    .await;
    let c = plain_client(None);
    let base = rig.base();

    // Traffic: a good and a bad login, a proxied request, a refused one,
    // a refresh, a logout.
    let alice = login(&c, &base, "alice", ALICE_PW).await;
    login_json(&c, &base, "bob", "not-bobs-password")
        .await
        .assert_error(401, "unauthorized");
    assert_eq!(
        send(c.get(rig.url("/api/x")).bearer_auth(&alice.access_token))
            .await
            .status,
        200
    );
    assert_eq!(send(c.get(rig.url("/api/x"))).await.status, 401);
    let refreshed = send(
        c.post(format!("{base}/auth/refresh"))
            .json(&serde_json::json!({ "refresh_token": alice.refresh_token })),
    )
    .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let r = send(
        c.post(format!("{base}/auth/logout"))
            .bearer_auth(&alice.access_token),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Metrics only on the admin listener.
    // (The test policy's catch-all route makes it a protected upstream path.)
    let public = send(c.get(rig.url("/metrics"))).await;
    assert!(
        !public.body.contains("gatehouse_requests_total"),
        "{}",
        public.body
    );
    let text = send(c.get(format!("http://127.0.0.1:{admin}/metrics")))
        .await
        .body;
    for series in [
        "gatehouse_requests_total{route=\"/api/**\",status=\"200\"} 1",
        "gatehouse_requests_total{route=\"/api/**\",status=\"401\"} 1",
        "gatehouse_auth_total{method=\"bearer\",result=\"ok\"}",
        "gatehouse_auth_total{method=\"none\",result=\"anonymous\"} 2",
        "gatehouse_logins_total{outcome=\"ok\"} 1",
        "gatehouse_logins_total{outcome=\"failed\"} 1",
        "gatehouse_store_latency_seconds_bucket",
        "gatehouse_store_errors_total 0",
    ] {
        assert!(text.contains(series), "missing {series:?} in:\n{text}");
    }

    // Audit events, with username and IP, and no secret anywhere in the log.
    let log = rig.gw.stderr_log();
    for event in ["login_ok", "login_failed", "refresh", "logout"] {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("\"event\":\"{event}\"")))
            .unwrap_or_else(|| panic!("no {event} event in:\n{log}"));
        assert!(line.contains("\"ip\":\"127.0.0.1\""), "{line}");
    }
    for secret in [
        ALICE_PW,
        "not-bobs-password",
        BOB_PW,
        alice.access_token.as_str(),
        alice.refresh_token.as_str(),
        alice.cookie.as_str(),
        refreshed.json()["refresh_token"].as_str().unwrap_or("?"),
    ] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
}
