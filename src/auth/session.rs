//! Session secrets and cookies. The cookie carries a 256-bit secret; the
//! store and JWTs only ever see its public id (`sid`), a hash of it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cookie::time::{Duration, OffsetDateTime};
use cookie::{Cookie, CookieBuilder};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::auth::settings::{SameSite, SessionConfig};
use crate::store::slot;

/// A new random value (256 bits, OS RNG, base64url without padding).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new session secret for `user_id`: 256 random bits behind the user's
/// store slot tag (`store::slot`), which `sid_of` keeps, so the store finds
/// the session's Redis Cluster slot from the cookie alone.
pub fn new_session_secret(user_id: &str) -> String {
    slot::tagged(user_id, &new_secret())
}

/// The public session id of a secret: its slot tag, then hex of its SHA-256,
/// 32 characters in all. One-way, so a leaked store or JWT cannot be turned
/// into a cookie.
pub fn sid_of(secret: &str) -> String {
    let mut sid = slot::tag_of(secret).to_string();
    let hex = hex::encode(Sha256::digest(secret.as_bytes()));
    sid.push_str(&hex[..32 - slot::TAG_LEN]);
    sid
}

/// A cookie of ours sent more than once with different values: the gateway
/// and whatever reads the request after it could each take a different one
/// (cookie tossing from a sibling subdomain, a forged second value), so the
/// request is refused (400) instead of guessing (issue 10, point 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieConflict;

/// The values of the named cookies across every `Cookie` header of a
/// request, in `names` order. A name sent twice with the same value is one
/// cookie (browsers may send a duplicate from another path or domain); sent
/// twice with different values it is a `CookieConflict`. Headers are read as
/// bytes, so a value that is not text still counts for the comparison; such a
/// value is returned as absent. Allocates nothing.
pub fn request_cookies<'a, const N: usize>(
    headers: &'a http::HeaderMap,
    names: [&str; N],
) -> Result<[Option<&'a str>; N], CookieConflict> {
    let mut found: [Option<&'a [u8]>; N] = [None; N];
    let values = headers.get_all(http::header::COOKIE).iter();
    for pair in values.flat_map(|h| h.as_bytes().split(|&b| b == b';')) {
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (name, value) = (pair[..eq].trim_ascii(), pair[eq + 1..].trim_ascii());
        for (slot, wanted) in found.iter_mut().zip(names) {
            if name != wanted.as_bytes() {
                continue;
            }
            match slot {
                None => *slot = Some(value),
                Some(seen) if *seen == value => {}
                Some(_) => return Err(CookieConflict),
            }
        }
    }
    Ok(found.map(|v| v.and_then(|v| std::str::from_utf8(v).ok())))
}

/// One cookie's value (see `request_cookies`).
pub fn request_cookie<'a>(
    headers: &'a http::HeaderMap,
    name: &str,
) -> Result<Option<&'a str>, CookieConflict> {
    request_cookies(headers, [name]).map(|[v]| v)
}

/// The attributes every gatehouse cookie carries (SPEC §5): HttpOnly, Secure
/// (always, see `SessionConfig`), SameSite, Path=/ and no Domain, which the
/// `__Host-` prefix requires.
fn base<'c>(cfg: &SessionConfig, name: &'c str, value: &'c str) -> CookieBuilder<'c> {
    let same_site = match cfg.same_site {
        SameSite::Strict => cookie::SameSite::Strict,
        SameSite::Lax => cookie::SameSite::Lax,
    };
    let cookie = Cookie::build((name, value))
        .http_only(true)
        .secure(true)
        .same_site(same_site)
        .path("/");
    match &cfg.cookie_domain {
        Some(domain) => cookie.domain(domain.clone()),
        None => cookie,
    }
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

/// `set_cookie` with `SameSite=Lax` whatever the config says: the OIDC
/// pre-login cookie must come back on the provider's top-level redirect to
/// the callback, which `Strict` would withhold (SPEC §13).
pub fn set_lax_cookie(cfg: &SessionConfig, name: &str, value: &str, max_age_secs: i64) -> String {
    base(cfg, name, value)
        .same_site(cookie::SameSite::Lax)
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

/// The `Set-Cookie` values that end a browser's session: its session and
/// refresh cookies cleared.
pub fn clear_session_cookies(cfg: &SessionConfig) -> [(&'static str, String); 2] {
    [
        ("Set-Cookie", clear_cookie(cfg, &cfg.cookie_name)),
        ("Set-Cookie", clear_cookie(cfg, &cfg.refresh_cookie_name)),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration as StdDuration;

    use super::*;

    fn cfg(same_site: SameSite) -> SessionConfig {
        SessionConfig {
            stream_recheck: std::time::Duration::from_secs(30),
            cookie_name: "__Host-gatehouse".into(),
            cookie_domain: None,
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
            let s = &slot::tagged("u1", s);
            let sid = sid_of(s);
            assert_eq!(sid.len(), 32);
            assert!(sid
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            assert!(!s.contains(&sid) && !sid.contains(s.as_str()));
        }
        // The tag (first four characters), then the first 28 hex chars of
        // SHA-256("abcd").
        assert_eq!(sid_of("abcd"), "abcd88d4266fd4e6338d13b845fcf289");
        let secret = new_session_secret("alice");
        assert_eq!(slot::tag_of(&sid_of(&secret)), slot::user_tag("alice"));
        assert_eq!(sid_of(&secret).len(), 32);
    }

    fn cookie_headers(lines: &[&[u8]]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for line in lines {
            h.append(
                http::header::COOKIE,
                http::HeaderValue::from_bytes(line).expect("header value"),
            );
        }
        h
    }

    /// What `request_cookie` gives.
    type Lookup = Result<Option<&'static str>, CookieConflict>;

    #[test]
    fn request_cookie_table() {
        let n = "__Host-gatehouse";
        let conflict = Err(CookieConflict);
        let cases: &[(&[&[u8]], Lookup)] = &[
            (&[], Ok(None)),
            (&[b""], Ok(None)),
            (&[b"__Host-gatehouse=abc"], Ok(Some("abc"))),
            (&[b"a=1; __Host-gatehouse=abc; b=2"], Ok(Some("abc"))),
            (&[b"a=1;__Host-gatehouse=abc"], Ok(Some("abc"))),
            (&[b"  __Host-gatehouse = abc  "], Ok(Some("abc"))),
            // Only the exact name, not a prefix or suffix of it.
            (&[b"__Host-gatehouse-refresh=r"], Ok(None)),
            (&[b"x__Host-gatehouse=r"], Ok(None)),
            (&[b"__host-gatehouse=r"], Ok(None)),
            // Two different values: ambiguous, in one header or across two.
            (
                &[b"__Host-gatehouse=first; __Host-gatehouse=second"],
                conflict,
            ),
            (
                &[b"__Host-gatehouse=one", b"__Host-gatehouse=two"],
                conflict,
            ),
            (&[b"__Host-gatehouse=one", b"__Host-gatehouse="], conflict),
            (
                &[b"__Host-gatehouse=v", b"__Host-gatehouse=v\xff"],
                conflict,
            ),
            // The same value twice is one cookie.
            (
                &[b"__Host-gatehouse=same; __Host-gatehouse= same"],
                Ok(Some("same")),
            ),
            (
                &[b"__Host-gatehouse=same", b"a=1; __Host-gatehouse=same"],
                Ok(Some("same")),
            ),
            (
                &[b"a=1", b"__Host-gatehouse=second-header"],
                Ok(Some("second-header")),
            ),
            // Garbage pairs are skipped.
            (
                &[b";;; garbage ; =; ==; __Host-gatehouse=ok"],
                Ok(Some("ok")),
            ),
            (&[b"__Host-gatehouse"], Ok(None)),
            (&[b"__Host-gatehouse="], Ok(Some(""))),
            (&[b"__Host-gatehouse=a=b"], Ok(Some("a=b"))),
            // A header that is not text elsewhere still yields our cookie.
            (&[b"x=\xff; __Host-gatehouse=v"], Ok(Some("v"))),
        ];
        for (lines, want) in cases {
            let headers = cookie_headers(lines);
            assert_eq!(request_cookie(&headers, n), *want, "{lines:?}");
        }
    }

    #[test]
    fn several_cookies_in_one_pass() {
        let h = cookie_headers(&[b"s=1; r=2", b"c=3; other=x"]);
        assert_eq!(
            request_cookies(&h, ["s", "r", "c"]),
            Ok([Some("1"), Some("2"), Some("3")])
        );
        let h = cookie_headers(&[b"s=1; r=2", b"r=3"]);
        assert_eq!(request_cookies(&h, ["s", "r", "c"]), Err(CookieConflict));
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
            let sent = cookie_headers(&[c.split(';').next().unwrap().as_bytes()]);
            assert_eq!(
                request_cookie(&sent, "__Host-gatehouse"),
                Ok(Some("s3cr3t"))
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
