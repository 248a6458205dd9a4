//! The per-request context: what later hooks need from earlier ones.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use http::header::HeaderValue;

use crate::decision::Seen;
use crate::error::LimitInfo;
use crate::policy::body_limit::BodyLimit;
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
    /// The normalised target (None: refused before it was normalised).
    pub path: Option<NormalizedPath>,
    /// The normalised Host, matched and forwarded (None: HTTP/1.0 without one).
    pub host: Option<RequestHost>,
    /// Set only by a successful authorization; no permit, no forwarding.
    pub permit: Option<Permit>,
    /// Rate-limit numbers for the `RateLimit-*` response headers.
    pub limit: Option<LimitInfo>,
    /// Route index and identity, as far as the decision got: for metrics
    /// and the access log of refused requests too.
    pub seen: Seen,
    /// Whether a gateway endpoint answered.
    pub endpoint: bool,
    /// Whether the one connect retry SPEC §11 allows was used.
    pub retried: bool,
    /// A proxied answer for an identity with something to re-check: watched
    /// once the exchange outlasts `stream_recheck` (`stream_watch`).
    pub may_watch: bool,
    /// The re-checks of a long-lived stream.
    pub watch: Option<super::stream_watch::StreamWatch>,
    /// Whom a gateway endpoint served (its own account of it).
    pub endpoint_user: Option<String>,
    /// When the request head had been read, for `duration_ms`.
    pub start: Instant,
    /// This request's `X-Request-Id` (SPEC §11), set first thing.
    pub request_id: Option<HeaderValue>,
    /// The upstream address the request was sent to.
    pub upstream: Option<SocketAddr>,
    /// The request body's bound and count (SPEC §11 `max_body`); closed
    /// until a permit sets the route's bound.
    pub body: BodyLimit,
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
            seen: Seen::default(),
            endpoint: false,
            retried: false,
            may_watch: false,
            watch: None,
            endpoint_user: None,
            start: Instant::now(),
            request_id: None,
            upstream: None,
            body: BodyLimit::closed(),
            refused: None,
        }
    }

    /// The matched route's CORS settings.
    pub fn route_cors(&self) -> Option<&crate::policy::cors::Cors> {
        let live = self.live.as_ref()?;
        live.policy
            .routes
            .routes
            .get(self.seen.route?)?
            .cors
            .as_ref()
    }

    /// The username for the access log: the permit's, the decision's (a
    /// refused but verified request), or the endpoint's.
    pub fn username(&self) -> Option<&str> {
        match &self.permit {
            Some(p) => p.identity().map(|id| id.username.as_str()),
            None => self
                .seen
                .identity
                .as_deref()
                .map(|id| id.username.as_str())
                .or(self.endpoint_user.as_deref()),
        }
    }
}

impl Default for RequestCtx {
    fn default() -> Self {
        Self::new()
    }
}
