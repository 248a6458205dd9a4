//! Session secrets and cookies. The cookie carries a 256-bit secret; the
//! store and JWTs only ever see its public id (`sid`), a hash of it.

use crate::config::SessionConfig;

/// A new session secret (256 bits, OS RNG, base64url without padding).
pub fn new_secret() -> String {
    todo!("auth: session::new_secret")
}

/// The public session id of a secret: first 32 hex chars of its SHA-256.
pub fn sid_of(_secret: &str) -> String {
    todo!("auth: session::sid_of")
}

/// Find a cookie's value in one or more `Cookie` header values. Malformed
/// pairs are skipped; the first cookie of that name wins.
pub fn find_cookie<'a>(_cookie_headers: &[&'a str], _name: &str) -> Option<&'a str> {
    todo!("auth: session::find_cookie")
}

/// `Set-Cookie` value for a cookie (HttpOnly, Secure per config, SameSite,
/// Path=/, Max-Age in seconds).
pub fn set_cookie(_cfg: &SessionConfig, _name: &str, _value: &str, _max_age_secs: i64) -> String {
    todo!("auth: session::set_cookie")
}

/// `Set-Cookie` value that deletes a cookie.
pub fn clear_cookie(_cfg: &SessionConfig, _name: &str) -> String {
    todo!("auth: session::clear_cookie")
}
