//! The OpenID Connect button round trip in headless Chromium (SPEC §15):
//! a protected page sends the browser to the login page, its provider
//! button to panva's oidc-provider (tests/oidc-provider), whose login and
//! consent forms the browser fills; the provider sends it back to the
//! gateway's callback, which signs it in and lands it on `rd` with the
//! mapped identity. Screenshots of each step are kept.

mod common;

use std::time::{Duration, Instant};

use common::op::OidcProvider;
use common::{send, Browser, EchoUpstream, Gateway};
use serde_json::{json, Value};

const SECRET_ENV: &str = "GH_TEST_BROWSER_OIDC_SECRET";
const SECRET: &str = "browser-oidc-client-secret-5b1e";

fn users() -> Value {
    json!({
        "root": {"preferred_username": "root.op", "email": "root@corp.test",
                 "email_verified": true, "groups": ["idp-admins", "staff"]},
    })
}

fn client(gw: &str) -> Value {
    json!([{
        "client_id": "gh",
        "client_secret": SECRET,
        "redirect_uris": [format!("{gw}/auth/oidc/corp/callback")],
        "post_logout_redirect_uris": [format!("{gw}/")],
    }])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_button_round_trip_in_a_real_browser() {
    let echo = EchoUpstream::spawn();
    let port = OidcProvider::reserve_port();
    let provider = format!(
        "[[oidc]]\nid = \"corp\"\nname = \"Corp SSO\"\nissuer = \"{}\"\nclient_id = \"gh\"\n\
         client_secret_env = \"{SECRET_ENV}\"\nrole_map = {{ \"idp-admins\" = \"admin\", \"staff\" = \"user\" }}\n",
        OidcProvider::issuer_for(port)
    );
    let gw = Gateway::builder()
        .upstream(&echo)
        .tls(true)
        // The callback is built from the origin the browser used (https).
        .unset("server", "public_url")
        .env(SECRET_ENV, SECRET)
        .extra(&provider)
        .spawn()
        .await;
    let base = gw.https_url();
    let _op = OidcProvider::spawn(port, client(&base), users()).await;
    gw.signal("HUP");
    // Until the gateway has discovered the provider (its button is a link).
    let http = gw.client();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = send(
            http.get(format!("{base}/auth/login"))
                .header("Accept", "text/html"),
        )
        .await;
        if page.body.contains("/auth/oidc/corp/start?rd=") {
            break;
        }
        assert!(Instant::now() < deadline, "provider never discovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let browser = Browser::start().await;
    browser.goto(&format!("{base}/app/landing?x=1")).await;
    assert_eq!(browser.current_url().await.path(), "/auth/login");
    browser.screenshot("01-login-with-provider").await;

    // The button leads to the provider's own login form.
    browser.click_to_navigate("ul.providers a").await;
    let at = browser.current_url().await;
    assert_eq!(at.port(), Some(port), "not at the provider: {at}");
    browser.screenshot("02-provider-login").await;
    browser.fill("input[name=login]", "root").await;
    browser.fill("input[name=password]", "any").await;
    browser.click_to_navigate("button[type=submit]").await;
    // The provider's consent, then back through the gateway's callback.
    if browser.current_url().await.port() == Some(port) {
        browser.screenshot("03-provider-consent").await;
        browser.click_to_navigate("button[type=submit]").await;
    }
    let landed = browser.current_url().await;
    assert_eq!(
        landed.as_str(),
        format!("{base}/app/landing?x=1"),
        "{}",
        gw.logs()
    );
    let echoed = browser.page_source().await;
    assert!(
        echoed.contains("root.op") && echoed.contains("admin"),
        "identity not forwarded: {echoed}"
    );
    browser.screenshot("04-landed").await;

    // The account page knows the provider's user.
    browser.goto(&format!("{base}/auth/account")).await;
    assert_eq!(browser.text("#username").await, "root.op");
    browser.screenshot("05-account").await;
    browser.close().await;
}
