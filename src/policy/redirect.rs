//! Post-login redirect targets (`rd`): same-origin paths, and for
//! forward-auth (SPEC §10) absolute URLs to our own hosts only, so the
//! login page cannot be turned into an open redirect.

use crate::policy::host::RequestHost;

/// Where an absolute `rd` may point: `public_url`'s host (over https, or
/// with `public_url`'s own scheme and port) and `[session] cookie_domain`
/// with the hosts under it (over https).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedirectHosts {
    /// `public_url`: https?, lower-case host, port (None: the default).
    pub public: Option<(bool, String, Option<u16>)>,
    /// Lower-case, no leading dot.
    pub cookie_domain: Option<String>,
}

impl RedirectHosts {
    /// From `public_url`'s origin (`scheme://host[:port]`, as compiled) and
    /// `[session] cookie_domain`.
    pub fn new(public_origin: Option<&str>, cookie_domain: Option<&str>) -> Self {
        let public = public_origin.and_then(|o| {
            let (scheme, authority) = o.split_once("://")?;
            let host = RequestHost::parse(authority.as_bytes()).ok()?;
            Some((scheme == "https", host.name().to_owned(), host.port()))
        });
        RedirectHosts {
            public,
            cookie_domain: cookie_domain.map(str::to_owned),
        }
    }

    /// `rd` if it is a safe same-origin path or an allowed absolute URL,
    /// else `/`.
    pub fn check<'a>(&self, rd: &'a str) -> &'a str {
        if rd.starts_with('/') {
            return safe_redirect(rd);
        }
        if self.allows_absolute(rd) {
            rd
        } else {
            "/"
        }
    }

    fn allows_absolute(&self, rd: &str) -> bool {
        let b = rd.as_bytes();
        if b.iter().any(|&c| c == b'\\' || c <= b' ' || c >= 0x7f) {
            return false;
        }
        let Some((scheme, rest)) = rd.split_once("://") else {
            return false;
        };
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            _ => return false,
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        // Userinfo (`example.com@evil.test`) and any escape in the authority
        // are refused by the host parser; a tail must not start a new
        // authority (`https://h//evil.test` is a path, but some apps strip it).
        let Ok(host) = RequestHost::parse(authority.as_bytes()) else {
            return false;
        };
        if tail.starts_with("//") || tail.to_ascii_lowercase().contains("%5c") {
            return false;
        }
        let default_port = |p: Option<u16>| p.is_none() || p == Some(if https { 443 } else { 80 });
        let name = host.name();
        let is_public = self
            .public
            .as_ref()
            .is_some_and(|(p_https, p_host, p_port)| {
                name == p_host
                    && ((https && default_port(host.port()))
                        || (https == *p_https
                            && normal_port(host.port(), https) == normal_port(*p_port, *p_https)))
            });
        let under_domain = self.cookie_domain.as_deref().is_some_and(|d| {
            https
                && default_port(host.port())
                && (name == d || name.strip_suffix(d).is_some_and(|pre| pre.ends_with('.')))
        });
        is_public || under_domain
    }
}

/// A port with the scheme's default spelled out.
fn normal_port(port: Option<u16>, https: bool) -> u16 {
    port.unwrap_or(if https { 443 } else { 80 })
}

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
    use super::{safe_redirect, RedirectHosts};

    #[test]
    fn absolute_rd_only_to_our_hosts() {
        let hosts = RedirectHosts {
            public: Some((true, "auth.example.com".into(), None)),
            cookie_domain: Some("example.com".into()),
        };
        let plain = RedirectHosts {
            public: Some((false, "127.0.0.1".into(), Some(8080))),
            cookie_domain: None,
        };
        let allowed = [
            (&hosts, "https://auth.example.com/x"),
            (&hosts, "https://app1.example.com/dash?tab=2"),
            (&hosts, "https://a.b.example.com"),
            (&hosts, "https://example.com/"),
            (&hosts, "HTTPS://APP1.EXAMPLE.COM/x"),
            (&hosts, "https://app1.example.com:443/x"),
            (&hosts, "https://app1.example.com./x"),
            (&hosts, "https://app1.example.com?x=1"),
            (&plain, "http://127.0.0.1:8080/x"),
            (&plain, "https://127.0.0.1/x"),
        ];
        for (h, rd) in allowed {
            assert_eq!(h.check(rd), rd, "{rd} should be allowed");
        }
        let refused = [
            (&hosts, "https://evil.test/"),
            (&hosts, "https://example.com.evil.test/"),
            (&hosts, "https://evil.test/.example.com"),
            (&hosts, "https://evil.test?.example.com"),
            (&hosts, "https://evil.test#.example.com"),
            (&hosts, "https://example.com@evil.test/"),
            (&hosts, "https://app1.example.com@evil.test/"),
            (&hosts, "https://app1.example.com%2f@evil.test/"),
            (&hosts, "https://evil.test\\.example.com/"),
            (&hosts, "https:/\\evil.test/"),
            (&hosts, "https:evil.test"),
            (&hosts, "//evil.test/"),
            (&hosts, "https://notexample.com/"),
            (&hosts, "https://xexample.com/"),
            (&hosts, "http://app1.example.com/"),
            (&hosts, "https://app1.example.com:8443/"),
            (&hosts, "https://app1.example.com//evil.test"),
            (&hosts, "https://app1.example.com/%5cevil.test"),
            (&hosts, "javascript://app1.example.com/%0aalert(1)"),
            (&hosts, "https://app1.example.com/\t"),
            (&hosts, "https://app1.exam\tple.com/"),
            (&hosts, "https://[::1]/"),
            (&plain, "http://127.0.0.1:9090/x"),
            (&plain, "http://127.0.0.1/x"),
            (&plain, "http://localhost:8080/x"),
            (&RedirectHosts::default(), "https://auth.example.com/x"),
        ];
        for (h, rd) in refused {
            assert_eq!(h.check(rd), "/", "{rd} should be refused");
        }
        // Built from the compiled config.
        assert_eq!(
            RedirectHosts::new(Some("https://auth.example.com"), Some("example.com")),
            hosts
        );
        assert_eq!(
            RedirectHosts::new(Some("http://127.0.0.1:8080"), None),
            plain
        );
        // Relative targets follow the same-origin rules.
        assert_eq!(hosts.check("/x?y"), "/x?y");
        assert_eq!(hosts.check("//evil.test"), "/");
    }

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
