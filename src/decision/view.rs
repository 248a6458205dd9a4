//! The request a decision is about, as plain values: what the proxy
//! received, or what a front proxy describes (forward-auth). Only these
//! take part in the decision (SPEC §7: the request line, the Host and the
//! credentials; the Origin for CSRF; Accept for browser redirects).

use std::net::IpAddr;

use http::{HeaderMap, Method};

use crate::policy::host::RequestHost;
use crate::policy::NormalizedPath;

#[derive(Clone, Copy)]
pub struct RequestView<'a> {
    pub method: &'a Method,
    /// None: an HTTP/1.0 request without Host (no host-bound route matches).
    pub host: Option<&'a RequestHost>,
    /// Already normalised (SPEC §7) by whoever built the view.
    pub path: &'a NormalizedPath,
    /// Credentials, `Origin`/`Referer`, CORS and `Accept` are read here.
    pub headers: &'a HeaderMap,
    pub client_ip: Option<IpAddr>,
    /// Whether the request came (or, described, comes) over https.
    pub tls: bool,
}

impl RequestView<'_> {
    /// `scheme://host[:port]` the client addressed, for the CSRF check.
    pub fn own_origin(&self) -> String {
        self.host.map(|h| h.origin(self.tls)).unwrap_or_default()
    }

    /// A browser navigating (SPEC §6: `Accept: text/html` on GET or HEAD),
    /// which gets sent to the login page instead of a bare 401.
    pub fn is_browser_navigation(&self) -> bool {
        let read = self.method == Method::GET || self.method == Method::HEAD;
        read && self
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.to_ascii_lowercase().contains("text/html"))
    }

    pub fn host_name(&self) -> Option<&str> {
        self.host.map(RequestHost::name)
    }
}
