//! Two gateway replicas on one Redis (SPEC §5: every request is checked
//! against the store): each sees the other's logins, logouts and refresh
//! rotations at once.

mod common;

use common::http::{bearer_get, cookie_get, plain_client, refresh_with_token};
use common::{login, send, EchoUpstream, Gateway, Login, RedisServer};
use common::{ALICE_PW, BOB_PW, DAVE_PW};
use serde_json::json;

// Logins, logouts, logout-all and refresh cross between two replicas.
#[tokio::test]
async fn two_gateways_share_sessions_through_redis() {
    let redis = RedisServer::spawn();
    let echo = EchoUpstream::spawn();
    let g1 = Gateway::builder()
        .redis(&redis)
        .upstream(&echo)
        .spawn()
        .await;
    let g2 = g1.sibling().await;
    let (b1, b2) = (g1.http_url(), g2.http_url());
    let c = plain_client(None);

    // alice logs in on g1; g2 accepts her cookie and token.
    let alice = login(&c, &b1, "alice", ALICE_PW).await;
    let e = cookie_get(&c, &format!("{b2}/app/x"), &alice.cookie)
        .await
        .echo();
    assert_eq!(e.one("x-auth-user"), Some("alice"));
    let e = bearer_get(&c, &format!("{b2}/app/x"), &alice.access_token)
        .await
        .echo();
    assert_eq!(e.one("x-auth-user"), Some("alice"));
    let sessions = send(
        c.get(format!("{b2}/auth/sessions"))
            .bearer_auth(&alice.access_token),
    )
    .await;
    assert_eq!(
        sessions.json()["sessions"].as_array().map(Vec::len),
        Some(1),
        "{}",
        sessions.body
    );

    // She logs out on g2; g1 refuses her at once.
    let r = send(
        c.post(format!("{b2}/auth/logout"))
            .bearer_auth(&alice.access_token),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    bearer_get(&c, &format!("{b1}/app/x"), &alice.access_token)
        .await
        .assert_error(401, "unauthorized");
    cookie_get(&c, &format!("{b1}/app/x"), &alice.cookie)
        .await
        .assert_error(401, "unauthorized");

    // bob logs in twice on g2; logout-all on g1 ends both on g2.
    let bob1 = login(&c, &b2, "bob", BOB_PW).await;
    let bob2 = login(&c, &b2, "bob", BOB_PW).await;
    let r = send(
        c.post(format!("{b1}/auth/logout"))
            .bearer_auth(&bob1.access_token)
            .json(&json!({"all": true})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for t in [&bob1, &bob2] {
        bearer_get(&c, &format!("{b2}/app/x"), &t.access_token)
            .await
            .assert_error(401, "unauthorized");
    }

    // dave's refresh token from g1 rotates on g2; the result works on g1;
    // replaying the rotated one on g1 gets the grace answer, not a new family.
    let dave = login(&c, &b1, "dave", DAVE_PW).await;
    let rotated = Login::from_reply(&refresh_with_token(&c, &b2, &dave.refresh_token).await);
    let e = bearer_get(&c, &format!("{b1}/app/x"), &rotated.access_token)
        .await
        .echo();
    assert_eq!(e.one("x-auth-user"), Some("dave"));
    let replay = Login::from_reply(&refresh_with_token(&c, &b1, &dave.refresh_token).await);
    assert_eq!(
        replay.refresh_token, rotated.refresh_token,
        "grace answer differs across replicas"
    );

    // Control: a fresh login on g2 is still honoured by g1.
    let bob3 = login(&c, &b2, "bob", BOB_PW).await;
    let e = bearer_get(&c, &format!("{b1}/app/x"), &bob3.access_token)
        .await
        .echo();
    assert_eq!(e.one("x-auth-user"), Some("bob"));
}
