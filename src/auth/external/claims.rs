//! The claims of a trusted issuer's token, after its signature checked out:
//! `iss`, `aud`, `exp`, `nbf`, and the identity they describe (`sub`,
//! username, email, roles mapped onto gatehouse's `[roles]`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::auth::identity::{AuthMethod, Identity};
use crate::auth::settings::TrustedIssuerConfig;
use crate::auth::tokens::{TokenError, LEEWAY_SECS};
use crate::auth::RoleNames;

/// Longest `sub`, username or email taken from a token: far above real ones,
/// small enough for headers and logs.
pub const MAX_CLAIM_LEN: usize = 512;

/// The payload, as a JSON object whose top-level members are unique.
pub type Claims = BTreeMap<String, Value>;

/// `iss`, `aud`, `exp` (required) and `nbf` (if present), with a few seconds
/// of clock skew.
pub fn check_registered(
    cfg: &TrustedIssuerConfig,
    claims: &Claims,
    now: i64,
) -> Result<(), TokenError> {
    if claims.get("iss").and_then(Value::as_str) != Some(cfg.issuer.as_str()) {
        return Err(TokenError::Issuer);
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => *a == cfg.audience,
        Some(Value::Array(list)) => list
            .iter()
            .any(|a| a.as_str() == Some(cfg.audience.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err(TokenError::Audience);
    }
    let exp = claims
        .get("exp")
        .and_then(numeric_date)
        .ok_or(TokenError::Malformed)?;
    if now >= exp.saturating_add(LEEWAY_SECS) {
        return Err(TokenError::Expired);
    }
    match claims.get("nbf") {
        None => {}
        Some(v) => {
            let nbf = numeric_date(v).ok_or(TokenError::Malformed)?;
            if nbf > now.saturating_add(LEEWAY_SECS) {
                return Err(TokenError::NotYetValid);
            }
        }
    }
    Ok(())
}

/// RFC 7519 NumericDate: seconds, possibly fractional.
fn numeric_date(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.floor() as i64)),
        _ => None,
    }
}

/// The identity a verified token stands for. No session: `sid` is `None`.
///
/// Every identity claim is checked for what it must be before anything is
/// taken from it (issue 10, point 8): a claim of the wrong JSON type, or a
/// value that could not be sent in an identity header as it is, makes the
/// whole token invalid, never an identity with a header quietly left out.
/// Absent optional claims (email, `email_verified`, roles) are fine.
pub fn identity(
    cfg: &TrustedIssuerConfig,
    claims: &Claims,
    known: &RoleNames,
) -> Result<Identity, TokenError> {
    let sub = header_text(claims.get("sub"), "sub")?;
    // The configured username claim must be there: the upstream would
    // otherwise see an identity in some other namespace.
    let username = header_text(lookup(claims, &cfg.username_claim)?, "username")?;
    // An address the IdP itself says it has not verified is not vouched for;
    // only a JSON boolean says so (`"false"` is not `false`).
    let verified = match claims.get("email_verified") {
        None | Some(Value::Bool(true)) => true,
        Some(Value::Bool(false)) => false,
        Some(_) => return Err(TokenError::Claim("email_verified is not a boolean")),
    };
    let email = match lookup(claims, &cfg.email_claim)? {
        None => "",
        Some(v) => {
            let e = header_text(Some(v), "email")?;
            if !e.contains('@') {
                return Err(TokenError::Claim("email is not an email address"));
            }
            e
        }
    };
    let values = match lookup(claims, &cfg.roles_claim)? {
        None => Vec::new(),
        Some(v) => role_values(v)?,
    };
    Ok(Identity::new(
        sub.to_owned(),
        username.to_owned(),
        if verified {
            email.to_owned()
        } else {
            String::new()
        },
        map_roles(&values, cfg.role_map.as_ref(), known),
        None,
        AuthMethod::Bearer,
    ))
}

/// A claim that goes into an identity header as it is (`sub` as the id, the
/// username, the email): a string of 1 to `MAX_CLAIM_LEN` visible ASCII
/// characters, the same rule as the users file's (no spaces, no control
/// characters: a header value has no agreed encoding for anything else).
fn header_text<'a>(v: Option<&'a Value>, what: &'static str) -> Result<&'a str, TokenError> {
    let bad = || TokenError::Claim(what);
    let s = v.ok_or_else(bad)?.as_str().ok_or_else(bad)?;
    let ok = !s.is_empty() && s.len() <= MAX_CLAIM_LEN && s.bytes().all(|b| b.is_ascii_graphic());
    ok.then_some(s).ok_or_else(bad)
}

/// A claim by name: the top-level member of exactly that name first (for
/// namespaced claims like `https://example.com/roles`), else a dotted path
/// through nested objects (`realm_access.roles`). A member missing along the
/// path is an absent claim; one that is there but not an object cannot be
/// followed, and makes the token invalid.
pub fn lookup<'a>(claims: &'a Claims, path: &str) -> Result<Option<&'a Value>, TokenError> {
    if let Some(v) = claims.get(path) {
        return Ok(Some(v));
    }
    let mut parts = path.split('.');
    let Some(mut cur) = parts.next().and_then(|first| claims.get(first)) else {
        return Ok(None);
    };
    for part in parts {
        let object = cur
            .as_object()
            .ok_or(TokenError::Claim("a claim path that is not an object"))?;
        match object.get(part) {
            Some(next) => cur = next,
            None => return Ok(None),
        }
    }
    Ok(Some(cur))
}

/// Role values from an array of strings or from one string separated by
/// spaces and/or commas. Anything else (another type, an item that is not a
/// string, an empty, over-long or control-character value) makes the token
/// invalid. Values may be any other text: they are only looked up, and only
/// `[roles]` names (ASCII, checked at load) ever reach a header, so an IdP
/// group named in another script still maps through `role_map`.
pub fn role_values(v: &Value) -> Result<Vec<&str>, TokenError> {
    let bad = || TokenError::Claim("roles");
    let checked = |s: &str| {
        let ok = !s.is_empty() && s.len() <= MAX_CLAIM_LEN && !s.chars().any(char::is_control);
        if ok {
            Ok(())
        } else {
            Err(bad())
        }
    };
    match v {
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let s = item.as_str().ok_or_else(bad)?;
                checked(s).map(|()| s)
            })
            .collect(),
        Value::String(s) => {
            checked(s)?;
            Ok(s.split([' ', ',']).filter(|r| !r.is_empty()).collect())
        }
        _ => Err(bad()),
    }
}

/// IdP values to gatehouse roles: through `role_map` when there is one
/// (then an unmapped value counts for nothing), as they are otherwise; only
/// names of current `[roles]` entries survive, each once, in claim order.
pub fn map_roles(
    values: &[&str],
    role_map: Option<&BTreeMap<String, String>>,
    known: &RoleNames,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        let role = match role_map {
            Some(map) => match map.get(*value) {
                Some(role) => role.as_str(),
                None => continue,
            },
            None => value,
        };
        if known.contains(role) && !out.iter().any(|r| r == role) {
            out.push(role.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests;
