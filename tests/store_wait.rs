//! `[store] wait_replicas` (SPEC §12) with a real master and replica: a
//! change that must survive a failover is acknowledged only once a replica
//! has it. With the replica frozen (SIGSTOP), a logout, a login and an admin
//! lock answer 503 (the CLI fails), the change stays applied on the master,
//! and the audit line says it is unconfirmed; thawed, all is as before.

mod common;

use std::time::Duration;

use common::http::{cookie_get, plain_client};
use common::sentinel::SentinelDeployment;
use common::{login, login_json, send, EchoUpstream, Gateway, ALICE_PW, BOB_PW};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfirmed_changes_answer_503_and_stay_applied_on_the_master() {
    let d = SentinelDeployment::spawn();
    let echo = EchoUpstream::spawn();
    let gw = Gateway::builder()
        .upstream(&echo)
        .set("store", "backend", "\"redis\"")
        .set(
            "store",
            "url",
            &format!("\"redis://127.0.0.1:{}/0\"", d.master.port()),
        )
        .set("store", "timeout", "\"1s\"")
        .set("store", "wait_replicas", "1")
        .spawn()
        .await;
    let base = gw.http_url();
    let c = plain_client(None);
    let alice = login(&c, &base, "alice", ALICE_PW).await;
    let bob = login(&c, &base, "bob", BOB_PW).await;

    d.freeze_replica(true);
    let r = send(
        c.post(format!("{base}/auth/logout"))
            .bearer_auth(&alice.access_token),
    )
    .await;
    r.assert_error(503, "unavailable");
    // Applied on the master all the same: the session is gone.
    cookie_get(&c, &format!("{base}/app/x"), &alice.cookie)
        .await
        .assert_error(401, "unauthorized");
    let r = login_json(&c, &base, "alice", ALICE_PW).await;
    r.assert_error(503, "unavailable");
    let out = gw.cli(&["user", "lock", "--user", "bob"]);
    assert!(!out.status.success(), "lock acknowledged without a replica");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("replicas"), "{err}");
    cookie_get(&c, &format!("{base}/app/x"), &bob.cookie)
        .await
        .assert_error(401, "unauthorized");
    let logs = gw.logs();
    assert!(
        logs.contains("store_unconfirmed") && logs.contains("session_delete"),
        "no unconfirmed audit line: {logs}"
    );

    d.freeze_replica(false);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = login_json(&c, &base, "alice", ALICE_PW).await;
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(
            std::time::Instant::now() < deadline,
            "replica never confirmed again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!logs.contains("panicked"), "{logs}");
}
