//! The pages of SPEC §14 in headless Chromium (SPEC §15), one browser for
//! the whole story (the machine is small), with a screenshot of each page:
//! sign in and land on `rd`; a wrong password; TOTP enrolment by reading
//! the secret off the page; a session revoked from the account page and
//! one revoked under the browser; sign-in with a code; password change and
//! sign-in with the new password only; sign out everywhere; lockout; the
//! history of it all.

mod common;

use common::{Browser, Rig, StoreKind, ALICE_PW};
use gatehouse::auth::totp;

const NEW_PW: &str = "seven brass owls at dawn";

#[tokio::test]
async fn pages_in_a_real_browser() {
    let rig = Rig::with(StoreKind::Memory, |b| {
        b.tls(true).set("login", "max_failures", "3")
    })
    .await;
    let base = rig.gw.https_url();
    let http = rig.gw.client();
    let browser = Browser::start().await;

    // A protected page sends the browser to sign in; a wrong password
    // answers the page with the message, the username kept.
    browser.goto(&format!("{base}/app/start")).await;
    assert_eq!(browser.current_url().await.path(), "/auth/login");
    browser.screenshot("01-login").await;
    browser.fill("#username", "alice").await;
    browser.fill("#password", "not-it").await;
    browser.click_to_navigate("button[type=submit]").await;
    assert_eq!(browser.text("#error").await, "Wrong username or password.");
    let kept = browser
        .find_attr("#username", "value")
        .await
        .unwrap_or_default();
    assert_eq!(kept, "alice");
    browser.screenshot("02-wrong-password").await;

    // The right one: land on rd.
    browser.fill("#password", ALICE_PW).await;
    browser.click_to_navigate("button[type=submit]").await;
    assert_eq!(
        browser.current_url().await.as_str(),
        format!("{base}/app/start")
    );

    // The account page: who, roles, this session.
    browser.goto(&format!("{base}/auth/account")).await;
    assert_eq!(browser.text("#username").await, "alice");
    assert!(browser.text("#roles").await.contains("admin"));
    browser.screenshot("03-account").await;

    // TOTP: start, read the secret off the page, confirm with a code.
    browser.click_to_navigate("#totp-enroll").await;
    let secret = browser.text("#totp-secret").await;
    assert!(secret.len() >= 16, "{secret}");
    browser.scroll_to("#totp").await;
    browser.screenshot("04-totp-qr").await;
    let step = totp::step_at(common::jwt::now());
    let code = totp::code_at(&secret, step).expect("code");
    browser.fill("#totp-code", &code).await;
    browser.click_to_navigate("#totp button[type=submit]").await;
    let codes: Vec<String> = browser
        .text("#backup-codes")
        .await
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    assert_eq!(codes.len(), 10, "{codes:?}");
    browser.scroll_to("#totp").await;
    browser.screenshot("05-backup-codes").await;

    // Another session of alice (an HTTP client, using a backup code),
    // revoked from the browser's account page.
    let other = http
        .post(format!("{base}/auth/login"))
        .json(&serde_json::json!({"username": "alice", "password": ALICE_PW, "totp": codes[0]}))
        .send()
        .await
        .expect("login");
    assert_eq!(other.status(), 200);
    let other: serde_json::Value = other.json().await.expect("json");
    let other_token = other["access_token"].as_str().expect("token").to_string();
    browser.goto(&format!("{base}/auth/account")).await;
    browser.screenshot("06-two-sessions").await;
    browser
        .click_to_navigate("tr.session:not(:has(.current)) button.revoke")
        .await;
    assert_eq!(browser.text("#notice").await, "The session was signed out.");
    let me = common::http::bearer_get(&http, &format!("{base}/auth/me"), &other_token).await;
    assert_eq!(me.status, 401, "the revoked session is refused");

    // Now the other way round: the browser's session revoked from outside;
    // its next request goes to the login page.
    let sid = browser_sid(&browser, &http, &base).await;
    let second = login_with_code(&http, &base, &codes[1]).await;
    let r = http
        .delete(format!("{base}/auth/sessions/{sid}"))
        .bearer_auth(&second)
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 200);
    browser.goto(&format!("{base}/app/again")).await;
    assert_eq!(browser.current_url().await.path(), "/auth/login");

    // Sign in with a code: the page asks for it after the password.
    browser.fill("#username", "alice").await;
    browser.fill("#password", ALICE_PW).await;
    browser.click_to_navigate("button[type=submit]").await;
    assert!(browser.page_source().await.contains("id=\"totp\""));
    browser.screenshot("07-login-code").await;
    browser.fill("#password", ALICE_PW).await;
    let next = totp::code_at(&secret, step + 1).expect("code");
    browser.fill("#totp", &next).await;
    browser.click_to_navigate("button[type=submit]").await;
    assert_eq!(browser.current_url().await.path(), "/app/again");

    // Password change (a backup code as the second factor).
    browser.goto(&format!("{base}/auth/account")).await;
    browser.fill("#current", ALICE_PW).await;
    browser.fill("#new", NEW_PW).await;
    browser.fill("#password-totp", &codes[2]).await;
    browser.click_to_navigate("#change-password").await;
    assert!(
        browser
            .text("#notice")
            .await
            .contains("password was changed"),
        "{}",
        browser.page_source().await
    );
    browser.screenshot("08-password-changed").await;

    // Sign out everywhere; the old password no longer works, the new one does.
    browser.click_to_navigate("#logout-all").await;
    assert_eq!(browser.current_url().await.path(), "/auth/login");
    browser.fill("#username", "alice").await;
    browser.fill("#password", ALICE_PW).await;
    browser.click_to_navigate("button[type=submit]").await;
    assert_eq!(browser.text("#error").await, "Wrong username or password.");
    browser.fill("#password", NEW_PW).await;
    browser.click_to_navigate("button[type=submit]").await;
    browser.fill("#password", NEW_PW).await;
    browser.fill("#totp", &codes[3]).await;
    browser.click_to_navigate("button[type=submit]").await;
    assert_eq!(
        browser.current_url().await.path(),
        "/",
        "{}",
        browser.page_source().await
    );

    // History: the attempts, newest first, the first sign-in a new device.
    browser.goto(&format!("{base}/auth/account")).await;
    let history = browser.text("#history").await;
    assert!(
        history.contains("failed") && history.contains("ok"),
        "{history}"
    );
    assert!(history.contains("new device"), "{history}");
    browser.scroll_to("#history").await;
    browser.screenshot("09-history").await;

    // Lockout: bob, three wrong passwords, then the minutes left.
    browser.click_to_navigate("#logout-all").await;
    for _ in 0..3 {
        browser.fill("#username", "bob").await;
        browser.fill("#password", "wrong").await;
        browser.click_to_navigate("button[type=submit]").await;
        browser.clear("#username").await;
    }
    browser.fill("#username", "bob").await;
    browser.fill("#password", common::BOB_PW).await;
    browser.click_to_navigate("button[type=submit]").await;
    assert_eq!(
        browser.text("#error").await,
        "Too many failed sign-ins. Try again in 15 minutes."
    );
    browser.screenshot("10-lockout").await;

    // A phone-sized window reads too.
    browser.resize(390, 844).await;
    browser.screenshot("11-login-phone").await;
    browser.clear("#username").await;
    browser.fill("#username", "dave").await;
    browser.fill("#password", common::DAVE_PW).await;
    browser.click_to_navigate("button[type=submit]").await;
    browser.goto(&format!("{base}/auth/account")).await;
    assert_eq!(browser.text("#username").await, "dave");
    browser.screenshot("12-account-phone").await;
    browser.close().await;
}

/// The browser's own session id, from its cookie through `/auth/sessions`.
async fn browser_sid(browser: &Browser, http: &reqwest::Client, base: &str) -> String {
    let cookie = browser
        .cookie(common::COOKIE)
        .await
        .expect("session cookie");
    let r = http
        .get(format!("{base}/auth/sessions"))
        .header("Cookie", format!("{}={}", common::COOKIE, cookie.value()))
        .send()
        .await
        .expect("sessions");
    let v: serde_json::Value = r.json().await.expect("json");
    v["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .find(|s| s["current"] == true)
        .and_then(|s| s["id"].as_str())
        .expect("current session")
        .to_string()
}

async fn login_with_code(http: &reqwest::Client, base: &str, code: &str) -> String {
    let r = http
        .post(format!("{base}/auth/login"))
        .json(&serde_json::json!({"username": "alice", "password": ALICE_PW, "totp": code}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.expect("json");
    v["access_token"].as_str().expect("token").to_string()
}
