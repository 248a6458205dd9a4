//! Hostile bytes on the wire (SPEC §6: nothing panics on network input):
//! hundreds of malformed and mutated requests, after which the gateway still
//! answers, and none of them reached the upstream past a protected route.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::http::plain_client;
use common::{send, Rig, StoreKind};

/// Write, half-close, read whatever comes within 2 s; never panics.
async fn throw(addr: SocketAddr, bytes: Vec<u8>) -> Vec<u8> {
    let Ok(Ok(mut s)) =
        tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await
    else {
        return Vec::new();
    };
    let _ = s.write_all(&bytes).await;
    let _ = s.shutdown().await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut out)).await;
    out
}

const PIECES: &[&str] = &[
    "/admin",
    "/api/x",
    "/app/y",
    "/public/z",
    "/../",
    "/./",
    "//",
    "%2e%2e",
    "%2f",
    "%5c",
    "%00",
    "%23",
    "#",
    "?",
    ";",
    "\\",
    "%",
    "%zz",
    "%c0%ae",
    "\u{e9}",
    " ",
    "\t",
    "..;",
    "*",
];
const HEADERS: &[&str] = &[
    "X-Auth-User: admin",
    "X_Auth_Roles: admin",
    "Connection: X-Auth-User, close",
    "Transfer-Encoding: chunked",
    "Transfer-Encoding: gzip",
    "Content-Length: 5",
    "Content-Length: -1",
    "Content-Length: 99999999999999999999",
    "Host: evil.example",
    "Authorization: Bearer a.b.c",
    "Authorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.",
    "Authorization: ApiKey gh_x",
    "X-API-Key: \u{0}",
    "Cookie: __Host-gh-test=; __Host-gh-test=x",
    "X-Original-URL: /admin",
    "Origin: null",
    "Expect: 100-continue",
    "Upgrade: websocket",
    ": empty-name",
    "No-Colon-Here",
];

fn mutated(rng: &mut StdRng, host: &str) -> Vec<u8> {
    let method = [
        "GET", "POST", "DELETE", "OPTIONS", "PUT", "G\u{0}T", "", "CONNECT",
    ][rng.gen_range(0..8)];
    let mut target = String::new();
    for _ in 0..rng.gen_range(0..6) {
        target.push_str(PIECES[rng.gen_range(0..PIECES.len())]);
    }
    let version = ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1 extra", ""][rng.gen_range(0..5)];
    let mut req = format!("{method} {target} {version}\r\nHost: {host}\r\n");
    for _ in 0..rng.gen_range(0..5) {
        req.push_str(HEADERS[rng.gen_range(0..HEADERS.len())]);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    // Flip a few bytes now and then.
    for _ in 0..rng.gen_range(0..3) {
        let i = rng.gen_range(0..bytes.len());
        bytes[i] = rng.gen();
    }
    bytes
}

// Garbage and mutated requests: the gateway survives and leaks nothing past auth.
#[tokio::test]
async fn hostile_requests_never_crash_the_gateway() {
    let rig = Rig::start(StoreKind::Memory).await;
    let addr = rig.gw.http_addr();
    let host = addr.to_string();
    let mut rng = StdRng::seed_from_u64(0x6a7e);
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for _ in 0..40 {
        let len = rng.gen_range(1..400);
        cases.push((0..len).map(|_| rng.gen()).collect());
    }
    for _ in 0..400 {
        cases.push(mutated(&mut rng, &host));
    }
    // A huge header and a huge target.
    cases.push(
        format!(
            "GET /app/x HTTP/1.1\r\nHost: {host}\r\nX-Big: {}\r\n\r\n",
            "a".repeat(200_000)
        )
        .into_bytes(),
    );
    cases.push(
        format!(
            "GET /{} HTTP/1.1\r\nHost: {host}\r\n\r\n",
            "a/".repeat(50_000)
        )
        .into_bytes(),
    );

    let mut refused = 0;
    for batch in cases.chunks(16) {
        let tasks: Vec<_> = batch
            .iter()
            .cloned()
            .map(|b| tokio::spawn(throw(addr, b)))
            .collect();
        for t in tasks {
            let answer = t.await.unwrap_or_default();
            if answer.starts_with(b"HTTP/1.1 400") {
                refused += 1;
            }
        }
    }
    assert!(
        refused >= 100,
        "only {refused} of {} hostile requests were answered 400",
        cases.len()
    );
    let c = plain_client(None);
    assert_eq!(
        send(c.get(rig.url("/healthz"))).await.status,
        200,
        "{}",
        rig.gw.logs()
    );
    let r = send(c.get(rig.url("/app/x"))).await;
    assert_eq!(r.status, 401, "still guarding after the storm");
    assert!(
        !rig.gw.stderr_log().contains("panicked"),
        "{}",
        rig.gw.stderr_log()
    );
}
