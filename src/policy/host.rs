//! The request's host, read once and normalised (RFC 9112 §3.2, SPEC §7).
//!
//! Routes are matched on, and the upstream is sent, the same normalised
//! name: ASCII lower-case, one trailing dot removed (`h.example.test.` is
//! the same DNS name as `h.example.test`, and nginx and most apps treat it
//! so), the port split off, IPv6 literals kept in brackets. Anything that
//! is not a host name gets 400 rather than a guess: a route bound to a host
//! must never be skipped because the client spelled the name differently.

use std::net::Ipv6Addr;

use http::{HeaderMap, Version};

use crate::error::GateError;

/// A normalised `Host` (or HTTP/2 `:authority`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHost {
    /// `name[:port]`: the lower-case name without trailing dot (or `[v6]`
    /// in canonical form), then the port if one was given. Built once, as
    /// it is sent upstream on every proxied request.
    authority: String,
    /// Where the name ends in `authority`.
    name_len: usize,
    port: Option<u16>,
}

/// Longest host name taken (RFC 1035: 253 characters, plus brackets for
/// the longest IPv6 text).
const MAX_NAME: usize = 255;

impl RequestHost {
    /// Parse and normalise one host value (`name[:port]`).
    pub fn parse(raw: &[u8]) -> Result<RequestHost, GateError> {
        let bad = GateError::BadRequest("invalid Host header");
        let (name, port) = split_port(raw).ok_or(bad)?;
        let name = if name.first() == Some(&b'[') {
            ipv6_literal(name)
        } else {
            reg_name(name)
        }
        .ok_or(GateError::BadRequest("invalid Host header"))?;
        Ok(RequestHost::new(name, port))
    }

    fn new(mut name: String, port: Option<u16>) -> Self {
        let name_len = name.len();
        if let Some(p) = port {
            name.push(':');
            name.push_str(itoa::Buffer::new().format(p));
        }
        RequestHost {
            authority: name,
            name_len,
            port,
        }
    }

    /// The name routes are matched against: lower-case, no port.
    pub fn name(&self) -> &str {
        &self.authority[..self.name_len]
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// `name[:port]` as sent upstream in `Host` and `X-Forwarded-Host`.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// `scheme://name[:port]`, the default port left out as browsers do in
    /// `Origin` (for the CSRF check, SPEC §6).
    pub fn origin(&self, tls: bool) -> String {
        let (scheme, default) = if tls { ("https", 443) } else { ("http", 80) };
        match self.port {
            Some(p) if p != default => format!("{scheme}://{}:{p}", self.name()),
            _ => format!("{scheme}://{}", self.name()),
        }
    }
}

/// The request's host: exactly one `Host` header, or for HTTP/2 the
/// `:authority` when there is no `Host`. HTTP/1.1 without a host is a 400
/// (RFC 9112 §3.2); HTTP/1.0 may omit it (`Ok(None)`), and then no
/// host-bound route matches.
pub fn request_host(
    headers: &HeaderMap,
    version: Version,
    authority: Option<&str>,
) -> Result<Option<RequestHost>, GateError> {
    let mut hosts = headers.get_all(http::header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => Err(GateError::BadRequest("more than one Host header")),
        (Some(one), None) => RequestHost::parse(one.as_bytes()).map(Some),
        (None, _) => match authority {
            Some(a) => RequestHost::parse(a.as_bytes()).map(Some),
            None if version == Version::HTTP_10 || version == Version::HTTP_09 => Ok(None),
            None => Err(GateError::BadRequest("missing Host header")),
        },
    }
}

/// `name` and the optional port. A colon is a port separator only outside
/// brackets; the port is 1-5 digits, 1..=65535.
fn split_port(raw: &[u8]) -> Option<(&[u8], Option<u16>)> {
    let port_at = match raw.iter().rposition(|&b| b == b':') {
        Some(i) if !raw[i..].contains(&b']') => Some(i),
        _ => None,
    };
    let Some(i) = port_at else {
        return Some((raw, None));
    };
    let digits = &raw[i + 1..];
    if digits.is_empty() || digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let port: u32 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let port = u16::try_from(port).ok().filter(|&p| p > 0)?;
    Some((&raw[..i], Some(port)))
}

/// `[v6]`, written back in canonical lower-case form. Zone ids and IPvFuture
/// are refused: no app routes on them and they hide other names.
fn ipv6_literal(name: &[u8]) -> Option<String> {
    let inner = name.strip_prefix(b"[")?.strip_suffix(b"]")?;
    let text = std::str::from_utf8(inner).ok()?;
    let addr: Ipv6Addr = text.parse().ok()?;
    Some(format!("[{addr}]"))
}

/// A DNS name or IPv4 address: letters, digits, `-`, `_`, dot-separated
/// non-empty labels, one trailing dot allowed and removed. No `%`-escapes,
/// no userinfo, no spaces, no commas (a list is not a host).
fn reg_name(name: &[u8]) -> Option<String> {
    let name = name.strip_suffix(b".").unwrap_or(name);
    let label_ok = |label: &[u8]| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if name.is_empty() || name.len() > MAX_NAME || !name.split(|&b| b == b'.').all(label_ok) {
        return None;
    }
    // Room for the `:port` that `RequestHost::new` may add.
    // Checked above: ASCII only, so one copy, lower-cased in place.
    let mut lower = String::with_capacity(name.len() + ":65535".len());
    lower.push_str(std::str::from_utf8(name).ok()?);
    lower.make_ascii_lowercase();
    Some(lower)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::tests::header_map;

    /// The normalised name and port, or None for a 400.
    type Parsed<'a> = Option<(&'a str, Option<u16>)>;

    #[test]
    fn host_normalisation_table() {
        let cases: &[(&str, Parsed)] = &[
            ("h.example.test", Some(("h.example.test", None))),
            ("h.example.test.", Some(("h.example.test", None))),
            ("H.EXAMPLE.TEST.", Some(("h.example.test", None))),
            ("h.example.test.:80", Some(("h.example.test", Some(80)))),
            ("H.Example.Test:8443", Some(("h.example.test", Some(8443)))),
            ("127.0.0.1:8080", Some(("127.0.0.1", Some(8080)))),
            ("localhost", Some(("localhost", None))),
            ("my_host.internal", Some(("my_host.internal", None))),
            ("[::1]", Some(("[::1]", None))),
            ("[::1]:8080", Some(("[::1]", Some(8080)))),
            ("[0:0:0:0:0:0:0:1]:80", Some(("[::1]", Some(80)))),
            ("[2001:DB8::A]", Some(("[2001:db8::a]", None))),
            ("", None),
            (".", None),
            ("h.example.test..", None),
            ("..h", None),
            ("a..b", None),
            (".a", None),
            ("a/b", None),
            ("a, b", None),
            ("a,b", None),
            ("a b", None),
            (" a", None),
            ("a\t", None),
            ("[x]", None),
            ("[::1", None),
            ("::1", None),
            ("[fe80::1%25eth0]", None),
            ("[v1.x]", None),
            ("a:", None),
            ("a:0", None),
            ("a:65536", None),
            ("a:123456", None),
            ("a:+80", None),
            ("a:8x", None),
            ("a:80:80", None),
            ("user@a", None),
            ("a%2eb", None),
            ("a\\b", None),
            ("é.example", None),
        ];
        for (raw, want) in cases {
            let got = RequestHost::parse(raw.as_bytes()).ok();
            let got = got.as_ref().map(|h| (h.name(), h.port()));
            assert_eq!(got, *want, "{raw:?}");
        }
        let long = format!("{}.test", "a.".repeat(130));
        assert!(RequestHost::parse(long.as_bytes()).is_err());
        let label = format!("{}.test", "a".repeat(64));
        assert!(RequestHost::parse(label.as_bytes()).is_err());
    }

    #[test]
    fn authority_and_origin() {
        let h = RequestHost::parse(b"App.Example.:8443").unwrap();
        assert_eq!(h.authority(), "app.example:8443");
        assert_eq!(h.origin(true), "https://app.example:8443");
        let h = RequestHost::parse(b"app.example:443").unwrap();
        assert_eq!(h.origin(true), "https://app.example");
        assert_eq!(h.origin(false), "http://app.example:443");
        let h = RequestHost::parse(b"app.example").unwrap();
        assert_eq!(h.authority(), "app.example");
        assert_eq!(h.origin(false), "http://app.example");
    }

    #[test]
    fn one_host_required_on_http11() {
        let one = header_map(&[("host", "a.example")]);
        let two = header_map(&[("host", "a.example"), ("host", "b.example")]);
        let none = header_map(&[]);
        let v11 = Version::HTTP_11;
        assert_eq!(
            request_host(&one, v11, None).unwrap().unwrap().name(),
            "a.example"
        );
        assert!(request_host(&two, v11, None).is_err());
        assert!(request_host(&none, v11, None).is_err());
        assert_eq!(request_host(&none, Version::HTTP_10, None).unwrap(), None);
        let h2 = request_host(&none, Version::HTTP_2, Some("B.Example")).unwrap();
        assert_eq!(h2.unwrap().name(), "b.example");
        // An HTTP/2 request with a Host header: the header is the host.
        let both = request_host(&one, Version::HTTP_2, Some("b.example")).unwrap();
        assert_eq!(both.unwrap().name(), "a.example");
    }
}
