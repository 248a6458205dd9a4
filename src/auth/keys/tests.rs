//! Key loading, derivation of the public half, kid and JWKS. Fixtures are
//! throw-away test keys (see `testdata/README.md`).

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use ed25519_dalek::pkcs8::DecodePublicKey;
use serde_json::Value;

use super::*;
use crate::config::Secret;

const ED25519: &[u8] = include_bytes!("../testdata/test-ed25519.pem");
const ED25519_PUBLIC: &[u8] = include_bytes!("../testdata/test-ed25519-public.pem");
const P256_SEC1: &[u8] = include_bytes!("../testdata/test-p256-sec1.pem");
const P256_PKCS8: &[u8] = include_bytes!("../testdata/test-p256-pkcs8.pem");
const P384_PKCS8: &[u8] = include_bytes!("../testdata/test-p384-pkcs8.pem");
const RSA2048_PKCS1: &[u8] = include_bytes!("../testdata/test-rsa2048-pkcs1.pem");
const RSA2048_PKCS8: &[u8] = include_bytes!("../testdata/test-rsa2048-pkcs8.pem");
const RSA1024_PKCS1: &[u8] = include_bytes!("../testdata/test-rsa1024-pkcs1.pem");

fn token_config(algorithm: TokenAlgorithm, signing: SigningSecret) -> TokenConfig {
    TokenConfig {
        issuer: "gatehouse".into(),
        audience: "apps".into(),
        algorithm,
        signing,
        access_ttl: Duration::from_secs(900),
        refresh_ttl: Duration::from_secs(7 * 86400),
        refresh_reuse_grace: Duration::from_secs(10),
        previous_keys: Default::default(),
        previous_secret: None,
    }
}

fn jwks(keys: &KeySet) -> Value {
    serde_json::from_str(&keys.jwks_json).unwrap()
}

/// The one JWK in the set; asserts it carries no private member.
fn only_jwk(keys: &KeySet) -> serde_json::Map<String, Value> {
    let doc = jwks(keys);
    let list = doc["keys"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{doc}");
    let jwk = list[0].as_object().unwrap().clone();
    for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
        assert!(!jwk.contains_key(private), "JWKS leaks `{private}`: {doc}");
    }
    assert_eq!(jwk["kid"], keys.kid.as_str());
    assert_eq!(jwk["use"], "sig");
    jwk
}

/// RFC 7638 thumbprint, computed independently of the code under test.
fn thumbprint(canonical_json: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical_json.as_bytes()))
}

/// Base64 lines of a PEM: what an error message must never contain.
fn pem_body_lines(pem: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(pem)
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .map(str::to_owned)
        .collect()
}

#[test]
fn ed25519_public_half_and_kid_match_openssl() {
    let keys = KeySet::from_pem(TokenAlgorithm::EdDSA, ED25519).unwrap();
    assert_eq!(keys.algorithm, Algorithm::EdDSA);
    let public = ed25519_dalek::VerifyingKey::from_public_key_pem(
        std::str::from_utf8(ED25519_PUBLIC).unwrap(),
    )
    .unwrap();
    let x = URL_SAFE_NO_PAD.encode(public.as_bytes());
    let jwk = only_jwk(&keys);
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    assert_eq!(jwk["alg"], "EdDSA");
    assert_eq!(jwk["x"], x.as_str());
    assert_eq!(
        keys.kid,
        thumbprint(&format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#))
    );
}

#[test]
fn p256_sec1_and_pkcs8_are_the_same_key() {
    let sec1 = KeySet::from_pem(TokenAlgorithm::ES256, P256_SEC1).unwrap();
    let pkcs8 = KeySet::from_pem(TokenAlgorithm::ES256, P256_PKCS8).unwrap();
    assert_eq!(sec1.kid, pkcs8.kid);
    assert_eq!(sec1.jwks_json, pkcs8.jwks_json);
    let jwk = only_jwk(&sec1);
    assert_eq!(
        (jwk["kty"].as_str(), jwk["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );
    assert_eq!(jwk["alg"], "ES256");
    let (x, y) = (jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap());
    assert_eq!(URL_SAFE_NO_PAD.decode(x).unwrap().len(), 32);
    assert_eq!(
        sec1.kid,
        thumbprint(&format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#
        ))
    );
}

#[test]
fn rsa_pkcs1_and_pkcs8_are_the_same_key() {
    let pkcs1 = KeySet::from_pem(TokenAlgorithm::RS256, RSA2048_PKCS1).unwrap();
    let pkcs8 = KeySet::from_pem(TokenAlgorithm::RS256, RSA2048_PKCS8).unwrap();
    assert_eq!(pkcs1.kid, pkcs8.kid);
    let jwk = only_jwk(&pkcs1);
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["alg"], "RS256");
    let (n, e) = (jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap());
    assert_eq!(URL_SAFE_NO_PAD.decode(n).unwrap().len(), 256);
    assert_eq!(e, "AQAB");
    assert_eq!(
        pkcs1.kid,
        thumbprint(&format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#))
    );
}

#[test]
fn hs256_kid_hides_the_secret_and_jwks_is_empty() {
    let secret = b"0123456789abcdef0123456789abcdef-hs256".to_vec();
    let keys = KeySet::from_hmac_secret(&secret).unwrap();
    assert_eq!(keys.algorithm, Algorithm::HS256);
    assert_eq!(jwks(&keys), serde_json::json!({"keys": []}));
    let text = String::from_utf8(secret.clone()).unwrap();
    for leak in [
        text.clone(),
        hex::encode(&secret),
        URL_SAFE_NO_PAD.encode(&secret),
    ] {
        assert!(
            !keys.kid.contains(&leak[..16]),
            "kid {} reveals the secret",
            keys.kid
        );
    }
    // Stable for one secret, different for another.
    assert_eq!(keys.kid, KeySet::from_hmac_secret(&secret).unwrap().kid);
    assert_ne!(keys.kid, KeySet::from_hmac_secret(&[7u8; 32]).unwrap().kid);
    let short = KeySet::from_hmac_secret(&[7u8; 31]).unwrap_err();
    assert!(
        short.contains("31 bytes") && short.contains("32"),
        "{short}"
    );
}

#[test]
fn refused_keys_say_why_without_key_material() {
    let sk = ed25519_dalek::SigningKey::generate(&mut OsRng);
    let v2 = sk.to_pkcs8_pem(LineEnding::LF).unwrap(); // v2 PKCS#8, with public key
    let cases: &[(TokenAlgorithm, &[u8], &str)] = &[
        (TokenAlgorithm::RS256, RSA1024_PKCS1, "1024 bits"),
        (TokenAlgorithm::ES256, P384_PKCS8, "P-256"),
        (TokenAlgorithm::RS256, ED25519, "Ed25519"),
        (TokenAlgorithm::EdDSA, RSA2048_PKCS8, "RSA"),
        (TokenAlgorithm::EdDSA, P256_SEC1, "P-256"),
        (TokenAlgorithm::ES256, RSA2048_PKCS1, "RSA"),
        (TokenAlgorithm::EdDSA, ED25519_PUBLIC, "public key"),
        (TokenAlgorithm::EdDSA, b"", "no PEM private key"),
        (TokenAlgorithm::EdDSA, b"\xff\xfe not text", "not PEM text"),
        (
            TokenAlgorithm::EdDSA,
            b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
            "malformed",
        ),
        (
            TokenAlgorithm::EdDSA,
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n",
            "END",
        ),
        (
            TokenAlgorithm::EdDSA,
            b"-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
            "PKCS#8",
        ),
        (
            TokenAlgorithm::EdDSA,
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n",
            "encrypted",
        ),
        (
            TokenAlgorithm::EdDSA,
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nMAA=\n-----END OPENSSH PRIVATE KEY-----\n",
            "OpenSSH",
        ),
        (
            TokenAlgorithm::EdDSA,
            b"-----BEGIN DSA PRIVATE KEY-----\nMAA=\n-----END DSA PRIVATE KEY-----\n",
            "unsupported",
        ),
        (TokenAlgorithm::HS256, ED25519, "secret"),
    ];
    for (alg, pem, want) in cases {
        let err = KeySet::from_pem(*alg, pem).unwrap_err();
        assert!(
            err.contains(want),
            "{alg:?}: {err:?} should mention {want:?}"
        );
        for line in pem_body_lines(pem) {
            assert!(!err.contains(&line[..16]), "{err:?} echoes key material");
        }
    }
    // A v2 PKCS#8 Ed25519 key (with its public key) loads too.
    assert!(KeySet::from_pem(TokenAlgorithm::EdDSA, v2.as_bytes()).is_ok());
}

#[test]
fn load_matches_secret_source_to_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.pem");
    fs::write(&path, ED25519).unwrap();
    let secret = || SigningSecret::Hmac {
        env: "S".into(),
        secret: Secret(vec![1; 32]),
    };

    let keys = KeySet::load(&token_config(
        TokenAlgorithm::EdDSA,
        SigningSecret::KeyFile(path.clone()),
    ));
    assert_eq!(
        keys.unwrap().kid,
        KeySet::from_pem(TokenAlgorithm::EdDSA, ED25519)
            .unwrap()
            .kid
    );
    assert!(KeySet::load(&token_config(TokenAlgorithm::HS256, secret())).is_ok());

    let refused = [
        (
            token_config(TokenAlgorithm::HS256, SigningSecret::KeyFile(path)),
            "secret_env",
        ),
        (
            token_config(TokenAlgorithm::EdDSA, secret()),
            "signing_key_file",
        ),
        (
            token_config(
                TokenAlgorithm::EdDSA,
                SigningSecret::KeyFile(dir.path().join("missing.pem")),
            ),
            "cannot read",
        ),
    ];
    for (cfg, want) in refused {
        let err = KeySet::load(&cfg).unwrap_err();
        assert!(err.contains(want), "{err}");
    }
}

#[test]
fn generate_writes_a_loadable_pair_and_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested/keys");
    let private = generate_ed25519(&dir).unwrap();
    assert_eq!(private, dir.join("signing.pem"));
    let mode = fs::metadata(&private).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let pem = fs::read(&private).unwrap();
    assert!(pem.starts_with(b"-----BEGIN PRIVATE KEY-----"));
    let keys = KeySet::from_pem(TokenAlgorithm::EdDSA, &pem).unwrap();
    let public = fs::read_to_string(dir.join("signing.pub.pem")).unwrap();
    let x = URL_SAFE_NO_PAD.encode(
        ed25519_dalek::VerifyingKey::from_public_key_pem(&public)
            .unwrap()
            .as_bytes(),
    );
    assert_eq!(only_jwk(&keys)["x"], x.as_str());

    let err = generate_ed25519(&dir).unwrap_err();
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(fs::read(&private).unwrap(), pem, "existing key was touched");

    // Refused as a whole if only the public file is in the way.
    let other = tmp.path().join("other");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("signing.pub.pem"), "x").unwrap();
    assert!(generate_ed25519(&other).is_err());
    assert!(!other.join("signing.pem").exists());
}

#[test]
fn key_files_open_to_others_are_reported() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let private = generate_ed25519(dir.path()).unwrap();
    assert_eq!(
        readable_by_others(&private),
        None,
        "keys generate writes 0600"
    );
    fs::set_permissions(&private, fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(readable_by_others(&private), Some(0o644));
}

// ---- rotation (SPEC §14) ----

fn key_file_config(dir: &std::path::Path) -> TokenConfig {
    let mut cfg = token_config(
        TokenAlgorithm::EdDSA,
        SigningSecret::KeyFile(dir.join("signing.pem")),
    );
    cfg.previous_keys = crate::auth::settings::PreviousKeys {
        paths: vec![dir.join("previous")],
        explicit: false,
    };
    cfg
}

#[test]
fn rotate_keeps_the_old_key_for_verification_and_the_jwks() {
    let dir = tempfile::tempdir().unwrap();
    generate_ed25519(dir.path()).unwrap();
    let cfg = key_file_config(dir.path());
    let before = KeySet::load(&cfg).unwrap();
    assert!(before.previous.is_empty(), "no previous/ yet");
    let r = rotate(dir.path()).unwrap();
    assert_eq!(r.old_kid, before.kid);
    assert_ne!(r.new_kid, r.old_kid);
    assert!(r.kept.ends_with(format!("previous/{}.pub.pem", before.kid)));
    let mode = std::fs::metadata(dir.path().join("signing.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let after = KeySet::load(&cfg).unwrap();
    assert_eq!(after.kid, r.new_kid);
    assert!(
        after.decoding_for(&before.kid).is_some(),
        "old kid accepted"
    );
    assert!(after.decoding_for(&after.kid).is_some());
    assert!(after.decoding_for("other").is_none());
    let kids: Vec<String> = jwks(&after)["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kids, [after.kid.clone(), before.kid.clone()]);
    // The public file beside the new key is the new key's.
    let public = std::fs::read(dir.path().join("signing.pub.pem")).unwrap();
    let prev =
        previous::from_public_pem(Algorithm::EdDSA, std::str::from_utf8(&public).unwrap()).unwrap();
    assert_eq!(prev.kid, after.kid);

    // A second rotation keeps both earlier keys; removing a file drops it.
    let r2 = rotate(dir.path()).unwrap();
    let again = KeySet::load(&cfg).unwrap();
    assert_eq!(again.previous.len(), 2);
    std::fs::remove_file(&r.kept).unwrap();
    let fewer = KeySet::load(&cfg).unwrap();
    assert!(fewer.decoding_for(&before.kid).is_none());
    assert!(fewer.decoding_for(&r2.old_kid).is_some());
}

#[test]
fn previous_keys_must_match_the_algorithm_and_exist_when_named() {
    let dir = tempfile::tempdir().unwrap();
    generate_ed25519(dir.path()).unwrap();
    let mut cfg = key_file_config(dir.path());
    // The default directory may be missing; a named path may not.
    assert!(KeySet::load(&cfg).is_ok());
    cfg.previous_keys = crate::auth::settings::PreviousKeys {
        paths: vec![dir.path().join("nope.pem")],
        explicit: true,
    };
    let e = KeySet::load(&cfg).unwrap_err();
    assert!(e.starts_with("previous"), "{e}");
    // A P-256 public key is not a previous EdDSA key.
    let p256 = p256::SecretKey::from_pkcs8_pem(std::str::from_utf8(P256_PKCS8).unwrap()).unwrap();
    use p256::pkcs8::EncodePublicKey;
    let pem = p256.public_key().to_public_key_pem(LineEnding::LF).unwrap();
    assert!(previous::from_public_pem(Algorithm::EdDSA, &pem).is_err());
    assert!(previous::from_public_pem(Algorithm::ES256, &pem).is_ok());
    let ed_pub = std::str::from_utf8(ED25519_PUBLIC).unwrap();
    assert!(previous::from_public_pem(Algorithm::EdDSA, ed_pub).is_ok());
    assert!(previous::from_public_pem(Algorithm::EdDSA, "junk").is_err());
}

#[test]
fn hs256_previous_secret_verifies() {
    let mut cfg = token_config(
        TokenAlgorithm::HS256,
        SigningSecret::Hmac {
            env: "X".into(),
            secret: Secret(vec![7u8; 40]),
        },
    );
    cfg.previous_secret = Some(Secret(vec![9u8; 40]));
    let keys = KeySet::load(&cfg).unwrap();
    let old = KeySet::from_hmac_secret(&[9u8; 40]).unwrap();
    assert!(keys.decoding_for(&old.kid).is_some());
    assert_eq!(
        jwks(&keys)["keys"].as_array().unwrap().len(),
        0,
        "never published"
    );
}
