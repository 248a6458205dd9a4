//! Request framing checks against smuggling (SPEC §7): more than one
//! `Content-Length`, or a transfer coding other than plain `chunked`, is
//! refused. (Pingora itself drops `Content-Length` when `Transfer-Encoding`
//! is present and closes the connection afterwards.)

use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::HeaderMap;

use crate::error::GateError;

/// 400 for ambiguous or unsupported framing.
pub fn check_framing(headers: &HeaderMap) -> Result<(), GateError> {
    let mut cl = headers.get_all(CONTENT_LENGTH).iter();
    if let Some(first) = cl.next() {
        if cl.next().is_some() || first.as_bytes().contains(&b',') {
            return Err(GateError::BadRequest("more than one Content-Length"));
        }
    }
    let mut te = headers.get_all(TRANSFER_ENCODING).iter();
    if let Some(first) = te.next() {
        let plain_chunked = first.to_str().map(|v| v.trim().eq_ignore_ascii_case("chunked")).unwrap_or(false);
        if te.next().is_some() || !plain_chunked {
            return Err(GateError::BadRequest("unsupported Transfer-Encoding"));
        }
        if headers.contains_key(CONTENT_LENGTH) {
            return Err(GateError::BadRequest("both Content-Length and Transfer-Encoding"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn framing_table() {
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], true),
            (&[("content-length", "5")], true),
            (&[("transfer-encoding", "chunked")], true),
            (&[("transfer-encoding", "Chunked ")], true),
            (&[("content-length", "5"), ("content-length", "5")], false),
            (&[("content-length", "5, 5")], false),
            (&[("transfer-encoding", "gzip, chunked")], false),
            (&[("transfer-encoding", "identity")], false),
            (&[("transfer-encoding", "chunked"), ("transfer-encoding", "chunked")], false),
            (&[("transfer-encoding", "chunked"), ("content-length", "3")], false),
        ];
        for (pairs, ok) in cases {
            assert_eq!(check_framing(&headers(pairs)).is_ok(), *ok, "{pairs:?}");
        }
    }
}
