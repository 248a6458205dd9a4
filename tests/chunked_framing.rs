//! Chunked framing (issue 10 point 3, RFC 9112 §7.1): a chunk line ends at
//! CRLF and nowhere else, chunk data is followed by CRLF, the size is bare
//! hex and the line is at most 4 KiB. Anything else ("funky chunks": a bare
//! LF or CR a front proxy may read differently, whitespace, `0x`, overflow,
//! a bare LF in the trailers) gets our 400 JSON and a closed connection, and
//! the request smuggled behind it never reaches the upstream. The parser is
//! the vendored pingora-core's (`vendor/pingora-core`, GATEHOUSE-PATCHES.md).

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::conn::Conn;
use common::{raw, Echo, Gateway, Rig, StoreKind};

/// What a front proxy that reads the framing differently would forward as
/// a second request.
const SMUGGLED: &str = "GET /public/smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

fn chunked_post(addr: SocketAddr, body: &str) -> String {
    format!("POST /public/x HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n\r\n{body}")
}

/// An upstream that records every byte it receives, and answers 200 when
/// what it holds on a connection ends a chunked body: it shows exactly
/// what the gateway forwarded (the echo upstream counts answers, and
/// answers even a request whose body was cut off).
struct Recorder {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<u8>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    async fn spawn() -> Recorder {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind recorder");
        let addr = listener.local_addr().expect("recorder addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let sink = sink.clone();
                tokio::spawn(async move {
                    let mut held = Vec::new();
                    let mut chunk = [0u8; 8192];
                    while let Ok(n @ 1..) = stream.read(&mut chunk).await {
                        held.extend_from_slice(&chunk[..n]);
                        sink.lock()
                            .expect("recorder lock")
                            .extend_from_slice(&chunk[..n]);
                        // The gateway re-chunks what it forwards: a whole
                        // body ends with the last chunk.
                        if held.ends_with(b"\r\n0\r\n\r\n") {
                            held.clear();
                            let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                            if stream.write_all(ok).await.is_err() {
                                break;
                            }
                        }
                    }
                });
            }
        });
        Recorder { addr, seen, task }
    }

    fn seen(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().expect("recorder lock")).to_string()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn malformed_chunk_lines_get_400_and_close() {
    let upstream = Recorder::spawn().await;
    let gw = Gateway::builder()
        .upstream_addr(upstream.addr)
        .memory()
        .spawn()
        .await;
    let addr = gw.http_addr();
    let long_ext = format!("3;a={}\r\nabc\r\n0\r\n\r\n", "x".repeat(5000));
    let cases: Vec<(&str, String)> = vec![
        ("bare LF after the size", "3\nabc\r\n0\r\n\r\n".into()),
        ("bare LF after `;`", "3;\nabc\r\n0\r\n\r\n".into()),
        (
            "bare LF after an extension name",
            "3;a\nabc\r\n0\r\n\r\n".into(),
        ),
        (
            "bare LF after an extension value",
            "3;a=b\nabc\r\n0\r\n\r\n".into(),
        ),
        (
            "bare CR inside an extension",
            "3;a\rb\r\nabc\r\n0\r\n\r\n".into(),
        ),
        ("bare CR after the size", "3\rabc\r\n0\r\n\r\n".into()),
        ("LF only after chunk data", "3\r\nabc\n0\r\n\r\n".into()),
        ("CR only after chunk data", "3\r\nabc\r0\r\n\r\n".into()),
        (
            "two other bytes after chunk data",
            "3\r\nabcXY0\r\n\r\n".into(),
        ),
        (
            "chunk longer than its size",
            "3\r\nabcd\r\n0\r\n\r\n".into(),
        ),
        ("over-long extension", long_ext),
        ("non-hex size", "g\r\nabc\r\n0\r\n\r\n".into()),
        ("empty size", "\r\nabc\r\n0\r\n\r\n".into()),
        ("0x prefix", "0x3\r\nabc\r\n0\r\n\r\n".into()),
        ("plus sign", "+3\r\nabc\r\n0\r\n\r\n".into()),
        ("leading space", " 3\r\nabc\r\n0\r\n\r\n".into()),
        ("trailing space", "3 \r\nabc\r\n0\r\n\r\n".into()),
        ("trailing tab", "3\t\r\nabc\r\n0\r\n\r\n".into()),
        (
            "size overflow",
            "10000000000000003\r\nabc\r\n0\r\n\r\n".into(),
        ),
        ("empty extension", "3;\r\nabc\r\n0\r\n\r\n".into()),
        ("bare LF in the last chunk line", "0\n\r\n".into()),
        ("bare LF ending a trailer", "0\r\nX-T: a\n\r\n".into()),
        ("bare LF ending the trailers", "0\r\nX-T: a\r\n\n".into()),
    ];
    // Control: the recorder answers a well-formed chunked request.
    let control = chunked_post(addr, "3\r\nabc\r\n0\r\n\r\n").replacen(
        "\r\n\r\n",
        "\r\nConnection: close\r\n\r\n",
        1,
    );
    let r = raw::send(addr, control.as_bytes()).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok"), "{r:?}");
    // Each malformed body alone, then with a request smuggled behind it.
    let attempts = cases.iter().flat_map(|(name, body)| {
        let alone = chunked_post(addr, body);
        let smuggling = format!("{alone}{SMUGGLED}");
        [(*name, alone), (*name, smuggling)]
    });
    for (name, request) in attempts {
        let r = raw::send(addr, request.as_bytes()).await;
        assert_eq!(r.status, 400, "{name}: {r:?}");
        assert!(r.closed, "{name}: connection left open after 400");
        let json: serde_json::Value = serde_json::from_str(&r.body)
            .unwrap_or_else(|e| panic!("{name}: body is not JSON ({e}): {r:?}"));
        assert_eq!(json["error"], "bad_request", "{name}: {r:?}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{name}"
        );
        // Exactly one answer: nothing for the smuggled request.
        assert_eq!(r.body.matches("\"error\"").count(), 1, "{name}: {r:?}");
        assert!(!r.body.contains("HTTP/1.1"), "{name}: second answer {r:?}");
    }
    // The gateway streams a body upstream as it parses it, so the upstream
    // saw the heads of the refused requests, cut off at the bad chunk line;
    // never the request smuggled behind one.
    let seen = upstream.seen();
    assert!(
        seen.contains("POST /public/x"),
        "recorder saw nothing: {seen:?}"
    );
    assert!(
        !seen.contains("/public/smuggled"),
        "a smuggled request reached the upstream: {seen:?}"
    );
}

// Positive control: well-formed chunked bodies, with and without legitimate
// extensions and trailers, pass whole, and the connection stays usable.
#[tokio::test]
async fn well_formed_chunked_bodies_pass() {
    let rig = Rig::start(StoreKind::Memory).await;
    let addr = rig.gw.http_addr();
    for body in [
        "5\r\nhello\r\n0\r\n\r\n",
        "2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n",
        "005\r\nhello\r\n0\r\n\r\n",
        "5;name\r\nhello\r\n0\r\n\r\n",
        "5;name=value;other=\"quoted ; \\\" value\"\r\nhello\r\n0;last\r\n\r\n",
        "5 ; name = value\r\nhello\r\n0\r\n\r\n",
        "5\r\nhello\r\n0\r\nX-Trailer: one\r\nX-Other: two\r\n\r\n",
    ] {
        let before = rig.echo.hits();
        let request = format!(
            "POST /public/x HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{body}"
        );
        let r = raw::send(addr, request.as_bytes()).await;
        assert_eq!(r.status, 200, "{body:?}: {r:?}");
        let e = Echo::parse(&serde_json::from_str(&r.body).expect("echo"));
        assert_eq!(e.body, "hello", "{body:?}");
        assert_eq!(rig.echo.hits(), before + 1, "{body:?}");
    }

    // Chunked requests one after another on one connection: each reaches
    // the upstream and the connection stays open.
    let before = rig.echo.hits();
    let mut conn = Conn::connect(addr).await;
    for (path, body) in [
        ("/public/a", "5;x=y\r\nhello\r\n0\r\n\r\n"),
        ("/public/b", "5\r\nworld\r\n0\r\nT: v\r\n\r\n"),
    ] {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n\r\n{body}"
        );
        assert!(
            conn.write(request.as_bytes()).await,
            "{path}: connection closed"
        );
        let r = conn.answer(Duration::from_secs(10)).await.expect("answer");
        assert_eq!(r.status, 200, "{path}: {r:?}");
        let e = Echo::parse(&serde_json::from_str(&r.body).expect("echo"));
        assert_eq!(e.path, path);
    }
    assert_eq!(rig.echo.hits(), before + 2);
}
