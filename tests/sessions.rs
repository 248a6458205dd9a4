//! Session lifetime (SPEC §4 logout and sessions endpoints, §5 "refused at
//! once, not at its expiry"): logout ends the session for its cookie, its
//! access tokens and its refresh token; `{"all":true}` ends them all; users
//! list and end their own sessions, never someone else's.

mod common;

use common::http::{bearer_get, clears_cookie, cookie_get, plain_client, refresh_with_token};
use common::{login, send, Rig, StoreKind, TestUser};
use common::{ALICE_PW, BOB_PW, DAVE_PW, REFRESH_COOKIE};
use serde_json::json;

const ERIN_PW: &str = "erin-pass-123";

// Each scenario uses its own users so they can share one gateway.
#[tokio::test]
async fn logout_and_session_management() {
    let rig = Rig::with(StoreKind::Memory, |b| {
        b.user(TestUser::new("erin", ERIN_PW, &["user"]))
    })
    .await;
    logout_kills_cookie_jwt_and_refresh_token_at_once(&rig).await;
    bearer_logout_needs_no_origin(&rig).await;
    logout_all_ends_every_session_of_the_user_only(&rig).await;
    users_list_and_end_their_own_sessions_only(&rig).await;
}

/// Logout from a browser: cookies cleared, and the old cookie, access token
/// and refresh token are refused right after.
async fn logout_kills_cookie_jwt_and_refresh_token_at_once(rig: &Rig) {
    let base = rig.base();
    let (browser, jar) = rig.gw.jar_client();
    let tok = login(&browser, &base, "alice", ALICE_PW).await;
    let other = plain_client(None);
    let url = rig.url("/app/x");
    assert_eq!(
        cookie_get(&other, &url, &tok.cookie)
            .await
            .echo()
            .one("x-auth-user"),
        Some("alice")
    );
    assert_eq!(
        bearer_get(&other, &url, &tok.access_token)
            .await
            .echo()
            .one("x-auth-user"),
        Some("alice")
    );

    let r = send(
        browser
            .post(rig.url("/auth/logout"))
            .header("Origin", &base),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let _ = r.json();
    assert!(r
        .header("cache-control")
        .unwrap_or_default()
        .contains("no-store"));
    let cleared = r
        .set_cookie(common::COOKIE)
        .expect("logout clears the session cookie");
    assert!(clears_cookie(&cleared), "{cleared}");
    let cleared = r
        .set_cookie(REFRESH_COOKIE)
        .expect("logout clears the refresh cookie");
    assert!(clears_cookie(&cleared), "{cleared}");
    let url_parsed = reqwest::Url::parse(&base).expect("url");
    let left = reqwest::cookie::CookieStore::cookies(&*jar, &url_parsed);
    assert!(
        left.as_ref()
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| !v.contains(&tok.cookie)),
        "jar still holds the session: {left:?}"
    );

    cookie_get(&other, &url, &tok.cookie)
        .await
        .assert_error(401, "unauthorized");
    bearer_get(&other, &url, &tok.access_token)
        .await
        .assert_error(401, "unauthorized");
    send(browser.get(&url))
        .await
        .assert_error(401, "unauthorized");
    let r = refresh_with_token(&other, &base, &tok.refresh_token).await;
    assert_eq!(
        r.status, 401,
        "refresh token outlived its session: {}",
        r.body
    );
}

/// An API client logs out with its bearer token (CSRF-exempt).
async fn bearer_logout_needs_no_origin(rig: &Rig) {
    let api = plain_client(None);
    let tok = login(&api, &rig.base(), "bob", BOB_PW).await;
    let url = rig.url("/app/x");
    assert_eq!(
        bearer_get(&api, &url, &tok.access_token)
            .await
            .echo()
            .one("x-auth-user"),
        Some("bob")
    );
    let r = send(
        api.post(rig.url("/auth/logout"))
            .bearer_auth(&tok.access_token),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    bearer_get(&api, &url, &tok.access_token)
        .await
        .assert_error(401, "unauthorized");
    cookie_get(&api, &url, &tok.cookie)
        .await
        .assert_error(401, "unauthorized");
}

/// `{"all":true}` ends all of dave's sessions and none of bob's.
async fn logout_all_ends_every_session_of_the_user_only(rig: &Rig) {
    let base = rig.base();
    let c = plain_client(None);
    let url = rig.url("/app/x");
    let (browser, _jar) = rig.gw.jar_client();
    let a = login(&browser, &base, "dave", DAVE_PW).await;
    let b = login(&c, &base, "dave", DAVE_PW).await;
    let bob = login(&c, &base, "bob", BOB_PW).await;
    for t in [&a, &b] {
        assert_eq!(
            bearer_get(&c, &url, &t.access_token)
                .await
                .echo()
                .one("x-auth-user"),
            Some("dave")
        );
    }

    let r = send(
        browser
            .post(rig.url("/auth/logout"))
            .header("Origin", &base)
            .json(&json!({"all": true})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for t in [&a, &b] {
        bearer_get(&c, &url, &t.access_token)
            .await
            .assert_error(401, "unauthorized");
        cookie_get(&c, &url, &t.cookie)
            .await
            .assert_error(401, "unauthorized");
        assert_eq!(
            refresh_with_token(&c, &base, &t.refresh_token).await.status,
            401
        );
    }
    // Control: another user's session is untouched.
    assert_eq!(
        bearer_get(&c, &url, &bob.access_token)
            .await
            .echo()
            .one("x-auth-user"),
        Some("bob")
    );
}

/// GET /auth/sessions lists the user's sessions with `current`; DELETE ends
/// one of them; another user's session id cannot be ended.
async fn users_list_and_end_their_own_sessions_only(rig: &Rig) {
    let base = rig.base();
    let c = plain_client(None);
    let url = rig.url("/app/x");
    let (browser, _jar) = rig.gw.jar_client();
    let a = login_as(&browser, rig, "erin", ERIN_PW, "agent-A/1.0").await;
    let b = login_as(&c, rig, "erin", ERIN_PW, "agent-B/2.0").await;

    let r = send(
        browser
            .get(rig.url("/auth/sessions"))
            .header("User-Agent", "agent-A/1.0"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r
        .header("cache-control")
        .unwrap_or_default()
        .contains("no-store"));
    let list = r.json();
    let sessions = list["sessions"].as_array().expect("sessions array");
    assert_eq!(sessions.len(), 2, "{list}");
    for s in sessions {
        for field in ["id", "created", "last_seen", "ip", "user_agent", "current"] {
            assert!(
                s.get(field).is_some_and(|v| !v.is_null()),
                "{field} missing: {s}"
            );
        }
        assert_eq!(s["ip"], "127.0.0.1");
    }
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "exactly one current session: {list}");
    assert_eq!(current[0]["user_agent"], "agent-A/1.0");
    let b_entry = sessions
        .iter()
        .find(|s| s["current"] == false)
        .expect("the other session");
    assert_eq!(b_entry["user_agent"], "agent-B/2.0");
    let b_id = b_entry["id"].as_str().expect("id").to_string();

    // bob cannot end erin's session.
    let bob = login(&c, &base, "bob", BOB_PW).await;
    let r = send(
        c.delete(rig.url(&format!("/auth/sessions/{b_id}")))
            .bearer_auth(&bob.access_token),
    )
    .await;
    assert!(
        matches!(r.status, 403 | 404),
        "bob ended erin's session: {} {}",
        r.status,
        r.body
    );
    assert_eq!(
        bearer_get(&c, &url, &b.access_token)
            .await
            .echo()
            .one("x-auth-user"),
        Some("erin")
    );

    // erin ends her other session from the browser.
    let r = send(
        browser
            .delete(rig.url(&format!("/auth/sessions/{b_id}")))
            .header("Origin", &base),
    )
    .await;
    assert!(matches!(r.status, 200 | 204), "{} {}", r.status, r.body);
    bearer_get(&c, &url, &b.access_token)
        .await
        .assert_error(401, "unauthorized");
    assert_eq!(
        send(browser.get(&url)).await.echo().one("x-auth-user"),
        Some("erin")
    );
    assert_eq!(
        bearer_get(&c, &url, &a.access_token)
            .await
            .echo()
            .one("x-auth-user"),
        Some("erin")
    );

    let left = send(browser.get(rig.url("/auth/sessions"))).await.json();
    assert_eq!(left["sessions"].as_array().map(Vec::len), Some(1), "{left}");
    send(c.get(rig.url("/auth/sessions")))
        .await
        .assert_error(401, "unauthorized");
}

async fn login_as(
    client: &reqwest::Client,
    rig: &Rig,
    user: &str,
    pw: &str,
    agent: &str,
) -> common::Login {
    let r = send(
        client
            .post(rig.url("/auth/login"))
            .header("Origin", rig.base())
            .header("User-Agent", agent)
            .json(&json!({"username": user, "password": pw})),
    )
    .await;
    common::Login::from_reply(&r)
}
