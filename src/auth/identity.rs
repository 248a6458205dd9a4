//! The verified identity of a request, and how it is written into the
//! identity headers (SPEC §7 to the upstream, SPEC §10 to a front proxy).

use std::sync::Arc;

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

/// Who a user is, as their requests describe them upstream: the users-file
/// entry (or what an identity provider, trusted issuer or API key said),
/// with the identity header values already built. A local user's is built
/// once per users-file load and shared (`Arc`) by all their requests, so a
/// request neither copies these strings nor rebuilds the header values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub user_id: String,
    pub username: String,
    pub email: String,
    pub roles: Vec<String>,
    /// The user, email and roles header values (`Person::header_values`).
    headers: [Option<HeaderValue>; 3],
}

impl Person {
    pub fn new(user_id: String, username: String, email: String, roles: Vec<String>) -> Self {
        let headers = header_values(&user_id, &username, &email, &roles);
        Person {
            user_id,
            username,
            email,
            roles,
            headers,
        }
    }

    /// The values of the user, email and roles headers (roles
    /// comma-joined). They come from the users file or an IdP, so they are
    /// checked here too: a value that is not printable ASCII, or has edge
    /// spaces, is None (the header is left absent, never half-valid); a
    /// role that is empty or contains a comma is left out, so no role name
    /// can smuggle a second role. Cloning a value shares its bytes.
    pub fn header_values(&self) -> &[Option<HeaderValue>; 3] {
        &self.headers
    }

    /// The same person with only the roles `keep` accepts.
    pub fn with_roles_kept(&self, keep: impl Fn(&String) -> bool) -> Person {
        let roles = self.roles.iter().filter(|r| keep(r)).cloned().collect();
        Person::new(
            self.user_id.clone(),
            self.username.clone(),
            self.email.clone(),
            roles,
        )
    }
}

fn header_values(
    user_id: &str,
    username: &str,
    email: &str,
    roles: &[String],
) -> [Option<HeaderValue>; 3] {
    // Joined straight into the value's own buffer: one allocation.
    let mut joined: Vec<u8> = Vec::new();
    for r in roles.iter().filter(|r| !r.contains(',') && sendable(r)) {
        if !joined.is_empty() {
            joined.push(b',');
        }
        joined.extend_from_slice(r.as_bytes());
    }
    let roles = (!joined.is_empty())
        .then(|| HeaderValue::from_maybe_shared(bytes::Bytes::from(joined)).ok())
        .flatten();
    let values = [header_value(username), header_value(email), roles];
    for (value, raw) in values.iter().zip([username, email]) {
        if value.is_none() && !raw.is_empty() {
            tracing::warn!(user = %user_id, "identity value not sendable as a header; omitted");
        }
    }
    values
}

/// Who made the request, after a successful check against the store: a
/// person (`Deref`: `id.username`, `id.roles`, ...), and how this request
/// proved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub person: Arc<Person>,
    /// Public session id, when authenticated by a session or its JWT.
    pub sid: Option<String>,
    pub method: AuthMethod,
}

impl Identity {
    /// An identity whose person is built for it (not a users-file user's
    /// shared one).
    pub fn new(
        user_id: String,
        username: String,
        email: String,
        roles: Vec<String>,
        sid: Option<String>,
        method: AuthMethod,
    ) -> Self {
        Identity {
            person: Arc::new(Person::new(user_id, username, email, roles)),
            sid,
            method,
        }
    }

    /// Drop the roles `keep` refuses (a role a reload removed from
    /// `[roles]` grants nothing and is not sent upstream). Allocates only
    /// when a role goes.
    pub fn retain_roles(&mut self, keep: impl Fn(&String) -> bool) {
        if !self.person.roles.iter().all(&keep) {
            self.person = Arc::new(self.person.with_roles_kept(keep));
        }
    }
}

impl std::ops::Deref for Identity {
    type Target = Person;

    fn deref(&self) -> &Person {
        &self.person
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
