//! The verified identity of a request, and how it is written into the
//! identity headers (SPEC §7 to the upstream, SPEC §10 to a front proxy).

use http::header::{HeaderName, HeaderValue};

/// How the request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Cookie,
    Bearer,
    ApiKey,
}

impl AuthMethod {
    pub fn as_str(&self) -> &'static str {
        match self {
            AuthMethod::Cookie => "cookie",
            AuthMethod::Bearer => "bearer",
            AuthMethod::ApiKey => "apikey",
        }
    }
}

/// Who made the request, after a successful check against the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: String,
    pub username: String,
    pub email: String,
    pub roles: Vec<String>,
    /// Public session id, when authenticated by a session or its JWT.
    pub sid: Option<String>,
    pub method: AuthMethod,
}

impl Identity {
    /// The values of the user, email and roles headers (roles
    /// comma-joined). They come from the users file or an IdP, so they are
    /// checked here too: a value that is not printable ASCII, or has edge
    /// spaces, is None (the header is left absent, never half-valid); a
    /// role that is empty or contains a comma is left out, so no role name
    /// can smuggle a second role.
    pub fn header_values(&self) -> [Option<HeaderValue>; 3] {
        // Joined straight into the value's own buffer: one allocation.
        let mut roles: Vec<u8> = Vec::new();
        for r in self
            .roles
            .iter()
            .filter(|r| !r.contains(',') && sendable(r))
        {
            if !roles.is_empty() {
                roles.push(b',');
            }
            roles.extend_from_slice(r.as_bytes());
        }
        let roles = (!roles.is_empty())
            .then(|| HeaderValue::from_maybe_shared(bytes::Bytes::from(roles)).ok())
            .flatten();
        let values = [
            header_value(&self.username),
            header_value(&self.email),
            roles,
        ];
        for (value, raw) in values.iter().zip([&self.username, &self.email]) {
            if value.is_none() && !raw.is_empty() {
                tracing::warn!(user = %self.user_id, "identity value not sendable as a header; omitted");
            }
        }
        values
    }
}

/// The configured identity header names (user, email, roles) as written:
/// Pingora copies a non-standard `HeaderName` into a new buffer on every
/// insert, a `&'static str` it does not. Built once at start.
#[derive(Debug, Clone, Copy)]
pub struct IdentityNames(pub [&'static str; 3]);

impl IdentityNames {
    /// The config is fixed for the process's life (a reload changes policy
    /// and users only), so the three short names are leaked once, at start.
    pub fn new(user: &HeaderName, email: &HeaderName, roles: &HeaderName) -> Self {
        let leak = |n: &HeaderName| -> &'static str { Box::leak(n.as_str().into()) };
        IdentityNames([leak(user), leak(email), leak(roles)])
    }
}

/// A non-empty header value of printable ASCII with no edge spaces.
pub fn header_value(s: &str) -> Option<HeaderValue> {
    if !sendable(s) {
        return None;
    }
    HeaderValue::from_str(s).ok()
}

/// Whether `s` may be sent as a header value: non-empty printable ASCII
/// without edge spaces.
fn sendable(s: &str) -> bool {
    let printable = s.bytes().all(|b| (0x20..=0x7e).contains(&b));
    !s.is_empty() && printable && s.trim() == s
}
