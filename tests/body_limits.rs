//! Request body bounds and streaming (SPEC §11), against the real binary
//! and an upstream that counts what reaches it (`common::bulk`):
//! `[server] max_body` and a route's own `max_body` (larger and smaller);
//! a declared length over the bound is 413 before the upstream is asked, a
//! chunked body is cut off as soon as it passes the bound; a 1 GB upload
//! and a 100 MB download stream through with flat memory.
//!
//! Bodies are written from a fixed block over a raw socket (reqwest cannot
//! stream a request body without its `stream` feature), by a task of their
//! own so that an early answer is read while the body is still going out.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::bulk::BulkUpstream;
use common::gateway::DEFAULT_ROLES;
use common::http::plain_client;
use common::raw::{self, RawReply};
use common::Gateway;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MB: u64 = 1 << 20;

const ROUTES: &str = r#"[[routes]]
path = "/big/**"
upstream = "app"
auth = "public"
max_body = "30MB"

[[routes]]
path = "/small/**"
upstream = "app"
auth = "public"
max_body = "1KB"

[[routes]]
path = "/huge/**"
upstream = "app"
auth = "public"
max_body = "2GB"

[[routes]]
path = "/early/**"
upstream = "app"
auth = "public"
max_body = "1MB"

[[routes]]
path = "/public/**"
upstream = "app"
auth = "public"

[[routes]]
path = "/api/**"
upstream = "app"
"#;

async fn start(bulk: &BulkUpstream) -> Gateway {
    Gateway::builder()
        .upstream_addr(bulk.addr())
        .set("server", "max_body", "\"10MB\"")
        .policy(&format!("{DEFAULT_ROLES}\n{ROUTES}"))
        .spawn()
        .await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length,
    Chunked,
}

/// What came back for an upload, and how much of the body went out.
#[derive(Debug)]
struct Upload {
    reply: RawReply,
    /// Body bytes the client managed to write before it stopped.
    written: u64,
}

/// POST `len` bytes to `path` and read the answer until the connection
/// closes (bounded by `within`).
async fn upload(
    addr: SocketAddr,
    path: &str,
    len: u64,
    framing: Framing,
    within: Duration,
) -> Upload {
    let stream = TcpStream::connect(addr).await.expect("connect to gateway");
    let (mut rd, mut wr) = stream.into_split();
    let length = match framing {
        Framing::Length => format!("Content-Length: {len}"),
        Framing::Chunked => "Transfer-Encoding: chunked".to_string(),
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: gatehouse.test\r\n{length}\r\nConnection: close\r\n\r\n"
    );
    let writer = tokio::spawn(async move {
        let block = vec![b'y'; 64 * 1024];
        // One chunk of the whole block, framed once and written many times.
        let mut framed = format!("{:x}\r\n", block.len()).into_bytes();
        framed.extend_from_slice(&block);
        framed.extend_from_slice(b"\r\n");
        let mut written = 0u64;
        if wr.write_all(head.as_bytes()).await.is_err() {
            return (written, wr);
        }
        while written < len {
            let n = (len - written).min(block.len() as u64) as usize;
            let sent = match framing {
                Framing::Length => wr.write_all(&block[..n]).await,
                Framing::Chunked if n == block.len() => wr.write_all(&framed).await,
                Framing::Chunked => {
                    let mut last = format!("{n:x}\r\n").into_bytes();
                    last.extend_from_slice(&block[..n]);
                    last.extend_from_slice(b"\r\n");
                    wr.write_all(&last).await
                }
            };
            if sent.is_err() {
                return (written, wr);
            }
            written += n as u64;
        }
        if framing == Framing::Chunked {
            let _ = wr.write_all(b"0\r\n\r\n").await;
        }
        // Handed back, not dropped: dropping the write half would shut it
        // down, and a half-closed client is one that went away.
        (written, wr)
    });
    let mut buf = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no complete answer within {within:?}");
    let (written, _wr) = tokio::time::timeout(Duration::from_secs(10), writer)
        .await
        .expect("the writer stops once the connection is gone")
        .expect("writer task");
    let reply = raw::parse(&buf, true)
        .unwrap_or_else(|| panic!("not an HTTP answer: {:?}", String::from_utf8_lossy(&buf)));
    Upload { reply, written }
}

fn assert_413(u: &Upload, what: &str) {
    assert_eq!(u.reply.status, 413, "{what}: {:?}", u.reply);
    let v: serde_json::Value = serde_json::from_str(&u.reply.body)
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {:?}", u.reply));
    assert_eq!(v["error"], "payload_too_large", "{what}");
    assert!(u.reply.header("x-request-id").is_some(), "{what}");
}

/// `{"bytes": N}` from the upstream, through the gateway.
fn upstream_bytes(u: &Upload) -> u64 {
    assert_eq!(u.reply.status, 200, "{:?}", u.reply);
    let v: serde_json::Value = serde_json::from_str(&u.reply.body).expect("bulk JSON");
    v["bytes"].as_u64().expect("bytes")
}

/// `(VmRSS, VmHWM)` of a process, in bytes.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

// 20 MB against the server's 10 MB: refused with 413 before the upstream
// sees a byte when the length is declared, and cut off within the bound
// when it is chunked; either way the upstream never gets the whole body.
#[tokio::test]
async fn over_the_server_bound_is_413() {
    let bulk = BulkUpstream::spawn();
    let gw = start(&bulk).await;
    let addr = gw.http_addr();
    let within = Duration::from_secs(60);

    let u = upload(addr, "/public/up", 20 * MB, Framing::Length, within).await;
    assert_413(&u, "declared 20 MB");
    assert_eq!(bulk.received(), 0, "refused before the upstream was asked");

    let u = upload(addr, "/public/up", 20 * MB, Framing::Chunked, within).await;
    assert_413(&u, "chunked 20 MB");
    assert!(
        bulk.received() <= 10 * MB,
        "at most the bound went upstream: {}",
        bulk.received()
    );
    assert_eq!(bulk.completed(), 0, "the upstream never saw a whole body");

    // Exactly the bound passes, both ways.
    let u = upload(addr, "/public/up", 10 * MB, Framing::Length, within).await;
    assert_eq!(upstream_bytes(&u), 10 * MB);
    let u = upload(addr, "/public/up", 10 * MB, Framing::Chunked, within).await;
    assert_eq!(upstream_bytes(&u), 10 * MB);

    // A client that asks before sending (`Expect: 100-continue`) is told
    // no at once and never sends the body.
    let head = format!(
        "POST /public/up HTTP/1.1\r\nHost: gatehouse.test\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        20 * MB
    );
    let r = raw::send(addr, head.as_bytes()).await;
    assert_eq!(r.status, 413, "{r:?}");
    assert!(r.closed, "the connection is closed after a 413");

    // A refused request is refused for that reason first: no credentials
    // is 401, whatever the body's size.
    let u = upload(addr, "/api/up", 20 * MB, Framing::Length, within).await;
    assert_eq!(u.reply.status, 401, "{:?}", u.reply);
}

// A route's `max_body` replaces the server's, larger or smaller.
#[tokio::test]
async fn a_route_bound_replaces_the_server_bound() {
    let bulk = BulkUpstream::spawn();
    let gw = start(&bulk).await;
    let addr = gw.http_addr();
    let within = Duration::from_secs(60);

    for framing in [Framing::Length, Framing::Chunked] {
        let u = upload(addr, "/big/up", 20 * MB, framing, within).await;
        assert_eq!(
            upstream_bytes(&u),
            20 * MB,
            "{framing:?}: larger route bound"
        );
        let u = upload(addr, "/big/up", 31 * MB, framing, within).await;
        assert_413(&u, "over the larger route bound");

        let u = upload(addr, "/small/up", 1024, framing, within).await;
        assert_eq!(upstream_bytes(&u), 1024, "{framing:?}: exactly 1 KB");
        let u = upload(addr, "/small/up", 2048, framing, within).await;
        assert_413(&u, "over the smaller route bound");
    }
    // Bodies other routes would take: the server's 10 MB does not apply
    // to /big, 1 KB applies only to /small.
    let u = upload(addr, "/public/up", 2048, Framing::Length, within).await;
    assert_eq!(upstream_bytes(&u), 2048);
}

// The answer had started (this upstream answers before reading the body)
// when the body passed the bound: the connection is closed, the answer
// left unfinished, and the upstream got no more than the bound.
#[tokio::test]
async fn over_the_bound_after_the_answer_started_closes_the_connection() {
    let bulk = BulkUpstream::spawn();
    let gw = start(&bulk).await;
    let mut stream = TcpStream::connect(gw.http_addr()).await.expect("connect");
    let head =
        "POST /early/up HTTP/1.1\r\nHost: gatehouse.test\r\nTransfer-Encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await.expect("head");
    // Wait for the answer's head and first chunk before sending the body.
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0u8; 64 * 1024];
    while !String::from_utf8_lossy(&got).contains("started") {
        assert!(Instant::now() < deadline, "no early answer: {got:?}");
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("read within 10 s")
            .expect("read");
        assert!(n > 0, "closed before answering: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let chunk = [b'z'; 64 * 1024];
    let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
    framed.extend_from_slice(&chunk);
    framed.extend_from_slice(b"\r\n");
    for _ in 0..32 {
        if stream.write_all(&framed).await.is_err() {
            break;
        }
    }
    // Read to the close: the chunked answer never gets its last chunk.
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the gateway closed the connection");
    assert!(
        !got.ends_with(b"0\r\n\r\n"),
        "the answer was cut short: {}",
        String::from_utf8_lossy(&got)
    );
    assert!(
        bulk.received() <= MB,
        "at most the bound went upstream: {}",
        bulk.received()
    );
    assert_eq!(bulk.completed(), 0);
}

// 1 GB, generated as it is sent, through a route that allows 2 GB: the
// upstream gets every byte, and the gateway's peak memory grows by far
// less than the body (a bound, not a timing).
#[tokio::test]
async fn a_1gb_upload_streams_with_flat_memory() {
    let bulk = BulkUpstream::spawn();
    let gw = start(&bulk).await;
    let (rss_before, _) = memory(gw.pid());
    let u = upload(
        gw.http_addr(),
        "/huge/up",
        1024 * MB,
        Framing::Chunked,
        Duration::from_secs(600),
    )
    .await;
    assert_eq!(u.written, 1024 * MB);
    assert_eq!(upstream_bytes(&u), 1024 * MB);
    let (rss_after, peak) = memory(gw.pid());
    let growth = peak.saturating_sub(rss_before);
    eprintln!(
        "1 GB upload: gateway RSS {} -> {} KiB, peak {} KiB, growth {} KiB",
        rss_before / 1024,
        rss_after / 1024,
        peak / 1024,
        growth / 1024
    );
    assert!(growth < 50 * MB, "peak RSS grew by {growth} bytes");
}

// 100 MB streamed back through the gateway: every byte arrives, memory
// stays flat.
#[tokio::test]
async fn a_100mb_download_streams_with_flat_memory() {
    let bulk = BulkUpstream::spawn();
    let gw = start(&bulk).await;
    let (rss_before, _) = memory(gw.pid());
    let len = 100 * MB;
    let mut resp = plain_client(None)
        .get(format!("{}/public/download/{len}", gw.http_url()))
        .timeout(Duration::from_secs(300))
        .send()
        .await
        .expect("download");
    assert_eq!(resp.status(), 200);
    let mut got = 0u64;
    while let Some(chunk) = resp.chunk().await.expect("body chunk") {
        got += chunk.len() as u64;
    }
    assert_eq!(got, len, "{}", gw.stderr_log());
    let (rss_after, peak) = memory(gw.pid());
    let growth = peak.saturating_sub(rss_before);
    eprintln!(
        "100 MB download: gateway RSS {} -> {} KiB, peak {} KiB, growth {} KiB",
        rss_before / 1024,
        rss_after / 1024,
        peak / 1024,
        growth / 1024
    );
    assert!(growth < 50 * MB, "peak RSS grew by {growth} bytes");
}
