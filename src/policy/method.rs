//! Which request methods the gateway takes (SPEC §7).
//!
//! Methods are case-sensitive (RFC 9110 §9.1), but many upstreams are not:
//! Python and PHP stacks upper-case `get` and run their GET handler, so a
//! `get` that skipped a `methods = ["GET"]` route would reach a GET handler
//! through a later, weaker route. nginx refuses such methods with 400; so
//! does gatehouse. Of the well-formed ones, only the standard methods and
//! those a route names ever reach an upstream: anything else is 501.

use http::Method;

use crate::error::GateError;

/// Methods every route may see without naming them. CONNECT is refused by
/// Pingora before us; TRACE (cross-site tracing) only when a route names it.
const STANDARD: &[Method] = &[
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
    Method::OPTIONS,
];

/// Refuse a method that is not an upper-case token (400), or that neither
/// the standard set nor any route (`named`) takes (501).
pub fn check_method(method: &Method, named: &[Method]) -> Result<(), GateError> {
    if STANDARD.contains(method) {
        return Ok(());
    }
    if !is_upper_token(method.as_str()) {
        return Err(GateError::BadRequest(
            "method must be an upper-case token (e.g. GET)",
        ));
    }
    if named.contains(method) {
        Ok(())
    } else {
        Err(GateError::NotImplemented)
    }
}

/// `A-Z`, `-` and `_` only, as the methods in IANA's registry are written.
fn is_upper_token(m: &str) -> bool {
    !m.is_empty()
        && m.bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_table() {
        let propfind = Method::from_bytes(b"PROPFIND").unwrap();
        let named = [propfind.clone(), Method::TRACE];
        // (method, with `named`, without)
        let cases: &[(&str, u16, u16)] = &[
            ("GET", 0, 0),
            ("HEAD", 0, 0),
            ("POST", 0, 0),
            ("PUT", 0, 0),
            ("DELETE", 0, 0),
            ("PATCH", 0, 0),
            ("OPTIONS", 0, 0),
            ("TRACE", 0, 501),
            ("PROPFIND", 0, 501),
            ("BREW", 501, 501),
            ("VERSION-CONTROL", 501, 501),
            ("get", 400, 400),
            ("Get", 400, 400),
            ("gET", 400, 400),
            ("post", 400, 400),
            ("propfind", 400, 400),
            ("GET1", 400, 400),
            ("G.ET", 400, 400),
            ("G+T", 400, 400),
        ];
        let status = |r: Result<(), GateError>| match r {
            Ok(()) => 0,
            Err(e) => e.answer().status,
        };
        for (m, with, without) in cases {
            let method = Method::from_bytes(m.as_bytes()).unwrap();
            assert_eq!(status(check_method(&method, &named)), *with, "{m} named");
            assert_eq!(status(check_method(&method, &[])), *without, "{m}");
        }
    }
}
