//! OpenID Connect Back-Channel Logout 1.0 logout tokens (SPEC §13): the
//! signature by the provider's keys (the shared JWKS code of
//! `auth::external`, since the `openidconnect` crate has no logout-token
//! support), then `iss`, `aud`, `iat`, `exp` when present, the logout
//! `events` member, `sid` or `sub`, and no `nonce`. The `jti` replay check
//! needs the store and is the caller's.

use serde_json::Value;

use super::provider::{LEEWAY, LOGOUT_TOKEN_ALGS};
use super::settings::OidcProviderConfig;
use crate::auth::external::claims::Claims;
use crate::auth::external::jwks::IssuerKeys;
use crate::auth::external::verify_signature;
use crate::auth::tokens::TokenError;

pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How old a logout token may be (its `iat`): the provider sends it at
/// once; a replay of an old one is refused even after its `jti` is
/// forgotten (the `jti` is kept this long).
pub const MAX_AGE_SECS: i64 = 600;

/// What a valid logout token asks to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    pub jti: String,
    pub sid: Option<String>,
    pub sub: Option<String>,
}

/// Why a logout token was refused (logged; the answer is one 400).
#[derive(Debug, thiserror::Error)]
pub enum LogoutTokenError {
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("claim {0} missing or wrong")]
    Claim(&'static str),
}

/// Check `token`; `Err(Token(UnknownKid))` lets the caller fetch the keys
/// again and retry.
pub fn check(
    cfg: &OidcProviderConfig,
    keys: &IssuerKeys,
    token: &str,
    now: i64,
) -> Result<LogoutRequest, LogoutTokenError> {
    let claims = verify_signature(token, keys, LOGOUT_TOKEN_ALGS, &["logout+jwt", "JWT"])?;
    check_claims(cfg, &claims, now)
}

fn check_claims(
    cfg: &OidcProviderConfig,
    claims: &Claims,
    now: i64,
) -> Result<LogoutRequest, LogoutTokenError> {
    let leeway = LEEWAY.as_secs() as i64;
    let string = |name: &'static str| match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(LogoutTokenError::Claim(name)),
    };
    if string("iss")?.as_deref() != Some(cfg.issuer.as_str()) {
        return Err(LogoutTokenError::Claim("iss"));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => *a == cfg.client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(&cfg.client_id)),
        _ => false,
    };
    if !aud_ok {
        return Err(LogoutTokenError::Claim("aud"));
    }
    match claims.get("iat").and_then(Value::as_i64) {
        Some(iat) if iat <= now + leeway && iat >= now - MAX_AGE_SECS => {}
        _ => return Err(LogoutTokenError::Claim("iat")),
    }
    match claims.get("exp") {
        None => {}
        Some(v) => match v.as_i64() {
            Some(exp) if exp + leeway > now => {}
            _ => return Err(LogoutTokenError::Claim("exp")),
        },
    }
    let event_ok = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|e| e.get(LOGOUT_EVENT))
        .is_some_and(Value::is_object);
    if !event_ok {
        return Err(LogoutTokenError::Claim("events"));
    }
    // A nonce would make it an ID token in disguise (spec §2.6).
    if claims.contains_key("nonce") {
        return Err(LogoutTokenError::Claim("nonce"));
    }
    let jti = string("jti")?.ok_or(LogoutTokenError::Claim("jti"))?;
    let sid = string("sid")?;
    let sub = string("sub")?;
    if sid.is_none() && sub.is_none() {
        return Err(LogoutTokenError::Claim("sid"));
    }
    Ok(LogoutRequest { jti, sid, sub })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cfg() -> OidcProviderConfig {
        OidcProviderConfig::example()
    }

    fn good() -> serde_json::Value {
        json!({"iss": "https://idp.example.com", "aud": "gh", "iat": 1000, "jti": "j1",
            "sid": "s1", "events": {LOGOUT_EVENT: {}}})
    }

    fn run(v: serde_json::Value) -> Result<LogoutRequest, LogoutTokenError> {
        let c: Claims = serde_json::from_value(v).expect("claims");
        check_claims(&cfg(), &c, 1001)
    }

    #[test]
    fn a_good_token_passes() {
        let r = run(good()).expect("ok");
        assert_eq!(r.sid.as_deref(), Some("s1"));
        assert_eq!(r.sub, None);
        assert_eq!(r.jti, "j1");
    }

    #[test]
    fn each_rule_refuses() {
        let cases: Vec<(&str, serde_json::Value)> = vec![
            ("iss", json!("https://other")),
            ("aud", json!("someone-else")),
            ("iat", json!(5000)),
            ("iat", json!(1)),
            ("exp", json!(900)),
            ("events", json!({"other": {}})),
            ("nonce", json!("n")),
            ("jti", json!(null)),
        ];
        for (name, value) in cases {
            let mut v = good();
            if value.is_null() {
                v.as_object_mut().map(|o| o.remove(name));
            } else {
                v[name] = value;
            }
            assert!(run(v).is_err(), "{name}");
        }
        let mut v = good();
        v.as_object_mut().map(|o| o.remove("sid"));
        assert!(run(v).is_err(), "neither sid nor sub");
        let mut v = good();
        v["aud"] = json!(["x", "gh"]);
        assert!(run(v).is_ok(), "aud array containing client_id");
    }
}
