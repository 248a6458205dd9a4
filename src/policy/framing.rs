//! Request framing checks against smuggling (SPEC §7): more than one
//! `Content-Length`, or a transfer coding other than plain `chunked`, is
//! refused. Pingora drops `Content-Length` from the parsed headers when
//! `Transfer-Encoding` is present, so that pair is found in the raw header
//! bytes (`raw_has_content_length`).

use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::HeaderMap;

use crate::error::GateError;

/// 400 for ambiguous or unsupported framing. `raw_head` gives the request's
/// raw header bytes; it is only called when `Transfer-Encoding` is present.
pub fn check_framing(
    headers: &HeaderMap,
    raw_head: impl FnOnce() -> Option<bytes::Bytes>,
) -> Result<(), GateError> {
    let mut cl = headers.get_all(CONTENT_LENGTH).iter();
    if let Some(first) = cl.next() {
        if cl.next().is_some() || first.as_bytes().contains(&b',') {
            return Err(GateError::BadRequest("more than one Content-Length"));
        }
    }
    let mut te = headers.get_all(TRANSFER_ENCODING).iter();
    if let Some(first) = te.next() {
        let plain_chunked = first
            .to_str()
            .map(|v| v.trim().eq_ignore_ascii_case("chunked"))
            .unwrap_or(false);
        if te.next().is_some() || !plain_chunked {
            return Err(GateError::BadRequest("unsupported Transfer-Encoding"));
        }
        if headers.contains_key(CONTENT_LENGTH)
            || raw_head().is_some_and(|raw| raw_has_content_length(&raw))
        {
            return Err(GateError::BadRequest(
                "both Content-Length and Transfer-Encoding",
            ));
        }
    }
    Ok(())
}

/// Whether a raw HTTP/1 header block has a `Content-Length` line.
fn raw_has_content_length(raw: &[u8]) -> bool {
    raw.split(|&b| b == b'\n').skip(1).any(|line| {
        let name = line.split(|&b| b == b':').next().unwrap_or_default();
        name.len() < line.len() && name.trim_ascii().eq_ignore_ascii_case(b"content-length")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::tests::header_map as headers;

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
            (
                &[
                    ("transfer-encoding", "chunked"),
                    ("transfer-encoding", "chunked"),
                ],
                false,
            ),
            (
                &[("transfer-encoding", "chunked"), ("content-length", "3")],
                false,
            ),
        ];
        for (pairs, ok) in cases {
            assert_eq!(
                check_framing(&headers(pairs), || None).is_ok(),
                *ok,
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn content_length_removed_by_the_parser_is_found_in_the_raw_head() {
        let te = headers(&[("transfer-encoding", "chunked")]);
        let raw = bytes::Bytes::from_static(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert!(check_framing(&te, || Some(raw)).is_err());
        let raw = bytes::Bytes::from_static(b"POST / HTTP/1.1\r\nHost: x\r\nX-Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert!(check_framing(&te, || Some(raw)).is_ok());
        // The header block's first line is the request line, never a header.
        let raw = bytes::Bytes::from_static(
            b"POST /content-length:1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        assert!(check_framing(&te, || Some(raw)).is_ok());
    }
}
