//! Refresh tokens: opaque, 256 bits from the OS RNG, stored only as their
//! SHA-256. For the grace window (SPEC §5) the successor is kept sealed with
//! a key derived from the token it replaces, so the store never holds a
//! usable token in the clear.

/// A new refresh token (base64url, no padding).
pub fn new_token() -> String {
    todo!("auth: refresh::new_token")
}

/// The store key of a token: hex SHA-256.
pub fn token_hash(_token: &str) -> String {
    todo!("auth: refresh::token_hash")
}

/// Seal `successor` so only the holder of `old` can open it.
pub fn seal(_successor: &str, _old: &str) -> String {
    todo!("auth: refresh::seal")
}

/// Open a sealed successor with the old token; None if it does not open.
pub fn unseal(_sealed: &str, _old: &str) -> Option<String> {
    todo!("auth: refresh::unseal")
}
