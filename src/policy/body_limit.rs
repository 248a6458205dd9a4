//! Request body bounds (SPEC §11): `[server] max_body`, or a route's own
//! `max_body`. A declared `Content-Length` over the bound is refused before
//! the upstream is contacted; a body without one (chunked) is counted as
//! it streams and refused as soon as the count passes the bound, so the
//! upstream never receives more than the bound.

use http::header::CONTENT_LENGTH;
use http::HeaderMap;

use crate::error::GateError;

/// Bytes of one request body seen so far against its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit {
    limit: u64,
    seen: u64,
}

impl BodyLimit {
    /// A bound of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        BodyLimit { limit, seen: 0 }
    }

    /// No body at all: the bound before a request is judged, so a body
    /// that somehow streamed before it would be refused, not let through.
    pub fn closed() -> Self {
        BodyLimit::new(0)
    }

    /// 413 when the declared `Content-Length` is over the bound (digits
    /// too many for a u64 are over any bound). The framing was already
    /// checked (one `Content-Length`; Pingora refuses one that is not a
    /// number), so anything else is left to the streaming count.
    pub fn check_declared(&self, headers: &HeaderMap) -> Result<(), GateError> {
        let Some(value) = headers.get(CONTENT_LENGTH) else {
            return Ok(());
        };
        let digits = value.as_bytes().trim_ascii();
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Ok(());
        }
        let over = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse::<u64>().ok())
            .is_none_or(|n| n > self.limit);
        if over {
            Err(GateError::PayloadTooLarge)
        } else {
            Ok(())
        }
    }

    /// Count `n` more body bytes; 413 once the total passes the bound.
    pub fn add(&mut self, n: usize) -> Result<(), GateError> {
        self.seen = self.seen.saturating_add(n as u64);
        if self.seen > self.limit {
            Err(GateError::PayloadTooLarge)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::tests::header_map;

    #[test]
    fn declared_length_against_the_bound() {
        let limit = BodyLimit::new(10);
        let cases: &[(&[(&'static str, &'static str)], bool)] = &[
            (&[], true),
            (&[("content-length", "0")], true),
            (&[("content-length", "10")], true),
            (&[("content-length", "11")], false),
            (&[("content-length", "99999999999999999999")], false),
            (&[("content-length", "18446744073709551615")], false),
            (&[("content-length", "+5")], true),
            (&[("transfer-encoding", "chunked")], true),
        ];
        for (pairs, ok) in cases {
            let r = limit.check_declared(&header_map(pairs));
            assert_eq!(r.is_ok(), *ok, "{pairs:?}");
        }
    }

    #[test]
    fn streamed_bytes_are_counted_to_the_bound() {
        let mut limit = BodyLimit::new(10);
        assert!(limit.add(4).is_ok());
        assert!(limit.add(6).is_ok(), "exactly the bound passes");
        assert!(matches!(limit.add(1), Err(GateError::PayloadTooLarge)));
        let mut closed = BodyLimit::closed();
        assert!(closed.add(0).is_ok());
        assert!(closed.add(1).is_err());
        let mut big = BodyLimit::new(u64::MAX);
        assert!(big.add(usize::MAX).is_ok());
    }
}
