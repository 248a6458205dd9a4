//! Duplicate credentials (issue 10, point 4): a request whose credentials
//! could be read two ways gets 400 JSON on every route kind (public,
//! protected, `forward_authorization`) and on the gateway's own endpoints,
//! never "first wins": two `Authorization` headers, a Bearer or ApiKey
//! `Authorization` listing several credentials, two `X-API-Key` headers,
//! and any gateway cookie (session, refresh, login CSRF) sent twice with
//! different values, in one `Cookie` header or across two. The same cookie
//! sent twice with the same value is one cookie and passes. And an
//! `Authorization` the gateway did not verify never reaches the app.
//!
//! Raw sockets throughout: reqwest (and hyper) would merge or refuse the
//! repeated headers these tests are about.

mod common;

use std::net::SocketAddr;

use common::http::plain_client;
use common::raw::{self, RawReply};
use common::{login_json, Echo, Login, Rig, StoreKind, ALICE_PW, BOB_PW, COOKIE, REFRESH_COOKIE};
use serde_json::Value;

/// The login form's CSRF cookie: `<cookie_name>-csrf`.
const CSRF_COOKIE: &str = "__Host-gatehouse-csrf";

/// Routes with `forward_authorization`, protected and public, before the
/// default ones (`/public/**` public, `/admin/**`, `/api/**`, `/**`).
const FORWARDING_ROUTES: &str = r#"[[routes]]
path = "/fwd/**"
upstream = "app"
forward_authorization = true

[[routes]]
path = "/fwdpub/**"
upstream = "app"
auth = "public"
forward_authorization = true
"#;

/// Every kind of route, and the gateway's own endpoints.
const TARGETS: &[(&str, &str)] = &[
    ("GET", "/public/x"),
    ("GET", "/fwdpub/x"),
    ("GET", "/api/x"),
    ("GET", "/admin/x"),
    ("GET", "/fwd/x"),
    ("GET", "/app/x"),
    ("GET", "/auth/me"),
    ("GET", "/auth/sessions"),
    ("POST", "/auth/logout"),
    ("POST", "/auth/refresh"),
    ("GET", "/auth/login"),
    ("POST", "/auth/login"),
];

async fn rig(store: StoreKind) -> Rig {
    Rig::with(store, |b| b.routes_first(FORWARDING_ROUTES)).await
}

/// `METHOD target` with exactly these header lines (repeats kept as sent),
/// an empty body for POST, and the gateway's own `Origin` so cookie POSTs
/// pass the CSRF check when they are legitimate.
async fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> RawReply {
    let mut req = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nConnection: close\r\n"
    );
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if method == "POST" {
        req.push_str("Content-Length: 0\r\n");
    }
    req.push_str("\r\n");
    raw::send(addr, req.as_bytes()).await
}

fn json(r: &RawReply) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {r:?}"))
}

/// Send `headers` to every target: each answers 400 `bad_request` JSON and
/// nothing reaches the upstream.
async fn refused_everywhere(rig: &Rig, what: &str, headers: &[(&str, &str)]) {
    let hits = rig.echo.hits();
    for (method, target) in TARGETS {
        let r = request(rig.gw.http_addr(), method, target, headers).await;
        assert_eq!(r.status, 400, "{what}: {method} {target}: {r:?}");
        let body = json(&r);
        assert_eq!(
            body["error"], "bad_request",
            "{what}: {method} {target}: {r:?}"
        );
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {r:?}"
        );
    }
    assert_eq!(
        rig.echo.hits(),
        hits,
        "{what}: a refused request reached the upstream"
    );
}

/// The echo's account of a raw request that was forwarded.
fn echo(r: &RawReply) -> Echo {
    assert_eq!(r.status, 200, "expected the echo's 200: {r:?}");
    Echo::parse(&json(r))
}

async fn logins(rig: &Rig) -> (Login, Login) {
    let c = plain_client(None);
    let alice = Login::from_reply(&login_json(&c, &rig.base(), "alice", ALICE_PW).await);
    let bob = Login::from_reply(&login_json(&c, &rig.base(), "bob", BOB_PW).await);
    (alice, bob)
}

// Two Authorization headers, in every combination, and one Authorization
// listing several credentials: 400 on every route kind and endpoint.
#[tokio::test]
async fn duplicate_authorization_is_refused_everywhere() {
    let rig = rig(StoreKind::Memory).await;
    let (alice, bob) = logins(&rig).await;
    let (a, b) = (alice.bearer(), bob.bearer());

    // Positive control: one Authorization is verified, and forwarded only
    // where the route says so.
    let addr = rig.gw.http_addr();
    let e = echo(&request(addr, "GET", "/fwd/x", &[("Authorization", &a)]).await);
    assert_eq!(e.one("x-auth-user"), Some("alice"));
    assert_eq!(e.all("authorization"), vec![a.as_str()]);
    let e = echo(&request(addr, "GET", "/admin/x", &[("Authorization", &a)]).await);
    assert_eq!(e.one("authorization"), None);
    let me = request(addr, "GET", "/auth/me", &[("Authorization", &b)]).await;
    assert_eq!(
        (me.status, json(&me)["username"].clone()),
        (200, "bob".into()),
        "{me:?}"
    );

    let forged = "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.";
    let variants: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "valid then forged",
            vec![("Authorization", &a), ("Authorization", forged)],
        ),
        (
            "forged then valid",
            vec![("Authorization", forged), ("Authorization", &a)],
        ),
        (
            "two users",
            vec![("Authorization", &b), ("Authorization", &a)],
        ),
        (
            "the same token twice",
            vec![("Authorization", &a), ("Authorization", &a)],
        ),
        (
            "name case differs",
            vec![("Authorization", &a), ("authorization", forged)],
        ),
        (
            "Basic then Bearer",
            vec![("Authorization", "Basic YTpi"), ("Authorization", &a)],
        ),
        (
            "Bearer then Basic",
            vec![("Authorization", &a), ("Authorization", "Basic YTpi")],
        ),
        (
            "ApiKey then Bearer",
            vec![("Authorization", "ApiKey gh_x"), ("Authorization", &a)],
        ),
        (
            "an empty second",
            vec![("Authorization", &a), ("Authorization", "")],
        ),
    ];
    for (what, headers) in &variants {
        refused_everywhere(&rig, what, headers).await;
    }

    // Several credentials in one header (RFC 7235 allows one).
    let list_forged = format!("{a}, {forged}");
    let list_two = format!("{a}, {b}");
    let list_bare = format!("{a},x");
    let apikeys = "ApiKey gh_a, gh_b".to_string();
    for (what, value) in [
        ("bearer, forged bearer", &list_forged),
        ("two users' bearers", &list_two),
        ("bearer,token68", &list_bare),
        ("two api keys", &apikeys),
    ] {
        refused_everywhere(&rig, what, &[("Authorization", value)]).await;
    }

    // The tokens were never spent: both still work.
    for t in [&a, &b] {
        assert_eq!(
            request(addr, "GET", "/app/x", &[("Authorization", t)])
                .await
                .status,
            200
        );
    }
}

// Two different values of a gateway cookie (session, refresh, login CSRF),
// in one Cookie header or across two: 400 everywhere, also when a bearer
// would have won. The same value twice is one cookie and passes.
#[tokio::test]
async fn duplicate_gateway_cookies_are_refused_everywhere() {
    let rig = rig(StoreKind::Memory).await;
    let c = plain_client(None);
    let reply = login_json(&c, &rig.base(), "alice", ALICE_PW).await;
    let alice = Login::from_reply(&reply);
    let refresh_a = reply.cookie_value(REFRESH_COOKIE).expect("refresh cookie");
    let reply = login_json(&c, &rig.base(), "bob", BOB_PW).await;
    let bob = Login::from_reply(&reply);
    let refresh_b = reply.cookie_value(REFRESH_COOKIE).expect("refresh cookie");
    let addr = rig.gw.http_addr();
    let (ca, cb) = (alice.cookie_header(), bob.cookie_header());

    // Positive controls: one cookie; the same cookie twice; another app's
    // cookie twice with different values (not ours to judge, passed on).
    let e = echo(&request(addr, "GET", "/api/x", &[("Cookie", &ca)]).await);
    assert_eq!(e.one("x-auth-user"), Some("alice"));
    let same_one_line = format!("{ca}; {ca}");
    let e = echo(&request(addr, "GET", "/api/x", &[("Cookie", &same_one_line)]).await);
    assert_eq!(
        e.one("x-auth-user"),
        Some("alice"),
        "same value twice, one header"
    );
    let spaced = format!("{COOKIE}= {}", alice.cookie);
    let e = echo(
        &request(
            addr,
            "GET",
            "/fwd/x",
            &[("Cookie", &ca), ("Cookie", &spaced)],
        )
        .await,
    );
    assert_eq!(
        e.one("x-auth-user"),
        Some("alice"),
        "same value twice, two headers"
    );
    let theirs = format!("{ca}; app=1; app=2");
    let e = echo(&request(addr, "GET", "/api/x", &[("Cookie", &theirs)]).await);
    assert_eq!(e.one("x-auth-user"), Some("alice"));
    assert_eq!(
        e.one("cookie"),
        Some("app=1; app=2"),
        "only our cookies are held back"
    );
    let me = request(addr, "GET", "/auth/me", &[("Cookie", &same_one_line)]).await;
    assert_eq!(json(&me)["username"], "alice", "{me:?}");

    let forged = format!("{COOKIE}=forged");
    let empty = format!("{COOKIE}=");
    let both_one_line = format!("{ca}; {cb}");
    let forged_one_line = format!("{ca}; {forged}");
    let empty_one_line = format!("{ca}; {empty}");
    let refresh_two = format!("{REFRESH_COOKIE}={refresh_a}; {REFRESH_COOKIE}={refresh_b}");
    let refresh_one_a = format!("{REFRESH_COOKIE}={refresh_a}");
    let refresh_one_b = format!("{REFRESH_COOKIE}={refresh_b}");
    let csrf_two = format!("{CSRF_COOKIE}=t1; {CSRF_COOKIE}=t2");
    let csrf_one = format!("{CSRF_COOKIE}=t1");
    let csrf_other = format!("x=1; {CSRF_COOKIE}=t2");
    let bearer = alice.bearer();
    let variants: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("two sessions, one header", vec![("Cookie", &both_one_line)]),
        (
            "two sessions, two headers",
            vec![("Cookie", &ca), ("Cookie", &cb)],
        ),
        (
            "session then forged, one header",
            vec![("Cookie", &forged_one_line)],
        ),
        (
            "forged then session, two headers",
            vec![("Cookie", &forged), ("Cookie", &ca)],
        ),
        (
            "session then an empty one",
            vec![("Cookie", &empty_one_line)],
        ),
        (
            "two refresh cookies, one header",
            vec![("Cookie", &ca), ("Cookie", &refresh_two)],
        ),
        (
            "two refresh cookies, two headers",
            vec![("Cookie", &refresh_one_a), ("Cookie", &refresh_one_b)],
        ),
        ("two CSRF cookies, one header", vec![("Cookie", &csrf_two)]),
        (
            "two CSRF cookies, two headers",
            vec![("Cookie", &csrf_one), ("Cookie", &csrf_other)],
        ),
        (
            "bearer beside two sessions",
            vec![("Authorization", &bearer), ("Cookie", &both_one_line)],
        ),
    ];
    for (what, headers) in &variants {
        refused_everywhere(&rig, what, headers).await;
    }

    // Neither refresh token was spent by the refused requests; the same
    // refresh cookie twice is one cookie.
    let twice = format!("{refresh_one_a}; {refresh_one_a}");
    let r = request(addr, "POST", "/auth/refresh", &[("Cookie", &twice)]).await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = request(addr, "POST", "/auth/refresh", &[("Cookie", &refresh_one_b)]).await;
    assert_eq!(r.status, 200, "{r:?}");
}

// Two X-API-Key headers get 400 (not an empty key's 401) everywhere;
// `Authorization: ApiKey` beside `X-API-Key` keeps the documented
// precedence and only the verified key is forwarded where asked.
#[tokio::test]
async fn duplicate_api_keys_are_refused_everywhere() {
    let rig = rig(StoreKind::Redis).await;
    let (k1, k2) = (rig.gw.create_api_key("ci"), rig.gw.create_api_key("cd"));
    let addr = rig.gw.http_addr();

    // Positive controls.
    let e = echo(&request(addr, "GET", "/api/x", &[("X-API-Key", &k1)]).await);
    assert_eq!(e.one("x-auth-user"), Some("apikey:ci"));
    assert_eq!(e.one("x-api-key"), None, "never forwarded");
    let auth_k2 = format!("ApiKey {k2}");
    let e = echo(
        &request(
            addr,
            "GET",
            "/fwd/x",
            &[("Authorization", &auth_k2), ("X-API-Key", &k1)],
        )
        .await,
    );
    assert_eq!(
        e.one("x-auth-user"),
        Some("apikey:cd"),
        "Authorization first"
    );
    assert_eq!(
        e.all("authorization"),
        vec![auth_k2.as_str()],
        "the verified one"
    );
    assert_eq!(e.one("x-api-key"), None);
    // An X-API-Key login does not vouch for an Authorization beside it.
    let e = echo(
        &request(
            addr,
            "GET",
            "/fwd/x",
            &[("X-API-Key", &k1), ("Authorization", "Basic YTpi")],
        )
        .await,
    );
    assert_eq!(e.one("x-auth-user"), Some("apikey:ci"));
    assert_eq!(
        e.one("authorization"),
        None,
        "unverified Authorization forwarded"
    );

    let forged = "gh_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let auth_k1 = format!("ApiKey {k1}");
    let variants: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("two keys", vec![("X-API-Key", &k1), ("X-API-Key", &k2)]),
        (
            "key then forged",
            vec![("X-API-Key", &k1), ("X-API-Key", forged)],
        ),
        (
            "forged then key",
            vec![("X-API-Key", forged), ("X-API-Key", &k1)],
        ),
        (
            "the same key twice",
            vec![("X-API-Key", &k1), ("x-api-key", &k1)],
        ),
        (
            "key then empty",
            vec![("X-API-Key", &k1), ("X-API-Key", "")],
        ),
        (
            "Authorization ApiKey beside two keys",
            vec![
                ("Authorization", &auth_k1),
                ("X-API-Key", &k1),
                ("X-API-Key", &k2),
            ],
        ),
    ];
    for (what, headers) in &variants {
        refused_everywhere(&rig, what, headers).await;
    }
}

// On a forward_authorization route, Authorization reaches the app only when
// it is the credential the gateway verified: not beside a cookie login, and
// not on a public route, where nothing is verified.
#[tokio::test]
async fn unverified_authorization_is_not_forwarded() {
    let rig = rig(StoreKind::Memory).await;
    let (alice, _) = logins(&rig).await;
    let addr = rig.gw.http_addr();
    let bearer = alice.bearer();
    let ca = alice.cookie_header();

    // Positive control: the verified bearer is forwarded.
    let e = echo(&request(addr, "GET", "/fwd/x", &[("Authorization", &bearer)]).await);
    assert_eq!(e.all("authorization"), vec![bearer.as_str()]);

    for (what, target, headers) in [
        (
            "Basic beside a cookie",
            "/fwd/x",
            vec![("Cookie", ca.as_str()), ("Authorization", "Basic YTpi")],
        ),
        (
            "unknown scheme beside a cookie",
            "/fwd/x",
            vec![("Cookie", ca.as_str()), ("Authorization", "Token abc")],
        ),
        (
            "bearer on a public route",
            "/fwdpub/x",
            vec![("Authorization", bearer.as_str())],
        ),
        (
            "forged bearer on a public route",
            "/fwdpub/x",
            vec![("Authorization", "Bearer forged")],
        ),
    ] {
        let e = echo(&request(addr, "GET", target, &headers).await);
        assert_eq!(e.one("authorization"), None, "{what}: {e:?}");
    }
    let e = echo(
        &request(
            addr,
            "GET",
            "/fwd/x",
            &[("Cookie", &ca), ("Authorization", "Basic YTpi")],
        )
        .await,
    );
    assert_eq!(
        e.one("x-auth-user"),
        Some("alice"),
        "the cookie login itself works"
    );
}
