//! One raw HTTP/1 connection kept open across requests, for keep-alive,
//! slow-client and per-source-address tests (`raw::send` closes after one
//! answer). Every read is bounded by the deadline the caller gives.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use super::raw::{parse, RawReply};

pub struct Conn {
    stream: TcpStream,
    /// Bytes read past the last answer.
    pending: Vec<u8>,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect to gateway");
        Conn {
            stream,
            pending: Vec::new(),
        }
    }

    /// Connect from `local` (e.g. 127.0.0.2: all of 127/8 is loopback on
    /// Linux), to test per-source-address limits.
    pub async fn connect_from(local: IpAddr, addr: SocketAddr) -> Conn {
        let socket = TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::new(local, 0))
            .unwrap_or_else(|e| panic!("bind {local}: {e}"));
        let stream = socket.connect(addr).await.expect("connect to gateway");
        Conn {
            stream,
            pending: Vec::new(),
        }
    }

    /// Write `bytes`; false if the server already closed the connection.
    pub async fn write(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok() && self.stream.flush().await.is_ok()
    }

    /// A keep-alive `GET target`.
    pub async fn get(&mut self, target: &str) -> bool {
        let req = format!("GET {target} HTTP/1.1\r\nHost: gatehouse.test\r\n\r\n");
        self.write(req.as_bytes()).await
    }

    /// Read one answer (head and `Content-Length` body) within `within`;
    /// None if the connection closed or the time ran out first.
    pub async fn answer(&mut self, within: Duration) -> Option<RawReply> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(end) = answer_end(&self.pending) {
                let rest = self.pending.split_off(end);
                let bytes = std::mem::replace(&mut self.pending, rest);
                return parse(&bytes, false);
            }
            let mut chunk = [0u8; 8192];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
                Ok(Ok(n)) => self.pending.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Whether the server closes the connection within `within` (anything
    /// it writes meanwhile is kept for `answer`).
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let mut chunk = [0u8; 8192];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(n)) => self.pending.extend_from_slice(&chunk[..n]),
                Err(_) => return false,
            }
        }
    }

    /// Bytes the server sent that no `answer` consumed.
    pub fn pending(&self) -> &[u8] {
        &self.pending
    }
}

/// Where the first complete answer in `buf` ends, if it is all there.
fn answer_end(buf: &[u8]) -> Option<usize> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let length = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    (buf.len() >= head_end + length).then_some(head_end + length)
}
