//! Compiled `[upstreams.NAME]` (SPEC §11): where a route's requests go, how
//! an address is chosen, when one counts as down, how long to wait for it.

use std::sync::Arc;
use std::time::Duration;

/// A named upstream, checked at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub name: String,
    /// `host:port` each (`addr` or `addrs`); names are resolved by the pool.
    pub addrs: Vec<String>,
    pub tls: bool,
    /// SNI / Host for TLS upstreams.
    pub sni: String,
    /// `ca_file`: the DER of each CA certificate trusted for this TLS
    /// upstream instead of the system's roots (checked at load).
    pub ca_certs: Option<Arc<[Vec<u8>]>>,
    pub balance: Balance,
    /// Active health checks; None: every address counts as up.
    pub health: Option<HealthCheck>,
    /// How often host names are resolved again.
    pub resolve_every: Duration,
    pub timeouts: Timeouts,
    pub protocol: UpstreamProtocol,
}

/// How the gateway speaks to an upstream (SPEC §11 `protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamProtocol {
    /// HTTP/1.1 (`"http1"`, the default).
    #[default]
    Http1,
    /// HTTP/2 over TLS, ALPN `h2` (`"h2"`: gRPC behind TLS).
    H2,
    /// Cleartext HTTP/2 with prior knowledge (`"h2c"`).
    H2c,
}

/// `balance`: how a request picks one of the healthy addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    RoundRobin,
    Random,
    /// By client IP (SPEC §7), so a client keeps its address while it is up.
    Consistent,
}

impl Balance {
    pub fn parse(s: &str) -> Option<Balance> {
        match s {
            "round_robin" => Some(Balance::RoundRobin),
            "random" => Some(Balance::Random),
            "consistent" => Some(Balance::Consistent),
            _ => None,
        }
    }
}

/// `[upstreams.NAME.health]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// HTTP `GET path` expecting 2xx; None: a TCP connect.
    pub path: Option<String>,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive failures that mark an address down.
    pub unhealthy_after: usize,
    /// Consecutive successes that bring it back.
    pub healthy_after: usize,
}

/// Per-upstream socket timeouts; a route's `timeout` replaces `read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub read: Duration,
    pub write: Duration,
    /// Pooled keep-alive connections idle longer are closed.
    pub idle: Duration,
}

impl Default for Timeouts {
    /// SPEC §11 defaults.
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(2),
            read: Duration::from_secs(60),
            write: Duration::from_secs(60),
            idle: Duration::from_secs(60),
        }
    }
}
