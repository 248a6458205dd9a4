//! The TLS listener (SPEC §2 tls_listen, §6 HSTS): same login and access
//! behaviour as plain HTTP, every answer carries Strict-Transport-Security,
//! and the upstream learns the request came over https.

mod common;

use common::{login, send, Reply, Rig, StoreKind, ALICE_PW};

fn assert_hsts(r: &Reply, what: &str) {
    let hsts = r
        .header("strict-transport-security")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let max_age = hsts
        .split(';')
        .find_map(|p| p.trim().strip_prefix("max-age="))
        .and_then(|v| v.trim_matches('"').parse::<u64>().ok());
    assert!(
        max_age.is_some_and(|a| a > 0),
        "{what}: no HSTS max-age: {:?}",
        r.headers
    );
}

// Login and protected access over https, with HSTS on every answer.
#[tokio::test]
async fn tls_listener_serves_login_and_protected_routes() {
    let rig = Rig::with(StoreKind::Memory, |b| b.tls(true)).await;
    let base = rig.gw.https_url();
    let (browser, _jar) = rig.gw.jar_client();

    let r = send(browser.get(format!("{base}/healthz"))).await;
    assert_eq!(r.status, 200);
    assert_hsts(&r, "healthz");

    let r = send(browser.get(format!("{base}/app/x"))).await;
    r.assert_error(401, "unauthorized");
    assert_hsts(&r, "401");

    let r = common::login_json(&browser, &base, "alice", ALICE_PW).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_hsts(&r, "login");
    let set = r
        .set_cookie(common::COOKIE)
        .expect("session cookie over TLS");
    assert!(set.to_ascii_lowercase().contains("secure"), "{set}");

    let r = send(browser.get(format!("{base}/app/x"))).await;
    assert_hsts(&r, "proxied answer");
    let e = r.echo();
    assert_eq!(e.one("x-auth-user"), Some("alice"));
    assert_eq!(e.roles("x-auth-roles"), ["admin"]);
    assert_eq!(e.one("x-forwarded-proto"), Some("https"));
    assert_eq!(
        e.one("x-forwarded-host"),
        Some(rig.gw.https_addr().to_string().as_str())
    );

    // Bearer over TLS too, and the plain listener keeps working alongside.
    let tok = login(&rig.gw.plain_client(), &base, "alice", ALICE_PW).await;
    let r = send(
        rig.gw
            .plain_client()
            .get(format!("{base}/admin/x"))
            .bearer_auth(&tok.access_token),
    )
    .await;
    assert_eq!(r.echo().one("x-auth-user"), Some("alice"));
    let r = send(
        rig.gw
            .plain_client()
            .get(rig.url("/admin/x"))
            .bearer_auth(&tok.access_token),
    )
    .await;
    assert_eq!(r.echo().one("x-forwarded-proto"), Some("http"));
}
