//! The claims of a trusted issuer's token, after its signature checked out:
//! `iss`, `aud`, `exp`, `nbf`, and the identity they describe (`sub`,
//! username, email, roles mapped onto gatehouse's `[roles]`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::auth::identity::{AuthMethod, Identity};
use crate::auth::tokens::{TokenError, LEEWAY_SECS};
use crate::config::TrustedIssuerConfig;
use crate::policy::Roles;

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
pub fn identity(
    cfg: &TrustedIssuerConfig,
    claims: &Claims,
    known: &Roles,
) -> Result<Identity, TokenError> {
    let sub = text(claims.get("sub")).ok_or(TokenError::Malformed)?;
    // The configured username claim must be there: the upstream would
    // otherwise see an identity in some other namespace.
    let username = text(lookup(claims, &cfg.username_claim)).ok_or(TokenError::Malformed)?;
    // An address the IdP itself says it has not verified is not vouched for.
    let unverified = claims.get("email_verified") == Some(&Value::Bool(false));
    let email = match text(lookup(claims, &cfg.email_claim)) {
        Some(e) if !unverified => e.to_owned(),
        _ => String::new(),
    };
    let values = lookup(claims, &cfg.roles_claim)
        .map(role_values)
        .unwrap_or_default();
    Ok(Identity {
        user_id: sub.to_owned(),
        username: username.to_owned(),
        email,
        roles: map_roles(&values, cfg.role_map.as_ref(), known),
        sid: None,
        method: AuthMethod::Bearer,
    })
}

/// A non-empty string claim without control characters, of sane length.
fn text(v: Option<&Value>) -> Option<&str> {
    let s = v?.as_str()?;
    let ok = !s.is_empty() && s.len() <= MAX_CLAIM_LEN && !s.chars().any(char::is_control);
    ok.then_some(s)
}

/// A claim by name: the top-level member of exactly that name first (for
/// namespaced claims like `https://example.com/roles`), else a dotted path
/// through nested objects (`realm_access.roles`).
pub fn lookup<'a>(claims: &'a Claims, path: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut cur = claims.get(parts.next()?)?;
    for part in parts {
        cur = cur.as_object()?.get(part)?;
    }
    Some(cur)
}

/// Role values from an array of strings (other items ignored) or from one
/// string separated by spaces and/or commas.
pub fn role_values(v: &Value) -> Vec<&str> {
    match v {
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        Value::String(s) => s.split([' ', ',']).filter(|r| !r.is_empty()).collect(),
        _ => Vec::new(),
    }
}

/// IdP values to gatehouse roles: through `role_map` when there is one
/// (then an unmapped value counts for nothing), as they are otherwise; only
/// names of current `[roles]` entries survive, each once, in claim order.
pub fn map_roles(
    values: &[&str],
    role_map: Option<&BTreeMap<String, String>>,
    known: &Roles,
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
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::auth::external::jwks::IssuerKeys;
    use crate::config::JwksSource;

    fn roles() -> Roles {
        Roles::new(HashMap::from([
            ("admin".to_owned(), vec!["*".to_owned()]),
            ("editor".to_owned(), vec!["posts:write".to_owned()]),
            ("user".to_owned(), vec!["posts:read".to_owned()]),
        ]))
    }

    fn cfg(roles_claim: &str, role_map: Option<&[(&str, &str)]>) -> TrustedIssuerConfig {
        TrustedIssuerConfig {
            issuer: "https://idp".into(),
            audience: "apps".into(),
            jwks: JwksSource::File {
                path: "jwks.json".into(),
                keys: Arc::new(IssuerKeys::default()),
            },
            algorithms: vec![jsonwebtoken::Algorithm::RS256],
            roles_claim: roles_claim.into(),
            role_map: role_map.map(|m| {
                m.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }),
            username_claim: "preferred_username".into(),
            email_claim: "email".into(),
        }
    }

    fn claims(v: Value) -> Claims {
        serde_json::from_value(v).unwrap()
    }

    /// A role_map as written in a test case.
    type Map<'a> = &'a [(&'a str, &'a str)];

    #[test]
    fn roles_from_claims_table() {
        let map: &[(&str, &str)] = &[
            ("idp-admins", "admin"),
            ("writers", "editor"),
            ("ghost", "nope"),
        ];
        let cases: Vec<(&str, Option<Map>, Value, Vec<&str>)> = vec![
            (
                "roles",
                None,
                json!({"roles": ["admin", "user"]}),
                vec!["admin", "user"],
            ),
            // Unknown names are dropped, duplicates kept once, non-strings ignored.
            (
                "roles",
                None,
                json!({"roles": ["user", "root", 7, "user"]}),
                vec!["user"],
            ),
            (
                "roles",
                None,
                json!({"roles": "user admin"}),
                vec!["user", "admin"],
            ),
            (
                "roles",
                None,
                json!({"roles": "user,admin, editor"}),
                vec!["user", "admin", "editor"],
            ),
            ("roles", None, json!({"roles": {"admin": true}}), vec![]),
            ("roles", None, json!({}), vec![]),
            (
                "realm_access.roles",
                None,
                json!({"realm_access": {"roles": ["editor"]}}),
                vec!["editor"],
            ),
            (
                "realm_access.roles",
                None,
                json!({"realm_access": ["editor"]}),
                vec![],
            ),
            (
                "a.b.c",
                None,
                json!({"a": {"b": {"c": "admin"}}}),
                vec!["admin"],
            ),
            // A namespaced claim whose name has dots is found as a whole.
            (
                "https://example.com/roles",
                None,
                json!({"https://example.com/roles": ["user"]}),
                vec!["user"],
            ),
            // With a map, only mapped values count; a target that is not a
            // role (after a reload, say) is dropped too.
            (
                "groups",
                Some(map),
                json!({"groups": ["idp-admins", "admin", "ghost"]}),
                vec!["admin"],
            ),
            (
                "groups",
                Some(map),
                json!({"groups": "writers idp-admins"}),
                vec!["editor", "admin"],
            ),
            ("groups", Some(&[]), json!({"groups": ["admin"]}), vec![]),
        ];
        for (claim, map, c, want) in cases {
            let mut all = json!({"sub": "s", "preferred_username": "u"});
            for (k, v) in c.as_object().unwrap() {
                all[k] = v.clone();
            }
            let id = identity(&cfg(claim, map), &claims(all), &roles()).unwrap();
            assert_eq!(id.roles, want, "{claim} {c}");
        }
    }

    #[test]
    fn identity_fields() {
        let c = cfg("roles", None);
        let id = identity(
            &c,
            &claims(
                json!({"sub": "0f1e", "preferred_username": "ann", "email": "ann@example.com"}),
            ),
            &roles(),
        )
        .unwrap();
        assert_eq!(
            (id.user_id.as_str(), id.username.as_str(), id.email.as_str()),
            ("0f1e", "ann", "ann@example.com")
        );
        assert_eq!((id.sid, id.method), (None, AuthMethod::Bearer));

        let unverified = json!({"sub": "s", "preferred_username": "ann", "email": "a@x", "email_verified": false});
        assert_eq!(
            identity(&c, &claims(unverified), &roles()).unwrap().email,
            ""
        );
        let verified = json!({"sub": "s", "preferred_username": "ann", "email": "a@x", "email_verified": true});
        assert_eq!(
            identity(&c, &claims(verified), &roles()).unwrap().email,
            "a@x"
        );

        for bad in [
            json!({"preferred_username": "ann"}),
            json!({"sub": "", "preferred_username": "ann"}),
            json!({"sub": 5, "preferred_username": "ann"}),
            json!({"sub": "s"}),
            json!({"sub": "s", "preferred_username": "a\nb"}),
            json!({"sub": "s", "preferred_username": "x".repeat(MAX_CLAIM_LEN + 1)}),
        ] {
            assert_eq!(
                identity(&c, &claims(bad.clone()), &roles()),
                Err(TokenError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn registered_claims_table() {
        let c = cfg("roles", None);
        let now = 1_700_000_000;
        let base = json!({"iss": "https://idp", "aud": "apps", "exp": now + 60});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            claims(b)
        };
        let without = |k: &str| {
            let mut b = base.clone();
            b.as_object_mut().unwrap().remove(k);
            claims(b)
        };
        let cases: Vec<(Claims, Result<(), TokenError>)> = vec![
            (claims(base.clone()), Ok(())),
            (with("aud", json!(["other", "apps"])), Ok(())),
            (with("exp", json!(now as f64 + 0.5)), Ok(())),
            (with("exp", json!(now - LEEWAY_SECS + 1)), Ok(())),
            (with("nbf", json!(now + LEEWAY_SECS)), Ok(())),
            (with("iss", json!("https://idp/")), Err(TokenError::Issuer)),
            (without("iss"), Err(TokenError::Issuer)),
            (with("aud", json!("other")), Err(TokenError::Audience)),
            (with("aud", json!(["other"])), Err(TokenError::Audience)),
            (without("aud"), Err(TokenError::Audience)),
            (
                with("exp", json!(now - LEEWAY_SECS)),
                Err(TokenError::Expired),
            ),
            (without("exp"), Err(TokenError::Malformed)),
            (with("exp", json!("tomorrow")), Err(TokenError::Malformed)),
            (
                with("nbf", json!(now + LEEWAY_SECS + 1)),
                Err(TokenError::NotYetValid),
            ),
            (with("nbf", json!(null)), Err(TokenError::Malformed)),
        ];
        for (claims, want) in cases {
            assert_eq!(check_registered(&c, &claims, now), want, "{claims:?}");
        }
    }
}
