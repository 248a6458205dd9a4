//! What reaches the upstream (SPEC §7): identity headers only from the
//! gateway, spoofed ones stripped (case- and `_`-insensitively), rewrite
//! headers ignored and removed, X-Forwarded-* replaced for untrusted peers,
//! gatehouse's cookies and `Authorization` kept back, `Connection` unable to
//! drop the injected identity.

mod common;

use common::http::{bearer_get, plain_client};
use common::{login_json, raw, send, Echo, Login, Rig, StoreKind, BOB_PW, REFRESH_COOKIE};

/// Client-sent headers the upstream must never see.
const REWRITE_HEADERS: [&str; 6] = [
    "x-original-url",
    "x-original-uri",
    "x-rewrite-url",
    "x-forwarded-uri",
    "x-forwarded-path",
    "x-envoy-original-path",
];

fn assert_no_spoofed_headers(e: &Echo) {
    for name in e.folded_names() {
        assert!(
            !name.starts_with("x-auth-")
                || ["x-auth-user", "x-auth-email", "x-auth-roles"].contains(&name.as_str()),
            "client header {name} reached the upstream: {e:?}"
        );
        assert!(
            !REWRITE_HEADERS.contains(&name.as_str()),
            "{name} reached the upstream: {e:?}"
        );
    }
    // Each identity header exactly once (a folded `x_auth_user` would be a second).
    for name in ["x-auth-user", "x-auth-email", "x-auth-roles"] {
        let n = e.folded_names().iter().filter(|f| *f == name).count();
        assert!(n <= 1, "{name} reached the upstream {n} times: {e:?}");
    }
}

// One gateway for all header scenarios (bob is a plain `user`).
#[tokio::test]
async fn upstream_sees_only_what_the_gateway_vouches_for() {
    let rig = Rig::start(StoreKind::Memory).await;
    let c = plain_client(None);
    let reply = login_json(&c, &rig.base(), "bob", BOB_PW).await;
    let bob = Login::from_reply(&reply);
    let refresh_cookie = reply.cookie_value(REFRESH_COOKIE).expect("refresh cookie");

    spoofed_identity_and_forwarding_headers_are_replaced(&rig, &bob, &refresh_cookie).await;
    authorization_is_not_forwarded_by_default(&rig, &bob).await;
    connection_header_cannot_drop_the_identity(&rig, &bob).await;
    anonymous_public_requests_carry_no_identity(&rig).await;
    rewrite_headers_do_not_change_routing(&rig, &bob).await;
}

/// Cookie-authenticated request stuffed with spoofed headers.
async fn spoofed_identity_and_forwarding_headers_are_replaced(
    rig: &Rig,
    bob: &Login,
    refresh: &str,
) {
    let host = rig.gw.http_addr().to_string();
    let r = send(
        plain_client(None)
            .get(rig.url("/app/spoof?q=1"))
            .header(
                "Cookie",
                format!(
                    "theme=dark; {}; {REFRESH_COOKIE}={refresh}; other=1",
                    bob.cookie_header()
                ),
            )
            .header("X-Auth-User", "admin")
            .header("X_Auth_User", "admin")
            .header("x-auth-roles", "admin")
            .header("X-Auth-Email", "root@evil.example")
            .header("X-AUTH-Extra", "1")
            .header("x_auth_other", "2")
            .header("X-Original-URL", "/admin")
            .header("X-Original-URI", "/admin")
            .header("X-Rewrite-URL", "/admin")
            .header("X-Forwarded-Uri", "/admin")
            .header("X-Forwarded-Path", "/admin")
            .header("X-Envoy-Original-Path", "/admin")
            .header("X-Forwarded-For", "6.6.6.6")
            .header("X-Forwarded-Proto", "https")
            .header("X-Forwarded-Host", "evil.example")
            .header("X-Custom", "keep-me"),
    )
    .await;
    let e = r.echo();
    assert_eq!(e.path, "/app/spoof?q=1");
    assert_no_spoofed_headers(&e);
    assert_eq!(e.one("x-auth-user"), Some("bob"));
    assert_eq!(e.one("x-auth-email"), Some("bob@example.com"));
    assert_eq!(e.roles("x-auth-roles"), ["user"]);
    assert_eq!(
        e.all("x-forwarded-for"),
        ["127.0.0.1"],
        "untrusted peer's XFF must be replaced"
    );
    assert_eq!(e.all("x-forwarded-proto"), ["http"]);
    assert_eq!(e.all("x-forwarded-host"), [host.as_str()]);
    assert_eq!(e.one("x-custom"), Some("keep-me"), "ordinary headers pass");

    // Other cookies are forwarded, gatehouse's are not.
    let cookies = e.all("cookie").join("; ");
    assert!(
        cookies.contains("theme=dark") && cookies.contains("other=1"),
        "cookies: {cookies:?}"
    );
    assert!(
        !cookies.contains("__Host-gatehouse"),
        "gatehouse cookie forwarded: {cookies:?}"
    );
    assert!(
        !cookies.contains(&bob.cookie) && !cookies.contains(refresh),
        "{cookies:?}"
    );
}

/// The bearer token stays at the gateway unless the route says otherwise.
async fn authorization_is_not_forwarded_by_default(rig: &Rig, bob: &Login) {
    let e = bearer_get(
        &plain_client(None),
        &rig.url("/app/api-call"),
        &bob.access_token,
    )
    .await
    .echo();
    assert_eq!(e.one("x-auth-user"), Some("bob"));
    assert!(
        e.all("authorization").is_empty(),
        "Authorization forwarded: {e:?}"
    );
    assert!(
        !e.headers.iter().any(|(_, v)| v.contains(&bob.access_token)),
        "token leaked: {e:?}"
    );
}

/// `Connection: X-Auth-User` must not remove the injected header, while a
/// client header it names is dropped (hop-by-hop, RFC 9110 §7.6.1). Raw
/// HTTP so the header goes out exactly as written.
async fn connection_header_cannot_drop_the_identity(rig: &Rig, bob: &Login) {
    let auth = format!("Bearer {}", bob.access_token);
    let r = raw::get(
        rig.gw.http_addr(),
        "/app/conn",
        &[
            ("Authorization", auth.as_str()),
            (
                "Connection",
                "close, X-Auth-User, X-Auth-Roles, x-auth-email, X-Drop-Me",
            ),
            ("X-Drop-Me", "1"),
            ("X-Keep-Me", "1"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let e = Echo::parse(&serde_json::from_str(&r.body).expect("echo JSON"));
    assert_eq!(e.one("x-auth-user"), Some("bob"));
    assert_eq!(e.one("x-auth-email"), Some("bob@example.com"));
    assert_eq!(e.roles("x-auth-roles"), ["user"]);
    assert!(
        e.all("x-drop-me").is_empty(),
        "header named in Connection was forwarded: {e:?}"
    );
    assert_eq!(e.one("x-keep-me"), Some("1"));
}

/// Anonymous request to a public route: spoofed identity stripped, none added.
async fn anonymous_public_requests_carry_no_identity(rig: &Rig) {
    let r = send(
        plain_client(None)
            .get(rig.url("/public/page"))
            .header("X-Auth-User", "admin")
            .header("X_Auth_User", "admin")
            .header("X-Auth-Roles", "admin")
            .header("X-Forwarded-For", "10.0.0.1"),
    )
    .await;
    let e = r.echo();
    assert_no_spoofed_headers(&e);
    assert!(
        e.all("x-auth-user").is_empty() && e.all("x-auth-roles").is_empty(),
        "{e:?}"
    );
    assert_eq!(e.all("x-forwarded-for"), ["127.0.0.1"]);
}

/// Routing and authentication read the request line only (SPEC §7), and no
/// header opens a route: health answers only at its exact paths.
async fn rewrite_headers_do_not_change_routing(rig: &Rig, bob: &Login) {
    let c = plain_client(None);
    let before = rig.echo.hits();
    let mut rb = c
        .get(rig.url("/admin/panel"))
        .bearer_auth(&bob.access_token);
    for h in REWRITE_HEADERS {
        rb = rb.header(h, "/public/page");
    }
    send(rb).await.assert_error(403, "forbidden");

    let mut rb = c.get(rig.url("/admin/panel"));
    for h in REWRITE_HEADERS {
        rb = rb.header(h, "/public/page");
    }
    send(rb).await.assert_error(401, "unauthorized");

    for agent in ["kube-probe/1.29", "ELB-HealthChecker/2.0", "GoogleHC/1.0"] {
        let r = send(c.get(rig.url("/app/x")).header("User-Agent", agent)).await;
        assert_eq!(
            r.status, 401,
            "User-Agent {agent} opened a route: {}",
            r.body
        );
    }
    for path in ["/healthzz", "/healthz/x", "/x/healthz", "/readyz.json"] {
        let r = send(c.get(rig.url(path))).await;
        assert_eq!(r.status, 401, "{path} answered as health: {}", r.body);
    }
    assert_eq!(
        rig.echo.hits(),
        before,
        "a refused request reached the upstream"
    );
}
