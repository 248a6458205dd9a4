//! Signing keys: loaded and pre-parsed once at start-up (PEM private key for
//! EdDSA/ES256/RS256, an environment secret for HS256), the `kid`, and the
//! public JWKS document. Also `gatehouse keys generate`.
//!
//! The config names only the private key; the public half (for verification
//! and the JWKS) is derived from it, so the two can never disagree. A
//! sign-then-verify self-test at load proves it. Error messages describe the
//! problem and never echo key material.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::{EncodePublicKey, KeypairBytes};
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::der::pem::{self, LineEnding};
use p256::pkcs8::der::zeroize::Zeroizing;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, ObjectIdentifier, PrivateKeyInfo};
use rand::rngs::OsRng;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use sha2::{Digest, Sha256};

use crate::auth::settings::{SigningSecret, TokenAlgorithm, TokenConfig};

pub mod previous;
mod rotate;

pub use previous::PreviousKey;
pub use rotate::rotate;

/// RSA keys below this are refused (NIST SP 800-57: 2048 bits minimum).
pub const MIN_RSA_BITS: usize = 2048;
/// HS256 secrets below this are refused (RFC 7518 §3.2: at least the hash size).
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Gatehouse's signing key, ready for the hot path.
pub struct KeySet {
    pub algorithm: Algorithm,
    /// Key id: derived from the public key (RFC 7638 thumbprint) or, for
    /// HS256, from a hash of the secret; never reveals the secret.
    pub kid: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    /// `{"keys":[...]}` for `/.well-known/jwks.json`, the previous keys
    /// after the current one; empty list for HS256.
    pub jwks_json: String,
    /// Rotated-out keys still accepted for verification (SPEC §14).
    pub previous: Vec<PreviousKey>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish()
    }
}

/// The jsonwebtoken algorithm for a configured one.
pub fn jwt_algorithm(alg: TokenAlgorithm) -> Algorithm {
    match alg {
        TokenAlgorithm::EdDSA => Algorithm::EdDSA,
        TokenAlgorithm::ES256 => Algorithm::ES256,
        TokenAlgorithm::RS256 => Algorithm::RS256,
        TokenAlgorithm::HS256 => Algorithm::HS256,
    }
}

/// A parsed private key, before it is turned into jsonwebtoken keys.
enum PrivateKey {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::SecretKey),
    Rsa(Box<RsaPrivateKey>),
}

impl PrivateKey {
    fn describe(&self) -> String {
        match self {
            PrivateKey::Ed25519(_) => "an Ed25519 key (algorithm EdDSA)".into(),
            PrivateKey::P256(_) => "a P-256 EC key (algorithm ES256)".into(),
            PrivateKey::Rsa(k) => format!("a {}-bit RSA key (algorithm RS256)", k.n().bits()),
        }
    }
}

impl KeySet {
    /// Load the configured key and the previous ones. Errors are plain
    /// messages; the caller adds file and key context.
    pub fn load(cfg: &TokenConfig) -> Result<KeySet, String> {
        let keys = KeySet::load_current(cfg)?;
        let previous = previous::load(cfg, keys.algorithm)?;
        keys.with_previous(previous)
    }

    /// Add rotated-out keys: accepted by `decoding_for`, listed in the JWKS.
    pub fn with_previous(mut self, previous: Vec<PreviousKey>) -> Result<KeySet, String> {
        let previous: Vec<PreviousKey> =
            previous.into_iter().filter(|p| p.kid != self.kid).collect();
        let mut set: JwkSet = serde_json::from_str(&self.jwks_json)
            .map_err(|_| "cannot read the JWKS back".to_string())?;
        set.keys
            .extend(previous.iter().filter_map(|p| p.jwk.clone()));
        self.jwks_json =
            serde_json::to_string(&set).map_err(|_| "cannot serialise the JWKS".to_string())?;
        self.previous = previous;
        Ok(self)
    }

    /// The key that verifies tokens with `kid`: the current one or a
    /// previous one; None for any other kid.
    pub fn decoding_for(&self, kid: &str) -> Option<&DecodingKey> {
        if kid == self.kid {
            return Some(&self.decoding);
        }
        self.previous
            .iter()
            .find(|p| p.kid == kid)
            .map(|p| &p.decoding)
    }

    /// The signing key alone.
    fn load_current(cfg: &TokenConfig) -> Result<KeySet, String> {
        match (&cfg.signing, cfg.algorithm) {
            (SigningSecret::Hmac { secret, .. }, TokenAlgorithm::HS256) => {
                KeySet::from_hmac_secret(&secret.0)
            }
            (SigningSecret::KeyFile(_), TokenAlgorithm::HS256) => {
                Err("algorithm HS256 takes its secret from secret_env, not a key file".into())
            }
            (SigningSecret::Hmac { .. }, alg) => Err(format!(
                "algorithm {alg:?} needs signing_key_file (a PEM private key), not secret_env"
            )),
            (SigningSecret::KeyFile(path), alg) => {
                if let Some(mode) = readable_by_others(path) {
                    tracing::warn!(
                        file = %path.display(),
                        mode = %format!("{mode:o}"),
                        "the signing key file is readable by group or others; chmod 600 it"
                    );
                }
                let pem = Zeroizing::new(
                    fs::read(path).map_err(|e| format!("cannot read signing key file: {e}"))?,
                );
                KeySet::from_pem(alg, &pem)
            }
        }
    }

    /// Build from a PEM private key: PKCS#8 (`PRIVATE KEY`) for any of
    /// Ed25519 / P-256 / RSA, SEC1 (`EC PRIVATE KEY`) for P-256, PKCS#1
    /// (`RSA PRIVATE KEY`) for RSA. Other PEM blocks in the file (such as
    /// OpenSSL's `EC PARAMETERS`) are skipped.
    pub fn from_pem(alg: TokenAlgorithm, pem_bytes: &[u8]) -> Result<KeySet, String> {
        if alg == TokenAlgorithm::HS256 {
            return Err("algorithm HS256 takes a secret, not a PEM key".into());
        }
        let key = parse_private_key(pem_bytes)?;
        let algorithm = jwt_algorithm(alg);
        let (encoding, decoding) = match (&key, alg) {
            (PrivateKey::Ed25519(sk), TokenAlgorithm::EdDSA) => {
                // Re-encode as a v1 PKCS#8 document: the form jsonwebtoken expects.
                let der = KeypairBytes {
                    secret_key: sk.to_bytes(),
                    public_key: None,
                }
                .to_pkcs8_der()
                .map_err(|_| "cannot re-encode the Ed25519 key".to_string())?;
                let x = URL_SAFE_NO_PAD.encode(sk.verifying_key().as_bytes());
                let decoding = DecodingKey::from_ed_components(&x)
                    .map_err(|_| "cannot derive the Ed25519 public key".to_string())?;
                (EncodingKey::from_ed_der(der.as_bytes()), decoding)
            }
            (PrivateKey::P256(sk), TokenAlgorithm::ES256) => {
                let der = sk
                    .to_pkcs8_der()
                    .map_err(|_| "cannot re-encode the P-256 key".to_string())?;
                let point = sk.public_key().to_encoded_point(false);
                let (Some(x), Some(y)) = (point.x(), point.y()) else {
                    return Err("cannot derive the P-256 public key".into());
                };
                let decoding = DecodingKey::from_ec_components(
                    &URL_SAFE_NO_PAD.encode(x),
                    &URL_SAFE_NO_PAD.encode(y),
                )
                .map_err(|_| "cannot derive the P-256 public key".to_string())?;
                (EncodingKey::from_ec_der(der.as_bytes()), decoding)
            }
            (PrivateKey::Rsa(sk), TokenAlgorithm::RS256) => {
                let bits = sk.n().bits();
                if bits < MIN_RSA_BITS {
                    return Err(format!(
                        "RSA key is {bits} bits; at least {MIN_RSA_BITS} are required"
                    ));
                }
                let der = sk
                    .to_pkcs1_der()
                    .map_err(|_| "cannot re-encode the RSA key".to_string())?;
                let decoding = DecodingKey::from_rsa_raw_components(
                    &sk.n().to_bytes_be(),
                    &sk.e().to_bytes_be(),
                );
                (EncodingKey::from_rsa_der(der.as_bytes()), decoding)
            }
            (key, alg) => {
                return Err(format!(
                    "the key file holds {} but [tokens] algorithm is {alg:?}",
                    key.describe()
                ))
            }
        };
        let (kid, jwk) = public_jwk(&decoding, algorithm)?;
        let jwks_json = serde_json::to_string(&JwkSet { keys: vec![jwk] })
            .map_err(|_| "cannot serialise the JWKS".to_string())?;
        let keys = KeySet {
            algorithm,
            kid,
            encoding,
            decoding,
            jwks_json,
            previous: Vec::new(),
        };
        keys.self_test()?;
        Ok(keys)
    }

    /// Build an HS256 key set. The `kid` is a truncated, domain-separated
    /// hash of the secret: it identifies the key without revealing it.
    pub fn from_hmac_secret(secret: &[u8]) -> Result<KeySet, String> {
        if secret.len() < MIN_HMAC_SECRET_BYTES {
            return Err(format!(
                "HS256 secret is {} bytes; at least {MIN_HMAC_SECRET_BYTES} are required",
                secret.len()
            ));
        }
        let keys = KeySet {
            algorithm: Algorithm::HS256,
            kid: hmac_kid(secret),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            // A shared secret is never published.
            jwks_json: r#"{"keys":[]}"#.into(),
            previous: Vec::new(),
        };
        keys.self_test()?;
        Ok(keys)
    }

    /// Sign and verify a probe: proves at start-up, not at the first login,
    /// that the key can sign and that the derived public key matches it.
    fn self_test(&self) -> Result<(), String> {
        let msg = b"gatehouse key self-test";
        let sig = jsonwebtoken::crypto::sign(msg, &self.encoding, self.algorithm)
            .map_err(|_| "the key cannot sign (self-test failed)".to_string())?;
        match jsonwebtoken::crypto::verify(&sig, msg, &self.decoding, self.algorithm) {
            Ok(true) => Ok(()),
            _ => Err("the derived public key does not verify the key's signature".into()),
        }
    }
}

/// The `kid` of an HS256 secret: a truncated, domain-separated hash.
fn hmac_kid(secret: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(b"gatehouse hs256 kid\0")
        .chain_update(secret)
        .finalize();
    format!("hs256-{}", URL_SAFE_NO_PAD.encode(&digest[..12]))
}

/// A public key's JWK, with its RFC 7638 thumbprint as `kid` (stable,
/// public, and naming exactly this key, current or rotated out).
fn public_jwk(decoding: &DecodingKey, algorithm: Algorithm) -> Result<(String, Jwk), String> {
    let mut jwk = Jwk::from_decoding_key(decoding, Some(algorithm))
        .map_err(|_| "cannot build the public JWK".to_string())?;
    let kid = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| "cannot compute the key thumbprint".to_string())?;
    jwk.common.key_id = Some(kid.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok((kid, jwk))
}

/// Find the private-key PEM block in a file and parse it.
fn parse_private_key(pem_bytes: &[u8]) -> Result<PrivateKey, String> {
    let text = std::str::from_utf8(pem_bytes)
        .map_err(|_| "the key file is not PEM text (expected -----BEGIN PRIVATE KEY-----)")?;
    let (label, der) = private_block(text)?;
    let not_a = |what: &str| format!("the {label} block is not a valid {what} private key");
    match label {
        "PRIVATE KEY" => {
            let info = PrivateKeyInfo::try_from(der.as_slice())
                .map_err(|_| "the PRIVATE KEY block is not valid PKCS#8".to_string())?;
            let oid = info.algorithm.oid;
            if oid == OID_ED25519 {
                ed25519_dalek::SigningKey::from_pkcs8_der(&der)
                    .map(PrivateKey::Ed25519)
                    .map_err(|_| not_a("Ed25519"))
            } else if oid == OID_EC_PUBLIC_KEY {
                if info.algorithm.parameters_oid().ok() != Some(OID_P256) {
                    return Err("the EC key is not on curve P-256 (ES256 needs P-256)".into());
                }
                p256::SecretKey::from_pkcs8_der(&der)
                    .map(PrivateKey::P256)
                    .map_err(|_| not_a("P-256"))
            } else if oid == OID_RSA {
                RsaPrivateKey::from_pkcs8_der(&der)
                    .map(|k| PrivateKey::Rsa(Box::new(k)))
                    .map_err(|_| not_a("RSA"))
            } else {
                Err(format!(
                    "unsupported key type (algorithm OID {oid}); use Ed25519, P-256 or RSA"
                ))
            }
        }
        "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(&der)
            .map(PrivateKey::P256)
            .map_err(|_| "the EC PRIVATE KEY block is not a P-256 key (ES256 needs P-256)".into()),
        "RSA PRIVATE KEY" => RsaPrivateKey::from_pkcs1_der(&der)
            .map(|k| PrivateKey::Rsa(Box::new(k)))
            .map_err(|_| not_a("RSA")),
        "ENCRYPTED PRIVATE KEY" => Err("encrypted private keys are not supported; store the key \
            unencrypted with mode 0600 (openssl pkcs8 -topk8 -nocrypt)"
            .into()),
        "OPENSSH PRIVATE KEY" => Err("OpenSSH private keys are not supported; convert to PKCS#8 \
            (ssh-keygen -p -m PKCS8 -f FILE)"
            .into()),
        _ => Err("unsupported PEM private key type; use PKCS#8 (BEGIN PRIVATE KEY)".into()),
    }
}

/// The first `... PRIVATE KEY` PEM block: its label and DER bytes.
fn private_block(text: &str) -> Result<(&'static str, Zeroizing<Vec<u8>>), String> {
    const BEGIN: &str = "-----BEGIN ";
    const KNOWN: [&str; 5] = [
        "PRIVATE KEY",
        "EC PRIVATE KEY",
        "RSA PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
    ];
    let mut rest = text;
    let mut saw_public = false;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let Some(label_len) = after.find("-----") else {
            break;
        };
        let label = &after[..label_len];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = after.find(&end_marker) else {
            return Err("a PEM block in the key file has no matching END line".into());
        };
        let block_end = start + BEGIN.len() + end + end_marker.len();
        if label.ends_with("PRIVATE KEY") {
            let Some(known) = KNOWN.iter().find(|k| **k == label) else {
                return Err(
                    "unsupported PEM private key type; use PKCS#8 (BEGIN PRIVATE KEY)".into(),
                );
            };
            let block = &rest[start..block_end];
            let (_, der) = pem::decode_vec(block.as_bytes()).map_err(|_| {
                "the PEM private key block is malformed (bad base64 or line layout)"
            })?;
            return Ok((known, Zeroizing::new(der)));
        }
        saw_public |= label.contains("PUBLIC KEY") || label == "CERTIFICATE";
        rest = &rest[block_end..];
    }
    if saw_public {
        Err("the key file holds a public key or certificate; signing_key_file must be the private key".into())
    } else {
        Err("no PEM private key found (expected -----BEGIN PRIVATE KEY-----)".into())
    }
}

/// The file's permission bits when group or others may read or write it
/// (a private key should be 0600, as `keys generate` writes it).
pub fn readable_by_others(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

/// `gatehouse keys generate --out DIR`: write `signing.pem` (Ed25519 PKCS#8
/// private key, mode 0600) and `signing.pub.pem` in `dir`; refuse to overwrite.
/// Returns the private key path.
pub fn generate_ed25519(dir: &Path) -> Result<PathBuf, String> {
    let private = dir.join("signing.pem");
    let public = dir.join("signing.pub.pem");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // Check both before writing either, so a refusal leaves nothing half-made.
    for path in [&private, &public] {
        if fs::symlink_metadata(path).is_ok() {
            return Err(format!(
                "{} already exists; refusing to overwrite it",
                path.display()
            ));
        }
    }
    let sk = ed25519_dalek::SigningKey::generate(&mut OsRng);
    // v1 PKCS#8 (no embedded public key): what `openssl genpkey` writes.
    let private_pem = KeypairBytes {
        secret_key: sk.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(LineEnding::LF)
    .map_err(|_| "cannot encode the private key".to_string())?;
    let public_pem = sk
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|_| "cannot encode the public key".to_string())?;
    write_new(&private, private_pem.as_bytes(), 0o600)?;
    write_new(&public, public_pem.as_bytes(), 0o644)?;
    Ok(private)
}

/// Create a file that must not exist yet (`O_EXCL`: no clobbering, no
/// following a planted symlink) with `mode` from the start.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests;
