//! The per-request check (SPEC §5): a bearer JWT or the session cookie,
//! verified and then looked up in the store on every request, so a logout or
//! revocation takes effect at once.

use pingora::http::RequestHeader;

use crate::auth::identity::{AuthMethod, Identity};
use crate::auth::session::{find_cookie, sid_of};
use crate::auth::tokens::TokenService;
use crate::config::users::UserDirectory;
use crate::store::{SessionRecord, Store, StoreError};

/// The credentials a request presents, borrowed from its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials<'a> {
    None,
    Bearer(&'a str),
    /// The session cookie's secret.
    Cookie(&'a str),
}

impl Credentials<'_> {
    pub fn method(&self) -> Option<AuthMethod> {
        match self {
            Credentials::None => None,
            Credentials::Bearer(_) => Some(AuthMethod::Bearer),
            Credentials::Cookie(_) => Some(AuthMethod::Cookie),
        }
    }
}

/// Pick the credentials: an `Authorization: Bearer` header wins over the
/// cookie, and a bad bearer token never falls back to the cookie.
pub fn credentials<'a>(req: &'a RequestHeader, cookie_name: &str) -> Credentials<'a> {
    if let Some(v) = req.headers.get(http::header::AUTHORIZATION) {
        if let Some(token) = v.to_str().ok().and_then(bearer_token) {
            return Credentials::Bearer(token);
        }
    }
    let cookies: Vec<&str> = req
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    match find_cookie(&cookies, cookie_name) {
        Some(secret) if !secret.is_empty() => Credentials::Cookie(secret),
        _ => Credentials::None,
    }
}

/// `Bearer <token>`, scheme case-insensitive (RFC 7235).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim();
    (!token.is_empty()).then_some(token)
}

/// Result of checking credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// No credentials presented.
    Anonymous,
    Authenticated(Identity),
    /// Credentials presented but not valid; the reason is for logs/metrics.
    Refused(&'static str),
}

/// Verify credentials and look the session up (sliding its idle timeout).
pub async fn authenticate(
    creds: Credentials<'_>,
    tokens: &TokenService,
    store: &dyn Store,
    users: &UserDirectory,
    idle: std::time::Duration,
    now: i64,
) -> Result<AuthOutcome, StoreError> {
    let (sid, method, sub) = match creds {
        Credentials::None => return Ok(AuthOutcome::Anonymous),
        Credentials::Bearer(token) => match tokens.verify(token, now) {
            Ok(claims) => (claims.sid, AuthMethod::Bearer, Some(claims.sub)),
            Err(_) => return Ok(AuthOutcome::Refused("bad_token")),
        },
        Credentials::Cookie(secret) => (sid_of(secret), AuthMethod::Cookie, None),
    };
    let Some(session) = store.touch_session(&sid, now, idle).await? else {
        return Ok(AuthOutcome::Refused("no_session"));
    };
    if sub.is_some_and(|s| s != session.user_id) {
        return Ok(AuthOutcome::Refused("subject_mismatch"));
    }
    // A user removed or disabled by a reload loses access at once.
    match users.get(&session.username) {
        Some(u) if !u.disabled && u.id == session.user_id => {}
        _ => return Ok(AuthOutcome::Refused("user_disabled")),
    }
    Ok(AuthOutcome::Authenticated(identity_of(session, method)))
}

/// The identity a session stands for.
pub fn identity_of(s: SessionRecord, method: AuthMethod) -> Identity {
    Identity {
        user_id: s.user_id,
        username: s.username,
        email: s.email,
        roles: s.roles,
        sid: Some(s.sid),
        method,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_a_token() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }
}
