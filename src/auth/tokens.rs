//! Access tokens (JWT): minting with `kid`, and verification that trusts
//! nothing the token says about itself (SPEC §5): only the configured
//! algorithm, only our `kid`, valid `iss`/`aud`/`exp`/`nbf`, no `crit`.
//!
//! The header is decoded and checked here, strictly, before jsonwebtoken
//! sees the token: jsonwebtoken's `Header` would quietly accept duplicate
//! members and ignore ones it does not model.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use rand::rngs::OsRng;
use rand::RngCore;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::keys::KeySet;
use crate::auth::verified::VerifiedTokens;
use crate::store::SessionRecord;

/// Longest token looked at; real ones are well under 1 KiB. Bounds the work
/// an attacker can make us do before the signature check.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: i64 = 5;

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
    /// A trusted issuer's identity claim of the wrong type or with a value
    /// that cannot be sent upstream; names the claim.
    #[error("bad claim: {0}")]
    Claim(&'static str),
}

/// A token error that reaches an answer is one of minting (verification
/// failures end as `AuthOutcome::Refused`): unexpected, so a logged 500.
impl From<TokenError> for crate::error::GateError {
    fn from(e: TokenError) -> Self {
        crate::error::GateError::internal(e)
    }
}

/// Mints and verifies gatehouse's access tokens.
pub struct TokenService {
    /// Swapped whole on SIGHUP (key rotation, SPEC §14).
    keys: ArcSwap<KeySet>,
    pub issuer: String,
    pub audience: String,
    pub access_ttl_secs: i64,
    /// Built once: pinned to the one algorithm, our `iss` and `aud`.
    validation: Validation,
    /// Tokens that passed `verify` before (see `auth::verified`).
    verified: VerifiedTokens,
}

impl TokenService {
    pub fn new(keys: KeySet, issuer: String, audience: String, access_ttl_secs: i64) -> Self {
        // Only ever the configured algorithm (SPEC §5), never the token's.
        let mut validation = Validation::new(keys.algorithm);
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Times are checked in `verify` against the caller's `now`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        TokenService {
            keys: ArcSwap::from_pointee(keys),
            issuer,
            audience,
            access_ttl_secs,
            validation,
            verified: VerifiedTokens::default(),
        }
    }

    /// The signing key and the accepted previous ones.
    pub fn keys(&self) -> arc_swap::Guard<Arc<KeySet>> {
        self.keys.load()
    }

    /// SIGHUP after `keys rotate`: sign with the new key from now on. Same
    /// algorithm (the config's); the tokens verified so far are checked
    /// again, so one signed by a removed key is refused at once.
    pub fn replace_keys(&self, keys: KeySet) -> Result<(), String> {
        if keys.algorithm != self.keys.load().algorithm {
            return Err("the reloaded key has another algorithm".into());
        }
        self.keys.store(Arc::new(keys));
        self.verified.clear();
        Ok(())
    }

    /// A new access token for a session. Returns the token and its `exp`.
    pub fn mint(&self, session: &SessionRecord, now: i64) -> Result<(String, i64), TokenError> {
        let exp = now.saturating_add(self.access_ttl_secs);
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: session.user_id.clone(),
            email: session.email.clone(),
            roles: session.roles.clone(),
            sid: session.sid.clone(),
            jti: new_jti(),
            iat: now,
            exp,
            nbf: None,
        };
        let keys = self.keys.load();
        let mut header = Header::new(keys.algorithm);
        header.kid = Some(keys.kid.clone());
        // The key passed a sign/verify self-test at load, so this only fails
        // if signing itself breaks.
        let token = jsonwebtoken::encode(&header, &claims, &keys.encoding)
            .map_err(|_| TokenError::Signature)?;
        Ok((token, exp))
    }

    /// `verify`, answered from the cache of verified tokens when this exact
    /// token passed before; the time checks are always redone.
    pub fn verify_cached(&self, token: &str, now: i64) -> Result<Arc<AccessClaims>, TokenError> {
        if let Some(claims) = self.verified.get(token) {
            if let Err(e) = check_times(&claims, now) {
                self.verified.remove(token);
                return Err(e);
            }
            return Ok(claims);
        }
        let claims = Arc::new(self.verify(token, now)?);
        self.verified.insert(token, claims.clone(), now);
        Ok(claims)
    }

    /// Verify signature and claims. `now` in Unix seconds; no leeway beyond
    /// a few seconds of clock skew.
    pub fn verify(&self, token: &str, now: i64) -> Result<AccessClaims, TokenError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(_payload), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let keys = self.keys.load();
        let decoding = check_header(&keys, &decode_header(header)?)?;

        let claims = jsonwebtoken::decode::<AccessClaims>(token, decoding, &self.validation)
            .map_err(|e| map_error(e.kind()))?
            .claims;
        check_times(&claims, now)?;
        Ok(claims)
    }
}

/// The header rules of SPEC §5, in the order that names the worst problem:
/// a foreign algorithm (`none`, HS256 keyed with our public key, ...)
/// first, then `crit`, then a `kid` that is not one of ours (current or
/// previous, SPEC §14). Returns the key that `kid` names.
fn check_header<'k>(
    keys: &'k KeySet,
    header: &BTreeMap<String, Value>,
) -> Result<&'k DecodingKey, TokenError> {
    match header.get("alg") {
        Some(Value::String(alg)) if Algorithm::from_str(alg).is_ok_and(|a| a == keys.algorithm) => {
        }
        _ => return Err(TokenError::Algorithm),
    }
    // We understand no extensions, so any `crit` must be refused (RFC 7515 §4.1.11).
    if header.contains_key("crit") {
        return Err(TokenError::Crit);
    }
    let decoding = match header.get("kid") {
        Some(Value::String(kid)) => keys.decoding_for(kid).ok_or(TokenError::UnknownKid)?,
        _ => return Err(TokenError::UnknownKid),
    };
    match header.get("typ") {
        None => Ok(decoding),
        Some(Value::String(typ)) if typ.eq_ignore_ascii_case("JWT") => Ok(decoding),
        Some(_) => Err(TokenError::Malformed),
    }
}

/// 128 random bits, base64url.
fn new_jti() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decode the header segment strictly: canonical base64url without padding,
/// a JSON object, no member named twice (so `{"alg":"EdDSA","alg":"none"}`
/// cannot mean one thing here and another to a library).
pub(crate) fn decode_header(segment: &str) -> Result<BTreeMap<String, Value>, TokenError> {
    let json = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice::<StrictObject>(&json)
        .map(|o| o.0)
        .map_err(|_| TokenError::Malformed)
}

/// A JSON object whose deserialisation fails on a duplicate member.
pub(crate) struct StrictObject(pub(crate) BTreeMap<String, Value>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrictObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object without duplicate members")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictObject, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    if out.insert(k, v).is_some() {
                        return Err(serde::de::Error::custom("duplicate member"));
                    }
                }
                Ok(StrictObject(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn map_error(kind: &ErrorKind) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature => TokenError::Signature,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::MissingAlgorithm => TokenError::Algorithm,
        ErrorKind::InvalidIssuer => TokenError::Issuer,
        ErrorKind::InvalidAudience => TokenError::Audience,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        _ => TokenError::Malformed,
    }
}

/// `exp` and `nbf` against `now`, with the small leeway for clock skew.
fn check_times(claims: &AccessClaims, now: i64) -> Result<(), TokenError> {
    if now >= claims.exp.saturating_add(LEEWAY_SECS) {
        return Err(TokenError::Expired);
    }
    if matches!(claims.nbf, Some(nbf) if nbf > now.saturating_add(LEEWAY_SECS)) {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
