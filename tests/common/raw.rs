//! Raw HTTP/1.1 over TCP, for request targets and framing that reqwest (and
//! the `url` crate under it) would normalise or refuse to send: `//admin`,
//! `/x/../admin`, `%2f`, `#`, absolute-form, conflicting length headers.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Status line, head and body of a raw answer.
#[derive(Debug, Clone)]
pub struct RawReply {
    pub status: u16,
    pub head: String,
    /// De-chunked when the answer was `Transfer-Encoding: chunked`.
    pub body: String,
    /// Whether the server closed the connection (rather than the 10 s
    /// read deadline ending it).
    pub closed: bool,
}

impl RawReply {
    /// A header's value from the raw head (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Send `GET target` with the given extra header lines and, unless they
/// include a `Connection` header, `Connection: close`; read the answer.
pub async fn get(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> RawReply {
    let mut req = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("connection"))
    {
        req.push_str("Connection: close\r\n");
    }
    req.push_str("\r\n");
    send(addr, req.as_bytes()).await
}

/// Write `request` verbatim and read until the server closes (or 10 s pass).
/// Only the first answer is parsed.
pub async fn send(addr: SocketAddr, request: &[u8]) -> RawReply {
    let mut stream = TcpStream::connect(addr).await.expect("connect to gateway");
    stream.write_all(request).await.expect("write request");
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut chunk = [0u8; 8192];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&buf).to_string();
    assert!(
        read.is_ok() || text.contains("\r\n\r\n"),
        "no answer within 10 s to {:?}",
        String::from_utf8_lossy(request)
    );
    parse(&buf, read.is_ok()).unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"))
}

pub fn parse(buf: &[u8], closed: bool) -> Option<RawReply> {
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let (head, body) = match split {
        Some(i) => (&buf[..i], &buf[i + 4..]),
        None => (buf, &buf[buf.len()..]),
    };
    let head = String::from_utf8_lossy(head).to_string();
    let status = head
        .lines()
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let mut reply = RawReply {
        status,
        head,
        body: String::new(),
        closed,
    };
    let chunked = reply
        .header("transfer-encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    reply.body = String::from_utf8_lossy(&body).to_string();
    Some(reply)
}

/// Decode a chunked body (extensions and trailers ignored).
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size_line = String::from_utf8_lossy(&rest[..eol]).to_string();
        let size_hex = size_line.split(';').next().unwrap_or("").trim().to_string();
        let Ok(size) = usize::from_str_radix(&size_hex, 16) else {
            break;
        };
        let data = &rest[eol + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        rest = data[size..].strip_prefix(b"\r\n").unwrap_or(&data[size..]);
    }
    out
}
