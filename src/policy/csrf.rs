//! CSRF defence for cookie-authenticated unsafe requests (SPEC §6): the
//! `Origin` (or, lacking it, the `Referer`'s origin) must be the configured
//! public origin or the request's own. A request carrying neither is refused:
//! browsers send `Origin` on every cross-site POST, and a cookie-holding
//! client that strips both cannot be told apart from a forged request.

use http::{HeaderMap, Method};

use crate::error::GateError;

/// Whether a method changes state (and so needs the check).
pub fn is_unsafe(m: &Method) -> bool {
    !(m == Method::GET || m == Method::HEAD || m == Method::OPTIONS || m == Method::TRACE)
}

/// Check a cookie-authenticated unsafe request's origin.
pub fn check_origin(
    headers: &HeaderMap,
    public_origin: Option<&str>,
    own_origin: &str,
) -> Result<(), GateError> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
    };
    let claimed = match text(http::header::ORIGIN) {
        Some(o) => Some(o.to_string()),
        None => text(http::header::REFERER).and_then(origin_of),
    };
    match claimed {
        Some(claimed) if is_ours(&claimed, public_origin, own_origin) => Ok(()),
        _ => Err(GateError::Csrf),
    }
}

/// The login form's origin rule (SPEC §14). The form is judged by its
/// double-submit token; the origin can only refuse. A foreign `Origin`, or
/// with none a foreign `Referer`, is refused even with a valid token. `Origin:
/// null` (what Chromium sends from a `no-referrer` page, and what privacy
/// settings can make it send) and no `Origin` at all are left to the token:
/// a cross-site page cannot read or set the token's cookie.
pub fn check_form_origin(
    headers: &HeaderMap,
    public_origin: Option<&str>,
    own_origin: &str,
) -> Result<(), GateError> {
    let claimed = match headers.get(http::header::ORIGIN) {
        Some(v) if v.as_bytes() != b"null" => Some(v.to_str().ok().map(str::to_string)),
        _ => headers
            .get(http::header::REFERER)
            .map(|v| v.to_str().ok().and_then(origin_of)),
    };
    match claimed {
        // Nothing claimed: the token decides.
        None => Ok(()),
        // Something claimed, even unreadable: it must be ours.
        Some(Some(claimed)) if is_ours(&claimed, public_origin, own_origin) => Ok(()),
        Some(_) => Err(GateError::Csrf),
    }
}

/// Whether `claimed` is `public_url`'s origin or the request's own.
fn is_ours(claimed: &str, public_origin: Option<&str>, own_origin: &str) -> bool {
    let Some(claimed) = canonical_origin(claimed) else {
        return false;
    };
    canonical_origin(own_origin).is_some_and(|own| own == claimed)
        || public_origin
            .and_then(canonical_origin)
            .is_some_and(|p| p == claimed)
}

/// `scheme://authority` of an absolute URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    Some(format!("{scheme}://{authority}"))
}

/// Lower-cased `scheme://host[:port]` with the default port dropped; None
/// for `null`, opaque or malformed origins.
fn canonical_origin(origin: &str) -> Option<String> {
    let (scheme, authority) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if (scheme != "http" && scheme != "https")
        || authority.is_empty()
        || authority.contains(['/', '@', '\\', ' '])
    {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let default = if scheme == "https" { ":443" } else { ":80" };
    let authority = authority.strip_suffix(default).unwrap_or(&authority);
    Some(format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pairs: &[(&'static str, &'static str)]) -> bool {
        let h = crate::policy::tests::header_map(pairs);
        check_origin(&h, Some("https://app.example.com"), "http://127.0.0.1:8080").is_ok()
    }

    #[test]
    fn origin_table() {
        assert!(check(&[("origin", "http://127.0.0.1:8080")]));
        assert!(check(&[("origin", "https://app.example.com")]));
        assert!(check(&[("origin", "https://APP.example.com:443")]));
        assert!(check(&[("referer", "https://app.example.com/page?x=1")]));
        assert!(!check(&[]));
        assert!(!check(&[("origin", "null")]));
        assert!(!check(&[("origin", "https://evil.com")]));
        assert!(!check(&[("origin", "https://app.example.com.evil.com")]));
        assert!(!check(&[("origin", "http://app.example.com")]));
        assert!(!check(&[("origin", "https://app.example.com@evil.com")]));
        assert!(!check(&[(
            "referer",
            "https://evil.com/https://app.example.com"
        )]));
        // Origin wins over Referer.
        assert!(!check(&[
            ("origin", "https://evil.com"),
            ("referer", "https://app.example.com/")
        ]));
    }

    /// SPEC §14: the form's origin rule, before its token is looked at.
    #[test]
    fn form_origin_table() {
        let check = |pairs: &[(&'static str, &'static str)]| {
            let h = crate::policy::tests::header_map(pairs);
            check_form_origin(&h, Some("https://app.example.com"), "http://127.0.0.1:8080").is_ok()
        };
        assert!(check(&[("origin", "http://127.0.0.1:8080")]));
        assert!(check(&[("origin", "https://app.example.com")]));
        assert!(check(&[(
            "referer",
            "https://app.example.com/auth/login?rd=/"
        )]));
        // Left to the token.
        assert!(check(&[]));
        assert!(check(&[("origin", "null")]));
        assert!(check(&[
            ("origin", "null"),
            ("referer", "https://app.example.com/")
        ]));
        // Refused whatever the token.
        assert!(!check(&[("origin", "https://evil.com")]));
        assert!(!check(&[("origin", "https://app.example.com.evil.com")]));
        assert!(!check(&[("origin", "NULL")]));
        assert!(!check(&[("referer", "https://evil.com/login")]));
        assert!(!check(&[("referer", "not a url")]));
        assert!(!check(&[
            ("origin", "null"),
            ("referer", "https://evil.com/")
        ]));
        assert!(!check(&[
            ("origin", "https://evil.com"),
            ("referer", "https://app.example.com/")
        ]));
    }

    #[test]
    fn unsafe_methods() {
        assert!(
            is_unsafe(&Method::POST) && is_unsafe(&Method::DELETE) && is_unsafe(&Method::PATCH)
        );
        assert!(!is_unsafe(&Method::GET) && !is_unsafe(&Method::HEAD));
    }
}
