//! Session secrets and cookies. The cookie carries a 256-bit secret; the
//! store and JWTs only ever see its public id (`sid`), a hash of it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cookie::time::{Duration, OffsetDateTime};
use cookie::{Cookie, CookieBuilder};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::{SameSite, SessionConfig};

/// A new session secret (256 bits, OS RNG, base64url without padding).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The public session id of a secret: first 32 hex chars of its SHA-256.
/// One-way, so a leaked store or JWT cannot be turned into a cookie.
pub fn sid_of(secret: &str) -> String {
    let mut hex = hex::encode(Sha256::digest(secret.as_bytes()));
    hex.truncate(32);
    hex
}

/// Find a cookie's value in one or more `Cookie` header values. Malformed
/// pairs are skipped; the first cookie of that name wins.
pub fn find_cookie<'a>(cookie_headers: &[&'a str], name: &str) -> Option<&'a str> {
    cookie_in(cookie_headers.iter().copied(), name)
}

/// A cookie's value from a request's `Cookie` headers (all of them; values
/// that are not text are skipped). Allocates nothing.
pub fn request_cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    let values = headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    cookie_in(values, name)
}

fn cookie_in<'a>(values: impl Iterator<Item = &'a str>, name: &str) -> Option<&'a str> {
    values
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .find(|(n, _)| n.trim() == name)
        .map(|(_, v)| v.trim())
}

/// The attributes every gatehouse cookie carries (SPEC §5): HttpOnly, Secure
/// (always, see `SessionConfig`), SameSite, Path=/ and no Domain, which the
/// `__Host-` prefix requires.
fn base<'c>(cfg: &SessionConfig, name: &'c str, value: &'c str) -> CookieBuilder<'c> {
    let same_site = match cfg.same_site {
        SameSite::Strict => cookie::SameSite::Strict,
        SameSite::Lax => cookie::SameSite::Lax,
    };
    Cookie::build((name, value))
        .http_only(true)
        .secure(true)
        .same_site(same_site)
        .path("/")
}

/// `Set-Cookie` value for a cookie (HttpOnly, Secure per config, SameSite,
/// Path=/, Max-Age in seconds). `value` must be cookie-safe; gatehouse's
/// secrets and tokens are base64url.
pub fn set_cookie(cfg: &SessionConfig, name: &str, value: &str, max_age_secs: i64) -> String {
    base(cfg, name, value)
        .max_age(Duration::seconds(max_age_secs.max(0)))
        .build()
        .to_string()
}

/// `Set-Cookie` value that deletes a cookie.
pub fn clear_cookie(cfg: &SessionConfig, name: &str) -> String {
    base(cfg, name, "")
        .max_age(Duration::ZERO)
        .expires(OffsetDateTime::UNIX_EPOCH)
        .build()
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration as StdDuration;

    use super::*;

    fn cfg(same_site: SameSite) -> SessionConfig {
        SessionConfig {
            cookie_name: "__Host-gatehouse".into(),
            refresh_cookie_name: "__Host-gatehouse-refresh".into(),
            csrf_cookie_name: "__Host-gatehouse-csrf".into(),
            idle_timeout: StdDuration::from_secs(1800),
            absolute_timeout: StdDuration::from_secs(43200),
            same_site,
        }
    }

    /// The attributes of a Set-Cookie value, lower-cased, without name=value.
    fn attrs(set_cookie: &str) -> HashSet<String> {
        set_cookie
            .split(';')
            .skip(1)
            .map(|a| a.trim().to_ascii_lowercase())
            .collect()
    }

    #[test]
    fn secrets_are_256_bit_distinct_and_sid_is_a_hash() {
        let secrets: HashSet<String> = (0..100).map(|_| new_secret()).collect();
        assert_eq!(secrets.len(), 100);
        for s in &secrets {
            assert_eq!(URL_SAFE_NO_PAD.decode(s).unwrap().len(), 32);
            let sid = sid_of(s);
            assert_eq!(sid.len(), 32);
            assert!(sid
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            assert!(!s.contains(&sid) && !sid.contains(s.as_str()));
        }
        // First 32 hex chars of SHA-256("abc").
        assert_eq!(sid_of("abc"), "ba7816bf8f01cfea414140de5dae2223");
    }

    #[test]
    fn find_cookie_table() {
        let n = "__Host-gatehouse";
        let cases: &[(&[&str], Option<&str>)] = &[
            (&[], None),
            (&[""], None),
            (&["__Host-gatehouse=abc"], Some("abc")),
            (&["a=1; __Host-gatehouse=abc; b=2"], Some("abc")),
            (&["a=1;__Host-gatehouse=abc"], Some("abc")),
            (&["  __Host-gatehouse = abc  "], Some("abc")),
            // Only the exact name, not a prefix or suffix of it.
            (&["__Host-gatehouse-refresh=r"], None),
            (&["x__Host-gatehouse=r"], None),
            (&["__host-gatehouse=r"], None),
            // First one wins, across headers too.
            (
                &["__Host-gatehouse=first; __Host-gatehouse=second"],
                Some("first"),
            ),
            (
                &["a=1", "__Host-gatehouse=second-header"],
                Some("second-header"),
            ),
            (
                &["__Host-gatehouse=one", "__Host-gatehouse=two"],
                Some("one"),
            ),
            // Garbage pairs are skipped.
            (&[";;; garbage ; =; ==; __Host-gatehouse=ok"], Some("ok")),
            (&["__Host-gatehouse"], None),
            (&["__Host-gatehouse="], Some("")),
            (&["__Host-gatehouse=a=b"], Some("a=b")),
            (&["\u{0}\u{ff}; __Host-gatehouse=v"], Some("v")),
        ];
        for (headers, want) in cases {
            assert_eq!(find_cookie(headers, n), *want, "{headers:?}");
        }
    }

    #[test]
    fn set_cookie_attributes() {
        for (same_site, want) in [
            (SameSite::Lax, "samesite=lax"),
            (SameSite::Strict, "samesite=strict"),
        ] {
            let c = set_cookie(&cfg(same_site), "__Host-gatehouse", "s3cr3t", 1800);
            assert!(c.starts_with("__Host-gatehouse=s3cr3t;"), "{c}");
            let a = attrs(&c);
            for must in ["httponly", "secure", "path=/", "max-age=1800", want] {
                assert!(a.contains(must), "{c} lacks {must}");
            }
            // `__Host-` cookies must not carry Domain.
            assert!(!a.iter().any(|x| x.starts_with("domain")), "{c}");
            // And the browser sends it back as we parse it.
            assert_eq!(
                find_cookie(&[c.split(';').next().unwrap()], "__Host-gatehouse"),
                Some("s3cr3t")
            );
        }
        let negative = set_cookie(&cfg(SameSite::Lax), "n", "v", -5);
        assert!(attrs(&negative).contains("max-age=0"), "{negative}");
    }

    #[test]
    fn clear_cookie_expires_it_with_the_same_scope() {
        let c = clear_cookie(&cfg(SameSite::Strict), "__Host-gatehouse-refresh");
        assert!(c.starts_with("__Host-gatehouse-refresh=;"), "{c}");
        let a = attrs(&c);
        for must in [
            "httponly",
            "secure",
            "path=/",
            "max-age=0",
            "samesite=strict",
        ] {
            assert!(a.contains(must), "{c} lacks {must}");
        }
        assert!(
            a.iter()
                .any(|x| x.starts_with("expires=") && x.contains("1970")),
            "{c}"
        );
        assert!(!a.iter().any(|x| x.starts_with("domain")), "{c}");
    }
}
