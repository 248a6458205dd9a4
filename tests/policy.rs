//! Policy end to end (SPEC §2, §6, §8): rate-limit exactness on both
//! stores, one limit shared by two gateways on one Redis, login lockout, and
//! SIGHUP reload (applied atomically; a bad policy keeps the old one).

mod common;

use std::time::{Duration, Instant};

use common::http::plain_client;
use common::{login, login_json, send, Reply, Rig, StoreKind, ALICE_PW, BOB_PW};

/// A public route limited per IP: 3 per 3 s plus a burst of 1, so 4 at once.
const LIMITED: &str = r#"[[routes]]
path = "/limited/**"
upstream = "app"
auth = "public"
rate_limit = "tight"

"#;
const TIGHT: &str = r#"[rate_limits.tight]
key = "ip"
limit = 3
per = "3s"
burst = 1
"#;

fn header_num(r: &Reply, name: &str) -> u64 {
    r.header(name)
        .unwrap_or_else(|| panic!("{name} missing: {:?}", r.headers))
        .parse()
        .expect("numeric header")
}

async fn limited(store: StoreKind) {
    let rig = Rig::with(store, |b| b.routes_first(LIMITED).extra(TIGHT)).await;
    let c = plain_client(None);
    // From a full budget: exactly limit + burst pass, each telling what is left.
    for left in (0..4).rev() {
        let r = send(c.get(rig.url("/limited/x"))).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(header_num(&r, "ratelimit-limit"), 4);
        assert_eq!(header_num(&r, "ratelimit-remaining"), left);
        assert!(header_num(&r, "ratelimit-reset") <= 4);
    }
    let refused = send(c.get(rig.url("/limited/x"))).await;
    refused.assert_error(429, "rate_limited");
    let retry = header_num(&refused, "retry-after");
    assert!(
        (1..=1).contains(&retry),
        "one unit refills in 1 s: Retry-After {retry}"
    );
    assert_eq!(header_num(&refused, "ratelimit-remaining"), 0);
    // Other routes are not limited.
    assert_eq!(send(c.get(rig.url("/public/x"))).await.status, 200);
    // One unit refills after `per / limit` = 1 s, then exactly one passes.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(send(c.get(rig.url("/limited/x"))).await.status, 200);
    assert_eq!(send(c.get(rig.url("/limited/x"))).await.status, 429);
}

// N allowed, N+1 refused, refill after the period: memory store.
#[tokio::test]
async fn rate_limit_exact_memory() {
    limited(StoreKind::Memory).await;
}

// The same on Redis (GCRA in a Lua script on Redis's clock).
#[tokio::test]
async fn rate_limit_exact_redis() {
    limited(StoreKind::Redis).await;
}

// Two gateways on one Redis enforce one shared budget.
#[tokio::test]
async fn two_gateways_share_one_limit() {
    let rig = Rig::with(StoreKind::Redis, |b| b.routes_first(LIMITED).extra(TIGHT)).await;
    let other = rig.gw.sibling().await;
    let c = plain_client(None);
    let urls = [
        rig.url("/limited/x"),
        format!("{}/limited/x", other.http_url()),
    ];
    let mut passed = 0;
    for i in 0..8 {
        if send(c.get(&urls[i % 2])).await.status == 200 {
            passed += 1;
        }
    }
    assert_eq!(
        passed, 4,
        "limit + burst across both gateways, not per gateway"
    );
}

// Per-username lockout: counted for unknown names too, right password
// refused while locked, success resets the counter.
#[tokio::test]
async fn login_lockout() {
    let rig = Rig::with(StoreKind::Memory, |b| b.set("login", "max_failures", "3")).await;
    let c = plain_client(None);
    let base = rig.base();
    for name in ["ghost", "bob"] {
        for _ in 0..3 {
            login_json(&c, &base, name, "wrong")
                .await
                .assert_error(401, "unauthorized");
        }
        let locked = login_json(&c, &base, name, "wrong").await;
        assert_eq!(locked.status, 429, "{name}: {}", locked.body);
        assert!(locked.header("retry-after").is_some());
    }
    // Locked even with the right password, and case-insensitively.
    assert_eq!(login_json(&c, &base, "bob", BOB_PW).await.status, 429);
    assert_eq!(login_json(&c, &base, "BOB", BOB_PW).await.status, 429);
    // A success in between resets alice's count.
    for _ in 0..2 {
        login_json(&c, &base, "alice", "wrong")
            .await
            .assert_error(401, "unauthorized");
    }
    login(&c, &base, "alice", ALICE_PW).await;
    for _ in 0..2 {
        login_json(&c, &base, "alice", "wrong")
            .await
            .assert_error(401, "unauthorized");
    }
    login(&c, &base, "alice", ALICE_PW).await;
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// New policy: `/public/**` renamed `/open/**`, applied by SIGHUP; returns
/// once the gateway serves it.
async fn rename_public_to_open(rig: &Rig, c: &reqwest::Client) {
    let path = rig.gw.config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("path = \"/public/**\"", "path = \"/open/**\""),
    )
    .unwrap();
    rig.gw.signal("HUP");
    wait_for("the new policy", async || {
        send(c.get(rig.url("/open/x"))).await.status == 200
    })
    .await;
}

// SIGHUP swaps routes and users; a bad new policy keeps the old one.
#[tokio::test]
async fn sighup_reload() {
    let rig = Rig::start(StoreKind::Memory).await;
    let c = plain_client(None);
    let bob = login(&c, &rig.base(), "bob", BOB_PW).await;
    assert_eq!(send(c.get(rig.url("/public/x"))).await.status, 200);
    assert_eq!(send(c.get(rig.url("/open/x"))).await.status, 401);

    rename_public_to_open(&rig, &c).await;
    assert_eq!(
        send(c.get(rig.url("/public/x"))).await.status,
        401,
        "old route gone"
    );
    // Sessions survive a reload.
    let r = send(c.get(rig.url("/api/x")).bearer_auth(&bob.access_token)).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // A bad policy is refused and logged; the one in force stays.
    let path = rig.gw.config_path();
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, good.replace("[server]", "[server]\nbogus_key = 1")).unwrap();
    rig.gw.signal("HUP");
    wait_for("the refusal in the log", async || {
        rig.gw.stderr_log().contains("reload_failed")
    })
    .await;
    assert_eq!(send(c.get(rig.url("/open/x"))).await.status, 200);
    assert!(
        rig.gw.stderr_log().contains("bogus_key"),
        "the log names the problem"
    );

    // Users reload: disabling bob ends his access at once.
    std::fs::write(&path, good).unwrap();
    let users = rig.gw.dir().join("users.toml");
    let text = std::fs::read_to_string(&users).unwrap();
    let at = text.find("username = \"bob\"").expect("bob in users.toml");
    let (head, tail) = text.split_at(at);
    let disabled = format!(
        "{head}{}",
        tail.replacen("disabled = false", "disabled = true", 1)
    );
    assert_ne!(text, disabled);
    std::fs::write(&users, disabled).unwrap();
    rig.gw.signal("HUP");
    wait_for("bob disabled", async || {
        send(c.get(rig.url("/api/x")).bearer_auth(&bob.access_token))
            .await
            .status
            == 401
    })
    .await;
    assert_eq!(login_json(&c, &rig.base(), "bob", BOB_PW).await.status, 401);
}

// Login and refresh are always limited per client IP (SPEC §8), whatever
// the usernames: 10 a minute after a burst of 10 for logins, 30 after 30
// for refreshes.
#[tokio::test]
async fn login_and_refresh_are_limited_per_ip() {
    let rig = Rig::start(StoreKind::Memory).await;
    let c = plain_client(None);
    let base = rig.base();
    // Distinct usernames, so no per-username lockout gets in first.
    for i in 0..20 {
        let r = login_json(&c, &base, &format!("nobody-{i}"), "wrong").await;
        assert_eq!(r.status, 401, "attempt {i}: {}", r.body);
    }
    let limited = login_json(&c, &base, "alice", ALICE_PW).await;
    limited.assert_error(429, "rate_limited");
    assert!(limited.header("retry-after").is_some());

    let refresh = || {
        c.post(format!("{base}/auth/refresh"))
            .json(&serde_json::json!({ "refresh_token": "not-a-real-token" }))
    };
    for i in 0..60 {
        assert_eq!(send(refresh()).await.status, 401, "refresh {i}");
    }
    send(refresh()).await.assert_error(429, "rate_limited");
}

// A reload does not drop a request already in flight.
#[tokio::test]
async fn reload_keeps_requests_in_flight() {
    let rig = Rig::start(StoreKind::Memory).await;
    let c = plain_client(None);
    let slow = {
        let rb = c
            .get(rig.url("/public/slow"))
            .header("X-Echo-Delay-Ms", "1000");
        tokio::spawn(async move { send(rb).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    rename_public_to_open(&rig, &c).await;
    let r = slow.await.expect("request task");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.echo().path, "/public/slow");
}
