//! `[headers]`: the identity headers sent upstream and the client headers
//! stripped so that no client can forge them (SPEC §7).

use std::str::FromStr;

use http::header::HeaderName;
use toml::Spanned;

use super::{section, Compiler};
use crate::config::raw::{self, Str};
use crate::config::HeaderConfig;

const DEFAULT_USER_HEADER: &str = "X-Auth-User";
const DEFAULT_EMAIL_HEADER: &str = "X-Auth-Email";
const DEFAULT_ROLES_HEADER: &str = "X-Auth-Roles";
const DEFAULT_STRIP_PREFIX: &str = "X-Auth-";

/// Headers the gateway, the proxy or the HTTP layer own; an identity header
/// with one of these names would corrupt the request or let a client's
/// credentials pass as identity.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
    "content-type",
    "cookie",
    "set-cookie",
    "authorization",
    "proxy-authorization",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-real-ip",
    "x-api-key",
];

/// Client headers a strip prefix must never remove: requests would break.
const ESSENTIAL_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "cookie",
    "authorization",
    "accept",
    "user-agent",
    "origin",
    "referer",
    "connection",
];

impl Compiler<'_> {
    fn header_name(&mut self, v: Option<&Str>, key: &str, default: &str) -> HeaderName {
        let fallback = HeaderName::from_static("x-auth-invalid");
        let (name, span) = match v {
            None => return HeaderName::from_str(default).unwrap_or(fallback),
            Some(v) => (v.get_ref(), v.span()),
        };
        match HeaderName::from_str(name) {
            Ok(h) if RESERVED_HEADERS.contains(&h.as_str()) => {
                self.d.at(
                    span,
                    key,
                    format!(
                        "{name:?} is a header the gateway or HTTP itself owns; pick another name"
                    ),
                );
                h
            }
            Ok(h) => h,
            Err(_) => {
                self.d
                    .at(span, key, format!("{name:?} is not a valid header name"));
                fallback
            }
        }
    }

    pub(super) fn headers(&mut self, raw: Option<Spanned<raw::RawHeaders>>) -> HeaderConfig {
        let (h, _) = section(raw);
        let user = self.header_name(h.user.as_ref(), "headers.user", DEFAULT_USER_HEADER);
        let email = self.header_name(h.email.as_ref(), "headers.email", DEFAULT_EMAIL_HEADER);
        let roles = self.header_name(h.roles.as_ref(), "headers.roles", DEFAULT_ROLES_HEADER);
        let named = [
            (&h.user, &user, "headers.user"),
            (&h.email, &email, "headers.email"),
            (&h.roles, &roles, "headers.roles"),
        ];
        for (i, (raw_a, a, _)) in named.iter().enumerate() {
            for (raw_b, b, key_b) in named.iter().skip(i + 1) {
                if a == b {
                    let span = raw_b.as_ref().or(raw_a.as_ref()).map(|v| v.span());
                    self.at(
                        span,
                        *key_b,
                        format!("{a} is already used by another identity header"),
                    );
                }
            }
        }
        let mut strip_prefixes = Vec::new();
        let defaults = [Spanned::new(0..0, DEFAULT_STRIP_PREFIX.to_owned())];
        let list = h.strip_prefixes.as_deref().unwrap_or(&defaults);
        for (i, v) in list.iter().enumerate() {
            let key = format!("headers.strip_prefixes[{i}]");
            match fold_prefix(v.get_ref()) {
                Ok(p) => strip_prefixes.push(p),
                Err(e) => self.d.at(v.span(), key, e),
            }
        }
        // Forged identity headers must never reach the upstream (SPEC §7),
        // even if the prefixes do not cover the configured names. A name is
        // added as a prefix, so a header that merely begins with it (e.g.
        // `x-user-agent-hint` for `X-User`) is stripped too: harmless.
        for name in [&user, &email, &roles] {
            let folded = name.as_str().replace('_', "-");
            if !strip_prefixes
                .iter()
                .any(|p| folded.starts_with(p.as_str()))
            {
                strip_prefixes.push(folded);
            }
        }
        HeaderConfig {
            user,
            email,
            roles,
            strip_prefixes,
            security: h.security.unwrap_or(true),
        }
    }
}

/// Lower-case with `_` folded to `-`, as headers are compared (SPEC §7).
fn fold_prefix(p: &str) -> Result<String, String> {
    if p.is_empty() {
        return Err("empty prefix would strip every header".into());
    }
    if HeaderName::from_str(p).is_err() {
        return Err(format!("{p:?} is not a header-name prefix"));
    }
    let folded = p.to_ascii_lowercase().replace('_', "-");
    if let Some(h) = ESSENTIAL_HEADERS
        .iter()
        .find(|h| h.starts_with(folded.as_str()))
    {
        return Err(format!("{p:?} would strip the client's {h} header"));
    }
    Ok(folded)
}
