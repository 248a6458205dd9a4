//! `[[tokens.trusted_issuers]]`: external identity providers whose JWTs are
//! accepted. Checked here so that `gatehouse check` catches what would
//! weaken verification: a symmetric algorithm (anyone holding the secret, or
//! the public key in an HS256 confusion, could sign), an issuer that
//! collides with ours or another, a JWKS fetched over plain HTTP from afar,
//! a role_map target that is no role. A `jwks_file` is parsed now.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use toml::Spanned;

use super::Compiler;
use crate::auth::external::fetch::MAX_JWKS_BYTES;
use crate::auth::external::jwks::parse_jwks;
use crate::config::raw::{RawTrustedIssuer, Str};
use crate::config::{JwksSource, TrustedIssuerConfig};
use crate::policy::Roles;

const DEFAULT_ROLES_CLAIM: &str = "roles";
const DEFAULT_USERNAME_CLAIM: &str = "sub";
const DEFAULT_EMAIL_CLAIM: &str = "email";
const DEFAULT_REFRESH: Duration = Duration::from_secs(10 * 60);
const MIN_REFRESH: Duration = Duration::from_secs(1);

/// The algorithms a trusted issuer may use, by their JOSE names.
const ASYMMETRIC: &[(&str, Algorithm)] = &[
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("PS256", Algorithm::PS256),
    ("PS384", Algorithm::PS384),
    ("PS512", Algorithm::PS512),
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("EdDSA", Algorithm::EdDSA),
];

impl Compiler<'_> {
    pub(super) fn trusted_issuers(
        &mut self,
        raw: Option<Vec<Spanned<RawTrustedIssuer>>>,
        own_issuer: &str,
        roles: &Roles,
    ) -> Vec<TrustedIssuerConfig> {
        let mut out = Vec::new();
        // issuer -> line of its first entry
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (index, entry) in raw.unwrap_or_default().into_iter().enumerate() {
            let span = entry.span();
            let prefix = format!("tokens.trusted_issuers[{index}]");
            let r = entry.into_inner();
            if let Some(v) = &r.issuer {
                let line = self.d.line_of(v.span().start);
                if let Some(first) = seen.get(v.get_ref()) {
                    let msg = format!("{:?} is already trusted at line {first}", v.get_ref());
                    self.d.at(v.span(), format!("{prefix}.issuer"), msg);
                }
                seen.entry(v.get_ref().clone()).or_insert(line);
            }
            if let Some(issuer) = self.trusted_issuer(&prefix, r, span, own_issuer, roles) {
                out.push(issuer);
            }
        }
        out
    }

    /// One entry, or `None` if it has problems (all of them reported).
    fn trusted_issuer(
        &mut self,
        prefix: &str,
        r: RawTrustedIssuer,
        span: Range<usize>,
        own_issuer: &str,
        roles: &Roles,
    ) -> Option<TrustedIssuerConfig> {
        let before = self.d.len();
        let key = |k: &str| format!("{prefix}.{k}");
        let issuer = self.required(
            r.issuer.as_ref(),
            span.clone(),
            &key("issuer"),
            "issuer = \"https://idp.example.com\" (the exact iss of its tokens)",
        );
        if let (Some(v), Some(issuer)) = (&r.issuer, &issuer) {
            if issuer == own_issuer {
                let msg = "is gatehouse's own [tokens] issuer; a trusted issuer must differ";
                self.d.at(v.span(), key("issuer"), msg);
            }
        }
        let audience = self.required(
            r.audience.as_ref(),
            span.clone(),
            &key("audience"),
            "audience = \"...\" (the aud its tokens must carry)",
        );
        let algorithms =
            self.issuer_algorithms(r.algorithms.as_ref(), span.clone(), &key("algorithms"));
        let jwks = self.jwks_source(&r, span, prefix, &algorithms);
        let roles_claim = self.claim_name(
            r.roles_claim.as_ref(),
            &key("roles_claim"),
            DEFAULT_ROLES_CLAIM,
        );
        let username_claim = self.claim_name(
            r.username_claim.as_ref(),
            &key("username_claim"),
            DEFAULT_USERNAME_CLAIM,
        );
        let email_claim = self.claim_name(
            r.email_claim.as_ref(),
            &key("email_claim"),
            DEFAULT_EMAIL_CLAIM,
        );
        let role_map = r
            .role_map
            .as_ref()
            .map(|map| self.role_map(map, &key("role_map"), roles));
        if self.d.len() > before {
            return None;
        }
        Some(TrustedIssuerConfig {
            issuer: issuer?,
            audience: audience?,
            jwks: jwks?,
            algorithms,
            roles_claim,
            role_map,
            username_claim,
            email_claim,
        })
    }

    /// A required, non-empty string without edge spaces.
    pub(super) fn required(
        &mut self,
        v: Option<&Str>,
        span: Range<usize>,
        key: &str,
        example: &str,
    ) -> Option<String> {
        match v {
            None => {
                self.d.at(span, key, format!("missing: {example}"));
                None
            }
            Some(v) if v.get_ref().trim().is_empty() || v.get_ref().trim() != v.get_ref() => {
                self.d.at(
                    v.span(),
                    key,
                    "must be non-empty, without leading or trailing spaces",
                );
                None
            }
            Some(v) => Some(v.get_ref().clone()),
        }
    }

    fn issuer_algorithms(
        &mut self,
        v: Option<&Spanned<Vec<Str>>>,
        span: Range<usize>,
        key: &str,
    ) -> Vec<Algorithm> {
        let Some(list) = v else {
            self.d.at(span, key, "missing: algorithms = [\"RS256\"] (the IdP's signing algorithms; never taken from the token)");
            return Vec::new();
        };
        if list.get_ref().is_empty() {
            self.d.at(
                list.span(),
                key,
                "empty: name the IdP's signing algorithms, e.g. [\"RS256\"]",
            );
        }
        let mut out = Vec::new();
        for (i, name) in list.get_ref().iter().enumerate() {
            let n = name.get_ref().as_str();
            match ASYMMETRIC.iter().find(|(jose, _)| *jose == n) {
                Some((_, alg)) => {
                    if !out.contains(alg) {
                        out.push(*alg);
                    }
                }
                None => {
                    let why = if n.starts_with("HS") {
                        format!("{n:?} is symmetric: whoever holds the secret can mint tokens, and an HMAC keyed with a public key is the classic algorithm-confusion forgery; use the IdP's asymmetric keys")
                    } else {
                        let names: Vec<&str> = ASYMMETRIC.iter().map(|(j, _)| *j).collect();
                        format!("unknown algorithm {n:?}; use one of {}", names.join(", "))
                    };
                    self.d.at(name.span(), format!("{key}[{i}]"), why);
                }
            }
        }
        out
    }

    /// Exactly one of `jwks_file` and `jwks_url`; `refresh` only with the URL.
    fn jwks_source(
        &mut self,
        r: &RawTrustedIssuer,
        span: Range<usize>,
        prefix: &str,
        algorithms: &[Algorithm],
    ) -> Option<JwksSource> {
        let key = |k: &str| format!("{prefix}.{k}");
        match (&r.jwks_file, &r.jwks_url) {
            (Some(_), Some(url)) => {
                self.d.at(
                    url.span(),
                    key("jwks_url"),
                    "give either jwks_file or jwks_url, not both",
                );
                None
            }
            (None, None) => {
                self.d.at(span, key("jwks_file"), "missing: jwks_file = \"idp-jwks.json\" or jwks_url = \"https://.../jwks.json\"");
                None
            }
            (Some(file), None) => {
                if let Some(v) = &r.refresh {
                    self.d.at(
                        v.span(),
                        key("refresh"),
                        "only for jwks_url; a jwks_file is read once at start",
                    );
                }
                self.jwks_file(file, &key("jwks_file"), algorithms)
            }
            (None, Some(url)) => {
                let refresh = self.duration(r.refresh.as_ref(), &key("refresh"), DEFAULT_REFRESH);
                if let Some(v) = &r.refresh {
                    if refresh < MIN_REFRESH {
                        self.d.at(v.span(), key("refresh"), "at least 1s");
                    }
                }
                match check_jwks_url(url.get_ref()) {
                    Ok(()) => Some(JwksSource::Url {
                        url: url.get_ref().clone(),
                        refresh,
                    }),
                    Err(e) => {
                        self.d.at(url.span(), key("jwks_url"), e);
                        None
                    }
                }
            }
        }
    }

    /// Read and parse the file now: a bad JWKS fails `check` and start-up.
    fn jwks_file(&mut self, v: &Str, key: &str, algorithms: &[Algorithm]) -> Option<JwksSource> {
        let before = self.d.len();
        let path = self.readable_file(v, key);
        if self.d.len() > before {
            return None;
        }
        let bytes = match std::fs::metadata(&path) {
            Ok(m) if m.len() > MAX_JWKS_BYTES as u64 => {
                Err(format!("larger than {MAX_JWKS_BYTES} bytes"))
            }
            _ => std::fs::read(&path).map_err(|e| format!("cannot be read: {e}")),
        };
        // Without valid algorithms (reported already) every key would misfit.
        if algorithms.is_empty() {
            return None;
        }
        match bytes.and_then(|b| parse_jwks(&b, algorithms)) {
            Ok(parsed) => Some(JwksSource::File {
                path,
                keys: Arc::new(parsed.keys),
            }),
            Err(e) => {
                self.d.at(v.span(), key, format!("{}: {e}", path.display()));
                None
            }
        }
    }

    pub(super) fn claim_name(&mut self, v: Option<&Str>, key: &str, default: &str) -> String {
        match v {
            None => default.to_owned(),
            Some(v) if v.get_ref().is_empty() || v.get_ref().trim() != v.get_ref() => {
                self.d.at(
                    v.span(),
                    key,
                    "must be a claim name or dotted path, e.g. \"realm_access.roles\"",
                );
                default.to_owned()
            }
            Some(v) => v.get_ref().clone(),
        }
    }

    /// Every target must be a `[roles]` entry (typo protection; a role
    /// removed later by a reload is dropped at request time).
    pub(super) fn role_map(
        &mut self,
        map: &BTreeMap<String, Str>,
        key: &str,
        roles: &Roles,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (from, to) in map {
            if from.is_empty() {
                self.d.at(to.span(), key, "an empty IdP value maps nothing");
            }
            if !roles.contains(to.get_ref()) {
                let msg = format!(
                    "unknown role {:?}; role_map targets must be [roles] entries",
                    to.get_ref()
                );
                self.d.at(
                    to.span(),
                    format!("{key}.{}", crate::config::diag::key_part(from)),
                    msg,
                );
            }
            out.insert(from.clone(), to.get_ref().clone());
        }
        out
    }
}

/// https anywhere; plain http only to this machine (loopback), where nobody
/// on the network can swap the keys in transit. No credentials in the URL.
fn check_jwks_url(raw: &str) -> Result<(), String> {
    check_https_or_loopback(raw)
}

/// The rule of `jwks_url`, shared with `[[oidc]] issuer` (SPEC §13).
pub(super) fn check_https_or_loopback(raw: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    if url.fragment().is_some() {
        return Err("must not carry a #fragment".into());
    }
    let Some(host) = url.host_str() else {
        return Err(format!("{raw:?} has no host"));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err("plain http lets anyone on the path swap the keys; use https (http is allowed on loopback only)".into()),
        other => Err(format!("scheme {other:?}; use https")),
    }
}

#[cfg(test)]
mod tests;
