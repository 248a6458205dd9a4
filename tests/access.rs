//! Access to proxied routes (SPEC §5 credentials, §6 answers, §7 identity
//! headers, RBAC from §2), gateway endpoints (/auth/me, JWKS, health), and
//! CSRF; run on both the memory and the redis store.

mod common;

use common::http::{bearer_get, cookie_get, location, plain_client};
use common::{login, send, Rig, StoreKind};
use common::{ALICE_PW, BOB_PW, DAVE_PW};
use serde_json::json;

// Access behaviour on the embedded memory store.
#[tokio::test]
async fn access_memory() {
    suite(StoreKind::Memory).await;
}

// Access behaviour on the redis store.
#[tokio::test]
async fn access_redis() {
    suite(StoreKind::Redis).await;
}

async fn suite(store: StoreKind) {
    let rig = Rig::start(store).await;
    gateway_endpoints_answer(&rig).await;
    cookie_access_reaches_upstream_with_identity(&rig).await;
    bearer_access_reaches_upstream_with_identity(&rig).await;
    missing_or_bad_credentials_are_refused(&rig).await;
    roles_and_permissions_decide_routes(&rig).await;
    me_shows_the_current_identity(&rig).await;
    csrf_guards_cookie_authenticated_unsafe_methods(&rig).await;
}

/// /healthz, /readyz, JWKS (public parts only).
async fn gateway_endpoints_answer(rig: &Rig) {
    let c = plain_client(None);
    for path in ["/healthz", "/readyz"] {
        let r = send(c.get(rig.url(path))).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    let jwks = rig.gw.jwks().await;
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{jwks}");
    let key = &keys[0];
    assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()), "{key}");
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert!(key["x"].is_string());
    assert!(key.get("d").is_none(), "JWKS leaks the private key: {key}");

    let tok = login(&c, &rig.base(), "bob", BOB_PW).await;
    let header = common::jwt::header(&tok.access_token);
    assert_eq!(header["kid"], key["kid"], "tokens name the published key");
}

/// A browser's session cookie gets it through, with SPEC §7 headers.
async fn cookie_access_reaches_upstream_with_identity(rig: &Rig) {
    let client = rig.gw.client();
    login(&client, &rig.base(), "alice", ALICE_PW).await;
    let e = send(client.get(rig.url("/app/page?x=1"))).await.echo();
    assert_eq!(
        (e.method.as_str(), e.path.as_str()),
        ("GET", "/app/page?x=1")
    );
    assert_eq!(e.one("x-auth-user"), Some("alice"));
    assert_eq!(e.one("x-auth-email"), Some("alice@example.com"));
    assert_eq!(e.roles("x-auth-roles"), ["admin"]);
    assert_eq!(e.one("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(e.one("x-forwarded-proto"), Some("http"));
}

/// An API client (no cookies, no Origin) logs in and uses the bearer token.
async fn bearer_access_reaches_upstream_with_identity(rig: &Rig) {
    let api = plain_client(None);
    let r = send(
        api.post(rig.url("/auth/login"))
            .json(&json!({"username": "dave", "password": DAVE_PW})),
    )
    .await;
    let tok = common::Login::from_reply(&r);
    let e = bearer_get(&api, &rig.url("/api/posts"), &tok.access_token)
        .await
        .echo();
    assert_eq!(e.one("x-auth-user"), Some("dave"));
    assert_eq!(e.one("x-auth-email"), Some("dave@example.com"));
    assert_eq!(
        e.roles("x-auth-roles"),
        ["editor", "user"],
        "roles are comma-separated"
    );
}

/// SPEC §6: 401 + `WWW-Authenticate: Bearer` + JSON for API clients, 302 to
/// the login page for browsers; nothing reaches the upstream.
async fn missing_or_bad_credentials_are_refused(rig: &Rig) {
    let c = plain_client(None);
    let before = rig.echo.hits();
    let attempts = [
        c.get(rig.url("/app/page")),
        c.get(rig.url("/app/page")).bearer_auth("not-a-jwt"),
        c.get(rig.url("/app/page")).bearer_auth("a.b.c"),
        c.get(rig.url("/app/page"))
            .header("X-API-Key", "gh_unknown_key"),
        c.get(rig.url("/app/page"))
            .header("Authorization", "ApiKey gh_unknown_key"),
        c.get(rig.url("/app/page"))
            .header("Cookie", format!("{}={}", common::COOKIE, "x".repeat(64))),
        c.post(rig.url("/app/page")).body("{}"),
    ];
    for rb in attempts {
        let r = send(rb).await;
        r.assert_error(401, "unauthorized");
        let challenge = r.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer"),
            "WWW-Authenticate: {challenge:?}"
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert!(
            r.header("content-type")
                .unwrap_or_default()
                .contains("json"),
            "{r:?}"
        );
    }

    let browser = send(
        c.get(rig.url("/app/page"))
            .header("Accept", "text/html,*/*;q=0.8"),
    )
    .await;
    assert_eq!(browser.status, 302, "{browser:?}");
    let to = location(&browser, &rig.base());
    assert_eq!(
        to.origin(),
        reqwest::Url::parse(&rig.base()).expect("url").origin()
    );
    assert_eq!(to.path(), "/auth/login");
    let rd: Vec<_> = to
        .query_pairs()
        .filter(|(k, _)| k == "rd")
        .map(|(_, v)| v.to_string())
        .collect();
    assert_eq!(rd, ["/app/page"], "rd carries the original path: {to}");
    assert_eq!(
        rig.echo.hits(),
        before,
        "a refused request reached the upstream"
    );
}

/// `/admin/**` needs role admin, `/api/**` permission posts:read,
/// `/public/**` nothing; SPEC §6 403 body.
async fn roles_and_permissions_decide_routes(rig: &Rig) {
    let c = plain_client(None);
    let base = rig.base();
    let bob = login(&c, &base, "bob", BOB_PW).await;
    let alice = login(&c, &base, "alice", ALICE_PW).await;

    let r = bearer_get(&c, &rig.url("/admin/users"), &bob.access_token).await;
    r.assert_error(403, "forbidden");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let r = bearer_get(&c, &rig.url("/admin"), &bob.access_token).await;
    r.assert_error(403, "forbidden");
    let e = bearer_get(&c, &rig.url("/admin/users"), &alice.access_token)
        .await
        .echo();
    assert_eq!(e.one("x-auth-user"), Some("alice"));
    let e = bearer_get(&c, &rig.url("/api/posts"), &bob.access_token)
        .await
        .echo();
    assert_eq!(e.one("x-auth-user"), Some("bob"));
    let e = cookie_get(&c, &rig.url("/api/posts"), &bob.cookie)
        .await
        .echo();
    assert_eq!(e.one("x-auth-user"), Some("bob"));

    let e = send(c.get(rig.url("/public/about"))).await.echo();
    assert_eq!(e.path, "/public/about");
    assert!(
        e.all("x-auth-user").is_empty(),
        "anonymous request carries an identity: {e:?}"
    );
}

/// GET /auth/me: id, username, email, roles; 401 without credentials.
async fn me_shows_the_current_identity(rig: &Rig) {
    let c = plain_client(None);
    let dave = login(&c, &rig.base(), "dave", DAVE_PW).await;
    for r in [
        bearer_get(&c, &rig.url("/auth/me"), &dave.access_token).await,
        cookie_get(&c, &rig.url("/auth/me"), &dave.cookie).await,
    ] {
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r
            .header("cache-control")
            .unwrap_or_default()
            .contains("no-store"));
        let me = r.json();
        assert_eq!(me["id"], "dave");
        assert_eq!(me["username"], "dave");
        assert_eq!(me["email"], "dave@example.com");
        let mut roles: Vec<String> =
            serde_json::from_value(me["roles"].clone()).expect("roles array");
        roles.sort();
        assert_eq!(roles, ["editor", "user"]);
    }
    send(c.get(rig.url("/auth/me")))
        .await
        .assert_error(401, "unauthorized");
}

/// SPEC §6 CSRF: cookie-authenticated unsafe requests need our Origin;
/// bearer requests are exempt.
async fn csrf_guards_cookie_authenticated_unsafe_methods(rig: &Rig) {
    let c = plain_client(None);
    let base = rig.base();
    let bob = login(&c, &base, "bob", BOB_PW).await;
    let before = rig.echo.hits();
    for origin in ["https://evil.example", "null", "http://127.0.0.1:1"] {
        for method in [reqwest::Method::POST, reqwest::Method::DELETE] {
            let r = send(
                c.request(method.clone(), rig.url("/app/items"))
                    .header("Cookie", bob.cookie_header())
                    .header("Origin", origin)
                    .body("x=1"),
            )
            .await;
            r.assert_error(403, "forbidden");
        }
    }
    let r = send(
        c.post(rig.url("/app/items"))
            .header("Cookie", bob.cookie_header())
            .header("Referer", "https://evil.example/page"),
    )
    .await;
    assert_eq!(r.status, 403, "foreign Referer (no Origin): {}", r.body);
    assert_eq!(
        rig.echo.hits(),
        before,
        "a cross-site request reached the upstream"
    );

    // Controls: own origin with the cookie, and a bearer from anywhere.
    let r = send(
        c.post(rig.url("/app/items"))
            .header("Cookie", bob.cookie_header())
            .header("Origin", &base)
            .body("x=1"),
    )
    .await;
    let e = r.echo();
    assert_eq!((e.method.as_str(), e.body.as_str()), ("POST", "x=1"));
    let r = send(
        c.post(rig.url("/app/items"))
            .bearer_auth(&bob.access_token)
            .header("Origin", "https://evil.example"),
    )
    .await;
    assert_eq!(
        r.echo().one("x-auth-user"),
        Some("bob"),
        "bearer requests are CSRF-exempt"
    );
}
