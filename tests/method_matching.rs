//! Method matching (issue 10 §2, SPEC §7): methods are case-sensitive, and
//! many upstreams are not (Python and PHP upper-case `get` and run their
//! GET handler), so a method that is not an upper-case token is refused
//! with 400 instead of skipping a `methods = ["GET"]` route; of the
//! well-formed ones only the standard methods and those a route names reach
//! an upstream (others: 501). Raw sockets: HTTP clients upper-case methods.

mod common;

use common::gateway::DEFAULT_ROLES;
use common::http::plain_client;
use common::{login, raw, Rig, StoreKind, ALICE_PW};

/// After the test gateways' default `[roles]`.
const ROUTES: &str = r#"[[routes]]
path = "/api/open/**"
methods = ["GET"]
upstream = "app"
roles = ["admin"]

[[routes]]
path = "/dav/**"
methods = ["PROPFIND", "GET"]
upstream = "app"
roles = ["admin"]

[[routes]]
path = "/**"
upstream = "app"
auth = "public"
"#;

async fn request(rig: &Rig, method: &str, path: &str, auth: Option<&str>) -> raw::RawReply {
    let addr = rig.gw.http_addr();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    if let Some(a) = auth {
        req.push_str(&format!("Authorization: {a}\r\n"));
    }
    req.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
    raw::send(addr, req.as_bytes()).await
}

/// The gateway, and alice's (admin) bearer credential.
async fn start() -> (Rig, String) {
    let policy = format!("{DEFAULT_ROLES}\n{ROUTES}");
    let rig = Rig::with(StoreKind::Memory, |b| b.policy(&policy)).await;
    let token = login(&plain_client(None), &rig.base(), "alice", ALICE_PW)
        .await
        .access_token;
    (rig, format!("Bearer {token}"))
}

#[tokio::test]
async fn method_matching_refuses_methods_that_are_not_upper_case_tokens() {
    let (rig, alice) = start().await;
    // Positive controls: GET is the protected route; other standard
    // methods fall through to the public catch-all, as configured.
    assert_eq!(request(&rig, "GET", "/api/open/x", None).await.status, 401);
    let r = request(&rig, "GET", "/api/open/x", Some(&alice)).await;
    assert_eq!(r.status, 200, "{r:?}");
    for m in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let r = request(&rig, m, "/api/open/x", None).await;
        assert_eq!(r.status, 200, "{m} on the public catch-all: {r:?}");
    }

    let before = rig.echo.hits();
    for m in [
        "get", "Get", "gET", "geT", "post", "Post", "head", "options", "propfind", "Propfind",
        "GET1", "G.T",
    ] {
        for path in ["/api/open/x", "/public/y", "/auth/login", "/healthz"] {
            let r = request(&rig, m, path, None).await;
            assert_eq!(r.status, 400, "{m} {path}: {r:?}");
            let body: serde_json::Value = serde_json::from_str(&r.body).expect("JSON");
            assert_eq!(body["error"], "bad_request", "{m} {path}");
        }
    }
    assert_eq!(
        rig.echo.hits(),
        before,
        "a lower-case method reached the upstream"
    );
}

#[tokio::test]
async fn method_matching_passes_only_standard_and_named_methods() {
    let (rig, alice) = start().await;
    // A method a route names is taken on that route, with its rules...
    assert_eq!(request(&rig, "PROPFIND", "/dav/x", None).await.status, 401);
    let r = request(&rig, "PROPFIND", "/dav/x", Some(&alice)).await;
    assert_eq!(r.status, 200, "{r:?}");
    // ...and, being known, falls through elsewhere like any method would.
    assert_eq!(request(&rig, "PROPFIND", "/other", None).await.status, 200);

    let before = rig.echo.hits();
    for m in [
        "BREW",
        "TRACE",
        "MKCOL",
        "LOCK",
        "VERSION-CONTROL",
        "X_CUSTOM",
    ] {
        for path in ["/dav/x", "/other", "/api/open/x"] {
            let r = request(&rig, m, path, Some(&alice)).await;
            assert_eq!(r.status, 501, "{m} {path}: {r:?}");
            let body: serde_json::Value = serde_json::from_str(&r.body).expect("JSON");
            assert_eq!(body["error"], "not_implemented", "{m} {path}");
        }
    }
    assert_eq!(
        rig.echo.hits(),
        before,
        "an unnamed method reached the upstream"
    );
}
