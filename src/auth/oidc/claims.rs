//! An ID token's claims to a gatehouse identity (SPEC §13): the username
//! from `username_claim` (else `email`, else `sub`), roles only through
//! `role_map` (else `default_roles`), the email-domain rule, and the id
//! `<provider id>:<sub>`. Pure: no I/O, tested below.

use serde_json::Value;

use super::settings::OidcProviderConfig;
use crate::auth::external::claims::{lookup, map_roles, role_values, Claims, MAX_CLAIM_LEN};
use crate::auth::RoleNames;

/// Who the provider says signed in, in gatehouse's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    /// `<provider id>:<sub>`.
    pub id: String,
    pub sub: String,
    /// The provider's session id (`sid`), for back-channel logout.
    pub sid: Option<String>,
    pub username: String,
    pub email: String,
    pub roles: Vec<String>,
}

/// Why a login's claims were refused (audit reason; one page for all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClaimRefusal {
    #[error("no usable sub")]
    NoSubject,
    #[error("malformed claim")]
    Malformed,
    #[error("email domain not allowed")]
    EmailDomain,
    #[error("email not verified")]
    EmailUnverified,
}

/// A short printable string claim, or None when absent; a claim that is
/// there but not such a string is malformed.
fn text<'a>(claims: &'a Claims, name: &str) -> Result<Option<&'a str>, ClaimRefusal> {
    match lookup(claims, name).map_err(|_| ClaimRefusal::Malformed)? {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s.len() <= MAX_CLAIM_LEN && !s.chars().any(char::is_control) => {
            Ok(Some(s))
        }
        Some(_) => Err(ClaimRefusal::Malformed),
    }
}

pub fn map_identity(
    cfg: &OidcProviderConfig,
    claims: &Claims,
    known: &RoleNames,
) -> Result<ProviderIdentity, ClaimRefusal> {
    let sub = text(claims, "sub")?.ok_or(ClaimRefusal::NoSubject)?;
    let email = text(claims, "email")?.unwrap_or("");
    if !cfg.allowed_email_domains.is_empty() {
        // SPEC §13: an unverified address proves nothing about its domain.
        if claims.get("email_verified") == Some(&Value::Bool(false)) {
            return Err(ClaimRefusal::EmailUnverified);
        }
        if !email_allowed(email, &cfg.allowed_email_domains) {
            return Err(ClaimRefusal::EmailDomain);
        }
    }
    let username = match text(claims, &cfg.username_claim)? {
        Some(u) => u,
        None if !email.is_empty() => email,
        None => sub,
    };
    let groups = match lookup(claims, &cfg.roles_claim).map_err(|_| ClaimRefusal::Malformed)? {
        Some(v) => role_values(v).map_err(|_| ClaimRefusal::Malformed)?,
        None => Vec::new(),
    };
    let mut roles = map_roles(&groups, Some(&cfg.role_map), known);
    if roles.is_empty() {
        roles = cfg
            .default_roles
            .iter()
            .filter(|r| known.contains(r))
            .cloned()
            .collect();
    }
    let sid = text(claims, "sid")?.map(str::to_owned);
    Ok(ProviderIdentity {
        id: format!("{}:{sub}", cfg.id),
        sub: sub.to_owned(),
        sid,
        username: username.to_owned(),
        email: email.to_owned(),
        roles,
    })
}

/// `example.com` matches exactly; `.example.com` any subdomain (not the
/// domain itself). Compared ASCII case-insensitively.
pub fn email_allowed(email: &str, allowed: &[String]) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    if local.is_empty() {
        return false;
    }
    let domain = domain.to_ascii_lowercase();
    allowed.iter().any(|a| match a.strip_prefix('.') {
        Some(parent) => domain
            .strip_suffix(parent)
            .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
        None => domain == *a,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn cfg() -> OidcProviderConfig {
        OidcProviderConfig {
            role_map: BTreeMap::from([
                ("idp-admins".to_owned(), "admin".to_owned()),
                ("staff".to_owned(), "user".to_owned()),
            ]),
            default_roles: vec!["guest".into()],
            ..OidcProviderConfig::example()
        }
    }

    fn known() -> RoleNames {
        RoleNames::new(["admin", "user", "guest"].map(String::from))
    }

    fn claims(v: serde_json::Value) -> Claims {
        serde_json::from_value(v).expect("claims")
    }

    #[test]
    fn groups_map_to_roles_and_id_is_provider_scoped() {
        let c = claims(
            json!({"sub": "42", "preferred_username": "alice", "email": "a@x.com",
            "groups": ["staff", "idp-admins", "other"], "sid": "s1"}),
        );
        let id = map_identity(&cfg(), &c, &known()).expect("ok");
        assert_eq!(id.id, "corp:42");
        assert_eq!(id.username, "alice");
        assert_eq!(id.roles, ["user", "admin"]);
        assert_eq!(id.sid.as_deref(), Some("s1"));
    }

    #[test]
    fn unmapped_groups_get_default_roles() {
        let c = claims(json!({"sub": "42", "groups": "nobody else"}));
        let id = map_identity(&cfg(), &c, &known()).expect("ok");
        assert_eq!(id.roles, ["guest"]);
        let c = claims(json!({"sub": "42"}));
        assert_eq!(
            map_identity(&cfg(), &c, &known()).expect("ok").roles,
            ["guest"]
        );
    }

    #[test]
    fn username_falls_back_to_email_then_sub() {
        let c = claims(json!({"sub": "42", "email": "a@x.com"}));
        assert_eq!(
            map_identity(&cfg(), &c, &known()).expect("ok").username,
            "a@x.com"
        );
        let c = claims(json!({"sub": "42"}));
        assert_eq!(
            map_identity(&cfg(), &c, &known()).expect("ok").username,
            "42"
        );
    }

    #[test]
    fn bad_claims_are_refused() {
        for c in [
            json!({}),
            json!({"sub": ""}),
            json!({"sub": 5}),
            json!({"sub": "1", "groups": 5}),
            json!({"sub": "1", "email": ["x"]}),
        ] {
            assert!(
                map_identity(&cfg(), &claims(c.clone()), &known()).is_err(),
                "{c}"
            );
        }
    }

    #[test]
    fn email_domains() {
        let mut cfg = cfg();
        cfg.allowed_email_domains = vec!["example.com".into(), ".corp.test".into()];
        let ok = |v| map_identity(&cfg, &claims(v), &known());
        assert!(ok(json!({"sub": "1", "email": "a@Example.com"})).is_ok());
        assert!(ok(json!({"sub": "1", "email": "a@eu.corp.test"})).is_ok());
        assert_eq!(
            ok(json!({"sub": "1", "email": "a@corp.test"})),
            Err(ClaimRefusal::EmailDomain)
        );
        assert_eq!(
            ok(json!({"sub": "1", "email": "a@evilexample.com"})),
            Err(ClaimRefusal::EmailDomain)
        );
        assert_eq!(ok(json!({"sub": "1"})), Err(ClaimRefusal::EmailDomain));
        assert_eq!(
            ok(json!({"sub": "1", "email": "a@example.com", "email_verified": false})),
            Err(ClaimRefusal::EmailUnverified)
        );
        assert!(email_allowed("a@x.corp.test", &[".corp.test".into()]));
        assert!(!email_allowed("a@xcorp.test", &[".corp.test".into()]));
        assert!(!email_allowed("@example.com", &["example.com".into()]));
    }
}
