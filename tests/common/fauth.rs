//! A real front proxy (nginx or Caddy, from the README's own snippet) in
//! front of the echo upstream, asking a real gatehouse through forward-auth
//! (SPEC §10). `public_url` is the front proxy's origin, so the login page
//! and its `rd` point back through it. Fields drop front proxy first.

use super::echo::EchoUpstream;
use super::front::{FrontProxy, Kind};
use super::gateway::{Gateway, GatewayBuilder, DEFAULT_ROLES};
use super::net::free_port;
use super::snippet::filled;
use super::users::{default_users, erin, q};

/// Routes of the front-proxy tests (after the default `[roles]`): no
/// catch-all, so a path nobody configured is gatehouse's 404.
pub const ROUTES: &str = r#"[[routes]]
path = "/public/**"
upstream = "app"
auth = "public"

[[routes]]
path = "/admin/**"
upstream = "app"
roles = ["admin"]

[[routes]]
path = "/limited/**"
upstream = "app"
rate_limit = "tight"

[[routes]]
path = "/app/**"
upstream = "app"

[rate_limits.tight]
key = "user"
limit = 1
per = "1m"
burst = 0
"#;

/// A gateway deciding for a front proxy on 127.0.0.1: the routes above,
/// the default users plus erin (no email), forward-auth on.
pub fn builder() -> GatewayBuilder {
    let mut users = default_users();
    users.push(erin());
    Gateway::builder()
        .users(users)
        .policy(&format!("{DEFAULT_ROLES}\n{ROUTES}"))
        .set("forward_auth", "enabled", "true")
        .set("server", "trusted_proxies", "[\"127.0.0.1/32\"]")
}

pub struct FrontRig {
    pub front: FrontProxy,
    pub gw: Gateway,
    pub echo: EchoUpstream,
}

impl FrontRig {
    pub async fn start(kind: Kind) -> FrontRig {
        let echo = EchoUpstream::spawn();
        let port = free_port();
        let gw = builder()
            .upstream(&echo)
            .set(
                "server",
                "public_url",
                &q(&format!("http://127.0.0.1:{port}")),
            )
            .spawn()
            .await;
        let name = match kind {
            Kind::Nginx => "nginx",
            Kind::Caddy => "caddy",
        };
        let config = filled(name, gw.http_addr(), echo.addr());
        let front = FrontProxy::start_on(kind, &config, port);
        FrontRig { front, gw, echo }
    }

    /// `http://127.0.0.1:PORT` of the front proxy (also `public_url`).
    pub fn base(&self) -> String {
        self.front.url()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.front.url())
    }
}

use super::front::Kind as Front;
use super::http::{
    bearer_get, cookie_get, jar_client, location, login, login_form, plain_client, send, Reply,
};
use super::users::{ALICE_PW, BOB_PW, ERIN_PW};

/// An anonymous browser is sent to the login page on `public_url` with
/// the absolute original URL as `rd`; after the form login it lands back
/// on exactly that URL, and the app sees who it is.
pub async fn browser_logs_in_and_lands_back(rig: &FrontRig) {
    let (client, _jar) = jar_client(None);
    let original = rig.url("/app/page?x=1&y=two");
    let first = send(client.get(&original).header("Accept", "text/html")).await;
    assert_eq!(first.status, 302, "{first:?}");
    let to = location(&first, &rig.base());
    assert_eq!(to.origin().ascii_serialization(), rig.base());
    assert_eq!(to.path(), "/auth/login");
    let rd: Vec<_> = to.query_pairs().filter(|(k, _)| k == "rd").collect();
    assert_eq!(rd.len(), 1, "{to}");
    assert_eq!(rd[0].1, original, "rd is the absolute original URL");

    let done = login_form(&client, &rig.base(), "bob", BOB_PW, &original).await;
    assert!(matches!(done.status, 302 | 303), "{done:?}");
    assert_eq!(done.header("location"), Some(original.as_str()));

    let app = send(client.get(&original).header("Accept", "text/html")).await;
    let echo = app.echo();
    assert_eq!(echo.path, "/app/page?x=1&y=two");
    assert_eq!(echo.one("X-Auth-User"), Some("bob"));
    assert_eq!(echo.roles("X-Auth-Roles"), ["user"]);

    // An API client (no text/html) is not redirected.
    let api = send(plain_client(None).get(&original)).await;
    assert_eq!(api.status, 401, "{api:?}");
    assert_eq!(api.header("location"), None);
}

/// Cookie and bearer both reach the app with the identity headers.
pub async fn cookie_and_bearer_reach_the_app(rig: &FrontRig) {
    let client = plain_client(None);
    let alice = login(&client, &rig.base(), "alice", ALICE_PW).await;
    let by_cookie = cookie_get(&client, &rig.url("/admin/x"), &alice.cookie).await;
    let by_bearer = bearer_get(&client, &rig.url("/admin/x"), &alice.access_token).await;
    for r in [by_cookie, by_bearer] {
        let echo = r.echo();
        assert_eq!(echo.path, "/admin/x");
        assert_eq!(echo.one("X-Auth-User"), Some("alice"));
        assert_eq!(echo.one("X-Auth-Email"), Some("alice@example.com"));
        assert_eq!(echo.roles("X-Auth-Roles"), ["admin"]);
    }
}

const SPOOFS: &[(&str, &str)] = &[
    ("X-Auth-User", "mallory"),
    ("X-Auth-Email", "mallory@evil.test"),
    ("X-Auth-Roles", "admin"),
    ("X_Auth_User", "mallory"),
    ("X_Auth_Email", "mallory@evil.test"),
    ("X_Auth_Roles", "admin"),
];

fn spoofed(rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    SPOOFS.iter().fold(rb, |rb, (n, v)| rb.header(*n, *v))
}

/// Nothing the client sent under an identity header name (either
/// spelling) reached the app.
fn assert_no_spoof(r: &Reply) {
    let echo = r.echo();
    for (name, value) in &echo.headers {
        assert!(
            !value.contains("mallory") && value != "admin",
            "client's {name}: {value} reached the app: {echo:?}"
        );
    }
    for name in ["x-auth-user", "x-auth-email", "x-auth-roles"] {
        let n = echo.folded_names().iter().filter(|h| *h == name).count();
        assert!(n <= 1, "{name} reached the app {n} times: {echo:?}");
    }
}

/// Client `X-Auth-*` and `X_Auth_*` never reach the app: not for a user
/// (with or without email), not on a public route; and they open nothing.
pub async fn spoofed_identity_never_reaches_the_app(rig: &FrontRig) {
    let client = plain_client(None);
    // Positive control: bob's own identity arrives.
    let bob = login(&client, &rig.base(), "bob", BOB_PW).await;
    let r =
        send(spoofed(client.get(rig.url("/app/x"))).header("Cookie", bob.cookie_header())).await;
    assert_no_spoof(&r);
    assert_eq!(r.echo().one("X-Auth-User"), Some("bob"));
    assert_eq!(r.echo().one("X-Auth-Email"), Some("bob@example.com"));

    // erin has no email: the client's X-Auth-Email must not survive.
    let erin = login(&client, &rig.base(), "erin", ERIN_PW).await;
    let r =
        send(spoofed(client.get(rig.url("/app/x"))).header("Cookie", erin.cookie_header())).await;
    assert_no_spoof(&r);
    let echo = r.echo();
    assert_eq!(echo.one("X-Auth-User"), Some("erin"));
    assert_eq!(echo.one("X-Auth-Email").unwrap_or(""), "");
    assert_eq!(echo.roles("X-Auth-Roles"), ["user"]);
    let r = send(spoofed(client.get(rig.url("/app/x"))).bearer_auth(&erin.access_token)).await;
    assert_no_spoof(&r);

    // A public route: no identity at all, and none of the client's.
    let r = send(spoofed(client.get(rig.url("/public/x")))).await;
    assert_no_spoof(&r);
    assert_eq!(r.echo().one("X-Auth-User").unwrap_or(""), "");

    // Spoofed roles open nothing.
    let r =
        send(spoofed(client.get(rig.url("/admin/x"))).header("Cookie", erin.cookie_header())).await;
    assert_eq!(r.status, 403, "{r:?}");
    let hits = rig.echo.hits();
    let r = send(spoofed(client.get(rig.url("/app/x")))).await;
    assert_eq!(r.status, 401, "{r:?}");
    // Nor does a client's own description of another (public) request.
    let host = rig.base().trim_start_matches("http://").to_string();
    let described = client
        .get(rig.url("/app/x"))
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Host", &host)
        .header("X-Forwarded-Uri", "/public/x")
        .header("X-Original-Method", "GET")
        .header("X-Original-URL", rig.url("/public/x"));
    let r = send(described).await;
    assert!(matches!(r.status, 400 | 401), "{r:?}");
    assert_eq!(rig.echo.hits(), hits, "a refused request reached the app");
}

/// 401, 403, 404 and 429 as the front proxy hands them on: Caddy as
/// gatehouse answered; nginx's auth_request only 401 and 403, anything
/// else its own 500.
pub async fn refusals_pass_through(rig: &FrontRig, kind: Front) {
    let client = plain_client(None);
    let r = send(client.get(rig.url("/app/x"))).await;
    assert_eq!(r.status, 401, "{r:?}");
    let bob = login(&client, &rig.base(), "bob", BOB_PW).await;
    let r = cookie_get(&client, &rig.url("/admin/x"), &bob.cookie).await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = cookie_get(&client, &rig.url("/nothing/here"), &bob.cookie).await;
    match kind {
        Front::Caddy => r.assert_error(404, "not_found"),
        Front::Nginx => assert_eq!(r.status, 500, "{r:?}"),
    }
    // One request a minute: the first passes, the second is refused.
    let first = cookie_get(&client, &rig.url("/limited/x"), &bob.cookie).await;
    assert_eq!(first.echo().path, "/limited/x");
    let second = cookie_get(&client, &rig.url("/limited/x"), &bob.cookie).await;
    match kind {
        Front::Caddy => {
            second.assert_error(429, "rate_limited");
            assert!(second.header("retry-after").is_some(), "{second:?}");
        }
        Front::Nginx => assert_eq!(second.status, 500, "{second:?}"),
    }
    if kind == Front::Caddy {
        let r = send(client.get(rig.url("/app/x"))).await;
        r.assert_error(401, "unauthorized");
        let r = cookie_get(&client, &rig.url("/admin/x"), &bob.cookie).await;
        r.assert_error(403, "forbidden");
    }
}

/// Logout through the front proxy ends the session at once: the very next
/// request with the same cookie or token is refused.
pub async fn logout_is_effective_at_once(rig: &FrontRig) {
    let client = plain_client(None);
    let bob = login(&client, &rig.base(), "bob", BOB_PW).await;
    assert_eq!(
        cookie_get(&client, &rig.url("/app/x"), &bob.cookie)
            .await
            .echo()
            .one("X-Auth-User"),
        Some("bob")
    );
    let out = send(
        client
            .post(rig.url("/auth/logout"))
            .header("Cookie", bob.cookie_header())
            .header("Origin", rig.base()),
    )
    .await;
    assert_eq!(out.status, 200, "{out:?}");
    let hits = rig.echo.hits();
    let r = cookie_get(&client, &rig.url("/app/x"), &bob.cookie).await;
    assert_eq!(r.status, 401, "{r:?}");
    let r = bearer_get(&client, &rig.url("/app/x"), &bob.access_token).await;
    assert_eq!(r.status, 401, "{r:?}");
    // A browser still holding the ended cookie is sent to log in again
    // (through nginx too: the 401 + Location becomes its redirect).
    let r = send(
        client
            .get(rig.url("/app/x"))
            .header("Cookie", bob.cookie_header())
            .header("Accept", "text/html"),
    )
    .await;
    assert_eq!(r.status, 302, "{r:?}");
    assert_eq!(location(&r, &rig.base()).path(), "/auth/login");
    assert_eq!(rig.echo.hits(), hits);
}

/// The deciding endpoints are not reachable through the front proxy: a
/// client's request would arrive from a trusted peer with a description of
/// its own choosing. Variants that a path matcher might not normalise.
pub async fn deciding_endpoints_are_closed_to_clients(rig: &FrontRig) {
    let client = plain_client(None);
    let bob = login(&client, &rig.base(), "bob", BOB_PW).await;
    // Positive control: gatehouse's other endpoints are reachable.
    let me = send(
        client
            .get(rig.url("/auth/me"))
            .bearer_auth(&bob.access_token),
    )
    .await;
    assert_eq!(me.status, 200, "{me:?}");
    let addr = rig.front.addr();
    for target in [
        "/auth/verify",
        "/auth/verify?x=1",
        "/auth/./verify",
        "/auth/x/../verify",
        "/auth/%76erify",
        "//auth/verify",
        "/auth/ext-authz/app/x",
        "/auth/ext-authz/../ext-authz/app/x",
        "/auth/%65xt-authz/app/x",
    ] {
        let r = super::raw::get(
            addr,
            target,
            &[
                ("Authorization", &bob.bearer()),
                ("X-Original-Method", "GET"),
                ("X-Original-URL", &rig.url("/app/x")),
            ],
        )
        .await;
        assert!(
            r.header("x-auth-user").is_none() && r.status != 200,
            "{target} reached a deciding endpoint: {r:?}"
        );
    }
}
