//! SPEC §7 path normalisation, before any matching: percent-decoding of
//! unreserved characters, `.`/`..` segments, duplicate slashes. Targets that
//! cannot be normalised safely are refused (400).
//!
//! The normalised path is what routing matches *and* what the upstream gets
//! (`path_and_query`), so the gateway and the app never disagree about which
//! resource was asked for (the class of bug behind the oauth2-proxy,
//! Pomerium and Oathkeeper path-confusion bypasses).
//!
//! Decisions where SPEC §7 is silent:
//! - Only origin-form targets (`/...`); absolute-form, authority-form and `*`
//!   are refused.
//! - Raw `#` is refused anywhere in the target (a request-target never carries
//!   a fragment; parsers disagree on what follows it). `%23` is refused in the
//!   path but allowed in the query, where it is an ordinary encoded value.
//! - Encoded control bytes (`%00`-`%1F`, `%7F`) are refused like raw ones: an
//!   upstream that decodes them could be led into header or log injection.
//! - Percent-encoded non-ASCII must decode to valid UTF-8: overlong forms such
//!   as `%C0%AE` (a `.` to some old decoders) are refused.
//! - `..` that would climb above `/` is refused rather than clamped: no
//!   conforming client sends it, only a traversal probe does.
//! - `;` is an ordinary character (Angular matrix URLs use it), but a `.` or
//!   `..` segment carrying parameters (`..;`, `.;x`) is refused: Tomcat and
//!   Jetty strip the parameters and treat it as a dot-segment, so
//!   `/public/..;/admin` would reach `/admin` upstream while we matched
//!   `/public/**`. For the same reason a path with `;` must match the same
//!   route with its parameters removed (`without_path_params`), or it is
//!   refused: `/admin;x/secret` is `/admin/secret` to Tomcat and Spring but
//!   would match a catch-all route here.
//! - `%25` stays `%25`: decoding happens once, so `%252e` is never a `.`.

use crate::error::GateError;

/// A request target after normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedPath {
    /// The normalised path, always starting with `/`.
    pub path: String,
    /// The raw query string (without `?`), untouched.
    pub query: Option<String>,
}

impl NormalizedPath {
    /// Path and query as sent upstream.
    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{}", self.path, q),
            None => self.path.clone(),
        }
    }

    /// Whether `raw` (a request's path and query) is already exactly this,
    /// checked without building the string: the usual case on the hot path.
    pub fn is(&self, raw: &[u8]) -> bool {
        let Some(rest) = raw.strip_prefix(self.path.as_bytes()) else {
            return false;
        };
        match &self.query {
            None => rest.is_empty(),
            Some(q) => rest.first() == Some(&b'?') && &rest[1..] == q.as_bytes(),
        }
    }
}

const NOT_ORIGIN_FORM: &str = "request target must be an absolute path";
const BAD_CHAR: &str = "request target contains a forbidden character";
const BAD_ESCAPE: &str = "request target contains a malformed percent-escape";
const ENCODED_SEPARATOR: &str = "request path contains an encoded separator";
const BAD_DOT_SEGMENT: &str = "request path cannot be normalised";

/// Normalise a raw request target (the bytes of the request line).
pub fn normalize(raw_target: &[u8]) -> Result<NormalizedPath, GateError> {
    let mut parts = raw_target.splitn(2, |&b| b == b'?');
    let raw_path = parts.next().unwrap_or_default();
    let query = parts.next().map(check_query).transpose()?;

    if raw_path.first() != Some(&b'/') {
        return Err(GateError::BadRequest(NOT_ORIGIN_FORM));
    }

    // Built in place, one allocation: each segment is decoded straight
    // into `path` as `/segment`, and `..` truncates back to the previous
    // `/` (a decoded segment never holds one: encoded separators are refused).
    let mut path = String::with_capacity(raw_path.len() + 1);
    // Percent-decoded non-ASCII bytes of the current run, checked as UTF-8;
    // allocated only for paths that have such escapes.
    let mut utf8_run: Vec<u8> = Vec::new();
    // Whether the result ends in `/`: set by a final empty, `.` or `..`
    // segment (RFC 3986 §5.2.4 keeps the slash in `/a/b/..` -> `/a/`).
    let mut trailing_slash = false;
    // The first item is the empty string before the leading `/`.
    for raw_segment in raw_path.split(|&b| b == b'/').skip(1) {
        let start = path.len();
        path.push('/');
        decode_segment_into(raw_segment, &mut path, &mut utf8_run)?;
        trailing_slash = true;
        match &path[start + 1..] {
            // Duplicate slashes and `.` segments vanish.
            "" | "." => path.truncate(start),
            ".." => {
                path.truncate(start);
                let Some(previous) = path.rfind('/') else {
                    return Err(GateError::BadRequest(BAD_DOT_SEGMENT));
                };
                path.truncate(previous);
            }
            segment => {
                if is_dot_segment_with_params(segment) {
                    return Err(GateError::BadRequest(BAD_DOT_SEGMENT));
                }
                trailing_slash = false;
            }
        }
    }
    if trailing_slash || path.is_empty() {
        path.push('/');
    }
    Ok(NormalizedPath { path, query })
}

/// The path as Tomcat, Jetty and Spring resolve it: every segment's
/// `;parameters` removed, then normalised again (`/;x/admin` is `/admin`).
/// `None` when the path has no `;`: the usual case, nothing to compare.
pub fn without_path_params(path: &str) -> Option<Result<NormalizedPath, GateError>> {
    if !path.contains(';') {
        return None;
    }
    let stripped: Vec<&str> = path
        .split('/')
        .map(|segment| segment.split(';').next().unwrap_or_default())
        .collect();
    Some(normalize(stripped.join("/").as_bytes()))
}

/// The request-target of a raw HTTP/1 request head (`GET /a#b HTTP/1.1`).
///
/// Pingora's `RequestHeader::raw_path()` has already dropped any fragment
/// (`/admin#x` arrives as `/admin`), so SPEC §7's "`#` gets 400" needs the
/// bytes as received: pass `session.as_downstream().to_h1_raw()` here and
/// `normalize` the result, falling back to `raw_path()` on `None`.
pub fn request_target(head: &[u8]) -> Option<&[u8]> {
    // RFC 9112 §2.2: empty lines before the request line are ignored.
    let start = head.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let line = head.get(start..)?.split(|&b| b == b'\n').next()?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    let _method = parts.next()?;
    parts.next().filter(|t| !t.is_empty())
}

/// The query is forwarded as sent and never matched; it only has to be
/// printable ASCII, so nothing unsafe rides through to the upstream.
fn check_query(raw: &[u8]) -> Result<String, GateError> {
    if raw.iter().all(|&b| is_visible_ascii(b) && b != b'#') {
        Ok(raw.iter().map(|&b| char::from(b)).collect())
    } else {
        Err(GateError::BadRequest(BAD_CHAR))
    }
}

/// Decode one path segment onto `out`: unreserved escapes become their
/// character, other escapes are kept with upper-case hex, separators and
/// control bytes are refused, and escaped non-ASCII must be valid UTF-8.
fn decode_segment_into(raw: &[u8], out: &mut String, run: &mut Vec<u8>) -> Result<(), GateError> {
    let mut bytes = raw.iter().copied();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            if !is_visible_ascii(b) || b == b'\\' || b == b'#' {
                return Err(GateError::BadRequest(BAD_CHAR));
            }
            end_utf8_run(run)?;
            out.push(char::from(b));
            continue;
        }
        let (Some(hi), Some(lo)) = (bytes.next(), bytes.next()) else {
            return Err(GateError::BadRequest(BAD_ESCAPE));
        };
        let (Some(hi), Some(lo)) = (hex_value(hi), hex_value(lo)) else {
            return Err(GateError::BadRequest(BAD_ESCAPE));
        };
        let value = (hi << 4) | lo;
        if value >= 0x80 {
            run.push(value);
        } else {
            end_utf8_run(run)?;
        }
        match value {
            b'/' | b'\\' => return Err(GateError::BadRequest(ENCODED_SEPARATOR)),
            b'#' => return Err(GateError::BadRequest(BAD_CHAR)),
            v if v < 0x20 || v == 0x7f => return Err(GateError::BadRequest(BAD_CHAR)),
            v if is_unreserved(v) => out.push(char::from(v)),
            _ => {
                out.push('%');
                out.push(hex_digit(hi));
                out.push(hex_digit(lo));
            }
        }
    }
    end_utf8_run(run)
}

/// A run of escaped non-ASCII bytes ends (at an ASCII byte or the segment's
/// end): it must be valid UTF-8 by itself, as ASCII never continues a
/// multi-byte character.
fn end_utf8_run(run: &mut Vec<u8>) -> Result<(), GateError> {
    if run.is_empty() {
        return Ok(());
    }
    let valid = std::str::from_utf8(run).is_ok();
    run.clear();
    if valid {
        Ok(())
    } else {
        Err(GateError::BadRequest(BAD_ESCAPE))
    }
}

/// `..;x` or `.;x`: a dot-segment to servlet containers (see module doc).
fn is_dot_segment_with_params(segment: &str) -> bool {
    match segment.split_once(';') {
        Some((name, _)) => name == "." || name == "..",
        None => false,
    }
}

fn is_visible_ascii(b: u8) -> bool {
    (0x21..=0x7e).contains(&b)
}

/// RFC 3986 §2.3 unreserved: ALPHA DIGIT `-` `.` `_` `~`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16)
        .unwrap_or('0')
        .to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_compares_path_and_query_exactly() {
        let p = |path: &str, query: Option<&str>| NormalizedPath {
            path: path.into(),
            query: query.map(Into::into),
        };
        assert!(p("/a", None).is(b"/a"));
        assert!(!p("/a", None).is(b"/a?"));
        assert!(!p("/a", None).is(b"/ab"));
        assert!(p("/a", Some("x=1")).is(b"/a?x=1"));
        assert!(!p("/a", Some("x=1")).is(b"/a?x=2"));
        assert!(!p("/a", Some("")).is(b"/a"));
        assert!(p("/a", Some("")).is(b"/a?"));
        assert!(!p("/a/b", None).is(b"/a"));
    }

    /// `Ok(path)` or `Err(())` for a 400.
    fn norm(raw: &[u8]) -> Result<String, ()> {
        match normalize(raw) {
            Ok(n) => Ok(n.path),
            Err(GateError::BadRequest(_)) => Err(()),
            Err(other) => panic!("unexpected error {other:?} for {raw:?}"),
        }
    }

    #[test]
    fn table() {
        let ok = |s: &'static str| Ok::<String, ()>(s.to_string());
        let bad = Err::<String, ()>(());
        let cases: &[(&[u8], Result<String, ()>)] = &[
            // plain paths
            (b"/", ok("/")),
            (b"/admin", ok("/admin")),
            (b"/admin/", ok("/admin/")),
            (b"/api/x/y", ok("/api/x/y")),
            (b"/API/x", ok("/API/x")),
            // duplicate slashes
            (b"//admin", ok("/admin")),
            (b"///admin//x", ok("/admin/x")),
            (b"/admin//", ok("/admin/")),
            (b"//", ok("/")),
            // dot segments
            (b"/./admin", ok("/admin")),
            (b"/x/../admin", ok("/admin")),
            (b"/a/b/../../admin", ok("/admin")),
            (b"/a/b/..", ok("/a/")),
            (b"/a/.", ok("/a/")),
            (b"/a/..", ok("/")),
            (b"/a/./b/./", ok("/a/b/")),
            (b"/...", ok("/...")),
            (b"/.hidden/..x", ok("/.hidden/..x")),
            // climbing above the root
            (b"/..", bad.clone()),
            (b"/../admin", bad.clone()),
            (b"/a/../../admin", bad.clone()),
            (b"/%2e%2e/admin", bad.clone()),
            // percent-decoding of unreserved characters, once
            (b"/%61dmin", ok("/admin")),
            (b"/%41dmin", ok("/Admin")),
            (b"/%7e%2D%5f", ok("/~-_")),
            (b"/public/%2e%2e/admin", ok("/admin")),
            (b"/public/%2E./admin", ok("/admin")),
            (b"/public/.%2e/admin", ok("/admin")),
            (b"/%2e/admin", ok("/admin")),
            (b"/public/%252e%252e/admin", ok("/public/%252e%252e/admin")),
            (b"/%252f", ok("/%252f")),
            (b"/a%20b", ok("/a%20b")),
            (b"/a%3fb", ok("/a%3Fb")),
            (b"/caf%c3%a9", ok("/caf%C3%A9")),
            // encoded separators
            (b"/admin%2f..", bad.clone()),
            (b"/admin%2F", bad.clone()),
            (b"/public/..%2fadmin", bad.clone()),
            (b"/public/..%5cadmin", bad.clone()),
            (b"/a%5Cb", bad.clone()),
            (b"/a\\b", bad.clone()),
            (b"/public/..\\admin", bad.clone()),
            // fragments
            (b"/admin#x", bad.clone()),
            (b"/admin%23", bad.clone()),
            (b"/public#/../admin", bad.clone()),
            (b"/x?a=1#frag", bad.clone()),
            // NUL and control characters, raw or encoded
            (b"/a%00", bad.clone()),
            (b"/a\x00", bad.clone()),
            (b"/a%0d%0aX-Auth-User:%20x", bad.clone()),
            (b"/a\tb", bad.clone()),
            (b"/a b", bad.clone()),
            (b"/a%7f", bad.clone()),
            (b"/a\x7f", bad.clone()),
            // non-ASCII raw bytes and invalid UTF-8 escapes
            (b"/caf\xc3\xa9", bad.clone()),
            (b"/a\xff", bad.clone()),
            (b"/%c0%ae%c0%ae/admin", bad.clone()),
            (b"/%ff", bad.clone()),
            // malformed escapes
            (b"/a%zz", bad.clone()),
            (b"/a%2", bad.clone()),
            (b"/a%", bad.clone()),
            (b"/a%%32%65", bad.clone()),
            // servlet path parameters
            (b"/public/..;/admin", bad.clone()),
            (b"/public/.;/admin", bad.clone()),
            (b"/public/..;jsessionid=1/admin", bad.clone()),
            (b"/public/%2e%2e;/admin", bad.clone()),
            (b"/a;jsessionid=1", ok("/a;jsessionid=1")),
            (b"/heroes;id=15", ok("/heroes;id=15")),
            (b"/public/x;/../admin", ok("/public/admin")),
            // not origin-form
            (b"http://evil/admin", bad.clone()),
            (b"https://evil/", bad.clone()),
            (b"evil.example:443", bad.clone()),
            (b"*", bad.clone()),
            (b"", bad.clone()),
            (b"?a=1", bad.clone()),
            (b"admin", bad.clone()),
        ];
        assert!(cases.len() >= 40);
        for (raw, want) in cases {
            assert_eq!(
                &norm(raw),
                want,
                "target {:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn request_target_from_raw_head() {
        let cases: &[(&[u8], Option<&[u8]>)] = &[
            (
                b"GET /admin#x HTTP/1.1\r\nHost: a\r\n\r\n",
                Some(b"/admin#x"),
            ),
            (b"\r\nGET /a?b HTTP/1.1\r\n\r\n", Some(b"/a?b")),
            (b"GET http://evil/ HTTP/1.1\n\n", Some(b"http://evil/")),
            (b"OPTIONS * HTTP/1.1\r\n", Some(b"*")),
            (b"GET  /a HTTP/1.1\r\n", None),
            (b"GET\r\n", None),
            (b"", None),
        ];
        for (head, want) in cases {
            assert_eq!(
                request_target(head),
                *want,
                "{:?}",
                String::from_utf8_lossy(head)
            );
        }
        let head = b"GET /admin#x HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(request_target(head).map(norm), Some(Err(())));
    }

    #[test]
    fn query_is_split_at_first_question_mark_and_kept_raw() {
        let n = normalize(b"/a/../b?x=%2e%2e/../c?d=%23&e=%2F").unwrap();
        assert_eq!(n.path, "/b");
        assert_eq!(n.query.as_deref(), Some("x=%2e%2e/../c?d=%23&e=%2F"));
        assert_eq!(n.path_and_query(), "/b?x=%2e%2e/../c?d=%23&e=%2F");

        let n = normalize(b"/b?").unwrap();
        assert_eq!(n.query.as_deref(), Some(""));
        assert_eq!(normalize(b"/b").unwrap().query, None);
    }

    #[test]
    fn query_never_affects_the_path() {
        // A `..` or encoded slash in the query is data, not a path.
        assert_eq!(norm(b"/public?/../admin"), Ok("/public".into()));
        assert_eq!(norm(b"/public?%2f..%2fadmin"), Ok("/public".into()));
    }

    #[test]
    fn query_refuses_unprintable_bytes() {
        for raw in [
            &b"/a?x=\x00"[..],
            b"/a?x=\r\nX: y",
            b"/a?x y",
            b"/a?\xff",
            b"/a?x#y",
        ] {
            assert_eq!(norm(raw), Err(()), "{raw:?}");
        }
    }

    #[test]
    fn normalising_twice_changes_nothing() {
        for raw in [
            &b"/a/./b//../c/"[..],
            b"/%7euser/%2e/x",
            b"/p%41th%20x/%C3%A9",
            b"/x;y/z",
        ] {
            let once = normalize(raw).unwrap().path;
            let twice = normalize(once.as_bytes()).unwrap().path;
            assert_eq!(once, twice);
        }
    }

    #[test]
    fn long_paths() {
        let deep = "/a".repeat(20_000);
        assert_eq!(norm(deep.as_bytes()), Ok(deep.clone()));

        let back = format!("{}{}", "/a".repeat(10_000), "/..".repeat(10_000));
        assert_eq!(norm(back.as_bytes()), Ok("/".into()));

        let climb = format!("{}{}", "/a".repeat(10_000), "/..".repeat(10_001));
        assert_eq!(norm(climb.as_bytes()), Err(()));

        let slashes = format!("{}admin", "/".repeat(50_000));
        assert_eq!(norm(slashes.as_bytes()), Ok("/admin".into()));
    }

    /// A small xorshift generator: deterministic, no extra crate.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn random_targets_never_panic_and_results_are_safe() {
        // Biased towards the bytes that matter so escapes and dot-segments
        // actually get formed.
        const ALPHABET: &[u8] = b"/.%2eEfF5cC3aA0;?#\\ab\x00\xc3\xa9~_-";
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut accepted = 0;
        for _ in 0..5_000 {
            let len = (rng.next() % 24) as usize;
            let mut raw = vec![b'/'];
            for _ in 0..len {
                let b = if rng.next().is_multiple_of(8) {
                    (rng.next() & 0xff) as u8
                } else {
                    let i = (rng.next() % ALPHABET.len() as u64) as usize;
                    ALPHABET[i]
                };
                raw.push(b);
            }
            let Ok(n) = normalize(&raw) else { continue };
            accepted += 1;
            let p = &n.path;
            assert!(p.starts_with('/'), "{raw:?} -> {p}");
            assert!(!p.contains("//"), "{raw:?} -> {p}");
            assert!(!p.contains('#') && !p.contains('\\'), "{raw:?} -> {p}");
            assert!(p.is_ascii(), "{raw:?} -> {p}");
            for seg in p.split('/') {
                assert!(seg != "." && seg != "..", "{raw:?} -> {p}");
            }
            let upper = p.to_ascii_uppercase();
            // No encoded separator, NUL or fragment survives, and unreserved
            // characters such as `.` are always decoded.
            for bad in ["%2F", "%5C", "%00", "%23", "%2E"] {
                assert!(!upper.contains(bad), "{raw:?} -> {p}");
            }
            // Normalisation is idempotent on everything it accepts.
            assert_eq!(
                normalize(p.as_bytes()).map(|m| m.path).ok().as_ref(),
                Some(p)
            );
        }
        assert!(accepted > 100, "generator too hostile: {accepted} accepted");
    }

    #[test]
    fn path_params_are_removed_as_tomcat_does() {
        let stripped = |p: &str| without_path_params(p).map(|r| r.map(|n| n.path).map_err(|_| ()));
        assert!(stripped("/admin/x").is_none(), "no `;`, nothing to compare");
        for (path, want) in [
            ("/admin;x/secret", "/admin/secret"),
            ("/admin;jsessionid=1;a=b/x", "/admin/x"),
            ("/;x/admin/x", "/admin/x"),
            ("/admin;/x", "/admin/x"),
            ("/products;id=3", "/products"),
            ("/a/b;c", "/a/b"),
            ("/a;", "/a"),
        ] {
            assert_eq!(stripped(path), Some(Ok(want.to_string())), "{path}");
        }
    }
}
