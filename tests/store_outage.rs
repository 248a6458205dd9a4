//! Redis outage (SPEC §6, §8): protected routes fail closed with 503,
//! public routes and liveness keep answering, readiness reports the outage,
//! and the gateway recovers when Redis is back.

mod common;

use std::time::{Duration, Instant};

use common::http::{bearer_get, plain_client};
use common::{login, login_json, send, Rig, StoreKind, ALICE_PW};

// Store down: 503 on protected routes, public still served; back: recovers.
#[tokio::test]
async fn redis_outage_fails_closed_and_recovers() {
    let mut rig = Rig::with(StoreKind::Redis, |b| {
        b.routes_first("[[routes]]\npath = \"/limited/**\"\nupstream = \"app\"\nauth = \"public\"\nrate_limit = \"l\"\n\n")
            .extra("[rate_limits.l]\nkey = \"ip\"\nlimit = 2\nper = \"1m\"\nburst = 0\n")
    })
    .await;
    let c = plain_client(None);
    let base = rig.base();
    let alice = login(&c, &base, "alice", ALICE_PW).await;
    assert_eq!(
        bearer_get(&c, &rig.url("/app/x"), &alice.access_token)
            .await
            .status,
        200
    );

    rig.redis.as_mut().expect("redis").stop();
    let before = rig.echo.hits();
    let started = Instant::now();
    for (what, r) in [
        (
            "bearer on a protected route",
            bearer_get(&c, &rig.url("/app/x"), &alice.access_token).await,
        ),
        (
            "cookie on a protected route",
            common::http::cookie_get(&c, &rig.url("/api/x"), &alice.cookie).await,
        ),
        ("login", login_json(&c, &base, "alice", ALICE_PW).await),
    ] {
        assert_eq!(r.status, 503, "{what}: {}", r.body);
        assert!(r.json()["error"].is_string(), "{what}: {}", r.body);
    }
    assert_eq!(
        rig.echo.hits(),
        before,
        "a request passed without its store check"
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "three fail-closed answers took {:?}: a dead store must not hang requests",
        started.elapsed()
    );
    // Rate limits fall back to the local limiter: still enforced, still served.
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(send(c.get(rig.url("/limited/x"))).await.status);
        }
        v
    };
    assert_eq!(
        statuses,
        [200, 200, 429],
        "local limiter while redis is down"
    );
    let r = send(c.get(rig.url("/public/x"))).await;
    assert_eq!(r.echo().path, "/public/x", "public routes are still served");
    assert_eq!(
        send(c.get(rig.url("/healthz"))).await.status,
        200,
        "liveness does not need the store"
    );
    assert_eq!(
        send(c.get(rig.url("/readyz"))).await.status,
        503,
        "readiness reports the outage"
    );

    // Redis back (empty: nothing was persisted).
    rig.redis.as_mut().expect("redis").restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = send(c.get(rig.url("/readyz"))).await;
        if r.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not ready 20 s after redis came back: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The old session died with the data: refused, not let through.
    bearer_get(&c, &rig.url("/app/x"), &alice.access_token)
        .await
        .assert_error(401, "unauthorized");
    let again = login(&c, &base, "alice", ALICE_PW).await;
    let e = bearer_get(&c, &rig.url("/app/x"), &again.access_token)
        .await
        .echo();
    assert_eq!(e.one("x-auth-user"), Some("alice"));
}
