//! `[[tokens.trusted_issuers]]` as written: the documented example, defaults,
//! and a table of bad entries each checked by file, line and key.

use std::path::PathBuf;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde_json::json;

use crate::config::compile::compile;
use crate::config::{Config, ConfigError, JwksSource};

/// Everything but the issuers; snippets are appended after it.
const BASE: &str = r#"[server]
listen = "127.0.0.1:8080"
[users]
file = "users.toml"
[tokens]
signing_key_file = "keys/signing.pem"
[upstreams.app]
addr = "127.0.0.1:3000"
[roles]
admin = ["*"]
user = ["posts:read"]
[[routes]]
path = "/**"
upstream = "app"
"#;

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("keys")).unwrap();
        std::fs::write(dir.path().join("keys/signing.pem"), "placeholder\n").unwrap();
        std::fs::write(dir.path().join("users.toml"), "placeholder\n").unwrap();
        let sk = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
        let x = URL_SAFE_NO_PAD.encode(sk.verifying_key().as_bytes());
        let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": x}]});
        std::fs::write(dir.path().join("idp-jwks.json"), jwks.to_string()).unwrap();
        std::fs::write(dir.path().join("bad-jwks.json"), "{\"keys\": 3}").unwrap();
        Fixture { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("gateway.toml")
    }

    fn load(&self, snippet: &str) -> Result<Config, ConfigError> {
        compile(&self.path(), &format!("{BASE}{snippet}"))
    }
}

/// Line `n` of a snippet is this line of the file.
fn line(n: usize) -> usize {
    BASE.lines().count() + n
}

#[test]
fn documented_example_compiles() {
    let fx = Fixture::new();
    let cfg = fx
        .load(
            r#"
[[tokens.trusted_issuers]]
issuer = "https://idp.example.com"
audience = "apps"
jwks_file = "idp-jwks.json"
algorithms = ["EdDSA", "RS256", "EdDSA"]
roles_claim = "realm_access.roles"
role_map = { "idp-admins" = "admin", "staff" = "user" }
username_claim = "preferred_username"
email_claim = "mail"

[[tokens.trusted_issuers]]
issuer = "https://other.example.com/"
audience = "apps"
jwks_url = "https://other.example.com/.well-known/jwks.json"
algorithms = ["PS256", "ES256", "ES384", "RS384", "RS512", "PS384", "PS512"]
refresh = "1h"

[[tokens.trusted_issuers]]
issuer = "local"
audience = "apps"
jwks_url = "http://127.0.0.1:9999/jwks"
algorithms = ["EdDSA"]
"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let list = &cfg.trusted_issuers;
    assert_eq!(list.len(), 3);
    let a = &list[0];
    assert_eq!(
        (a.issuer.as_str(), a.audience.as_str()),
        ("https://idp.example.com", "apps")
    );
    assert_eq!(a.algorithms, vec![Algorithm::EdDSA, Algorithm::RS256]);
    assert_eq!(a.roles_claim, "realm_access.roles");
    assert_eq!(
        (a.username_claim.as_str(), a.email_claim.as_str()),
        ("preferred_username", "mail")
    );
    let map = a.role_map.as_ref().unwrap();
    assert_eq!(map.get("idp-admins").map(String::as_str), Some("admin"));
    match &a.jwks {
        JwksSource::File { path, keys } => {
            assert_eq!(path, &fx.dir.path().join("idp-jwks.json"));
            assert_eq!(keys.kids(), vec!["ed-1"]);
        }
        other => panic!("{other:?}"),
    }
    let b = &list[1];
    assert!(matches!(&b.jwks, JwksSource::Url { url, refresh }
        if url == "https://other.example.com/.well-known/jwks.json" && *refresh == Duration::from_secs(3600)));
    assert_eq!(b.algorithms.len(), 7);
    // Defaults.
    assert_eq!(
        (
            b.roles_claim.as_str(),
            b.username_claim.as_str(),
            b.email_claim.as_str()
        ),
        ("roles", "sub", "email")
    );
    assert!(b.role_map.is_none());
    assert!(
        matches!(&list[2].jwks, JwksSource::Url { refresh, .. } if *refresh == Duration::from_secs(600))
    );
}

#[test]
fn no_issuers_by_default() {
    let cfg = Fixture::new().load("").unwrap_or_else(|e| panic!("{e}"));
    assert!(cfg.trusted_issuers.is_empty());
}

/// A valid entry with `line` (TOML) replaced or added: the key before `=`.
fn entry(change: &str) -> String {
    let mut lines = vec![
        "[[tokens.trusted_issuers]]".to_owned(),
        "issuer = \"https://idp.example.com\"".to_owned(),
        "audience = \"apps\"".to_owned(),
        "jwks_file = \"idp-jwks.json\"".to_owned(),
        "algorithms = [\"EdDSA\"]".to_owned(),
    ];
    if let Some((key, _)) = change.split_once(" = ") {
        match lines
            .iter()
            .position(|l| l.starts_with(&format!("{key} = ")))
        {
            Some(i) => lines[i] = change.to_owned(),
            None => lines.push(change.to_owned()),
        }
    } else if let Some(key) = change.strip_prefix("-") {
        lines.retain(|l| !l.starts_with(&format!("{key} = ")));
    }
    format!("\n{}\n", lines.join("\n"))
}

#[test]
fn bad_entries_name_file_line_and_key() {
    let fx = Fixture::new();
    let k = "tokens.trusted_issuers[0]";
    // (snippet, line within the snippet, key, message part); a snippet
    // starts with a blank line, so its table header is line 2.
    let cases: Vec<(String, usize, String, &str)> = vec![
        (
            entry("algorithms = [\"HS256\"]"),
            6,
            format!("{k}.algorithms[0]"),
            "symmetric",
        ),
        (
            entry("algorithms = [\"EdDSA\", \"none\"]"),
            6,
            format!("{k}.algorithms[1]"),
            "unknown algorithm \"none\"",
        ),
        (
            entry("algorithms = []"),
            6,
            format!("{k}.algorithms"),
            "empty",
        ),
        (
            entry("-algorithms"),
            2,
            format!("{k}.algorithms"),
            "missing",
        ),
        (entry("-issuer"), 2, format!("{k}.issuer"), "missing"),
        (entry("-audience"), 2, format!("{k}.audience"), "missing"),
        (
            entry("audience = \" apps\""),
            4,
            format!("{k}.audience"),
            "non-empty",
        ),
        (
            entry("issuer = \"gatehouse\""),
            3,
            format!("{k}.issuer"),
            "gatehouse's own",
        ),
        (
            entry("-jwks_file"),
            2,
            format!("{k}.jwks_file"),
            "missing: jwks_file",
        ),
        (
            entry("jwks_url = \"https://idp.example.com/jwks\""),
            7,
            format!("{k}.jwks_url"),
            "not both",
        ),
        (
            entry("jwks_file = \"nope.json\""),
            5,
            format!("{k}.jwks_file"),
            "nope.json cannot be read",
        ),
        (
            entry("jwks_file = \"bad-jwks.json\""),
            5,
            format!("{k}.jwks_file"),
            "not a JWKS",
        ),
        (
            entry("algorithms = [\"RS256\"]"),
            5,
            format!("{k}.jwks_file"),
            "no usable signing key",
        ),
        (
            entry("refresh = \"5m\""),
            7,
            format!("{k}.refresh"),
            "only for jwks_url",
        ),
        (
            entry("roles_claim = \"\""),
            7,
            format!("{k}.roles_claim"),
            "claim name",
        ),
        (
            entry("role_map = { \"idp-admins\" = \"root\" }"),
            7,
            format!("{k}.role_map.idp-admins"),
            "unknown role \"root\"",
        ),
        (
            entry("groups_claim = \"groups\""),
            7,
            format!("{k}.groups_claim"),
            "unknown field `groups_claim`",
        ),
        (
            entry("algorithms = \"RS256\""),
            6,
            format!("{k}.algorithms"),
            "invalid type",
        ),
    ];
    let url_cases: Vec<(&str, &str)> = vec![
        ("http://idp.example.com/jwks", "plain http"),
        ("http://10.0.0.1/jwks", "plain http"),
        ("ftp://idp.example.com/jwks", "scheme \"ftp\""),
        (
            "https://user:pw@idp.example.com/jwks",
            "user name or password",
        ),
        ("https://idp.example.com/jwks#x", "fragment"),
        ("idp.example.com/jwks", "not a URL"),
    ];
    let mut cases = cases;
    for (url, why) in url_cases {
        let text = entry("-jwks_file")
            .replace("[\"EdDSA\"]", &format!("[\"EdDSA\"]\njwks_url = \"{url}\""));
        cases.push((text, 6, format!("{k}.jwks_url"), why));
    }
    let refresh = entry("-jwks_file").replace(
        "[\"EdDSA\"]",
        "[\"EdDSA\"]\njwks_url = \"https://idp.example.com/k\"\nrefresh = \"0s\"",
    );
    cases.push((refresh, 7, format!("{k}.refresh"), "at least 1s"));
    for (snippet, n, key, msg) in cases {
        let err = fx
            .load(&snippet)
            .err()
            .unwrap_or_else(|| panic!("accepted:{snippet}"));
        let d = err
            .0
            .iter()
            .find(|d| d.key == key)
            .unwrap_or_else(|| panic!("no diagnostic for {key} in:{snippet}\n{err}"));
        assert_eq!(
            (d.file.as_path(), d.line),
            (fx.path().as_path(), line(n)),
            "{d}\n{snippet}"
        );
        assert!(d.message.contains(msg), "{d} lacks {msg:?}");
    }
}

#[test]
fn duplicate_issuers_are_refused() {
    let fx = Fixture::new();
    let text = format!("{}{}", entry(""), entry(""));
    let err = fx.load(&text).unwrap_err();
    let d = &err.0[0];
    assert_eq!(d.key, "tokens.trusted_issuers[1].issuer");
    assert_eq!(d.line, line(9));
    assert!(
        d.message
            .contains(&format!("already trusted at line {}", line(3))),
        "{d}"
    );
}

#[test]
fn loopback_http_is_allowed() {
    for url in [
        "http://127.0.0.1:8/j",
        "http://[::1]:8/j",
        "http://localhost/j",
        "https://idp/j",
    ] {
        assert_eq!(super::check_jwks_url(url), Ok(()), "{url}");
    }
}
