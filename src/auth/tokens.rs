//! Access tokens (JWT): minting with `kid`, and verification that trusts
//! nothing the token says about itself (SPEC §5): only the configured
//! algorithm, only our `kid`, valid `iss`/`aud`/`exp`/`nbf`, no `crit`.

use serde::{Deserialize, Serialize};

use crate::auth::keys::KeySet;
use crate::store::SessionRecord;

/// Claims of a gatehouse access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub email: String,
    pub roles: Vec<String>,
    pub sid: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

/// Why a token was refused (logged as the auth metric's reason; never sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("algorithm not allowed")]
    Algorithm,
    #[error("unknown key id")]
    UnknownKid,
    #[error("critical header present")]
    Crit,
    #[error("bad signature")]
    Signature,
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
    #[error("wrong issuer")]
    Issuer,
    #[error("wrong audience")]
    Audience,
}

/// Mints and verifies gatehouse's access tokens.
pub struct TokenService {
    pub keys: KeySet,
    pub issuer: String,
    pub audience: String,
    pub access_ttl_secs: i64,
}

impl TokenService {
    pub fn new(_keys: KeySet, _issuer: String, _audience: String, _access_ttl_secs: i64) -> Self {
        todo!("auth: TokenService::new")
    }
    /// A new access token for a session. Returns the token and its `exp`.
    pub fn mint(&self, _session: &SessionRecord, _now: i64) -> Result<(String, i64), TokenError> {
        todo!("auth: TokenService::mint")
    }
    /// Verify signature and claims. `now` in Unix seconds; no leeway beyond
    /// a few seconds of clock skew.
    pub fn verify(&self, _token: &str, _now: i64) -> Result<AccessClaims, TokenError> {
        todo!("auth: TokenService::verify")
    }
}
