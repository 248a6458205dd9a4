//! The request a front proxy asks about (SPEC §10 forward-auth), read from
//! the description it sends: Traefik and Caddy's `X-Forwarded-Method`,
//! `-Proto`, `-Host`, `-Uri`; nginx and HAProxy's `X-Original-Method` and
//! absolute `X-Original-URL`; or, for Envoy's ext_authz, the check request's
//! own method and Host with the original path after a fixed prefix.
//!
//! A description decides who gets in, so it is read strictly: every
//! header at most once, both sets (when both are sent) agreeing, the target
//! origin-form and normalised exactly as a proxied request's is (SPEC §7).
//! Anything missing, partial, contradictory or malformed is a 400, never a
//! guess that could authorise another path than the one the proxy serves.

use http::{HeaderMap, Method};

use crate::error::GateError;
use crate::policy::host::RequestHost;
use crate::policy::method::check_method;
use crate::policy::normalize::{normalize, NormalizedPath};

/// The original request, as described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub method: Method,
    /// Whether the original request came over https (`-Proto`, default https).
    pub tls: bool,
    pub host: RequestHost,
    pub target: NormalizedPath,
}

/// 400 for a description that names only part of the request.
macro_rules! partial {
    ($missing:literal) => {
        GateError::BadRequest(concat!("partial description: ", $missing, " is missing"))
    };
}

const FWD_METHOD: &str = "x-forwarded-method";
const FWD_PROTO: &str = "x-forwarded-proto";
const FWD_HOST: &str = "x-forwarded-host";
const FWD_URI: &str = "x-forwarded-uri";
const ORIG_METHOD: &str = "x-original-method";
const ORIG_URL: &str = "x-original-url";

/// Which description a verify request carried; nginx cannot pass a 302
/// through `auth_request`, so `XOriginal` answers browsers with 401 +
/// `Location` (SPEC §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    XForwarded,
    XOriginal,
}

/// Read the description of `/auth/verify`. `extra_methods` are the methods
/// routes name (see `policy::method`).
pub fn describe_verify(
    headers: &HeaderMap,
    extra_methods: &[Method],
) -> Result<(Described, Style), GateError> {
    let fwd_method = one(headers, FWD_METHOD)?;
    let fwd_uri = one(headers, FWD_URI)?;
    let fwd_host = one(headers, FWD_HOST)?;
    let fwd_proto = one(headers, FWD_PROTO)?;
    let orig_method = one(headers, ORIG_METHOD)?;
    let orig_url = one(headers, ORIG_URL)?;

    let forwarded = match (fwd_method, fwd_uri) {
        (None, None) => None,
        (Some(m), Some(uri)) => {
            let host = fwd_host.ok_or(partial!("X-Forwarded-Host"))?;
            Some(Described {
                method: method(m, extra_methods)?,
                tls: proto(fwd_proto)?,
                host: RequestHost::parse(host)?,
                target: origin_form(uri)?,
            })
        }
        (None, Some(_)) => return Err(partial!("X-Forwarded-Method")),
        (Some(_), None) => return Err(partial!("X-Forwarded-Uri")),
    };
    let original = match (orig_method, orig_url) {
        (None, None) => None,
        (Some(m), Some(url)) => {
            let (tls, host, target) = absolute_url(url)?;
            Some(Described {
                method: method(m, extra_methods)?,
                tls,
                host,
                target,
            })
        }
        (None, Some(_)) => return Err(partial!("X-Original-Method")),
        (Some(_), None) => return Err(partial!("X-Original-URL")),
    };
    match (forwarded, original) {
        (Some(f), None) => Ok((f, Style::XForwarded)),
        (None, Some(o)) => {
            // Generic X-Forwarded-Host/-Proto sent beside nginx's headers
            // must tell the same story.
            let host_agrees = match fwd_host {
                Some(h) => RequestHost::parse(h)? == o.host,
                None => true,
            };
            let proto_agrees = fwd_proto.is_none() || proto(fwd_proto)? == o.tls;
            if host_agrees && proto_agrees {
                Ok((o, Style::XOriginal))
            } else {
                Err(contradictory())
            }
        }
        (Some(f), Some(o)) if f == o => Ok((f, Style::XOriginal)),
        (Some(_), Some(_)) => Err(contradictory()),
        (None, None) => Err(GateError::BadRequest(
            "no description of the original request (X-Forwarded-Method, -Host, -Uri or \
             X-Original-Method and X-Original-URL)",
        )),
    }
}

/// Envoy's ext_authz: the check request is the original one, its path
/// after `prefix` (the literal prefix of the raw target, so `..` cannot
/// climb out of it before normalisation). https unless Envoy's
/// `X-Forwarded-Proto` says otherwise; without it, `tls` (the check
/// request's own).
pub fn describe_ext_authz(
    method_: &Method,
    headers: &HeaderMap,
    raw_target: &[u8],
    prefix: &str,
    extra_methods: &[Method],
    tls: bool,
) -> Result<Described, GateError> {
    let rest = raw_target
        .strip_prefix(prefix.as_bytes())
        .filter(|r| r.first() == Some(&b'/'))
        .ok_or(GateError::BadRequest(
            "ext-authz target must start with the prefix and a /",
        ))?;
    check_method(method_, extra_methods)?;
    let host = one(headers, "host")?.ok_or(GateError::BadRequest("missing Host header"))?;
    let tls = match one(headers, FWD_PROTO)? {
        Some(p) => proto(Some(p))?,
        None => tls,
    };
    Ok(Described {
        method: method_.clone(),
        tls,
        host: RequestHost::parse(host)?,
        target: normalize(rest)?,
    })
}

/// A header's single value as bytes; two of it is a 400.
fn one<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<Option<&'a [u8]>, GateError> {
    let mut all = headers.get_all(name).iter();
    match (all.next(), all.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => Ok(Some(v.as_bytes())),
        (Some(_), Some(_)) => Err(GateError::BadRequest(
            "a description header was sent more than once",
        )),
    }
}

fn contradictory() -> GateError {
    GateError::BadRequest("the X-Forwarded-* and X-Original-* descriptions disagree")
}

fn method(raw: &[u8], extra: &[Method]) -> Result<Method, GateError> {
    let m =
        Method::from_bytes(raw).map_err(|_| GateError::BadRequest("invalid described method"))?;
    check_method(&m, extra)?;
    Ok(m)
}

/// `https` unless `-Proto` says `http`.
fn proto(raw: Option<&[u8]>) -> Result<bool, GateError> {
    match raw {
        None => Ok(true),
        Some(p) if p.eq_ignore_ascii_case(b"https") => Ok(true),
        Some(p) if p.eq_ignore_ascii_case(b"http") => Ok(false),
        Some(_) => Err(GateError::BadRequest(
            "X-Forwarded-Proto must be http or https",
        )),
    }
}

/// A described path and query: origin-form, normalised as in SPEC §7.
fn origin_form(raw: &[u8]) -> Result<NormalizedPath, GateError> {
    if raw.first() != Some(&b'/') || raw.starts_with(b"//") {
        return Err(GateError::BadRequest(
            "the described target must be origin-form (/path?query)",
        ));
    }
    normalize(raw)
}

/// `scheme://host[:port]/path?query`, http or https, no userinfo.
fn absolute_url(raw: &[u8]) -> Result<(bool, RequestHost, NormalizedPath), GateError> {
    let bad = || GateError::BadRequest("X-Original-URL must be an absolute http(s) URL");
    let split = raw.windows(3).position(|w| w == b"://").ok_or_else(bad)?;
    let (scheme, rest) = (&raw[..split], &raw[split + 3..]);
    let tls = proto(Some(scheme)).map_err(|_| bad())?;
    let end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let (authority, target) = rest.split_at(end);
    let host = RequestHost::parse(authority)?;
    let target = match target.first() {
        None => normalize(b"/")?,
        Some(b'/') => origin_form(target)?,
        // `https://h?x` (no path) is `/?x`; `#` is refused like anywhere.
        Some(b'?') => normalize(&[b"/", target].concat())?,
        Some(_) => {
            return Err(GateError::BadRequest(
                "a described target never has a fragment",
            ))
        }
    };
    Ok((tls, host, target))
}

#[cfg(test)]
mod tests;
