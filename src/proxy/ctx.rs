//! The per-request context: what later hooks need from earlier ones.

use std::net::IpAddr;
use std::sync::Arc;

use crate::error::LimitInfo;
use crate::policy::host::RequestHost;
use crate::policy::{NormalizedPath, Permit};
use crate::state::Live;

/// State carried through one request's hooks. `new_ctx` allocates nothing.
pub struct RequestCtx {
    /// Whether the request came in over TLS.
    pub tls: bool,
    /// The socket peer.
    pub peer: Option<IpAddr>,
    /// The client's IP (socket peer, or XFF from a trusted proxy).
    pub client_ip: Option<IpAddr>,
    /// Whether the socket peer is a trusted proxy.
    pub peer_trusted: bool,
    /// The policy snapshot this request is judged by (stable across a reload).
    pub live: Option<Arc<Live>>,
    pub path: Option<NormalizedPath>,
    /// The normalised Host, matched and forwarded (None: HTTP/1.0 without one).
    pub host: Option<RequestHost>,
    /// Set only by a successful authorization; no permit, no forwarding.
    pub permit: Option<Permit>,
    /// Rate-limit numbers for the `RateLimit-*` response headers.
    pub limit: Option<LimitInfo>,
    /// Route index for metrics and logs.
    pub route: Option<usize>,
    /// Whether a gateway endpoint answered.
    pub endpoint: bool,
    /// The status of the gateway's refusal, for metrics (a gRPC refusal
    /// is HTTP 200 on the wire).
    pub refused: Option<u16>,
}

impl RequestCtx {
    pub fn new() -> Self {
        RequestCtx {
            tls: false,
            peer: None,
            client_ip: None,
            peer_trusted: false,
            live: None,
            path: None,
            host: None,
            permit: None,
            limit: None,
            route: None,
            endpoint: false,
            refused: None,
        }
    }

    /// The matched route's pattern, for metric labels.
    pub fn route_pattern(&self) -> Option<&str> {
        let live = self.live.as_ref()?;
        Some(live.policy.routes.routes.get(self.route?)?.pattern.as_str())
    }

    /// The matched route's CORS settings.
    pub fn route_cors(&self) -> Option<&crate::policy::cors::Cors> {
        let live = self.live.as_ref()?;
        live.policy.routes.routes.get(self.route?)?.cors.as_ref()
    }
}

impl Default for RequestCtx {
    fn default() -> Self {
        Self::new()
    }
}
