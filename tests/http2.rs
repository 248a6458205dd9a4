//! HTTP/2 from clients (SPEC §11, issue 13 point 1): ALPN `h2` and
//! `http/1.1` on the TLS listener (`[server] h2`, on by default), h2c with
//! prior knowledge on the plain listener only with `h2c = true`, every
//! stream judged like an HTTP/1.1 request (login, cookie, bearer, 401, 403,
//! 404, normalised `:path`), identities never mixed across 50 streams on
//! one connection, malformed field names refused, and the per-connection
//! bounds (streams, header list, reset floods) advertised and enforced.
//! Real clients: reqwest with HTTP/2, the h2 crate on one connection, and
//! raw frames (tests/common/h2raw.rs) for what no client library sends.

mod common;

use std::time::Duration;

use common::h2client::H2Conn;
use common::h2raw::{self, Outcome, RawH2};
use common::{login, login_json, Rig, StoreKind, ALICE_PW, BOB_PW, COOKIE, DAVE_PW};
use reqwest::Version;

/// No catch-all: an unknown path is 404.
const POLICY: &str = r#"[roles]
admin = ["*"]
editor = ["posts:read", "posts:write"]
user = ["posts:read"]

[[routes]]
path = "/public/**"
upstream = "app"
auth = "public"

[[routes]]
path = "/admin/**"
upstream = "app"
roles = ["admin"]

[[routes]]
path = "/app/**"
upstream = "app"
"#;

const WAIT: Duration = Duration::from_secs(10);

async fn tls_rig() -> Rig {
    Rig::with(StoreKind::Memory, |b| b.tls(true).policy(POLICY)).await
}

async fn h2c_rig(extra: &[(&str, &str)]) -> Rig {
    Rig::with(StoreKind::Memory, |b| {
        extra.iter().fold(
            b.policy(POLICY).set("server", "h2c", "true"),
            |b, (k, v)| b.set("server", k, v),
        )
    })
    .await
}

/// reqwest speaking HTTP/2 with prior knowledge (h2c).
fn h2c_client() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(WAIT)
        .build()
        .expect("h2c client")
}

/// The echo's `x-auth-user`, from an h2 answer's JSON.
fn echoed_user(body: &serde_json::Value) -> Option<String> {
    body["headers"].as_array()?.iter().find_map(|h| {
        (h[0] == "x-auth-user").then(|| h[1].as_str().unwrap_or_default().to_string())
    })
}

// ---- TLS: ALPN, login, cookie, bearer, per-stream refusals ----

// The TLS listener offers h2 and http/1.1: an HTTP/2 client gets HTTP/2,
// an HTTP/1.1-only client on the same listener still gets HTTP/1.1.
#[tokio::test]
async fn tls_listener_offers_h2_and_http1() {
    let rig = tls_rig().await;
    let base = rig.gw.https_url();
    let r = rig
        .gw
        .plain_client()
        .get(format!("{base}/public/x"))
        .send()
        .await
        .expect("h2 request");
    assert_eq!(r.version(), Version::HTTP_2);
    assert_eq!(r.status(), 200);
    let ca = rig.gw.ca().expect("test CA").root();
    let h1 = reqwest::Client::builder()
        .http1_only()
        .no_proxy()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .timeout(WAIT)
        .build()
        .expect("h1 client");
    let r = h1.get(format!("{base}/public/x")).send().await.expect("h1");
    assert_eq!(r.version(), Version::HTTP_11);
    assert_eq!(r.status(), 200);
    let (_conn, alpn) = H2Conn::tls(rig.gw.https_addr(), rig.gw.ca().unwrap()).await;
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
}

// `[server] h2 = false`: ALPN offers http/1.1 only.
#[tokio::test]
async fn h2_off_offers_only_http1() {
    let rig = Rig::with(StoreKind::Memory, |b| {
        b.tls(true).policy(POLICY).set("server", "h2", "false")
    })
    .await;
    let r = rig
        .gw
        .plain_client()
        .get(format!("{}/public/x", rig.gw.https_url()))
        .send()
        .await
        .expect("request");
    assert_eq!(r.version(), Version::HTTP_11);
    assert_eq!(r.status(), 200);
}

// Log in, then cookie and bearer access, all over HTTP/2: the upstream
// sees the identity headers, and the credentials do not reach it.
#[tokio::test]
async fn login_cookie_and_bearer_over_h2() {
    let rig = tls_rig().await;
    let base = rig.gw.https_url();
    let (browser, _jar) = rig.gw.jar_client();
    let r = login_json(&browser, &base, "alice", ALICE_PW).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.set_cookie(COOKIE).is_some(), "session cookie over h2");

    let resp = browser
        .get(format!("{base}/app/x"))
        .send()
        .await
        .expect("cookie request");
    assert_eq!(resp.version(), Version::HTTP_2);
    let body: serde_json::Value = resp.json().await.expect("echo JSON");
    assert_eq!(echoed_user(&body).as_deref(), Some("alice"));
    let names: Vec<&str> = body["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h[0].as_str())
        .collect();
    assert!(!names.contains(&"authorization"), "{names:?}");
    let cookies = body["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h[0] == "cookie")
        .map(|h| h[1].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>();
    assert!(
        cookies.iter().all(|c| !c.contains(COOKIE)),
        "session cookie forwarded: {cookies:?}"
    );

    let tok = login(&rig.gw.plain_client(), &base, "bob", BOB_PW).await;
    let resp = rig
        .gw
        .plain_client()
        .get(format!("{base}/app/y"))
        .bearer_auth(&tok.access_token)
        .send()
        .await
        .expect("bearer request");
    assert_eq!(resp.version(), Version::HTTP_2);
    let body: serde_json::Value = resp.json().await.expect("echo JSON");
    assert_eq!(echoed_user(&body).as_deref(), Some("bob"));
    assert_eq!(body["path"], "/app/y");
}

// One connection, several streams at once: each is decided on its own
// (200, 401, 403, 404 side by side), and a refused stream leaves the
// connection usable.
#[tokio::test]
async fn refusals_are_per_stream_on_one_connection() {
    let rig = tls_rig().await;
    let base = rig.gw.https_url();
    let bob = login(&rig.gw.plain_client(), &base, "bob", BOB_PW).await;
    let (conn, _) = H2Conn::tls(rig.gw.https_addr(), rig.gw.ca().unwrap()).await;
    let bearer = bob.bearer();
    let cases: Vec<(&str, Option<&str>, u16, Option<&str>)> = vec![
        ("/app/a", Some(&bearer), 200, None),
        ("/app/b", None, 401, Some("unauthorized")),
        ("/admin/c", Some(&bearer), 403, Some("forbidden")),
        ("/nope", Some(&bearer), 404, Some("not_found")),
        ("/public/d", None, 200, None),
        (
            "/app/e",
            Some("Bearer not-a-token"),
            401,
            Some("unauthorized"),
        ),
    ];
    let tasks: Vec<_> = cases
        .iter()
        .map(|(path, auth, _, _)| {
            let conn = conn.clone();
            let path = path.to_string();
            let auth = auth.map(str::to_string);
            tokio::spawn(async move {
                let headers: Vec<(&str, &str)> = auth
                    .as_deref()
                    .map(|a| vec![("authorization", a)])
                    .unwrap_or_default();
                conn.get(&path, &headers).await
            })
        })
        .collect();
    for (task, (path, _, status, code)) in tasks.into_iter().zip(&cases) {
        let r = task.await.expect("stream task");
        assert_eq!(r.status.as_u16(), *status, "{path}: {}", r.text());
        match code {
            Some(code) => assert_eq!(r.json()["error"], *code, "{path}"),
            None => assert_eq!(r.json()["path"], *path, "{path}"),
        }
        if *status == 401 {
            assert_eq!(
                r.headers.get("www-authenticate").map(|v| v.as_bytes()),
                Some(&b"Bearer"[..])
            );
        }
    }
    // Still usable after the refusals.
    let r = conn.get("/public/after", &[]).await;
    assert_eq!(r.status, 200);
}

// 50 concurrent streams on ONE connection, three users' bearer tokens and
// cookie sessions interleaved, answers delayed so the streams overlap:
// every answer carries exactly the identity of the credential it was sent
// with.
#[tokio::test]
async fn fifty_streams_on_one_connection_never_mix_identities() {
    let rig = tls_rig().await;
    let base = rig.gw.https_url();
    let client = rig.gw.plain_client();
    let users = [("alice", ALICE_PW), ("bob", BOB_PW), ("dave", DAVE_PW)];
    let mut creds = Vec::new();
    for (name, pw) in users {
        let l = login(&client, &base, name, pw).await;
        creds.push((name, ("authorization", l.bearer())));
        creds.push((name, ("cookie", l.cookie_header())));
    }
    let (conn, _) = H2Conn::tls(rig.gw.https_addr(), rig.gw.ca().unwrap()).await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (user, (header, value)) = creds[i % creds.len()].clone();
            let conn = conn.clone();
            tokio::spawn(async move {
                let delay = ((i * 7) % 40).to_string();
                let path = format!("/app/stream-{i}");
                let r = conn
                    .get(&path, &[(header, &value), ("x-echo-delay-ms", &delay)])
                    .await;
                (i, user, r)
            })
        })
        .collect();
    for task in tasks {
        let (i, user, r) = task.await.expect("stream task");
        assert_eq!(r.status, 200, "stream {i}: {}", r.text());
        let body = r.json();
        assert_eq!(echoed_user(&body).as_deref(), Some(user), "stream {i}");
        assert_eq!(body["path"], format!("/app/stream-{i}"), "stream {i}");
        let users: Vec<_> = body["headers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h[0] == "x-auth-user")
            .collect();
        assert_eq!(users.len(), 1, "stream {i}: {users:?}");
    }
    assert_eq!(rig.echo.hits(), 50);
}

// ---- h2c ----

// With `h2c = true` the plain listener takes HTTP/2 with prior knowledge
// (login and bearer access) and still HTTP/1.1, including a request shorter
// than the 24-byte preface; a client that sends nothing gets HTTP/1's 408
// after header_timeout.
#[tokio::test]
async fn h2c_prior_knowledge_when_enabled() {
    let rig = h2c_rig(&[("header_timeout", "\"1s\"")]).await;
    let base = rig.base();
    let h2c = h2c_client();
    let tok = login(&h2c, &base, "alice", ALICE_PW).await;
    let r = h2c
        .get(rig.url("/admin/x"))
        .bearer_auth(&tok.access_token)
        .send()
        .await
        .expect("h2c request");
    assert_eq!(r.version(), Version::HTTP_2);
    let body: serde_json::Value = r.json().await.expect("echo JSON");
    assert_eq!(echoed_user(&body).as_deref(), Some("alice"));
    let r = h2c.get(rig.url("/app/x")).send().await.expect("h2c 401");
    assert_eq!(r.status(), 401);

    let r = rig
        .gw
        .plain_client()
        .get(rig.url("/public/h1"))
        .send()
        .await
        .expect("h1 request");
    assert_eq!((r.version(), r.status().as_u16()), (Version::HTTP_11, 200));

    // 18 bytes, less than the preface: answered at once, not held.
    let short = common::raw::send(rig.gw.http_addr(), b"GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!(short.status, 404, "{short:?}");

    let mut silent = common::conn::Conn::connect(rig.gw.http_addr()).await;
    assert!(
        silent.closed_within(Duration::from_secs(5)).await,
        "a silent connection is closed after header_timeout"
    );
    let answer = common::raw::parse(silent.pending(), true).expect("an answer before the close");
    assert_eq!(answer.status, 408, "{answer:?}");
}

// Without `h2c = true` (the default) the plain listener speaks HTTP/1
// only: prior-knowledge HTTP/2 fails, HTTP/1.1 is served.
#[tokio::test]
async fn h2c_refused_when_off() {
    let rig = Rig::with(StoreKind::Memory, |b| b.policy(POLICY)).await;
    let r = h2c_client().get(rig.url("/public/x")).send().await;
    assert!(
        r.as_ref().map_or(true, |r| r.version() != Version::HTTP_2),
        "h2c served while off: {r:?}"
    );
    assert_eq!(rig.echo.hits(), 0);
    let r = rig
        .gw
        .plain_client()
        .get(rig.url("/public/x"))
        .send()
        .await
        .expect("h1");
    assert_eq!((r.version(), r.status().as_u16()), (Version::HTTP_11, 200));
}

// ---- :path normalisation ----

// `:path` is normalised like an HTTP/1 target (SPEC §7): dot segments are
// resolved before matching (so `/public/../admin` is the admin route), a
// `..` above `/` and encoded `/` or `#` are 400, and the upstream gets the
// normalised path.
#[tokio::test]
async fn path_is_normalised_per_stream() {
    let rig = h2c_rig(&[]).await;
    let conn = H2Conn::h2c(rig.gw.http_addr()).await;
    let r = conn.get("/public/a/../b//c", &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["path"], "/public/b/c");
    let r = conn.get("/public/%7Euser", &[]).await;
    assert_eq!(r.json()["path"], "/public/~user");

    let r = conn.get("/public/../admin/x", &[]).await;
    assert_eq!(
        r.status,
        401,
        "matched on the normalised path: {}",
        r.text()
    );
    for path in [
        "/../admin/x",
        "/public/../../admin",
        "/public/%2e%2e/%2e%2e/admin",
        "/public%2fadmin",
        "/public/a%2Fb",
        "/public/a%5cb",
        "/public/x%23frag",
        "/public/a%00b",
    ] {
        let r = conn.get(path, &[]).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert_eq!(r.json()["error"], "bad_request", "{path}");
    }
    assert_eq!(rig.echo.hits(), 2);
}

// A `#` in `:path` (only raw frames can send one) is a malformed request
// (the vendored h2 patch, vendor/h2/GATEHOUSE-PATCHES.md): the stream is
// reset with PROTOCOL_ERROR, so the fragment never takes part in routing
// and nothing reaches the upstream; the connection serves other streams.
#[tokio::test]
async fn fragment_in_path_is_refused() {
    let rig = h2c_rig(&[]).await;
    let mut c = RawH2::connect(rig.gw.http_addr()).await;
    let cases = [
        (1, "/public/x#/../../admin/y"),
        (3, "/admin/x#/../../public/y"),
        (5, "/public/a#b?c=d"),
        (7, "/public/#"),
    ];
    for (id, path) in cases {
        assert!(c.send_request(id, &h2raw::request("GET", path, &[])).await);
    }
    assert!(
        c.send_request(9, &h2raw::request("GET", "/public/ok", &[]))
            .await
    );
    let got = c.outcomes(&[1, 3, 5, 7, 9], WAIT).await;
    for (id, path) in cases {
        assert!(
            matches!(got[&id], Outcome::Reset(h2raw::PROTOCOL_ERROR)),
            "{path}: {:?}",
            got[&id]
        );
    }
    let ok: serde_json::Value = serde_json::from_str(&got[&9].body()).expect("echo");
    assert_eq!(ok["path"], "/public/ok");
    assert_eq!(rig.echo.hits(), 1);
}

// ---- malformed field names ----

// An upper-case field name is refused (RFC 9113 §8.2.1): the h2 crate
// fails the HPACK block, which ends the connection with PROTOCOL_ERROR;
// nothing reaches the upstream and other connections are served.
#[tokio::test]
async fn uppercase_header_names_are_refused() {
    let rig = h2c_rig(&[]).await;
    for name in ["X-Auth-User", "Host", "Cookie", "x-Custom"] {
        let mut c = RawH2::connect(rig.gw.http_addr()).await;
        let fields = h2raw::request("GET", "/public/x", &[(name, "mallory")]);
        assert!(c.send_request(1, &fields).await);
        let outcome = c.outcome(1, WAIT).await;
        assert!(
            matches!(
                outcome,
                Outcome::GoAway(h2raw::PROTOCOL_ERROR) | Outcome::Reset(h2raw::PROTOCOL_ERROR)
            ),
            "{name}: {outcome:?}"
        );
    }
    assert_eq!(rig.echo.hits(), 0);
    let conn = H2Conn::h2c(rig.gw.http_addr()).await;
    assert_eq!(conn.get("/public/ok", &[]).await.status, 200);
}

// Connection-specific fields (RFC 9113 §8.2.2) reset their stream with
// PROTOCOL_ERROR; `te: trailers` is the one allowed `te`. The connection
// and its other streams carry on.
#[tokio::test]
async fn connection_specific_headers_are_refused() {
    let rig = h2c_rig(&[]).await;
    let mut c = RawH2::connect(rig.gw.http_addr()).await;
    let bad = [
        ("connection", "close"),
        ("keep-alive", "timeout=5"),
        ("transfer-encoding", "chunked"),
        ("upgrade", "websocket"),
        ("proxy-connection", "keep-alive"),
        ("te", "gzip"),
    ];
    let mut id = 1;
    for (name, value) in bad {
        let fields = h2raw::request("GET", "/public/x", &[(name, value)]);
        assert!(c.send_request(id, &fields).await);
        assert_eq!(
            c.outcome(id, WAIT).await,
            Outcome::Reset(h2raw::PROTOCOL_ERROR),
            "{name}: {value}"
        );
        id += 2;
    }
    let fields = h2raw::request("GET", "/public/te", &[("te", "trailers")]);
    assert!(c.send_request(id, &fields).await);
    let ok = c.outcome(id, WAIT).await;
    let echo: serde_json::Value = serde_json::from_str(&ok.body()).expect("echo");
    assert_eq!(echo["path"], "/public/te", "{ok:?}");
    assert_eq!(rig.echo.hits(), 1);
}

// ---- bounds ----

// `h2_max_streams` and `h2_max_header_list` are advertised in SETTINGS
// and enforced: a stream beyond the limit is refused (REFUSED_STREAM)
// while the others are served, and a header list over the limit gets 431.
#[tokio::test]
async fn max_streams_and_header_list_are_advertised_and_enforced() {
    let rig = h2c_rig(&[("h2_max_streams", "4"), ("h2_max_header_list", "\"8KB\"")]).await;
    let mut c = RawH2::connect(rig.gw.http_addr()).await;
    assert_eq!(c.setting(h2raw::MAX_CONCURRENT_STREAMS), Some(4));
    assert_eq!(c.setting(h2raw::MAX_HEADER_LIST_SIZE), Some(8 * 1024));

    let ids = [1, 3, 5, 7, 9, 11];
    let mut burst = Vec::new();
    for id in ids {
        let path = format!("/public/slow-{id}");
        let fields = h2raw::request("GET", &path, &[("x-echo-delay-ms", "1000")]);
        burst.extend(h2raw::headers_frames(
            id,
            &h2raw::header_block(&fields),
            true,
        ));
    }
    assert!(c.write(&burst).await, "one write, six streams");
    let got = c.outcomes(&ids, WAIT).await;
    for id in [1, 3, 5, 7] {
        assert!(
            matches!(got[&id], Outcome::Answered(_)),
            "{id}: {:?}",
            got[&id]
        );
    }
    for id in [9, 11] {
        assert_eq!(got[&id], Outcome::Reset(h2raw::REFUSED_STREAM), "{id}");
    }

    let conn = H2Conn::h2c(rig.gw.http_addr()).await;
    let small = "x".repeat(6 * 1024);
    let r = conn.get("/public/small", &[("x-big", &small)]).await;
    assert_eq!(r.status, 200);
    let big = "x".repeat(10 * 1024);
    let req = conn
        .request("GET", "/public/big")
        .header("x-big", big)
        .body(())
        .unwrap();
    match conn.send(req, None).await {
        Ok(r) => assert_eq!(r.status, 431, "{}", r.text()),
        Err(e) => assert!(e.is_reset(), "{e}"),
    }
    assert_eq!(rig.echo.hits(), 5);
}

// A rapid-reset flood (HEADERS then RST_STREAM, hundreds per write) and a
// flood of malformed streams each cost their own connection (GOAWAY
// ENHANCE_YOUR_CALM or a close), do bounded work upstream, and other
// clients are served meanwhile.
#[tokio::test]
async fn reset_floods_cost_only_their_own_connection() {
    let rig = h2c_rig(&[]).await;
    let addr = rig.gw.http_addr();
    let block = h2raw::header_block(&h2raw::request("GET", "/public/flood", &[]));
    let mut rapid = Vec::new();
    for i in 0..500u32 {
        let id = 2 * i + 1;
        rapid.extend(h2raw::headers_frames(id, &block, true));
        rapid.extend(h2raw::rst_frame(id, h2raw::CANCEL));
    }
    let bad = h2raw::request("GET", "/public/flood", &[("connection", "x")]);
    let bad_block = h2raw::header_block(&bad);
    let mut malformed = Vec::new();
    for i in 0..500u32 {
        malformed.extend(h2raw::headers_frames(2 * i + 1, &bad_block, true));
    }

    for (what, flood) in [("rapid reset", rapid), ("malformed", malformed)] {
        let bystander = tokio::spawn(async move {
            let conn = H2Conn::h2c(addr).await;
            for i in 0..20 {
                let r = conn.get(&format!("/public/bystander-{i}"), &[]).await;
                assert_eq!(r.status, 200);
            }
        });
        let mut c = RawH2::connect(addr).await;
        // The server may close while the flood is still being written.
        let _ = c.write(&flood).await;
        let closed = c.closed_within(WAIT).await;
        assert!(
            matches!(closed, Some(None) | Some(Some(h2raw::ENHANCE_YOUR_CALM))),
            "{what}: {closed:?}"
        );
        tokio::time::timeout(WAIT, bystander)
            .await
            .expect("bystander within bound")
            .expect("bystander served");
    }
    // The rapid-reset streams mostly never started; bystanders: 40.
    let hits = rig.echo.hits();
    assert!(hits < 40 + 100, "{hits} upstream requests");
    let r = rig
        .gw
        .plain_client()
        .get(rig.url("/healthz"))
        .send()
        .await
        .expect("still up");
    assert_eq!(r.status(), 200);
}

/// Whether the server closes `stream` within `within` (whatever it writes
/// first); false if it is still open then.
async fn closes<S: tokio::io::AsyncRead + Unpin>(stream: &mut S, within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

// Slow HTTP/2 clients are bounded like HTTP/1 ones: a client that
// negotiates h2 by ALPN but never sends the preface, or sends only part of
// the h2c preface, is closed after header_timeout; an HTTP/2 connection
// with no open stream is closed after keepalive_timeout.
#[tokio::test]
async fn slow_http2_clients_are_bounded() {
    let rig = Rig::with(StoreKind::Memory, |b| {
        b.tls(true)
            .policy(POLICY)
            .set("server", "h2c", "true")
            .set("server", "header_timeout", "\"1s\"")
            .set("server", "keepalive_timeout", "\"1s\"")
    })
    .await;
    let bound = Duration::from_secs(5);

    let mut silent_tls =
        common::h2client::tls_stream(rig.gw.https_addr(), rig.gw.ca().unwrap()).await;
    assert_eq!(silent_tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    assert!(closes(&mut silent_tls, bound).await, "h2 without a preface");

    let mut partial = tokio::net::TcpStream::connect(rig.gw.http_addr())
        .await
        .expect("connect");
    use tokio::io::AsyncWriteExt;
    partial
        .write_all(&h2raw::PREFACE[..10])
        .await
        .expect("write");
    assert!(closes(&mut partial, bound).await, "a partial h2c preface");

    let mut idle = RawH2::connect(rig.gw.http_addr()).await;
    assert!(
        idle.send_request(1, &h2raw::request("GET", "/public/x", &[]))
            .await
    );
    assert!(matches!(idle.outcome(1, WAIT).await, Outcome::Answered(_)));
    let started = std::time::Instant::now();
    assert!(
        idle.closed_within(bound).await.is_some(),
        "an idle HTTP/2 connection"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
}
