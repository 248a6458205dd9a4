//! Redis Cluster (SPEC §12) with real processes: three `redis-server`
//! masters joined by `redis-cli --cluster create`, two gateways configured
//! with `[store] cluster`. Sessions cross gateways; a slot range moved by
//! `redis-cli --cluster reshard` under steady traffic causes no error; one
//! rate limit holds exactly across both gateways; a logout reaches the other
//! gateway's `local_cache` within 1 s; the admin CLI works on the cluster.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::{on_cluster, ClusterNodes};
use common::http::{bearer_get, cookie_get, plain_client};
use common::{login, send, EchoUpstream, Gateway, GatewayBuilder, ALICE_PW, BOB_PW};

/// The `sid` claim of one of our access tokens.
fn sid_of(jwt: &str) -> String {
    let claims = common::jwt::claims(jwt);
    claims["sid"].as_str().expect("sid claim").to_string()
}

/// Two gateways built by `b` on `cluster`, each ready (`/readyz` 200: the
/// cluster connection is up).
async fn two_gateways(b: GatewayBuilder, cluster: &ClusterNodes) -> (Gateway, Gateway) {
    let g1 = on_cluster(b, cluster).spawn().await;
    let g2 = g1.sibling().await;
    let c = plain_client(None);
    for g in [&g1, &g2] {
        let base = g.http_url();
        let deadline = Instant::now() + Duration::from_secs(15);
        while send(c.get(format!("{base}/readyz"))).await.status != 200 {
            assert!(Instant::now() < deadline, "{base}/readyz never 200");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    (g1, g2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resharding_under_traffic_on_two_gateways_causes_no_error() {
    let cluster = ClusterNodes::spawn(3);
    let echo = EchoUpstream::spawn();
    let (g1, g2) = two_gateways(Gateway::builder().upstream(&echo), &cluster).await;
    let c = plain_client(None);
    let (b1, b2) = (g1.http_url(), g2.http_url());

    // Sessions cross gateways.
    let alice = login(&c, &b1, "alice", ALICE_PW).await;
    let bob = login(&c, &b2, "bob", BOB_PW).await;
    let e = cookie_get(&c, &format!("{b2}/app/x"), &alice.cookie)
        .await
        .echo();
    assert_eq!(e.one("x-auth-user"), Some("alice"));

    // The session keys, by their sids (the JWTs' `sid` claims).
    let alice_key = format!("gh:*:s:{}", sid_of(&alice.access_token));
    let bob_key = format!("gh:*:s:{}", sid_of(&bob.access_token));

    // Steady traffic on both gateways while slots move between masters.
    let stop = Arc::new(AtomicBool::new(false));
    let bad: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for (base, who) in [(b1.clone(), alice.clone()), (b2.clone(), bob.clone())] {
        let (stop, bad, c) = (stop.clone(), bad.clone(), c.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let r = if n.is_multiple_of(2) {
                    cookie_get(&c, &format!("{base}/app/x"), &who.cookie).await
                } else {
                    bearer_get(&c, &format!("{base}/app/x"), &who.access_token).await
                };
                if r.status != 200 {
                    bad.lock()
                        .unwrap()
                        .push(format!("{base}: {} {}", r.status, r.body));
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            n
        }));
    }
    // Every slot of the node holding alice's session moves away, then every
    // slot of the node holding bob's: both sessions change node mid-traffic.
    let ports = cluster.ports();
    for pattern in [&alice_key, &bob_key] {
        let from = cluster.holder(pattern).expect("session key on a node");
        let to = *ports.iter().find(|&&p| p != from).expect("another node");
        let slots = cluster.owned_slots(from);
        // Keys migrate with their slots, off the runtime's async threads.
        let out = tokio::task::block_in_place(|| cluster.reshard(from, to, slots));
        assert!(
            out.status.success(),
            "reshard {from} -> {to}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.wait_ok();
        assert_ne!(
            cluster.holder(pattern),
            Some(from),
            "{pattern} did not move"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let mut requests = 0;
    for t in tasks {
        requests += t.await.expect("traffic task");
    }
    let bad = bad.lock().unwrap().clone();
    assert!(
        bad.is_empty(),
        "{} of {requests} failed: {bad:?}",
        bad.len()
    );
    assert!(requests > 50, "only {requests} requests during resharding");

    // Logins and logouts keep working on the moved slots, across gateways.
    let again = login(&c, &b2, "alice", ALICE_PW).await;
    let r = send(
        c.post(format!("{b2}/auth/logout"))
            .bearer_auth(&alice.access_token),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    cookie_get(&c, &format!("{b1}/app/x"), &alice.cookie)
        .await
        .assert_error(401, "unauthorized");
    assert_eq!(
        cookie_get(&c, &format!("{b1}/app/x"), &again.cookie)
            .await
            .status,
        200
    );

    // The admin CLI on the cluster: a lock ends alice's sessions everywhere.
    let out = g1.cli(&["user", "lock", "--user", "alice"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    cookie_get(&c, &format!("{b2}/app/x"), &again.cookie)
        .await
        .assert_error(401, "unauthorized");
}

const LIMITED: &str = r#"[[routes]]
path = "/limited/**"
upstream = "app"
auth = "public"
rate_limit = "shared"

"#;
const SHARED: &str = r#"[rate_limits.shared]
key = "ip"
limit = 5
per = "1m"
burst = 3
"#;

/// limit + burst requests pass in all, however they are spread over the
/// two gateways; every one after that is 429 on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_rate_limit_holds_exactly_across_two_gateways() {
    let cluster = ClusterNodes::spawn(3);
    let echo = EchoUpstream::spawn();
    let b = Gateway::builder()
        .upstream(&echo)
        .routes_first(LIMITED)
        .extra(SHARED);
    let (g1, g2) = two_gateways(b, &cluster).await;
    let c = plain_client(None);
    let (b1, b2) = (g1.http_url(), g2.http_url());
    let mut passed = 0;
    for i in 0..16 {
        let base = if i % 3 == 0 { &b1 } else { &b2 };
        let r = send(c.get(format!("{base}/limited/x"))).await;
        match r.status {
            200 => passed += 1,
            429 => assert!(passed >= 8, "429 after only {passed}: {}", r.body),
            other => panic!("{other}: {}", r.body),
        }
    }
    // 5 per minute refills one every 12 s: none during the loop.
    assert_eq!(passed, 8, "limit 5 + burst 3 across both gateways");
}

/// `[store] local_cache`: a logout on one gateway reaches the other
/// gateway's cache through the cluster's pub/sub within 1 s (SPEC §12).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_reaches_the_other_gateways_cache_within_a_second() {
    let cluster = ClusterNodes::spawn(3);
    let echo = EchoUpstream::spawn();
    let b = Gateway::builder()
        .upstream(&echo)
        .set("store", "local_cache", "\"5s\"");
    let (g1, g2) = two_gateways(b, &cluster).await;
    let c = plain_client(None);
    let (b1, b2) = (g1.http_url(), g2.http_url());
    let alice = login(&c, &b1, "alice", ALICE_PW).await;
    // Warm g2's cache, and let its subscriber settle.
    for _ in 0..5 {
        assert_eq!(
            cookie_get(&c, &format!("{b2}/app/x"), &alice.cookie)
                .await
                .status,
            200
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = send(
        c.post(format!("{b1}/auth/logout"))
            .bearer_auth(&alice.access_token),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let out = Instant::now();
    loop {
        let r = cookie_get(&c, &format!("{b2}/app/x"), &alice.cookie).await;
        if r.status == 401 {
            break;
        }
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            out.elapsed() < Duration::from_secs(1),
            "g2 still let the logged-out session in after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
