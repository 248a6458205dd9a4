//! Owner-bound routes (issue 12, SPEC §2): `/users/{uid}/**` with
//! `owner = { uid = "id" }` lets each user reach only their own subtree,
//! admins every one through `owner_bypass_roles`. One table of users × paths
//! × methods, sent three ways to one gateway — proxied, described to
//! `/auth/verify` as Traefik does, and as Envoy's `/auth/ext-authz/<path>` —
//! which must all answer the same status, because they are the same
//! `decide`. Raw sockets: reqwest would resolve `..` and `%2f` itself.

mod common;

use std::collections::HashMap;

use common::gateway::DEFAULT_ROLES;
use common::raw::{self, RawReply};
use common::{login, Echo, Rig, StoreKind, TestUser, ALICE_PW, BOB_PW, CAROL_PW, DAVE_PW};

const APP_HOST: &str = "app.example.test";

const ROUTES: &str = r#"[[routes]]
path = "/users/{uid}/**"
methods = ["GET", "PUT", "DELETE"]
upstream = "app"
owner = { uid = "id" }
owner_bypass_roles = ["admin"]

[[routes]]
path = "/profiles/{name}/**"
upstream = "app"
owner = { name = "username" }

[[routes]]
path = "/mail/{addr}"
upstream = "app"
owner = { addr = "email" }

[[routes]]
path = "/drafts/{uid}/**"
upstream = "app"
permissions = ["posts:write"]
owner = { uid = "id" }
owner_bypass_roles = ["admin"]

[[routes]]
path = "/team/{uid}/**"
upstream = "app"
roles = ["editor"]
owner = { uid = "id" }
owner_bypass_roles = ["admin"]

[[routes]]
path = "/public/**"
upstream = "app"
auth = "public"
"#;

/// alice and bob (users), carol (admin), dave (editor + user), with ids
/// unlike their names so id and username checks are told apart.
fn users() -> Vec<TestUser> {
    vec![
        TestUser::new("alice", ALICE_PW, &["user"]).with_id("u-1001"),
        TestUser::new("bob", BOB_PW, &["user"]).with_id("u-1002"),
        TestUser::new("carol", CAROL_PW, &["admin"]).with_id("u-1003"),
        TestUser::new("dave", DAVE_PW, &["editor", "user"]).with_id("u-1004"),
    ]
}

async fn start() -> Rig {
    let policy = format!("{DEFAULT_ROLES}\n{ROUTES}");
    Rig::with(StoreKind::Memory, |b| {
        b.policy(&policy)
            .users(users())
            .set("forward_auth", "enabled", "true")
            .set("server", "trusted_proxies", "[\"127.0.0.1/32\"]")
    })
    .await
}

/// How the request reaches the decision.
#[derive(Debug, Clone, Copy)]
enum Via {
    Proxy,
    Traefik,
    Envoy,
}

/// Send `method target` as `via` describes it, with `Authorization` when
/// `token` is given and any extra header lines.
async fn ask(
    rig: &Rig,
    via: Via,
    method: &str,
    target: &str,
    token: Option<&str>,
    extra: &[&str],
) -> RawReply {
    let mut req = match via {
        Via::Proxy => format!("{method} {target} HTTP/1.1\r\nHost: {APP_HOST}\r\n"),
        Via::Traefik => format!(
            "GET /auth/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Method: {method}\r\n\
             X-Forwarded-Proto: https\r\nX-Forwarded-Host: {APP_HOST}\r\nX-Forwarded-Uri: {target}\r\n"
        ),
        Via::Envoy => {
            format!("{method} /auth/ext-authz{target} HTTP/1.1\r\nHost: {APP_HOST}\r\n")
        }
    };
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for h in extra {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
    raw::send(rig.gw.http_addr(), req.as_bytes()).await
}

/// Bearer tokens by username.
async fn tokens(rig: &Rig) -> HashMap<&'static str, String> {
    let client = rig.gw.client();
    let mut out = HashMap::new();
    for (name, pw) in [
        ("alice", ALICE_PW),
        ("bob", BOB_PW),
        ("carol", CAROL_PW),
        ("dave", DAVE_PW),
    ] {
        out.insert(
            name,
            login(&client, &rig.base(), name, pw).await.access_token,
        );
    }
    out
}

/// (user or "" for anonymous, method, target, status, path the app gets on 200)
type Case = (
    &'static str,
    &'static str,
    &'static str,
    u16,
    Option<&'static str>,
);

const CASES: &[Case] = &[
    // Own subtree, every listed method; the route's methods still apply.
    (
        "alice",
        "GET",
        "/users/u-1001/x",
        200,
        Some("/users/u-1001/x"),
    ),
    (
        "alice",
        "PUT",
        "/users/u-1001/x",
        200,
        Some("/users/u-1001/x"),
    ),
    (
        "alice",
        "DELETE",
        "/users/u-1001",
        200,
        Some("/users/u-1001"),
    ),
    ("alice", "HEAD", "/users/u-1001/x", 200, None),
    ("alice", "POST", "/users/u-1001/x", 404, None),
    ("bob", "GET", "/users/u-1002", 200, Some("/users/u-1002")),
    // Trailing slash: `**` takes the empty rest.
    (
        "alice",
        "GET",
        "/users/u-1001/",
        200,
        Some("/users/u-1001/"),
    ),
    // Someone else's: 403, for every method.
    ("alice", "GET", "/users/u-1002/x", 403, None),
    ("alice", "PUT", "/users/u-1002/x", 403, None),
    ("alice", "DELETE", "/users/u-1002", 403, None),
    ("bob", "GET", "/users/u-1001/", 403, None),
    // Ids are compared exactly: no case folding, no prefixes.
    ("alice", "GET", "/users/U-1001/x", 403, None),
    ("alice", "GET", "/users/u-10011/x", 403, None),
    ("alice", "GET", "/users/u-100/x", 403, None),
    // Admin bypass, any user's subtree.
    (
        "carol",
        "GET",
        "/users/u-1002/x",
        200,
        Some("/users/u-1002/x"),
    ),
    (
        "carol",
        "DELETE",
        "/users/u-1001",
        200,
        Some("/users/u-1001"),
    ),
    // Anonymous: 401 before any owner check.
    ("", "GET", "/users/u-1001/x", 401, None),
    // Normalised before capturing: `..` resolves, unreserved escapes decode,
    // encoded separators and fragments are refused.
    ("alice", "GET", "/users/u-1001/../u-1002/x", 403, None),
    (
        "alice",
        "GET",
        "/users/u-1002/../u-1001/x",
        200,
        Some("/users/u-1001/x"),
    ),
    (
        "alice",
        "GET",
        "/users/u-1001/./x",
        200,
        Some("/users/u-1001/x"),
    ),
    ("alice", "GET", "/users/u-1001%2f..%2fu-1002", 400, None),
    ("alice", "GET", "/users/u-1001%2F..%2Fu-1002/x", 400, None),
    ("alice", "GET", "/users/u-1001%2fx", 400, None),
    ("alice", "GET", "/users/u-1001#/../u-1002", 400, None),
    (
        "alice",
        "GET",
        "/users/u%2D1001/x",
        200,
        Some("/users/u-1001/x"),
    ),
    (
        "alice",
        "GET",
        "/users/%75-1001/x",
        200,
        Some("/users/u-1001/x"),
    ),
    ("alice", "GET", "/users/u%2d1002/x", 403, None),
    // An empty segment never matches a capture; `//` collapses first.
    ("alice", "GET", "/users//x", 403, None),
    ("alice", "GET", "/users//u-1001", 200, Some("/users/u-1001")),
    ("alice", "GET", "/users/", 404, None),
    ("alice", "GET", "/users", 404, None),
    // `;parameters` stay part of the segment: not the id (fail closed).
    ("alice", "GET", "/users/u-1001;x/y", 403, None),
    // Usernames: ASCII case-insensitive; no bypass role on this route.
    (
        "alice",
        "GET",
        "/profiles/alice",
        200,
        Some("/profiles/alice"),
    ),
    (
        "alice",
        "GET",
        "/profiles/ALICE/x",
        200,
        Some("/profiles/ALICE/x"),
    ),
    (
        "alice",
        "GET",
        "/profiles/aLiCe/",
        200,
        Some("/profiles/aLiCe/"),
    ),
    (
        "alice",
        "GET",
        "/profiles/al%69ce",
        200,
        Some("/profiles/alice"),
    ),
    ("alice", "GET", "/profiles/u-1001", 403, None),
    ("alice", "GET", "/profiles/bob", 403, None),
    ("carol", "GET", "/profiles/alice", 403, None),
    // Emails: case-insensitive; `%40` is how an app reads `@`.
    (
        "alice",
        "GET",
        "/mail/alice@example.com",
        200,
        Some("/mail/alice@example.com"),
    ),
    (
        "alice",
        "GET",
        "/mail/ALICE@EXAMPLE.COM",
        200,
        Some("/mail/ALICE@EXAMPLE.COM"),
    ),
    (
        "alice",
        "GET",
        "/mail/alice%40example.com",
        200,
        Some("/mail/alice%40example.com"),
    ),
    ("alice", "GET", "/mail/bob@example.com", 403, None),
    ("carol", "GET", "/mail/alice@example.com", 403, None),
    // Owner combined with permissions: both must hold; the bypass skips only
    // the owner check.
    (
        "dave",
        "GET",
        "/drafts/u-1004/x",
        200,
        Some("/drafts/u-1004/x"),
    ),
    ("dave", "GET", "/drafts/u-1001/x", 403, None),
    ("alice", "GET", "/drafts/u-1001/x", 403, None),
    (
        "carol",
        "GET",
        "/drafts/u-1001/x",
        200,
        Some("/drafts/u-1001/x"),
    ),
    ("", "GET", "/drafts/u-1001/x", 401, None),
    // Owner combined with roles: an admin without the role is still refused.
    ("dave", "GET", "/team/u-1004", 200, Some("/team/u-1004")),
    ("dave", "GET", "/team/u-1002", 403, None),
    ("carol", "GET", "/team/u-1004", 403, None),
    ("bob", "GET", "/team/u-1002", 403, None),
    // Public routes are untouched.
    ("", "GET", "/public/x", 200, Some("/public/x")),
];

#[tokio::test(flavor = "multi_thread")]
async fn owner_routes_table_through_proxy_and_forward_auth() {
    let rig = start().await;
    let tokens = tokens(&rig).await;
    let mut failures = Vec::new();
    for via in [Via::Proxy, Via::Traefik, Via::Envoy] {
        for &(user, method, target, want, app_path) in CASES {
            let token = (!user.is_empty()).then(|| tokens[user].as_str());
            let r = ask(&rig, via, method, target, token, &[]).await;
            let who = if user.is_empty() { "anonymous" } else { user };
            if r.status != want {
                failures.push(format!(
                    "{via:?} {who} {method} {target}: got {} want {want}\n{}{}",
                    r.status, r.head, r.body
                ));
                continue;
            }
            if want != 200 {
                // SPEC §6 bodies: the decision's JSON error.
                let code = match want {
                    400 => "bad_request",
                    401 => "unauthorized",
                    403 => "forbidden",
                    404 => "not_found",
                    _ => unreachable!(),
                };
                if !r.body.contains(&format!("\"error\":\"{code}\"")) {
                    failures.push(format!("{via:?} {who} {method} {target}: body {}", r.body));
                }
                continue;
            }
            let seen_user = match via {
                Via::Proxy if method != "HEAD" => {
                    let echo = Echo::parse(&serde_json::from_str(&r.body).expect("echo JSON"));
                    if Some(echo.path.as_str()) != app_path {
                        failures.push(format!(
                            "{via:?} {who} {target}: app got {} want {app_path:?}",
                            echo.path
                        ));
                    }
                    echo.one("x-auth-user").map(str::to_owned)
                }
                Via::Proxy => Some(user.to_owned()),
                Via::Traefik | Via::Envoy => r.header("x-auth-user").map(str::to_owned),
            };
            // Anonymous on the public route: no user (absent when proxied,
            // empty in a forward-auth answer, SPEC §10).
            if seen_user.as_deref().unwrap_or_default() != user {
                failures.push(format!(
                    "{via:?} {who} {target}: identity {seen_user:?} forwarded"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        CASES.len() * 3,
        failures.join("\n")
    );
    assert!(rig.echo.hits() > 0);
}

/// Anonymous browsers go to the login page as on any protected route; a
/// signed-in browser on someone else's subtree gets 403, not a login loop.
#[tokio::test(flavor = "multi_thread")]
async fn owner_routes_for_browsers() {
    let rig = start().await;
    let browser = ["Accept: text/html", "Sec-Fetch-Mode: navigate"];
    let r = ask(&rig, Via::Proxy, "GET", "/users/u-1001/x", None, &browser).await;
    assert_eq!(r.status, 302, "{}", r.head);
    let location = r.header("location").expect("Location");
    assert!(location.contains("/auth/login?rd="), "{location}");

    let client = rig.gw.client();
    let alice = login(&client, &rig.base(), "alice", ALICE_PW).await;
    let cookie = format!("Cookie: {}={}", common::COOKIE, alice.cookie);
    let with_cookie = [browser[0], browser[1], cookie.as_str()];
    let own = ask(
        &rig,
        Via::Proxy,
        "GET",
        "/users/u-1001/x",
        None,
        &with_cookie,
    )
    .await;
    assert_eq!(own.status, 200, "{}", own.head);
    let other = ask(
        &rig,
        Via::Proxy,
        "GET",
        "/users/u-1002/x",
        None,
        &with_cookie,
    )
    .await;
    assert_eq!(other.status, 403, "{}", other.head);
}

/// The README's "users read their own, admins read all" pattern, as an
/// operator copies it: own subtree yes, another's no, admins all, and the
/// rest of `/users` (here: a method the owner route does not list) admins only.
#[tokio::test(flavor = "multi_thread")]
async fn readme_pattern_works_as_written() {
    let routes = common::snippet::snippet("owner-routes");
    let policy = format!("{DEFAULT_ROLES}\n{routes}");
    let rig = Rig::with(StoreKind::Memory, |b| b.policy(&policy).users(users())).await;
    let tokens = tokens(&rig).await;
    // (user, method, target, status)
    let cases = [
        ("alice", "GET", "/users/u-1001/settings", 200),
        ("alice", "PUT", "/users/u-1001/settings", 200),
        ("alice", "GET", "/users/u-1002/settings", 403),
        ("alice", "POST", "/users/u-1001/settings", 403),
        ("alice", "GET", "/users", 403),
        ("carol", "GET", "/users/u-1002/settings", 200),
        ("carol", "POST", "/users/u-1001/settings", 200),
        ("carol", "GET", "/users", 200),
        ("", "GET", "/users/u-1001/settings", 401),
    ];
    for (user, method, target, want) in cases {
        let token = (!user.is_empty()).then(|| tokens[user].as_str());
        let r = ask(&rig, Via::Proxy, method, target, token, &[]).await;
        assert_eq!(
            r.status, want,
            "{user} {method} {target}: {}{}",
            r.head, r.body
        );
    }
}
