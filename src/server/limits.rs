//! Connection limits (issue 10, slow clients): at most `max_connections`
//! open client connections per process and `max_connections_per_ip` per
//! client address, so one client cannot hold every descriptor and starve
//! the rest. Counted by the socket peer (a forwarded address is not known
//! before the request is read); peers in `trusted_proxies` carry many
//! clients and count only toward the process total.
//!
//! `Limited` wraps the proxy app of every shard (one `Limits` shared by
//! all): a connection holds a `Slot` for as long as it is served, and one
//! over a limit is answered 503 in the SPEC §6 format and closed at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ipnet::IpNet;
use pingora::apps::ServerApp;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use tokio::io::AsyncWriteExt;

use crate::error::status_answer;
use crate::proxy::respond;

/// The open connections, against their limits.
pub struct Limits {
    max_total: usize,
    max_per_ip: usize,
    trusted: Vec<IpNet>,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// One admitted connection; gives its place back when dropped.
pub struct Slot {
    limits: Arc<Limits>,
    ip: Option<IpAddr>,
}

/// Which limit refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Total,
    PerIp,
}

impl Limits {
    pub fn new(max_total: usize, max_per_ip: usize, trusted: Vec<IpNet>) -> Arc<Limits> {
        Arc::new(Limits {
            max_total,
            max_per_ip,
            trusted,
            open: Mutex::new(Open::default()),
        })
    }

    /// Admit a connection from `peer` (None: not an IP socket), or say
    /// which limit it is over.
    pub fn admit(self: &Arc<Self>, peer: Option<IpAddr>) -> Result<Slot, Refused> {
        let per_ip = peer.filter(|ip| !self.trusted.iter().any(|n| n.contains(ip)));
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.total >= self.max_total {
            return Err(Refused::Total);
        }
        if let Some(ip) = per_ip {
            let n = open.per_ip.entry(ip).or_insert(0);
            if *n >= self.max_per_ip {
                return Err(Refused::PerIp);
            }
            *n += 1;
        }
        open.total += 1;
        Ok(Slot {
            limits: self.clone(),
            ip: per_ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(ip) = self.ip {
            if let Some(n) = open.per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    open.per_ip.remove(&ip);
                }
            }
        }
    }
}

/// A server app whose connections are admitted by `Limits` first.
pub struct Limited<A> {
    inner: Arc<A>,
    limits: Arc<Limits>,
}

impl<A> Limited<A> {
    pub fn new(inner: A, limits: Arc<Limits>) -> Self {
        Limited {
            inner: Arc::new(inner),
            limits,
        }
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for Limited<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let peer = stream
            .get_socket_digest()
            .and_then(|d| d.peer_addr().and_then(|a| a.as_inet()).map(|a| a.ip()));
        match self.limits.admit(peer) {
            Ok(_slot) => self.inner.process_new(stream, shutdown).await,
            Err(why) => {
                tracing::debug!(peer = ?peer, limit = ?why, "connection refused");
                refuse(stream).await;
                None
            }
        }
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await;
    }
}

/// Answer 503 (HTTP/1; an h2 connection is just closed) and close.
async fn refuse(mut stream: Stream) {
    let tls = stream.get_ssl_digest().is_some();
    if matches!(
        stream.selected_alpn_proto(),
        Some(pingora::protocols::ALPN::H2)
    ) {
        return;
    }
    let answer = status_answer(503);
    let Ok(head) = respond::head(&answer, tls) else {
        return;
    };
    let mut wire = format!(
        "HTTP/1.1 {} {}\r\n",
        head.status.as_u16(),
        head.status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in head.headers.iter() {
        wire.extend_from_slice(name.as_str().as_bytes());
        wire.extend_from_slice(b": ");
        wire.extend_from_slice(value.as_bytes());
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"Connection: close\r\n\r\n");
    wire.extend_from_slice(answer.body.as_bytes());
    let write = async {
        stream.write_all(&wire).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn per_ip_and_total_limits_hold_and_free_on_drop() {
        let limits = Limits::new(3, 2, vec!["10.0.0.0/8".parse().unwrap()]);
        let a1 = limits.admit(ip("192.0.2.1")).unwrap();
        let _a2 = limits.admit(ip("192.0.2.1")).unwrap();
        assert_eq!(limits.admit(ip("192.0.2.1")).err(), Some(Refused::PerIp));
        let _b = limits.admit(ip("192.0.2.2")).unwrap();
        assert_eq!(limits.admit(ip("192.0.2.3")).err(), Some(Refused::Total));
        drop(a1);
        let _a3 = limits.admit(ip("192.0.2.1")).unwrap();
        assert_eq!(limits.admit(None).err(), Some(Refused::Total));
    }

    #[test]
    fn trusted_proxies_count_only_toward_the_total() {
        let limits = Limits::new(5, 1, vec!["10.0.0.0/8".parse().unwrap()]);
        let held: Vec<_> = (0..5)
            .map(|_| limits.admit(ip("10.1.2.3")).unwrap())
            .collect();
        assert_eq!(limits.admit(ip("10.1.2.3")).err(), Some(Refused::Total));
        drop(held);
        assert!(limits.open.lock().unwrap().per_ip.is_empty());
        assert_eq!(limits.open.lock().unwrap().total, 0);
    }
}
