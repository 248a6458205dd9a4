//! Refresh tokens (SPEC §5): every use rotates; reusing a rotated token
//! after the grace window revokes the family and its session; within the
//! window the same successor comes back; concurrent refreshes with one token
//! make one family.

mod common;

use std::collections::HashSet;

use common::http::{bearer_get, cookie_get, plain_client, refresh_with_token};
use common::{jwt, login, send, Login, Rig, StoreKind};
use common::{ALICE_PW, BOB_PW, DAVE_PW, REFRESH_COOKIE};

// With no grace window, rotation works and a replayed token revokes the
// whole family and its session (cookie and access tokens included).
#[tokio::test]
async fn rotation_and_reuse_detection() {
    let rig = Rig::with(StoreKind::Memory, |b| {
        b.set("tokens", "refresh_reuse_grace", "\"0s\"")
    })
    .await;
    let base = rig.base();
    let c = plain_client(None);
    let url = rig.url("/app/x");

    let t0 = login(&c, &base, "alice", ALICE_PW).await;
    let r = refresh_with_token(&c, &base, &t0.refresh_token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r
        .header("cache-control")
        .unwrap_or_default()
        .contains("no-store"));
    let t1 = Login::from_reply(&r);
    assert_eq!(t1.body["token_type"], "Bearer");
    assert!(t1.body["expires_in"].as_i64().is_some_and(|s| s > 0));
    assert_ne!(
        t1.refresh_token, t0.refresh_token,
        "refresh token not rotated"
    );
    assert_ne!(t1.access_token, t0.access_token, "no new access token");
    assert_eq!(
        jwt::claims(&t1.access_token)["sid"],
        jwt::claims(&t0.access_token)["sid"],
        "refresh stays in the login's session"
    );
    assert_eq!(
        bearer_get(&c, &url, &t1.access_token)
            .await
            .echo()
            .one("x-auth-user"),
        Some("alice")
    );
    assert_eq!(
        cookie_get(&c, &url, &t0.cookie)
            .await
            .echo()
            .one("x-auth-user"),
        Some("alice")
    );

    // Replay of the rotated token: refused, and everything of that session dies.
    let r = refresh_with_token(&c, &base, &t0.refresh_token).await;
    assert_eq!(
        r.status, 401,
        "rotated refresh token accepted again: {}",
        r.body
    );
    for (what, r) in [
        (
            "successor refresh token",
            refresh_with_token(&c, &base, &t1.refresh_token).await,
        ),
        (
            "new access token",
            bearer_get(&c, &url, &t1.access_token).await,
        ),
        (
            "old access token",
            bearer_get(&c, &url, &t0.access_token).await,
        ),
        ("session cookie", cookie_get(&c, &url, &t0.cookie).await),
    ] {
        assert_eq!(
            r.status, 401,
            "{what} survived refresh-token reuse: {}",
            r.body
        );
    }

    // Control: another login of the same user is a different family.
    let other = login(&c, &base, "alice", ALICE_PW).await;
    assert_eq!(
        refresh_with_token(&c, &base, &other.refresh_token)
            .await
            .status,
        200
    );

    cookie_refresh_rotates_the_refresh_cookie(&rig).await;
}

/// A browser refreshes with its refresh cookie (and our Origin); the jar's
/// cookies are rotated; replaying the old refresh cookie revokes the session.
async fn cookie_refresh_rotates_the_refresh_cookie(rig: &Rig) {
    let base = rig.base();
    let (browser, _jar) = rig.gw.jar_client();
    let login_reply = common::login_json(&browser, &base, "bob", BOB_PW).await;
    let t0 = Login::from_reply(&login_reply);
    let old_refresh_cookie = login_reply
        .cookie_value(REFRESH_COOKIE)
        .expect("refresh cookie");

    let r = send(
        browser
            .post(rig.url("/auth/refresh"))
            .header("Origin", &base),
    )
    .await;
    assert_eq!(r.status, 200, "cookie refresh: {}", r.body);
    let new_refresh_cookie = r
        .cookie_value(REFRESH_COOKIE)
        .expect("rotated refresh cookie");
    assert_ne!(new_refresh_cookie, old_refresh_cookie);
    assert_eq!(
        send(browser.get(rig.url("/app/x")))
            .await
            .echo()
            .one("x-auth-user"),
        Some("bob")
    );

    // Replay the old refresh cookie from elsewhere (grace is 0s here).
    let r = send(
        plain_client(None)
            .post(rig.url("/auth/refresh"))
            .header("Origin", &base)
            .header("Cookie", format!("{REFRESH_COOKIE}={old_refresh_cookie}")),
    )
    .await;
    assert_eq!(
        r.status, 401,
        "replayed refresh cookie accepted: {}",
        r.body
    );
    send(browser.get(rig.url("/app/x")))
        .await
        .assert_error(401, "unauthorized");
    bearer_get(&plain_client(None), &rig.url("/app/x"), &t0.access_token)
        .await
        .assert_error(401, "unauthorized");
}

// Within the grace window a rotated token gets the same successor, and N
// concurrent refreshes with one token all get that one successor.
#[tokio::test]
async fn grace_window_and_concurrent_refresh() {
    let rig = Rig::with(StoreKind::Memory, |b| {
        b.set("tokens", "refresh_reuse_grace", "\"30s\"")
    })
    .await;
    let base = rig.base();
    let c = plain_client(None);
    let url = rig.url("/app/x");

    let t0 = login(&c, &base, "bob", BOB_PW).await;
    let t1 = Login::from_reply(&refresh_with_token(&c, &base, &t0.refresh_token).await);
    let again = refresh_with_token(&c, &base, &t0.refresh_token).await;
    assert_eq!(
        again.status, 200,
        "reuse within the grace window: {}",
        again.body
    );
    let t1b = Login::from_reply(&again);
    assert_eq!(
        t1b.refresh_token, t1.refresh_token,
        "grace answer must be the same successor"
    );
    for t in [&t1, &t1b] {
        assert_eq!(
            bearer_get(&c, &url, &t.access_token)
                .await
                .echo()
                .one("x-auth-user"),
            Some("bob")
        );
    }
    // The successor is still usable and rotates on.
    let t2 = Login::from_reply(&refresh_with_token(&c, &base, &t1.refresh_token).await);
    assert_ne!(t2.refresh_token, t1.refresh_token);

    // Concurrent refreshes with one token: one family, one successor.
    let t0 = login(&c, &base, "dave", DAVE_PW).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (c, base, token) = (c.clone(), base.clone(), t0.refresh_token.clone());
        tasks.push(tokio::spawn(async move {
            refresh_with_token(&c, &base, &token).await
        }));
    }
    let mut successors = HashSet::new();
    for task in tasks {
        let r = task.await.expect("refresh task");
        assert_eq!(r.status, 200, "concurrent refresh refused: {}", r.body);
        successors.insert(Login::from_reply(&r).refresh_token);
    }
    assert_eq!(
        successors.len(),
        1,
        "concurrent refreshes minted several families: {successors:?}"
    );
    let successor = successors.into_iter().next().expect("one successor");
    let next = refresh_with_token(&c, &base, &successor).await;
    assert_eq!(next.status, 200, "the one successor works: {}", next.body);
    let t = Login::from_reply(&next);
    assert_eq!(
        bearer_get(&c, &url, &t.access_token)
            .await
            .echo()
            .one("x-auth-user"),
        Some("dave")
    );
}
