//! Access log and request ids (SPEC §11), against the real binary: one
//! JSON line per proxied or answered request, every field checked, no
//! secret anywhere in the log; `[log] access = false` writes none.
//! `X-Request-Id`: a trusted peer's valid id is kept end to end, anything
//! else is replaced, and the upstream sees exactly one.
//!
//! Lines are matched to requests by the `X-Request-Id` every answer
//! carries. The gateway writes its access lines in batches (at most 100 ms
//! late), so each lookup polls the log to a deadline.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::conn::Conn;
use common::gateway::DEFAULT_ROLES;
use common::http::plain_client;
use common::raw;
use common::{login_json, send, Echo, Gateway, Login, Reply, Rig, StoreKind, ALICE_PW, BOB_PW};
use serde_json::{json, Value};

/// No catch-all, so an unknown path is 404; an upstream nobody listens on.
const ROUTES: &str = r#"[[routes]]
path = "/public/**"
upstream = "app"
auth = "public"

[[routes]]
path = "/admin/**"
upstream = "app"
roles = ["admin"]

[[routes]]
path = "/api/**"
upstream = "app"
permissions = ["posts:read"]

[[routes]]
path = "/dead/**"
upstream = "dead"
auth = "public"

[upstreams.dead]
addr = "127.0.0.1:1"
"#;

fn policy() -> String {
    format!("{DEFAULT_ROLES}\n{ROUTES}")
}

/// Every access line the gateway has written so far.
fn access_lines(gw: &Gateway) -> Vec<Value> {
    gw.stderr_log()
        .lines()
        .filter(|l| l.contains("\"event\":\"access\""))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The one access line of the request with this id, polled for (lines are
/// flushed at most 100 ms late).
async fn line_of(gw: &Gateway, request_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut found: Vec<Value> = access_lines(gw)
            .into_iter()
            .filter(|l| l["request_id"] == request_id)
            .collect();
        if !found.is_empty() {
            assert_eq!(found.len(), 1, "one line per request: {found:?}");
            return found.remove(0);
        }
        assert!(
            Instant::now() < deadline,
            "no access line for {request_id}:\n{}",
            gw.stderr_log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The answer's request id (every answer has one).
fn id_of(r: &Reply) -> String {
    r.header("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-Id on {} {}", r.status, r.body))
        .to_string()
}

/// What every access line has, whatever the request (every answer here
/// but forward-auth's 200 has a body).
fn assert_common(line: &Value, method: &str, path: &str, status: u16) {
    assert_eq!(line["level"], "INFO", "{line}");
    assert!(line["timestamp"].is_string(), "{line}");
    assert_eq!(line["client_ip"], "127.0.0.1", "{line}");
    assert_eq!(line["method"], method, "{line}");
    assert_eq!(line["path"], path, "{line}");
    assert_eq!(line["status"], status, "{line}");
    assert!(line["bytes_in"].is_u64(), "{line}");
    let empty_answer = path.ends_with("/verify");
    assert!(
        line["bytes_out"]
            .as_u64()
            .is_some_and(|n| n > 0 || empty_answer),
        "{line}"
    );
    assert!(
        line["duration_ms"].as_f64().is_some_and(|d| d >= 0.0),
        "{line}"
    );
}

/// The fields that vary: route, upstream, user.
fn assert_who(line: &Value, route: Value, upstream: Value, user: Value) {
    assert_eq!(line["route"], route, "route: {line}");
    assert_eq!(line["upstream"], upstream, "upstream: {line}");
    assert_eq!(line["user"], user, "user: {line}");
}

// Proxied (bearer, cookie, API key, public), refused (401, 403, 404, 400,
// 502) and gateway-answered (login ok and failed, healthz) requests: one
// line each, every field as expected, and no secret in the whole log.
#[tokio::test]
async fn one_line_per_request_with_every_field_and_no_secret() {
    let rig = Rig::with(StoreKind::Redis, |b| b.policy(&policy())).await;
    let c = plain_client(None);
    let base = rig.base();
    let echo = rig.echo.addr().to_string();
    let key = rig.gw.create_api_key("ci");
    let no = Value::Null;

    // Login, ok: the user it signed in, its body counted.
    let r = login_json(&c, &base, "alice", ALICE_PW).await;
    let alice = Login::from_reply(&r);
    let l = line_of(&rig.gw, &id_of(&r)).await;
    assert_common(&l, "POST", "/auth/login", 200);
    assert_who(&l, no.clone(), no.clone(), json!("alice"));
    let sent = json!({ "username": "alice", "password": ALICE_PW });
    assert_eq!(l["bytes_in"], serde_json::to_vec(&sent).unwrap().len());

    // Login, failed: nobody.
    let r = login_json(&c, &base, "bob", "not-bobs-password").await;
    r.assert_error(401, "unauthorized");
    let l = line_of(&rig.gw, &id_of(&r)).await;
    assert_common(&l, "POST", "/auth/login", 401);
    assert_who(&l, no.clone(), no.clone(), no.clone());
    let bob = login_json(&c, &base, "bob", BOB_PW).await;
    let bob = Login::from_reply(&bob);

    // Proxied with a bearer token: route, upstream, user.
    let r = send(
        c.get(rig.url("/api/x?page=2"))
            .bearer_auth(&alice.access_token),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let l = line_of(&rig.gw, &id_of(&r)).await;
    assert_common(&l, "GET", "/api/x", 200);
    assert_who(&l, json!(2), json!(echo), json!("alice"));
    assert_eq!(l["bytes_in"], 0);
    assert_eq!(l["bytes_out"], r.body.len());

    // Proxied with the session cookie, a POST body counted in.
    let body = "hello, upstream";
    let r = send(
        c.post(rig.url("/api/items"))
            .header("Cookie", bob.cookie_header())
            .header("Origin", &base)
            .body(body),
    )
    .await;
    assert_eq!(r.echo().body, body);
    let l = line_of(&rig.gw, &id_of(&r)).await;
    assert_common(&l, "POST", "/api/items", 200);
    assert_who(&l, json!(2), json!(echo), json!("bob"));
    assert_eq!(l["bytes_in"], body.len());

    // An API key: the key's name, never the key.
    let r = send(c.get(rig.url("/api/k")).header("X-API-Key", &key)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let l = line_of(&rig.gw, &id_of(&r)).await;
    assert_who(&l, json!(2), json!(echo), json!("apikey:ci"));

    // A public route without credentials.
    let r = send(c.get(rig.url("/public/./a//b"))).await;
    assert_eq!(r.status, 200);
    let l = line_of(&rig.gw, &id_of(&r)).await;
    assert_common(&l, "GET", "/public/a/b", 200);
    assert_who(&l, json!(0), json!(echo), no.clone());

    // 401 on a matched route: its index, no upstream, nobody.
    let r = send(c.get(rig.url("/api/x"))).await;
    r.assert_error(401, "unauthorized");
    let l = line_of(&rig.gw, &id_of(&r)).await;
    assert_common(&l, "GET", "/api/x", 401);
    assert_who(&l, json!(2), no.clone(), no.clone());

    // 403: the route and who was refused.
    let r = send(c.get(rig.url("/admin/x")).bearer_auth(&bob.access_token)).await;
    r.assert_error(403, "forbidden");
    let l = line_of(&rig.gw, &id_of(&r)).await;
    assert_common(&l, "GET", "/admin/x", 403);
    assert_who(&l, json!(1), no.clone(), json!("bob"));

    // 404: no route.
    let r = send(c.get(rig.url("/nowhere")).bearer_auth(&alice.access_token)).await;
    r.assert_error(404, "not_found");
    let l = line_of(&rig.gw, &id_of(&r)).await;
    assert_common(&l, "GET", "/nowhere", 404);
    assert_who(&l, no.clone(), no.clone(), no.clone());

    // 502: the upstream that was tried.
    let r = send(c.get(rig.url("/dead/x"))).await;
    r.assert_error(502, "bad_gateway");
    let l = line_of(&rig.gw, &id_of(&r)).await;
    assert_common(&l, "GET", "/dead/x", 502);
    assert_who(&l, json!(3), json!("127.0.0.1:1"), no.clone());

    // A gateway endpoint: no route, no upstream.
    let r = send(c.get(rig.url("/healthz"))).await;
    assert_eq!(r.status, 200);
    let l = line_of(&rig.gw, &id_of(&r)).await;
    assert_common(&l, "GET", "/healthz", 200);
    assert_who(&l, no.clone(), no.clone(), no.clone());

    // 400 before normalisation: the raw path, percent-encoded, no query.
    let r = raw::send(
        rig.gw.http_addr(),
        b"GET /a/%2f/b?token=qs-secret-123 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 400, "{r:?}");
    let id = r.header("x-request-id").expect("X-Request-Id on a 400");
    let l = line_of(&rig.gw, id).await;
    assert_common(&l, "GET", "/a/%2f/b", 400);
    assert_who(&l, no.clone(), no.clone(), no.clone());

    // Ending a session: the endpoint's path, without the session id.
    let sessions = send(
        c.get(format!("{base}/auth/sessions"))
            .bearer_auth(&bob.access_token),
    )
    .await;
    let sid = sessions.json()["sessions"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a session id: {}", sessions.body))
        .to_string();
    let r = send(
        c.delete(format!("{base}/auth/sessions/{sid}"))
            .bearer_auth(&bob.access_token),
    )
    .await;
    let l = line_of(&rig.gw, &id_of(&r)).await;
    assert_eq!(l["path"], "/auth/sessions/{id}", "{l}");
    assert_eq!(l["user"], "bob", "{l}");

    // No secret anywhere: passwords, tokens, cookies, the key, the query.
    let log = rig.gw.stderr_log();
    for secret in [
        ALICE_PW,
        BOB_PW,
        "not-bobs-password",
        alice.access_token.as_str(),
        alice.refresh_token.as_str(),
        alice.cookie.as_str(),
        bob.access_token.as_str(),
        bob.cookie.as_str(),
        key.as_str(),
        "qs-secret-123",
        sid.as_str(),
    ] {
        assert!(!secret.is_empty());
        assert!(!log.contains(secret), "a secret reached the log");
    }
}

// `[log] access = false`: the same traffic writes no access line.
#[tokio::test]
async fn access_false_writes_no_access_lines() {
    let rig = Rig::with(StoreKind::Memory, |b| {
        b.policy(&policy()).set("log", "access", "false")
    })
    .await;
    let c = plain_client(None);
    let alice = Login::from_reply(&login_json(&c, &rig.base(), "alice", ALICE_PW).await);
    for path in ["/api/x", "/nowhere", "/healthz", "/public/x"] {
        let r = send(c.get(rig.url(path)).bearer_auth(&alice.access_token)).await;
        assert!(r.header("x-request-id").is_some(), "ids stay on {path}");
    }
    // The audit event is written at once; access lines would follow within
    // 100 ms. Absence can only be shown by waiting a bounded while.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !rig.gw.stderr_log().contains("\"event\":\"login_ok\"") {
        assert!(Instant::now() < deadline, "no login_ok in the log");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = rig.gw.stderr_log();
    assert!(!log.contains("\"event\":\"access\""), "{log}");
}

/// A gateway trusting 127.0.0.1 as a front proxy (forward-auth on).
async fn trusting_rig() -> Rig {
    Rig::with(StoreKind::Memory, |b| {
        b.policy(&policy())
            .set("server", "trusted_proxies", "[\"127.0.0.1/32\"]")
            .set("forward_auth", "enabled", "true")
    })
    .await
}

/// The upstream's one `X-Request-Id`, with no other spelling beside it.
fn upstream_id(echo: &Echo) -> String {
    let spellings = echo
        .folded_names()
        .into_iter()
        .filter(|n| n == "x-request-id")
        .count();
    assert_eq!(spellings, 1, "exactly one id upstream: {:?}", echo.headers);
    echo.one("x-request-id").expect("x-request-id").to_string()
}

fn is_generated(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

// A trusted peer's valid id is kept: the upstream gets it, the client gets
// it back, the log shows it. Invalid ones are replaced by a generated id.
#[tokio::test]
async fn trusted_ids_are_kept_when_valid_and_replaced_otherwise() {
    let rig = trusting_rig().await;
    let c = plain_client(None);

    let kept = "front-42.req_A";
    let r = send(c.get(rig.url("/public/x")).header("X-Request-Id", kept)).await;
    assert_eq!(upstream_id(&r.echo()), kept);
    assert_eq!(id_of(&r), kept);
    assert_eq!(line_of(&rig.gw, kept).await["path"], "/public/x");
    let longest = "a".repeat(128);
    let r = send(c.get(rig.url("/public/x")).header("X-Request-Id", &longest)).await;
    assert_eq!(upstream_id(&r.echo()), longest);

    for bad in [
        "a".repeat(129),
        "a/b".into(),
        "a;b".into(),
        "a b".into(),
        String::new(),
    ] {
        let r = send(c.get(rig.url("/public/x")).header("X-Request-Id", &bad)).await;
        let sent_up = upstream_id(&r.echo());
        assert!(is_generated(&sent_up), "{bad:?} replaced, not {sent_up:?}");
        assert_eq!(
            id_of(&r),
            sent_up,
            "the client gets the id the upstream got"
        );
        assert_eq!(line_of(&rig.gw, &sent_up).await["status"], 200);
    }

    // Two ids, or an `_` spelling beside a valid one: one generated id
    // reaches the upstream (raw: reqwest would merge the two headers).
    let addr = rig.gw.http_addr();
    for extra in [
        [("X-Request-Id", "one"), ("X-Request-Id", "two")],
        [("X-Request-Id", "one"), ("X_Request_Id", "two")],
    ] {
        let r = raw::get(addr, "/public/x", &extra).await;
        assert_eq!(r.status, 200, "{r:?}");
        let echo = Echo::parse(&serde_json::from_str(&r.body).expect("echo JSON"));
        let sent_up = upstream_id(&echo);
        if extra[1].0 == "X-Request-Id" {
            assert!(is_generated(&sent_up), "{extra:?}: {sent_up}");
        } else {
            assert_eq!(sent_up, "one", "the valid one kept, the `_` one dropped");
        }
        assert_eq!(r.header("x-request-id"), Some(sent_up.as_str()));
    }

    // Forward-auth answers carry the front proxy's id, and are logged as
    // the gateway's own endpoint with the user decided for.
    let alice = Login::from_reply(&login_json(&c, &rig.base(), "alice", ALICE_PW).await);
    let r = send(
        c.get(rig.url("/auth/verify"))
            .header("X-Forwarded-Method", "GET")
            .header("X-Forwarded-Proto", "https")
            .header("X-Forwarded-Host", "app.example")
            .header("X-Forwarded-Uri", "/admin/x?y=1")
            .header("X-Request-Id", "nginx-7")
            .bearer_auth(&alice.access_token),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(id_of(&r), "nginx-7");
    let l = line_of(&rig.gw, "nginx-7").await;
    assert_common(&l, "GET", "/auth/verify", 200);
    assert_who(&l, Value::Null, Value::Null, json!("alice"));
}

// From a peer outside `trusted_proxies` even a valid id is replaced, and
// every kind of answer carries the request's id: proxied, gateway
// endpoints, refusals, 502.
#[tokio::test]
async fn untrusted_ids_are_replaced_and_every_answer_carries_one() {
    let rig = trusting_rig().await;
    let addr = rig.gw.http_addr();
    let untrusted = IpAddr::from([127, 0, 0, 2]);
    let answers = [
        ("/public/x", 200),
        ("/healthz", 200),
        ("/api/x", 401),
        ("/nowhere", 404),
        ("/dead/x", 502),
    ];
    for (path, status) in answers {
        let mut conn = Conn::connect_from(untrusted, addr).await;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: gatehouse.test\r\nX-Request-Id: client-chosen\r\n\r\n"
        );
        assert!(conn.write(req.as_bytes()).await);
        let r = conn
            .answer(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no answer to {path}"));
        assert_eq!(r.status, status, "{path}: {r:?}");
        let id = r.header("x-request-id").expect("X-Request-Id").to_string();
        assert!(is_generated(&id), "{path}: {id}");
        if status == 200 && path.starts_with("/public") {
            let echo = Echo::parse(&serde_json::from_str(&r.body).expect("echo JSON"));
            assert_eq!(upstream_id(&echo), id);
        }
        let l = line_of(&rig.gw, &id).await;
        assert_eq!(l["client_ip"], "127.0.0.2", "{l}");
        assert_eq!(l["status"], status, "{l}");
    }
    // Nothing logged the client's id.
    assert!(!rig.gw.stderr_log().contains("client-chosen"));
}
