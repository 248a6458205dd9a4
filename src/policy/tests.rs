//! The whole policy decision, table-driven over a realistic gateway.toml:
//! user x method x path -> status. It runs the same steps, in the same
//! order, as the proxy: normalise, route, authorize.

use std::sync::Arc;

use http::Method;

use crate::auth::{AuthMethod, Identity};
use crate::config::compile::compile;
use crate::policy::{authorize, normalize, Policy};

const POLICY: &str = r#"
[server]
listen = "127.0.0.1:8080"
[users]
file = "users.toml"
[tokens]
signing_key_file = "keys/signing.pem"
[upstreams.app]
addr = "127.0.0.1:3000"
[upstreams.api]
addr = "127.0.0.1:3001"
[roles]
admin = ["*"]
editor = ["posts:read", "posts:write"]
user = ["posts:read"]
auditor = ["audit:read"]
[rate_limits.api]
key = "user"
limit = 100
per = "1m"
[[routes]]
path = "/public/**"
upstream = "app"
auth = "public"
[[routes]]
path = "/admin/**"
methods = ["GET", "POST"]
upstream = "app"
roles = ["admin"]
[[routes]]
path = "/api/posts/*/edit"
upstream = "api"
permissions = ["posts:read", "posts:write"]
[[routes]]
path = "/api/**"
methods = ["GET"]
upstream = "api"
permissions = ["posts:read"]
rate_limit = "api"
[[routes]]
path = "/reports/**"
host = "internal.example.com"
upstream = "app"
roles = ["admin", "auditor"]
[[routes]]
path = "/app/**"
upstream = "app"
"#;

/// A header map from `(name, value)` pairs, for the policy modules' tests.
pub(crate) fn header_map(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, v.parse().unwrap());
    }
    h
}

fn policy() -> Policy {
    let dir = tempfile::tempdir().unwrap();
    for f in ["keys/signing.pem", "users.toml"] {
        let p = dir.path().join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "placeholder\n").unwrap();
    }
    compile(&dir.path().join("gateway.toml"), POLICY)
        .expect("policy compiles")
        .policy
}

fn user(roles: &[&str]) -> Option<Arc<Identity>> {
    Some(Arc::new(Identity::new(
        "u-1".into(),
        "u".into(),
        String::new(),
        roles.iter().map(|r| r.to_string()).collect(),
        Some("s".into()),
        AuthMethod::Cookie,
    )))
}

/// The status the gateway's policy gives, 200 meaning "forwarded".
fn decide(p: &Policy, who: Option<Arc<Identity>>, method: &str, host: &str, target: &str) -> u16 {
    let path = match normalize(target.as_bytes()) {
        Ok(p) => p,
        Err(e) => return e.answer().status,
    };
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let Some(route) = p.routes.find(&method, Some(host), &path.path) else {
        return 404;
    };
    match authorize(route, &p.roles, who, &path.path) {
        Ok(_) => 200,
        Err(e) => e.answer().status,
    }
}

/// (who, method, host, target, expected status)
type Case = (
    Option<Arc<Identity>>,
    &'static str,
    &'static str,
    &'static str,
    u16,
);

#[test]
fn user_method_path_table() {
    let p = policy();
    let anon = || None;
    let admin = || user(&["admin"]);
    let editor = || user(&["editor"]);
    let reader = || user(&["user"]);
    let auditor = || user(&["auditor"]);
    let nobody = || user(&[]);
    let h = "app.example.com";
    let cases: Vec<Case> = vec![
        // Public routes: anyone.
        (anon(), "GET", h, "/public/x", 200),
        (anon(), "POST", h, "/public/a/b", 200),
        (anon(), "GET", h, "/public", 200),
        // Admin area: role admin, GET/POST only.
        (anon(), "GET", h, "/admin/users", 401),
        (reader(), "GET", h, "/admin/users", 403),
        (editor(), "POST", h, "/admin", 403),
        (admin(), "GET", h, "/admin/users", 200),
        (admin(), "POST", h, "/admin/users", 200),
        (admin(), "DELETE", h, "/admin/users", 404),
        (admin(), "HEAD", h, "/admin/users", 200),
        // Normalisation cannot dodge the admin rule.
        (reader(), "GET", h, "//admin/users", 403),
        (reader(), "GET", h, "/./admin", 403),
        (reader(), "GET", h, "/public/../admin/users", 403),
        (reader(), "GET", h, "/%61dmin/users", 403),
        (reader(), "GET", h, "/public/%2e%2e/admin", 403),
        (reader(), "GET", h, "/public/..%2fadmin", 400),
        (reader(), "GET", h, "/admin%2fusers", 400),
        (reader(), "GET", h, "/admin%5cusers", 400),
        (reader(), "GET", h, "/admin%00", 400),
        (reader(), "GET", h, "/admin%23x", 400),
        (reader(), "GET", h, "http://evil/admin", 400),
        // Case-sensitive: /ADMIN is not /admin, and falls through to no route.
        (reader(), "GET", h, "/ADMIN/users", 404),
        // Permissions are all-of.
        (reader(), "GET", h, "/api/posts", 200),
        (reader(), "POST", h, "/api/posts", 404),
        (reader(), "GET", h, "/api/posts/7/edit", 403),
        (editor(), "GET", h, "/api/posts/7/edit", 200),
        (editor(), "PUT", h, "/api/posts/7/edit", 200),
        (nobody(), "GET", h, "/api/posts", 403),
        (anon(), "GET", h, "/api/posts", 401),
        (admin(), "GET", h, "/api/anything/at/all", 200),
        (admin(), "GET", h, "/api", 200),
        (admin(), "GET", h, "/apix", 404),
        // `*` is exactly one segment: two fall through to the `/api/**` rule.
        (reader(), "GET", h, "/api/posts/7/8/edit", 200),
        (reader(), "PUT", h, "/api/posts/7/8/edit", 404),
        // Host-bound route: any-of roles, only on its host.
        (auditor(), "GET", "internal.example.com", "/reports/q1", 200),
        (admin(), "GET", "internal.example.com", "/reports/q1", 200),
        (reader(), "GET", "internal.example.com", "/reports/q1", 403),
        (auditor(), "GET", h, "/reports/q1", 404),
        // Authenticated catch-all for /app only; no match is 404.
        (nobody(), "GET", h, "/app/home", 200),
        (anon(), "GET", h, "/app/home", 401),
        (admin(), "GET", h, "/", 404),
        (admin(), "GET", h, "/healthz-but-not", 404),
    ];
    for (who, method, host, target, want) in cases {
        let label = format!(
            "{:?} {method} {host} {target}",
            who.as_ref().map(|i| &i.roles)
        );
        assert_eq!(decide(&p, who, method, host, target), want, "{label}");
    }
}
