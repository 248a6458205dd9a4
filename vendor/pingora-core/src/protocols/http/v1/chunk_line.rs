// gatehouse patch: this whole file is new (see GATEHOUSE-PATCHES.md).
//
// Licensed under the Apache License, Version 2.0, like the rest of the crate.

//! A strict parser for the chunk-size line of a chunked body (RFC 9112 §7.1),
//! replacing `httparse::parse_chunk_size` in `body.rs`.
//!
//! httparse ends a chunk line at a bare LF, skips whitespace around the size
//! and accepts any byte but LF in a chunk extension. A front proxy that reads
//! the same bytes differently (ends the line at LF, or at CR, or not at all)
//! sees a different body length, so bytes one side treats as chunk data the
//! other treats as the next request ("funky chunks" request smuggling). This
//! parser accepts exactly the RFC grammar:
//!
//! ```text
//! chunk-line = 1*HEXDIG *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] ) CRLF
//! ```
//!
//! and a line of at most [`CHUNK_LINE_LIMIT`] bytes (RFC 9112 §7.1.1: "a
//! server ought to limit the total length of chunk extensions").

use httparse::Status;

/// The longest chunk line accepted, CRLF included.
pub const CHUNK_LINE_LIMIT: usize = 4096;

/// Why a chunk line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkLineError {
    /// Not the RFC 9112 grammar; the reason names the first offence.
    Invalid(&'static str),
    /// Longer than [`CHUNK_LINE_LIMIT`] without its CRLF.
    TooLong,
}

/// Parse the chunk line at the start of `buf`: `Complete((payload index,
/// chunk size))` as httparse returns it, `Partial` when `buf` ends inside a
/// line that can still become valid.
pub fn parse_chunk_line(buf: &[u8]) -> Result<Status<(usize, u64)>, ChunkLineError> {
    match Line::new(buf).parse() {
        Err(Cut::Partial) if buf.len() >= CHUNK_LINE_LIMIT => Err(ChunkLineError::TooLong),
        Err(Cut::Partial) => Ok(Status::Partial),
        Err(Cut::Invalid(why)) => Err(ChunkLineError::Invalid(why)),
        Ok(done) => Ok(Status::Complete(done)),
    }
}

/// How parsing stopped short.
enum Cut {
    Partial,
    Invalid(&'static str),
}

struct Line<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Line<'a> {
    fn new(buf: &'a [u8]) -> Self {
        // Nothing past the limit is looked at: the line is too long by then.
        let buf = &buf[..buf.len().min(CHUNK_LINE_LIMIT)];
        Line { buf, at: 0 }
    }

    fn peek(&self) -> Result<u8, Cut> {
        self.buf.get(self.at).copied().ok_or(Cut::Partial)
    }

    fn parse(mut self) -> Result<(usize, u64), Cut> {
        let size = self.size()?;
        loop {
            let before = self.at;
            self.whitespace()?;
            match self.peek()? {
                b';' => {
                    self.at += 1;
                    self.extension()?;
                }
                b'\r' if self.at == before => {
                    self.at += 1;
                    return match self.peek()? {
                        b'\n' => Ok((self.at + 1, size)),
                        _ => Err(Cut::Invalid("CR not followed by LF")),
                    };
                }
                b'\n' => return Err(Cut::Invalid("bare LF (a chunk line ends with CRLF)")),
                b'\r' => return Err(Cut::Invalid("whitespace before the line end")),
                _ => return Err(Cut::Invalid("unexpected byte after the chunk size")),
            }
        }
    }

    /// 1*HEXDIG, without sign, prefix or surrounding whitespace.
    fn size(&mut self) -> Result<u64, Cut> {
        let start = self.at;
        let mut size: u64 = 0;
        while let Some(digit) = self.buf.get(self.at).and_then(|b| (*b as char).to_digit(16)) {
            size = size
                .checked_mul(16)
                .and_then(|s| s.checked_add(u64::from(digit)))
                .ok_or(Cut::Invalid("chunk size overflows"))?;
            self.at += 1;
        }
        if self.at == start {
            self.peek()?;
            return Err(Cut::Invalid("chunk size is not a hex number"));
        }
        Ok(size)
    }

    /// BWS token [ BWS "=" BWS ( token / quoted-string ) ], after the ";".
    fn extension(&mut self) -> Result<(), Cut> {
        self.whitespace()?;
        self.token()?;
        let before = self.at;
        self.whitespace()?;
        if self.peek()? != b'=' {
            // No value: give the whitespace back to the caller's loop, which
            // accepts it only before another ";".
            self.at = before;
            return Ok(());
        }
        self.at += 1;
        self.whitespace()?;
        if self.peek()? == b'"' {
            self.quoted_string()
        } else {
            self.token()
        }
    }

    /// BWS: spaces and tabs.
    fn whitespace(&mut self) -> Result<(), Cut> {
        while matches!(self.peek()?, b' ' | b'\t') {
            self.at += 1;
        }
        Ok(())
    }

    /// 1*tchar (RFC 9110 §5.6.2).
    fn token(&mut self) -> Result<(), Cut> {
        let start = self.at;
        while is_tchar(self.peek()?) {
            self.at += 1;
        }
        if self.at == start {
            return Err(Cut::Invalid("chunk extension is not a token"));
        }
        Ok(())
    }

    /// DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 9110 §5.6.4): no CR,
    /// LF or other control byte inside.
    fn quoted_string(&mut self) -> Result<(), Cut> {
        self.at += 1;
        loop {
            let b = self.peek()?;
            self.at += 1;
            match b {
                b'"' => return Ok(()),
                b'\\' => {
                    let escaped = self.peek()?;
                    if !is_qtext(escaped) && escaped != b'"' && escaped != b'\\' {
                        return Err(Cut::Invalid("bad escape in a chunk extension value"));
                    }
                    self.at += 1;
                }
                b if is_qtext(b) => {}
                _ => return Err(Cut::Invalid("control byte in a chunk extension value")),
            }
        }
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// qdtext: HTAB, SP and visible bytes but DQUOTE and backslash, obs-text.
fn is_qtext(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(line: &[u8]) -> (usize, u64) {
        match parse_chunk_line(line) {
            Ok(Status::Complete(done)) => done,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(line)),
        }
    }

    fn invalid(line: &[u8]) {
        assert!(
            parse_chunk_line(line).is_err(),
            "{:?} was accepted",
            String::from_utf8_lossy(line)
        );
    }

    #[test]
    fn valid_lines() {
        assert_eq!(complete(b"3\r\nabc\r\n"), (3, 3));
        assert_eq!(complete(b"0\r\n\r\n"), (3, 0));
        assert_eq!(complete(b"00A\r\n"), (5, 10));
        assert_eq!(complete(b"fF\r\n"), (4, 255));
        assert_eq!(complete(b"3;name\r\n"), (8, 3));
        assert_eq!(complete(b"3;name=value\r\n"), (14, 3));
        assert_eq!(complete(b"3;a=\"quoted \\\" ;\"\r\n"), (19, 3));
        assert_eq!(complete(b"3 ; a = b ;c\r\n"), (14, 3));
        assert_eq!(complete(b"ffffffffffffffff\r\n"), (18, u64::MAX));
    }

    #[test]
    fn partial_lines_wait_for_more() {
        for line in [&b""[..], b"3", b"3;", b"3;a", b"3;a=\"x", b"3\r", b"3 "] {
            assert_eq!(parse_chunk_line(line), Ok(Status::Partial), "{line:?}");
        }
    }

    #[test]
    fn bare_lf_or_cr_is_refused() {
        invalid(b"3\nabc\r\n");
        invalid(b"3;\nabc\r\n");
        invalid(b"3;a\nabc\r\n");
        invalid(b"3;a=b\nabc\r\n");
        invalid(b"3;a=\"b\nc\"\r\n");
        invalid(b"3;a\rb\r\n");
        invalid(b"3\rx\n");
        invalid(b"3\r\r\n");
    }

    #[test]
    fn bad_sizes_are_refused() {
        invalid(b"\r\n");
        invalid(b"x\r\n");
        invalid(b"0x3\r\n");
        invalid(b"+3\r\n");
        invalid(b"-3\r\n");
        invalid(b" 3\r\n");
        invalid(b"\t3\r\n");
        invalid(b"3 \r\n");
        invalid(b"3\t\r\n");
        invalid(b"10000000000000000\r\n");
    }

    #[test]
    fn bad_extensions_are_refused() {
        invalid(b"3;\r\n");
        invalid(b"3;=b\r\n");
        invalid(b"3;a=\r\n");
        invalid(b"3;a b\r\n");
        invalid(b"3;a=\"b\r\n\"\r\n");
        invalid(b"3;a=\"\x01\"\r\n");
        invalid(b"3;a\x00\r\n");
        invalid(b"3;a=b \r\n");
    }

    #[test]
    fn long_lines_are_refused() {
        let mut line = b"3;a=".to_vec();
        line.extend(std::iter::repeat(b'x').take(CHUNK_LINE_LIMIT));
        assert_eq!(parse_chunk_line(&line), Err(ChunkLineError::TooLong));
        line.extend(b"\r\n");
        assert_eq!(parse_chunk_line(&line), Err(ChunkLineError::TooLong));
        // Right at the limit still passes.
        let mut line = b"3;a=".to_vec();
        line.extend(std::iter::repeat(b'x').take(CHUNK_LINE_LIMIT - 6));
        line.extend(b"\r\n");
        assert_eq!(complete(&line), (CHUNK_LINE_LIMIT, 3));
    }
}
