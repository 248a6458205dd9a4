//! Post-login redirect targets (`rd`): same-origin paths only, so the login
//! page cannot be turned into an open redirect.

/// `rd` if it is a safe same-origin path, else `/`.
///
/// Refused: anything not starting with a single `/` (`//evil.com` and
/// `https://evil.com`), any `\` (browsers read `/\evil.com` as
/// `//evil.com`), and any control or whitespace character (browsers strip
/// tabs and newlines, turning `/\t/evil.com` into `//evil.com`), and any
/// non-ASCII byte (it cannot go into a `Location` header as is).
pub fn safe_redirect(rd: &str) -> &str {
    let b = rd.as_bytes();
    let ok = b.first() == Some(&b'/')
        && b.get(1) != Some(&b'/')
        && !b.iter().any(|&c| c == b'\\' || c <= b' ' || c >= 0x7f)
        && !rd.to_ascii_lowercase().contains("%5c")
        && !starts_with_encoded_slash(rd);
    if ok {
        rd
    } else {
        "/"
    }
}

/// `/%2F...` or `/%5C...`: decoded once more by some apps into `//...`.
fn starts_with_encoded_slash(rd: &str) -> bool {
    let rest = rd.get(1..4).unwrap_or("").to_ascii_lowercase();
    rest == "%2f" || rest == "%5c"
}

#[cfg(test)]
mod tests {
    use super::safe_redirect;

    #[test]
    fn only_same_origin_paths_survive() {
        let cases = [
            ("/", "/"),
            ("/app/page?x=1", "/app/page?x=1"),
            ("/a//b", "/a//b"),
            ("", "/"),
            ("app", "/"),
            ("//evil.com", "/"),
            ("///evil.com", "/"),
            ("https://evil.com", "/"),
            ("http:evil.com", "/"),
            ("/\\evil.com", "/"),
            ("/%5cevil.com", "/"),
            ("/%2F%2Fevil.com", "/"),
            ("/%2f/evil.com", "/"),
            ("/\t/evil.com", "/"),
            ("/\n/evil.com", "/"),
            (" /x", "/"),
            ("javascript:alert(1)", "/"),
            ("/caf\u{e9}", "/"),
            ("/%C3%A9", "/%C3%A9"),
        ];
        for (input, want) in cases {
            assert_eq!(safe_redirect(input), want, "rd = {input:?}");
        }
    }
}
