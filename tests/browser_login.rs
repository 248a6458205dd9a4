//! The login form in headless Chromium (SPEC §14, §15): a browser, not a
//! hand-made request, decides what Origin, Referer and cookies a form post
//! carries. Found by review: under `Referrer-Policy: no-referrer` Chromium
//! posted `Origin: null` and the gateway refused every real sign-in.

mod common;

use common::http::Echo;
use common::{Browser, Rig, StoreKind, ALICE_PW, COOKIE};
use serde_json::Value;

// Sign in through the TLS listener (the realistic set-up; the `__Host-`
// cookies are Secure) and land on the page asked for.
#[tokio::test]
async fn login_form_in_a_real_browser() {
    let rig = Rig::with(StoreKind::Memory, |b| b.tls(true)).await;
    let base = rig.gw.https_url();
    let browser = Browser::start().await;

    // A protected page sends the browser to the login form, `rd` kept.
    browser.goto(&format!("{base}/app/x?y=1")).await;
    let at = browser.current_url().await;
    assert_eq!(at.path(), "/auth/login", "redirected to the form: {at}");
    let rd: Vec<String> = at
        .query_pairs()
        .filter(|(k, _)| k == "rd")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(rd, ["/app/x?y=1"], "rd is the page asked for: {at}");
    browser.screenshot("login-page").await;
    let sent = browser.sent_requests().await;
    let first = sent
        .iter()
        .find(|r| r.url == format!("{base}/app/x?y=1"))
        .unwrap_or_else(|| panic!("no request for the page in the network log: {sent:#?}"));
    assert_eq!(first.status, Some(302), "{first:#?}");

    // Sign in.
    browser.fill("input[name=username]", "alice").await;
    browser.fill("input[name=password]", ALICE_PW).await;
    browser.click_to_navigate("button[type=submit]").await;
    let landed = browser.current_url().await;
    assert_eq!(
        landed.as_str(),
        format!("{base}/app/x?y=1"),
        "landed on rd; page: {}",
        browser.page_source().await
    );
    browser.screenshot("landing-page").await;
    let echo: Value = serde_json::from_str(&browser.text("pre").await).expect("echo JSON");
    let echo = Echo::parse(&echo);
    assert_eq!(echo.path, "/app/x?y=1");
    assert_eq!(echo.one("x-auth-user"), Some("alice"), "{echo:?}");
    assert_eq!(echo.one("x-forwarded-proto"), Some("https"));

    // What Chromium put on the wire: the page's `same-origin` policy makes
    // the post carry our real Origin (and a Referer), not `null`.
    let sent = browser.sent_requests().await;
    let post = sent
        .iter()
        .find(|r| r.method == "POST" && r.url.starts_with(&format!("{base}/auth/login")))
        .unwrap_or_else(|| panic!("no form post in the network log: {sent:#?}"));
    assert_eq!(post.header("origin"), Some(base.as_str()), "{post:#?}");
    assert!(
        post.header("referer")
            .is_some_and(|r| r.starts_with(&format!("{base}/auth/login"))),
        "{post:#?}"
    );
    assert_eq!(post.status, Some(303), "{post:#?}");

    // The session cookie the browser kept: __Host- rules hold.
    let cookie = browser.cookie(COOKIE).await.expect("session cookie kept");
    assert_eq!(cookie.secure(), Some(true), "{cookie:?}");
    assert_eq!(cookie.http_only(), Some(true), "{cookie:?}");
    assert_eq!(cookie.path(), Some("/"), "{cookie:?}");
    let session = cookie.value().to_string();

    // A wrong password from the same form: the page again, 401, with the
    // message and the username kept (SPEC §14), and no new session.
    browser.goto(&format!("{base}/auth/login?rd=/app/y")).await;
    browser.fill("input[name=username]", "alice").await;
    browser
        .fill("input[name=password]", "not-the-password")
        .await;
    browser.click_to_navigate("button[type=submit]").await;
    assert_eq!(
        browser.text("#error").await,
        "Wrong username or password.",
        "{}",
        browser.page_source().await
    );
    browser.screenshot("wrong-password").await;
    let sent = browser.sent_requests().await;
    let post = sent
        .iter()
        .find(|r| r.method == "POST" && r.url.starts_with(&format!("{base}/auth/login")))
        .unwrap_or_else(|| panic!("no form post in the network log: {sent:#?}"));
    assert_eq!(post.status, Some(401), "{post:#?}");
    assert_eq!(post.header("origin"), Some(base.as_str()), "{post:#?}");
    let kept = browser
        .cookie(COOKIE)
        .await
        .expect("session cookie still there");
    assert_eq!(
        kept.value(),
        session,
        "a failed login leaves the session alone"
    );

    browser.close().await;
}
