//! Requests Pingora itself refuses (issue 10 point 7): a head it cannot
//! parse, framing its own checks refuse, CONNECT. Each gets the SPEC §6
//! JSON answer with the gateway's security headers and no `Server` header
//! (the vendored pingora-core's error hook, GATEHOUSE-PATCHES.md), and the
//! connection is closed. So do requests Pingora parses and gatehouse
//! refuses. Raw HTTP throughout: no client library sends these.

mod common;

use common::raw::{self, RawReply};
use common::{Rig, StoreKind};

/// SPEC §6 format: status, JSON body with "error", nosniff, no-store, no
/// `Server` header, the connection closed.
fn assert_gateway_answer(name: &str, r: &RawReply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{name}: {r:?}");
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{name}: {r:?}"
    );
    let json: serde_json::Value = serde_json::from_str(&r.body)
        .unwrap_or_else(|e| panic!("{name}: body is not JSON ({e}): {r:?}"));
    assert_eq!(json["error"], code, "{name}: {r:?}");
    assert!(json["message"].is_string(), "{name}: {r:?}");
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{name}"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"), "{name}");
    assert_eq!(r.header("x-frame-options"), Some("DENY"), "{name}");
    assert!(r.header("server").is_none(), "{name}: {r:?}");
    assert!(
        !r.head.to_ascii_lowercase().contains("pingora"),
        "{name}: {r:?}"
    );
    assert!(r.closed, "{name}: connection left open");
}

#[tokio::test]
async fn unparsable_requests_get_our_400() {
    let rig = Rig::start(StoreKind::Memory).await;
    let addr = rig.gw.http_addr();
    let with_header =
        |line: &str| format!("GET /public/x HTTP/1.1\r\nHost: {addr}\r\n{line}\r\n\r\n");
    let long_value = "a".repeat(1 << 20);
    let many_headers: String = (0..300).map(|i| format!("X-H{i}: v\r\n")).collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("obs-fold", with_header("X-A: b\r\n c").into_bytes()),
        ("space before the colon", with_header("X-A : b").into_bytes()),
        ("tab before the colon", with_header("X-A\t: b").into_bytes()),
        ("header line without colon", with_header("X-A b").into_bytes()),
        ("bad header name byte", with_header("X(A): b").into_bytes()),
        ("non-ASCII header name", with_header("X-\u{e9}: b").into_bytes()),
        ("empty header name", with_header(": b").into_bytes()),
        ("NUL in a header value", with_header("X-A: a\0b").into_bytes()),
        ("control byte in a header value", with_header("X-A: a\x01b").into_bytes()),
        ("DEL in a header value", with_header("X-A: a\x7fb").into_bytes()),
        ("bare CR in a header value", with_header("X-A: a\rb").into_bytes()),
        (
            "Transfer-Encoding: chunked,",
            format!("POST /public/x HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n")
                .into_bytes(),
        ),
        (
            "Content-Length: +5",
            format!("POST /public/x HTTP/1.1\r\nHost: {addr}\r\nContent-Length: +5\r\n\r\nhello").into_bytes(),
        ),
        (
            "Content-Length: 0x5",
            format!("POST /public/x HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0x5\r\n\r\nhello").into_bytes(),
        ),
        (
            "Transfer-Encoding on HTTP/1.0",
            format!("POST /public/x HTTP/1.0\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
                .into_bytes(),
        ),
        ("HTTP/0.9 request line", b"GET /\r\n".to_vec()),
        ("HTTP/0.9 request line, then a blank line", b"GET /\r\n\r\n".to_vec()),
        ("HTTP/1.2", format!("GET / HTTP/1.2\r\nHost: {addr}\r\n\r\n").into_bytes()),
        ("HTTP/2.0 on an h1 connection", format!("GET / HTTP/2.0\r\nHost: {addr}\r\n\r\n").into_bytes()),
        ("lower-case version", format!("GET / http/1.1\r\nHost: {addr}\r\n\r\n").into_bytes()),
        ("two spaces in the request line", format!("GET  / HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes()),
        ("space before the version twice", format!("GET /  HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes()),
        ("missing target", format!("GET HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes()),
        ("bad method byte", format!("G(T / HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes()),
        ("absolute-form garbage", format!("GET http://[::1 HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes()),
        ("absolute-form with a bad scheme", format!("GET ht^tp://x/ HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes()),
        ("over-long head", with_header(&format!("X-Long: {long_value}")).into_bytes()),
        ("too many headers", with_header(many_headers.trim_end()).into_bytes()),
        ("binary garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec()),
    ];
    let before = rig.echo.hits();
    for (name, request) in &cases {
        let r = raw::send(addr, request).await;
        assert_gateway_answer(name, &r, 400, "bad_request");
    }
    assert_eq!(
        rig.echo.hits(),
        before,
        "a refused request reached the upstream"
    );

    // Pingora refuses CONNECT with 405: our format too.
    let connect = format!("CONNECT {addr} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let r = raw::send(addr, connect.as_bytes()).await;
    assert_gateway_answer("CONNECT", &r, 405, "method_not_allowed");
    assert_eq!(rig.echo.hits(), before, "CONNECT reached the upstream");

    // Positive control: the same gateway serves a well-formed request.
    let r = raw::get(addr, "/public/x", &[]).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(rig.echo.hits(), before + 1);
}

// Requests Pingora parses but gatehouse refuses keep the same format.
#[tokio::test]
async fn requests_gatehouse_refuses_keep_the_format() {
    let rig = Rig::start(StoreKind::Memory).await;
    let addr = rig.gw.http_addr();
    let before = rig.echo.hits();
    for (name, request) in [
        ("fragment in the target", format!("GET /public/a#b HTTP/1.1\r\nHost: {addr}\r\n\r\n")),
        ("encoded slash", format!("GET /public/a%2fb HTTP/1.1\r\nHost: {addr}\r\n\r\n")),
        (
            "Content-Length with Transfer-Encoding",
            format!("POST /public/x HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ),
        ("two Host headers", format!("GET /public/x HTTP/1.1\r\nHost: {addr}\r\nHost: other\r\n\r\n")),
    ] {
        let r = raw::send(addr, request.as_bytes()).await;
        assert_gateway_answer(name, &r, 400, "bad_request");
    }
    assert_eq!(
        rig.echo.hits(),
        before,
        "a refused request reached the upstream"
    );
    // A valid request gatehouse answers itself (401: no credentials).
    let r = raw::get(addr, "/nowhere", &[]).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert!(r.header("server").is_none(), "{r:?}");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
}
