//! `X-Request-Id` (SPEC §11): one id per request, sent upstream, returned
//! to the client and written to the access log, so one request can be
//! followed through every hop.
//!
//! A trusted front proxy's id is kept, so the front proxy's log and ours
//! share it; anyone else's is replaced, as is a malformed one: the id goes
//! into the app's logs and ours, and a client-chosen value there could
//! forge lines (CR/LF), blow up sizes or collide with another request's id.

use http::header::HeaderValue;
use http::HeaderMap;

/// The header, as written upstream and to the client (a `&'static str`
/// name costs Pingora no copy).
pub const HEADER: &str = "X-Request-Id";

/// Longest id kept from a trusted peer.
const MAX_LEN: usize = 128;

/// The id for a request: the trusted peer's when there is exactly one and
/// it is valid, else a fresh one.
pub fn request_id(headers: &HeaderMap, peer_trusted: bool) -> HeaderValue {
    if peer_trusted {
        let mut sent = headers.get_all(HEADER).iter();
        if let (Some(id), None) = (sent.next(), sent.next()) {
            if is_valid(id.as_bytes()) {
                return never_indexed(id.clone());
            }
        }
    }
    generate()
}

/// An id is unique per request, so HPACK's dynamic table (HTTP/2) gains
/// nothing from it: indexing would insert one entry per answer and evict
/// another. Marked sensitive, it is sent as a never-indexed literal.
fn never_indexed(mut id: HeaderValue) -> HeaderValue {
    id.set_sensitive(true);
    id
}

/// 1-128 characters of `[A-Za-z0-9._-]`.
pub fn is_valid(id: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// 128 random bits as 32 lower-case hex digits: unguessable, so no client
/// can predict (and pre-empt) another request's id.
pub fn generate() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits: u128 = rand::random();
    let mut text = [0u8; 32];
    for (i, digit) in text.iter_mut().enumerate() {
        // The shift is below 128 and the mask keeps one nibble.
        let nibble = (bits >> (124 - 4 * i)) & 0xf;
        *digit = HEX[nibble as usize];
    }
    // Hex digits are always a valid header value.
    never_indexed(HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static("0")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::tests::header_map;

    #[test]
    fn validity_table() {
        let long = "a".repeat(128);
        let too_long = "a".repeat(129);
        let cases: &[(&str, bool)] = &[
            ("a", true),
            ("req-42_x.Y", true),
            ("0123456789abcdef0123456789abcdef", true),
            (&long, true),
            ("", false),
            (&too_long, false),
            ("a b", false),
            ("a/b", false),
            ("a\tb", false),
            ("a;b", false),
            ("é", false),
            ("{id}", false),
        ];
        for (id, want) in cases {
            assert_eq!(is_valid(id.as_bytes()), *want, "{id:?}");
        }
    }

    #[test]
    fn kept_only_from_a_trusted_peer_when_valid_and_single() {
        let one = header_map(&[("x-request-id", "front-1")]);
        assert_eq!(request_id(&one, true), "front-1");
        let generated = request_id(&one, false);
        assert_ne!(generated, "front-1");
        assert!(is_valid(generated.as_bytes()));
        let two = header_map(&[("x-request-id", "a"), ("x-request-id", "b")]);
        let bad = header_map(&[("x-request-id", "a b")]);
        let empty = header_map(&[("x-request-id", "")]);
        for headers in [two, bad, empty, header_map(&[])] {
            let id = request_id(&headers, true);
            assert_eq!(id.len(), 32, "{id:?}");
            assert!(is_valid(id.as_bytes()));
        }
    }

    #[test]
    fn generated_ids_are_hex_and_distinct() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        for id in [a, b] {
            assert!(id.is_sensitive(), "a unique id stays out of HPACK's table");
            assert_eq!(id.len(), 32);
            assert!(id
                .as_bytes()
                .iter()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c)));
        }
    }
}
