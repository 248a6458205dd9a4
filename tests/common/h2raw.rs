//! Raw HTTP/2 frames on a cleartext (h2c, prior knowledge) connection, for
//! what no well-behaved client library sends: upper-case or
//! connection-specific field names, a `#` in `:path`, more streams than
//! the server allows, reset floods. A test fixture for malformed input, not
//! an HTTP/2 implementation.
//!
//! Header blocks are HPACK literals without indexing and without Huffman
//! coding (RFC 7541 §6.2.2), so the bytes are exactly the test's. Answers
//! are read as frames (RST_STREAM, GOAWAY, and DATA, whose body is not
//! compressed); response headers are not decoded. Every read is bounded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const CONTINUATION: u8 = 0x9;

pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;

/// SETTINGS identifiers (RFC 9113 §6.5.2).
pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;

/// Error codes (RFC 9113 §7).
pub const NO_ERROR: u32 = 0x0;
pub const PROTOCOL_ERROR: u32 = 0x1;
pub const CANCEL: u32 = 0x8;
pub const REFUSED_STREAM: u32 = 0x7;
pub const ENHANCE_YOUR_CALM: u32 = 0xb;

/// The default SETTINGS_MAX_FRAME_SIZE: longer header blocks continue in
/// CONTINUATION frames.
const MAX_FRAME: usize = 16_384;

#[derive(Debug, Clone)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

/// How a stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered; its DATA payload (the body).
    Answered(Vec<u8>),
    /// RST_STREAM with this error code.
    Reset(u32),
    /// The connection got GOAWAY with this error code.
    GoAway(u32),
    /// The connection closed without either.
    Closed,
    TimedOut,
}

impl Outcome {
    /// The body as text (empty unless `Answered`).
    pub fn body(&self) -> String {
        match self {
            Outcome::Answered(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        }
    }
}

/// One HPACK string literal, not Huffman coded.
fn string(out: &mut Vec<u8>, s: &[u8]) {
    integer(out, s.len(), 7, 0x00);
    out.extend_from_slice(s);
}

/// An HPACK integer with an `n`-bit prefix (RFC 7541 §5.1).
fn integer(out: &mut Vec<u8>, mut v: usize, n: u32, first: u8) {
    let max = (1usize << n) - 1;
    if v < max {
        out.push(first | v as u8);
        return;
    }
    out.push(first | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128 + 128) as u8);
        v /= 128;
    }
    out.push(v as u8);
}

/// A header block of literal fields without indexing, names as given
/// (upper case stays upper case).
pub fn header_block<N: AsRef<str>, V: AsRef<str>>(fields: &[(N, V)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.push(0x00);
        string(&mut out, name.as_ref().as_bytes());
        string(&mut out, value.as_ref().as_bytes());
    }
    out
}

/// A request's fields: the pseudo-headers (h2c, so `http`), then `extra`.
pub fn request(method: &str, path: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    [
        (":method", method),
        (":scheme", "http"),
        (":authority", "gatehouse.test"),
        (":path", path),
    ]
    .iter()
    .chain(extra)
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect()
}

pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// HEADERS (and CONTINUATION frames when the block is longer than a frame).
pub fn headers_frames(stream: u32, block: &[u8], end_stream: bool) -> Vec<u8> {
    let chunks: Vec<&[u8]> = if block.is_empty() {
        vec![block]
    } else {
        block.chunks(MAX_FRAME).collect()
    };
    let mut out = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len();
        let mut flags = if last { END_HEADERS } else { 0 };
        let kind = if i == 0 {
            if end_stream {
                flags |= END_STREAM;
            }
            HEADERS
        } else {
            CONTINUATION
        };
        out.extend(frame(kind, flags, stream, chunk));
    }
    out
}

pub fn rst_frame(stream: u32, code: u32) -> Vec<u8> {
    frame(RST_STREAM, 0, stream, &code.to_be_bytes())
}

/// One raw h2c connection.
pub struct RawH2 {
    stream: TcpStream,
    buf: Vec<u8>,
    /// The server's first SETTINGS, as (identifier, value).
    pub settings: Vec<(u16, u32)>,
    /// Outcomes of streams seen while waiting for others.
    ended: HashMap<u32, Outcome>,
    bodies: HashMap<u32, Vec<u8>>,
    goaway: Option<u32>,
}

impl RawH2 {
    /// Preface, an empty SETTINGS, the server's SETTINGS read and ACKed.
    pub async fn connect(addr: SocketAddr) -> RawH2 {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let mut c = RawH2 {
            stream,
            buf: Vec::new(),
            settings: Vec::new(),
            ended: HashMap::new(),
            bodies: HashMap::new(),
            goaway: None,
        };
        let mut hello = PREFACE.to_vec();
        hello.extend(frame(SETTINGS, 0, 0, &[]));
        assert!(c.write(&hello).await, "write preface");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let f = c.read_frame(deadline).await.expect("server SETTINGS");
            if f.kind == SETTINGS && f.flags & ACK == 0 {
                c.settings = f
                    .payload
                    .chunks_exact(6)
                    .map(|s| {
                        (
                            u16::from_be_bytes([s[0], s[1]]),
                            u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
                        )
                    })
                    .collect();
                break;
            }
        }
        assert!(c.write(&frame(SETTINGS, ACK, 0, &[])).await, "ack");
        c
    }

    /// A server setting, if it sent one.
    pub fn setting(&self, id: u16) -> Option<u32> {
        self.settings
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, v)| *v)
    }

    /// Write bytes; false once the server has closed.
    pub async fn write(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok() && self.stream.flush().await.is_ok()
    }

    /// Send a request's header block on `stream` (odd, increasing).
    pub async fn send_request(&mut self, stream: u32, fields: &[(String, String)]) -> bool {
        let block = header_block(fields);
        self.write(&headers_frames(stream, &block, true)).await
    }

    /// The next frame before `deadline`; None on close or timeout.
    pub async fn read_frame(&mut self, deadline: Instant) -> Option<Frame> {
        loop {
            if self.buf.len() >= 9 {
                let len = u32::from_be_bytes([0, self.buf[0], self.buf[1], self.buf[2]]) as usize;
                if self.buf.len() >= 9 + len {
                    let head: Vec<u8> = self.buf.drain(..9 + len).collect();
                    return Some(Frame {
                        kind: head[3],
                        flags: head[4],
                        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]])
                            & 0x7fff_ffff,
                        payload: head[9..].to_vec(),
                    });
                }
            }
            let mut chunk = [0u8; 16_384];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// How `stream` ended, waiting at most `within`.
    pub async fn outcome(&mut self, stream: u32, within: Duration) -> Outcome {
        self.outcomes(&[stream], within)
            .await
            .remove(&stream)
            .unwrap_or(Outcome::TimedOut)
    }

    /// How each of `streams` ended, waiting at most `within` in all.
    pub async fn outcomes(&mut self, streams: &[u32], within: Duration) -> HashMap<u32, Outcome> {
        let deadline = Instant::now() + within;
        while !streams.iter().all(|s| self.ended.contains_key(s)) {
            if let Some(code) = self.goaway {
                for s in streams {
                    self.ended.entry(*s).or_insert(Outcome::GoAway(code));
                }
                break;
            }
            let Some(f) = self.read_frame(deadline).await else {
                let end = if Instant::now() >= deadline {
                    Outcome::TimedOut
                } else {
                    Outcome::Closed
                };
                for s in streams {
                    self.ended.entry(*s).or_insert(end.clone());
                }
                break;
            };
            self.note(f).await;
        }
        streams
            .iter()
            .filter_map(|s| self.ended.remove(s).map(|o| (*s, o)))
            .collect()
    }

    /// Record what a frame says about its stream; answer SETTINGS and PING.
    async fn note(&mut self, f: Frame) {
        match f.kind {
            SETTINGS if f.flags & ACK == 0 => {
                self.write(&frame(SETTINGS, ACK, 0, &[])).await;
            }
            PING if f.flags & ACK == 0 => {
                self.write(&frame(PING, ACK, 0, &f.payload)).await;
            }
            GOAWAY => {
                let code = f
                    .payload
                    .get(4..8)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .unwrap_or(PROTOCOL_ERROR);
                self.goaway = Some(code);
            }
            RST_STREAM => {
                let code = f
                    .payload
                    .get(..4)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .unwrap_or(0);
                self.ended.entry(f.stream).or_insert(Outcome::Reset(code));
            }
            DATA => {
                self.bodies
                    .entry(f.stream)
                    .or_default()
                    .extend_from_slice(&f.payload);
                if f.flags & END_STREAM != 0 {
                    let body = self.bodies.remove(&f.stream).unwrap_or_default();
                    self.ended
                        .entry(f.stream)
                        .or_insert(Outcome::Answered(body));
                }
            }
            HEADERS if f.flags & END_STREAM != 0 => {
                let body = self.bodies.remove(&f.stream).unwrap_or_default();
                self.ended
                    .entry(f.stream)
                    .or_insert(Outcome::Answered(body));
            }
            _ => {}
        }
    }

    /// Whether the server closes the connection (or sends GOAWAY) within
    /// `within`; the GOAWAY code if it sent one.
    pub async fn closed_within(&mut self, within: Duration) -> Option<Option<u32>> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(code) = self.goaway {
                return Some(Some(code));
            }
            match self.read_frame(deadline).await {
                Some(f) => self.note(f).await,
                None if Instant::now() >= deadline => return None,
                None => return Some(None),
            }
        }
    }
}
