//! The request policy: path normalisation, client IP, route matching, RBAC
//! and rate limits. Takes plain values; knows nothing about Pingora sessions.

use std::collections::HashMap;

use crate::store::GcraRule;

pub mod body_limit;
pub mod client_ip;
pub mod cors;
pub mod csrf;
pub mod described;
pub mod framing;
pub mod host;
pub mod method;
pub mod normalize;
pub mod owner;
pub mod ratelimit;
pub mod rbac;
pub mod redirect;
pub mod request_id;
pub mod routes;
pub mod upstream;

pub use normalize::{normalize, NormalizedPath};
pub use rbac::{authorize, Permit, Roles};
pub use routes::{PathPattern, Route, RouteTable};
pub use upstream::{Upstream, UpstreamProtocol};

/// What a rate limit is keyed by (SPEC §2 `key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKey {
    Ip,
    User,
    Route,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    pub name: String,
    pub key: LimitKey,
    pub rule: GcraRule,
}

/// The compiled policy; swapped whole on SIGHUP.
#[derive(Debug, Clone)]
pub struct Policy {
    pub upstreams: Vec<Upstream>,
    pub roles: Roles,
    pub rate_limits: Vec<RateLimit>,
    pub routes: RouteTable,
    /// upstream name -> index, for diagnostics and tools.
    pub upstream_index: HashMap<String, usize>,
    /// Methods outside the standard set that some route names (`method`).
    pub extra_methods: Vec<http::Method>,
}

#[cfg(test)]
mod tests;
