//! `[[oidc]]` providers (SPEC §13), checked so that `gatehouse check`
//! catches what would break or weaken the login: a missing or duplicate id,
//! an issuer over plain http from afar, a client secret variable that is
//! not set, a role that does not exist, a malformed email domain.

use std::collections::HashMap;

use toml::Spanned;

use super::issuers::check_https_or_loopback;
use super::Compiler;
use crate::auth::oidc::settings::{ClientSecret, OidcProviderConfig};
use crate::config::raw::{RawOidc, Str};
use crate::policy::Roles;

const DEFAULT_SCOPES: &[&str] = &["openid", "email", "profile"];
const DEFAULT_USERNAME_CLAIM: &str = "preferred_username";
const DEFAULT_ROLES_CLAIM: &str = "groups";

impl Compiler<'_> {
    pub(super) fn oidc(
        &mut self,
        raw: Option<Vec<Spanned<RawOidc>>>,
        roles: &Roles,
    ) -> Vec<OidcProviderConfig> {
        let mut out = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (index, entry) in raw.unwrap_or_default().into_iter().enumerate() {
            let span = entry.span();
            let prefix = format!("oidc[{index}]");
            let r = entry.into_inner();
            if let Some(v) = &r.id {
                let line = self.d.line_of(v.span().start);
                if let Some(first) = seen.get(v.get_ref()) {
                    let msg = format!("{:?} is already a provider at line {first}", v.get_ref());
                    self.d.at(v.span(), format!("{prefix}.id"), msg);
                }
                seen.entry(v.get_ref().clone()).or_insert(line);
            }
            if let Some(p) = self.oidc_provider(&prefix, r, span, roles) {
                out.push(p);
            }
        }
        out
    }

    fn oidc_provider(
        &mut self,
        prefix: &str,
        r: RawOidc,
        span: std::ops::Range<usize>,
        roles: &Roles,
    ) -> Option<OidcProviderConfig> {
        let before = self.d.len();
        let key = |k: &str| format!("{prefix}.{k}");
        let id = self.required(r.id.as_ref(), span.clone(), &key("id"), "id = \"corp\"");
        if let (Some(v), Some(id)) = (&r.id, &id) {
            if let Err(e) = check_id(id) {
                self.d.at(v.span(), key("id"), e);
            }
        }
        let issuer = self.required(
            r.issuer.as_ref(),
            span.clone(),
            &key("issuer"),
            "issuer = \"https://idp.example.com\"",
        );
        if let (Some(v), Some(issuer)) = (&r.issuer, &issuer) {
            if let Err(e) = check_https_or_loopback(issuer) {
                self.d.at(v.span(), key("issuer"), e);
            }
        }
        let client_id = self.required(
            r.client_id.as_ref(),
            span.clone(),
            &key("client_id"),
            "client_id = \"gatehouse\"",
        );
        let client_secret = r
            .client_secret_env
            .as_ref()
            .and_then(|v| self.env_secret(v, &key("client_secret_env")))
            .map(ClientSecret);
        let scopes = self.scopes(r.scopes.as_ref(), &key("scopes"));
        let username_claim = self.claim_name(
            r.username_claim.as_ref(),
            &key("username_claim"),
            DEFAULT_USERNAME_CLAIM,
        );
        let roles_claim = self.claim_name(
            r.roles_claim.as_ref(),
            &key("roles_claim"),
            DEFAULT_ROLES_CLAIM,
        );
        let role_map = r
            .role_map
            .as_ref()
            .map(|m| self.role_map(m, &key("role_map"), roles))
            .unwrap_or_default();
        let mut default_roles = Vec::new();
        for (i, v) in r.default_roles.iter().flatten().enumerate() {
            if roles.contains(v.get_ref()) {
                default_roles.push(v.get_ref().clone());
            } else {
                let msg = format!("unknown role {:?}; must be a [roles] entry", v.get_ref());
                self.d
                    .at(v.span(), format!("{}[{i}]", key("default_roles")), msg);
            }
        }
        let mut allowed_email_domains = Vec::new();
        for (i, v) in r.allowed_email_domains.iter().flatten().enumerate() {
            match check_domain(v.get_ref()) {
                Ok(d) => allowed_email_domains.push(d),
                Err(e) => self.d.at(
                    v.span(),
                    format!("{}[{i}]", key("allowed_email_domains")),
                    e,
                ),
            }
        }
        let post_logout_redirect = self.non_empty(
            r.post_logout_redirect.as_ref(),
            &key("post_logout_redirect"),
            "/",
        );
        let ca_file = r
            .ca_file
            .as_ref()
            .map(|v| self.readable_file(v, &key("ca_file")));
        if self.d.len() > before {
            return None;
        }
        let id = id?;
        Some(OidcProviderConfig {
            name: r
                .name
                .as_ref()
                .map(|v| v.get_ref().clone())
                .unwrap_or_else(|| id.clone()),
            id,
            issuer: issuer?,
            client_id: client_id?,
            client_secret,
            scopes,
            username_claim,
            roles_claim,
            role_map,
            default_roles,
            allowed_email_domains,
            post_logout_redirect,
            ca_file,
            link_local: r.link_local.unwrap_or(false),
        })
    }

    /// `scopes` must ask for `openid` (else no ID token comes back).
    fn scopes(&mut self, v: Option<&Spanned<Vec<Str>>>, key: &str) -> Vec<String> {
        let Some(list) = v else {
            return DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect();
        };
        let scopes: Vec<String> = list.get_ref().iter().map(|s| s.get_ref().clone()).collect();
        if !scopes.iter().any(|s| s == "openid") {
            self.d.at(
                list.span(),
                key,
                "must include \"openid\" (no ID token without it)",
            );
        }
        for (i, s) in list.get_ref().iter().enumerate() {
            if s.get_ref().is_empty() || s.get_ref().contains(char::is_whitespace) {
                self.d
                    .at(s.span(), format!("{key}[{i}]"), "a scope is one word");
            }
        }
        scopes
    }
}

/// SPEC §13: `[a-z0-9-]+`, since it is a URL path segment.
pub(super) fn check_id(id: &str) -> Result<(), String> {
    if !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Ok(())
    } else {
        Err(format!(
            "{id:?}: use 1 to 64 of a-z, 0-9 and -, e.g. \"corp\""
        ))
    }
}

/// "example.com" (exactly) or ".example.com" (its subdomains), lower-cased.
pub(super) fn check_domain(d: &str) -> Result<String, String> {
    let lower = d.to_ascii_lowercase();
    let name = lower.strip_prefix('.').unwrap_or(&lower);
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if ok {
        Ok(lower)
    } else {
        Err(format!(
            "{d:?} is not a domain; write \"example.com\" (exactly) or \".example.com\" (subdomains)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["corp", "a-1", "x"] {
            assert!(check_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Corp", "a_b", "a/b", "a b", "é"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn domains() {
        assert_eq!(check_domain("Example.com").as_deref(), Ok("example.com"));
        assert_eq!(check_domain(".example.com").as_deref(), Ok(".example.com"));
        for bad in [
            "",
            ".",
            "..example.com",
            "example..com",
            "a b.com",
            "@x.com",
            "x.com.",
        ] {
            assert!(check_domain(bad).is_err(), "{bad}");
        }
    }
}
