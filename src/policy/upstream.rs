//! Compiled `[upstreams.NAME]`: where a route's requests go.

/// A named upstream, resolved at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub name: String,
    /// `host:port`.
    pub addr: String,
    pub tls: bool,
    /// SNI / Host for TLS upstreams.
    pub sni: String,
}
