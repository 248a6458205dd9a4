//! gRPC through gatehouse (SPEC §11, issue 13 point 2): a real tonic
//! service behind an `protocol = "h2c"` upstream, real tonic clients over
//! TLS (ALPN h2) and over h2c. Calls with a bearer token pass, unary and
//! server-streaming, with the service's trailers (`grpc-status: 0` and its
//! own `x-echo-trailer`) reaching the client; every refusal is a gRPC
//! status in a trailers-only HTTP 200: Unauthenticated, PermissionDenied,
//! NotFound, ResourceExhausted (with the rate-limit headers), Unavailable.

mod common;

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use common::gateway::DEFAULT_ROLES;
use common::grpc::{self, EchoReply, EchoRequest, GrpcEcho, STREAM, TRAILER, UNARY};
use common::h2client::H2Conn;
use common::net::free_port;
use common::{login, Gateway, Rig, StoreKind, ALICE_PW, BOB_PW};
use prost::Message;
use tonic::Code;

const ADMIN: &str = "/gatehouse.test.Admin/Unary";
const DOWN: &str = "/gatehouse.test.Down/Unary";
const LIMITED: &str = "/gatehouse.test.Limited/Unary";
const UNKNOWN: &str = "/gatehouse.test.Nope/Unary";

/// The gRPC service and the gateway in front of it (TLS and h2c).
struct GrpcRig {
    gw: Gateway,
    svc: GrpcEcho,
}

fn policy(svc: &GrpcEcho) -> String {
    format!(
        r#"[upstreams.grpc]
addr = "{svc}"
protocol = "h2c"

[upstreams.dead]
addr = "127.0.0.1:{dead}"
protocol = "h2c"

{roles}
[rate_limits.one]
key = "user"
limit = 1
per = "1m"

[[routes]]
path = "/gatehouse.test.Echo/**"
methods = ["POST"]
upstream = "grpc"

[[routes]]
path = "/gatehouse.test.Admin/**"
upstream = "grpc"
roles = ["admin"]

[[routes]]
path = "/gatehouse.test.Down/**"
upstream = "dead"

[[routes]]
path = "/gatehouse.test.Limited/**"
upstream = "grpc"
rate_limit = "one"
"#,
        svc = svc.addr(),
        dead = free_port(),
        roles = DEFAULT_ROLES,
    )
}

impl GrpcRig {
    async fn start() -> GrpcRig {
        let svc = GrpcEcho::spawn();
        let gw = Gateway::builder()
            .memory()
            .tls(true)
            .set("server", "h2c", "true")
            .policy(&policy(&svc))
            .spawn()
            .await;
        GrpcRig { gw, svc }
    }

    /// Bearer tokens of alice (admin) and bob (user).
    async fn tokens(&self) -> (String, String) {
        let c = self.gw.plain_client();
        let base = self.gw.http_url();
        let alice = login(&c, &base, "alice", ALICE_PW).await.access_token;
        let bob = login(&c, &base, "bob", BOB_PW).await.access_token;
        (alice, bob)
    }

    /// A tonic channel over TLS (ALPN h2) and one over h2c.
    async fn channels(&self) -> [(&'static str, tonic::transport::Channel); 2] {
        [
            (
                "tls",
                grpc::channel(&self.gw.https_url(), self.gw.ca()).await,
            ),
            ("h2c", grpc::channel(&self.gw.http_url(), None).await),
        ]
    }
}

fn meta<'a>(m: &'a tonic::metadata::MetadataMap, name: &str) -> Option<&'a str> {
    m.get(name).and_then(|v| v.to_str().ok())
}

// Unary and server-streaming calls with a bearer token, over TLS and h2c:
// the service sees the caller's identity, the client gets every message
// and the service's trailers.
#[tokio::test]
async fn calls_with_a_bearer_token_pass_with_their_trailers() {
    let rig = GrpcRig::start().await;
    let (alice, bob) = rig.tokens().await;
    for (via, ch) in rig.channels().await {
        let r = grpc::unary(&ch, UNARY, Some(&bob), "hello")
            .await
            .unwrap_or_else(|s| panic!("{via}: {s:?}"));
        assert_eq!(meta(r.metadata(), TRAILER), Some("served"), "{via}");
        let reply = r.into_inner();
        assert_eq!(
            (
                reply.message.as_str(),
                reply.user.as_str(),
                reply.roles.as_str()
            ),
            ("hello", "bob", "user"),
            "{via}"
        );

        let (replies, trailers) = grpc::streamed(&ch, Some(&alice), "tick", 5)
            .await
            .unwrap_or_else(|s| panic!("{via}: {s:?}"));
        let seqs: Vec<u32> = replies.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [0, 1, 2, 3, 4], "{via}");
        assert!(replies.iter().all(|r| r.user == "alice"), "{via}");
        assert_eq!(meta(&trailers, "grpc-status"), Some("0"), "{via}");
        assert_eq!(meta(&trailers, TRAILER), Some("served"), "{via}");
    }
    assert_eq!(rig.svc.calls(), 4);
}

/// A gRPC message frame: uncompressed, 4-byte big-endian length, body.
fn grpc_frame(msg: &EchoRequest) -> Bytes {
    let body = msg.encode_to_vec();
    let mut out = BytesMut::with_capacity(5 + body.len());
    out.put_u8(0);
    out.put_u32(body.len() as u32);
    out.put_slice(&body);
    out.freeze()
}

fn grpc_request(conn: &H2Conn, path: &str, bearer: Option<&str>) -> http::Request<()> {
    let mut b = conn
        .request("POST", path)
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(t) = bearer {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(()).expect("request")
}

// On the wire, through gatehouse over TLS: the service's answer is HTTP
// 200 with the message in DATA and `grpc-status: 0` plus the service's
// own trailer in the trailers; a refusal is one HEADERS frame (no body, no
// trailers) with the gRPC status in it.
#[tokio::test]
async fn trailers_and_trailers_only_refusals_on_the_wire() {
    let rig = GrpcRig::start().await;
    let (_, bob) = rig.tokens().await;
    let (conn, alpn) = H2Conn::tls(rig.gw.https_addr(), rig.gw.ca().unwrap()).await;
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
    let msg = EchoRequest {
        message: "wire".into(),
        count: 3,
    };

    let r = conn
        .send(
            grpc_request(&conn, STREAM, Some(&bob)),
            Some(grpc_frame(&msg)),
        )
        .await
        .expect("stream call");
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "application/grpc");
    let trailers = r.trailers.as_ref().expect("trailers forwarded");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers[TRAILER], "served");
    // Three length-prefixed messages.
    let mut body = &r.body[..];
    let mut seqs = Vec::new();
    while body.len() >= 5 {
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        let reply = EchoReply::decode(&body[5..5 + len]).expect("reply");
        assert_eq!(reply.user, "bob");
        seqs.push(reply.seq);
        body = &body[5 + len..];
    }
    assert_eq!(seqs, [0, 1, 2]);

    let calls = rig.svc.calls();
    let r = conn
        .send(grpc_request(&conn, UNARY, None), Some(grpc_frame(&msg)))
        .await
        .expect("refused call");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty() && r.trailers.is_none(), "{r:?}");
    assert_eq!(r.headers["grpc-status"], "16");
    assert_eq!(r.headers["grpc-message"], "authentication required");
    assert_eq!(r.headers["content-type"], "application/grpc");
    assert_eq!(r.headers["www-authenticate"], "Bearer");

    // Each refusal as its gRPC status (SPEC §11), never the bare HTTP
    // status a gRPC client would misread (404 as UNIMPLEMENTED, 429 as
    // UNAVAILABLE).
    let refusals: [(&str, Option<&str>, &str); 5] = [
        (ADMIN, Some(&bob), "7"),
        (UNKNOWN, Some(&bob), "5"),
        (DOWN, Some(&bob), "14"),
        (LIMITED, Some(&bob), "0"),
        (LIMITED, Some(&bob), "8"),
    ];
    for (path, token, status) in refusals {
        let r = conn
            .send(grpc_request(&conn, path, token), Some(grpc_frame(&msg)))
            .await
            .expect("call");
        assert_eq!(r.status, 200, "{path}");
        let got = r
            .headers
            .get("grpc-status")
            .or(r.trailers.as_ref().and_then(|t| t.get("grpc-status")));
        assert_eq!(
            got.map(|v| v.as_bytes()),
            Some(status.as_bytes()),
            "{path}: {r:?}"
        );
        if status == "8" {
            assert_eq!(r.headers["ratelimit-remaining"], "0");
            assert!(r.headers.contains_key("retry-after"), "{r:?}");
        }
    }
    assert_eq!(
        rig.svc.calls(),
        calls + 1,
        "only the allowed call reached it"
    );

    // Not gRPC: the usual JSON refusal.
    let req = conn
        .request("POST", UNARY)
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let r = conn.send(req, Some(Bytes::from("{}"))).await.expect("json");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "unauthorized");
}

// Every refusal a gRPC client can meet, as the status it sees.
#[tokio::test]
async fn refusals_are_grpc_statuses() {
    let rig = GrpcRig::start().await;
    let (alice, bob) = rig.tokens().await;
    for (via, ch) in rig.channels().await {
        let calls = rig.svc.calls();
        let cases: Vec<(&str, &'static str, Option<&str>, Code)> = vec![
            ("no token", UNARY, None, Code::Unauthenticated),
            ("bad token", UNARY, Some("not-a-jwt"), Code::Unauthenticated),
            ("not admin", ADMIN, Some(&bob), Code::PermissionDenied),
            ("no route", UNKNOWN, Some(&bob), Code::NotFound),
            ("upstream down", DOWN, Some(&bob), Code::Unavailable),
        ];
        for (what, path, token, code) in cases {
            let s = grpc::unary(&ch, path, token, what)
                .await
                .expect_err(&format!("{via}: {what} refused"));
            assert_eq!(s.code(), code, "{via}: {what}: {s:?}");
            assert!(!s.message().is_empty(), "{via}: {what}");
        }
        assert_eq!(rig.svc.calls(), calls, "{via}: nothing refused reached it");
        // The admin passes where bob did not.
        let r = grpc::unary(&ch, ADMIN, Some(&alice), "ok").await;
        assert_eq!(r.expect("admin").into_inner().user, "alice", "{via}");
    }

    // One call a minute per user: the second is RESOURCE_EXHAUSTED, with
    // the rate-limit headers in the trailers-only answer.
    let [(_, ch), _] = rig.channels().await;
    grpc::unary(&ch, LIMITED, Some(&bob), "first")
        .await
        .expect("within the limit");
    let s = grpc::unary(&ch, LIMITED, Some(&bob), "second")
        .await
        .expect_err("over the limit");
    assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
    let m = s.metadata();
    assert_eq!(meta(m, "ratelimit-limit"), Some("1"));
    assert_eq!(meta(m, "ratelimit-remaining"), Some("0"));
    let retry: u64 = meta(m, "retry-after")
        .expect("retry-after")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
}

// The gRPC upstream may go away and come back: a call in between is
// UNAVAILABLE, not a hung or garbled stream; the next one passes again.
#[tokio::test]
async fn upstream_restart_is_unavailable_then_served() {
    let svc = GrpcEcho::spawn();
    let addr = svc.addr();
    let rig = Rig::with(StoreKind::Memory, |b| {
        b.set("server", "h2c", "true").policy(&format!(
            "[upstreams.grpc]\naddr = \"{addr}\"\nprotocol = \"h2c\"\n\
             {DEFAULT_ROLES}\
             [[routes]]\npath = \"/gatehouse.test.Echo/**\"\nupstream = \"grpc\"\nauth = \"public\"\n"
        ))
    })
    .await;
    let ch = grpc::channel(&rig.base(), None).await;
    grpc::unary(&ch, UNARY, None, "up").await.expect("up");
    drop(svc);
    let s = grpc::unary(&ch, UNARY, None, "down")
        .await
        .expect_err("down");
    assert_eq!(s.code(), Code::Unavailable, "{s:?}");
    // Back on the same port (bounded retries: the port was just freed).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let _back = loop {
        match std::net::TcpListener::bind(addr) {
            Ok(l) => break GrpcEcho::from_listener(l),
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("rebind {addr}: {e}"),
        }
    };
    let r = grpc::unary(&ch, UNARY, None, "again").await.expect("again");
    assert_eq!(r.into_inner().message, "again");
}

// The README's "HTTP/2 and gRPC" snippet as an operator copies it (only
// the listen addresses, which the harness owns, and the upstream's address
// replaced): a user's call passes, an anonymous one is UNAUTHENTICATED.
#[tokio::test]
async fn readme_snippet_works_as_written() {
    let svc = GrpcEcho::spawn();
    let text = common::snippet::snippet("grpc");
    let (server, rest) = text
        .split_once("\n[upstreams.orders]")
        .expect("the snippet's [server] and upstream");
    let policy = format!(
        "{DEFAULT_ROLES}\n[upstreams.orders]{}",
        rest.replace("127.0.0.1:50051", &svc.addr().to_string())
    );
    let mut b = Gateway::builder().memory().tls(true).policy(&policy);
    for line in server.lines().skip(1) {
        let setting = line.split('#').next().unwrap_or_default();
        if let Some((key, value)) = setting.split_once('=') {
            let key = key.trim();
            if key != "listen" && key != "tls_listen" {
                b = b.set("server", key, value.trim());
            }
        }
    }
    let gw = b.spawn().await;
    assert!(gw.config_path().exists());
    let bob = login(&gw.plain_client(), &gw.http_url(), "bob", BOB_PW)
        .await
        .access_token;
    const ORDERS: &str = "/shop.Orders/Unary";
    for ch in [
        grpc::channel(&gw.https_url(), gw.ca()).await,
        grpc::channel(&gw.http_url(), None).await,
    ] {
        let r = grpc::unary(&ch, ORDERS, Some(&bob), "order").await;
        assert_eq!(r.expect("bob's call").into_inner().user, "bob");
        let s = grpc::unary(&ch, ORDERS, None, "anon")
            .await
            .expect_err("anonymous");
        assert_eq!(s.code(), Code::Unauthenticated);
    }
    assert_eq!(svc.calls(), 2);
}

// `protocol = "h2"` to a gRPC service behind TLS with a private CA
// (`[upstreams.NAME] ca_file`): calls pass when that CA is trusted for the
// upstream, and fail closed (UNAVAILABLE, the service never called) when
// the upstream is checked against the system's roots instead.
#[tokio::test]
async fn h2_over_tls_to_an_upstream_with_a_private_ca() {
    let ca = common::tls::TestCa::generate();
    let dir = tempfile::tempdir().expect("tempdir");
    let files = ca.write(dir.path());
    let svc = GrpcEcho::spawn_tls(&ca);
    let policy = |ca_line: &str| {
        format!(
            r#"[upstreams.grpc]
addr = "{svc}"
protocol = "h2"
sni = "localhost"
{ca_line}

{roles}
[[routes]]
path = "/gatehouse.test.Echo/**"
methods = ["POST"]
upstream = "grpc"
"#,
            svc = svc.addr(),
            roles = DEFAULT_ROLES,
        )
    };
    let trusted = format!("ca_file = {:?}", files.ca.display().to_string());
    let (gw, bob, ch) = h2c_gateway_and_bob(&policy(&trusted)).await;
    let r = grpc::unary(&ch, UNARY, Some(&bob), "over tls")
        .await
        .unwrap_or_else(|s| panic!("trusted CA: {s:?}"));
    assert_eq!(meta(r.metadata(), TRAILER), Some("served"));
    let reply = r.into_inner();
    assert_eq!(
        (reply.message.as_str(), reply.user.as_str()),
        ("over tls", "bob")
    );
    let served = svc.calls();
    assert!(served >= 1, "the service was called");
    drop(gw);

    // The same upstream without `ca_file`: its certificate is not trusted.
    let (_gw, bob, ch) = h2c_gateway_and_bob(&policy("")).await;
    let refused = grpc::unary(&ch, UNARY, Some(&bob), "untrusted")
        .await
        .expect_err("an upstream certificate from an unknown CA");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert_eq!(svc.calls(), served, "no call reached the service");
}

/// A gateway on `policy` with h2c, bob's bearer token, and an h2c channel.
async fn h2c_gateway_and_bob(policy: &str) -> (Gateway, String, tonic::transport::Channel) {
    let gw = Gateway::builder()
        .memory()
        .set("server", "h2c", "true")
        .policy(policy)
        .spawn()
        .await;
    let c = gw.plain_client();
    let bob = login(&c, &gw.http_url(), "bob", BOB_PW).await.access_token;
    let ch = grpc::channel(&gw.http_url(), None).await;
    (gw, bob, ch)
}
