//! Host matching (issue 10 §1, RFC 9112 §3.2, SPEC §7): the Host is
//! normalised once (ASCII lower-case, one trailing dot removed, port split
//! off, IPv6 literals kept) and that name is matched and forwarded, so a
//! host-scoped protected route cannot be skipped by spelling its name
//! differently; a request without a Host (HTTP/1.1), with two, or with one
//! that is not a host gets 400. Raw sockets: reqwest would fix the Host.

mod common;

use common::gateway::DEFAULT_ROLES;
use common::http::plain_client;
use common::{login, raw, Echo, Rig, StoreKind, ALICE_PW, BOB_PW};

/// After the test gateways' default `[roles]`.
const ROUTES: &str = r#"[[routes]]
path = "/**"
host = "h.example.test"
upstream = "app"
roles = ["admin"]

[[routes]]
path = "/**"
upstream = "app"
auth = "public"
"#;

/// `GET /x` with exactly these header lines (no Host added).
async fn get(rig: &Rig, version: &str, headers: &[&str]) -> raw::RawReply {
    let mut req = format!("GET /x {version}\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("Connection: close\r\n\r\n");
    raw::send(rig.gw.http_addr(), req.as_bytes()).await
}

async fn start() -> Rig {
    let policy = format!("{DEFAULT_ROLES}\n{ROUTES}");
    Rig::with(StoreKind::Memory, |b| b.policy(&policy)).await
}

fn echo(r: &raw::RawReply) -> Echo {
    Echo::parse(&serde_json::from_str(&r.body).expect("echo json"))
}

#[tokio::test]
async fn host_matching_normalises_before_routing_and_forwarding() {
    let rig = start().await;
    let c = plain_client(None);
    let alice = format!(
        "Authorization: Bearer {}",
        login(&c, &rig.base(), "alice", ALICE_PW).await.access_token
    );
    let bob = format!(
        "Authorization: Bearer {}",
        login(&c, &rig.base(), "bob", BOB_PW).await.access_token
    );

    // Positive controls: another host is public; the protected host takes
    // its admin and refuses others.
    let r = get(&rig, "HTTP/1.1", &["Host: other.test"]).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(echo(&r).one("host"), Some("other.test"));
    assert_eq!(
        get(&rig, "HTTP/1.1", &["Host: h.example.test"])
            .await
            .status,
        401
    );

    // Every spelling of the protected name is the protected name.
    let spellings = [
        ("h.example.test.", "h.example.test"),
        ("H.EXAMPLE.TEST.", "h.example.test"),
        ("H.Example.Test", "h.example.test"),
        ("h.example.test.:80", "h.example.test:80"),
        ("h.example.test:8080", "h.example.test:8080"),
        ("H.EXAMPLE.TEST.:8443", "h.example.test:8443"),
    ];
    for (spelled, forwarded) in spellings {
        let host = format!("Host: {spelled}");
        let before = rig.echo.hits();
        let anon = get(&rig, "HTTP/1.1", &[&host]).await;
        assert_eq!(anon.status, 401, "anonymous {spelled:?}: {anon:?}");
        let user = get(&rig, "HTTP/1.1", &[&host, &bob]).await;
        assert_eq!(user.status, 403, "bob at {spelled:?}: {user:?}");
        assert_eq!(rig.echo.hits(), before, "{spelled:?} reached the upstream");
        // The admin gets through, and the app sees the normalised name.
        let admin = get(&rig, "HTTP/1.1", &[&host, &alice]).await;
        assert_eq!(admin.status, 200, "alice at {spelled:?}: {admin:?}");
        let e = echo(&admin);
        assert_eq!(e.one("host"), Some(forwarded), "{spelled:?}: {e:?}");
        assert_eq!(e.one("x-forwarded-host"), Some(forwarded), "{spelled:?}");
        assert_eq!(e.one("x-auth-user"), Some("alice"));
    }
}

#[tokio::test]
async fn host_matching_refuses_what_is_not_one_host() {
    let rig = start().await;
    let before = rig.echo.hits();
    let cases: &[&[&str]] = &[
        &[],
        &["Host: a.test", "Host: a.test"],
        &["Host: h.example.test", "Host: other.test"],
        &["Host: other.test", "Host: h.example.test"],
        &["Host: a/b"],
        &["Host: a, b"],
        &["Host: other.test, h.example.test"],
        &["Host: a b"],
        &["Host: [x]"],
        &["Host: [::1"],
        &["Host: other.test:99999"],
        &["Host: other.test:0"],
        &["Host: other.test:"],
        &["Host: other.test:8o"],
        &["Host: h..example.test"],
        &["Host: h.example.test.."],
        &["Host: ."],
        &["Host: user@h.example.test"],
        &["Host: h%2eexample.test"],
        &["Host: "],
    ];
    let mut wrong = Vec::new();
    for headers in cases {
        let r = get(&rig, "HTTP/1.1", headers).await;
        let body: Option<serde_json::Value> = serde_json::from_str(&r.body).ok();
        let ok = r.status == 400
            && body.is_some_and(|b| b["error"] == "bad_request")
            && r.header("x-content-type-options") == Some("nosniff");
        if !ok {
            wrong.push(format!("{headers:?}: {r:?}"));
        }
    }
    assert!(wrong.is_empty(), "not a JSON 400:\n{}", wrong.join("\n"));
    assert_eq!(rig.echo.hits(), before, "a bad Host reached the upstream");
    // Also on the gateway's own endpoints.
    let r = raw::send(
        rig.gw.http_addr(),
        b"GET /healthz HTTP/1.1\r\nHost: a/b\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 400, "{r:?}");

    // Controls: HTTP/1.0 may omit Host (no host-bound route matches it),
    // and IPv6 literals are hosts.
    let r = get(&rig, "HTTP/1.0", &[]).await;
    assert_eq!(r.status, 200, "HTTP/1.0 without Host: {r:?}");
    let r = get(&rig, "HTTP/1.1", &["Host: [::1]:8080"]).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(echo(&r).one("host"), Some("[::1]:8080"));
}
