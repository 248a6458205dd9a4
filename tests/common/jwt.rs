//! Hand-made JWTs for the refusal tests: any header (alg `none`, `crit`,
//! foreign `kid`), any claims, signed with the gateway's real key, a
//! stranger's key, an HMAC secret, or not at all.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::Value;

/// How to sign a forged token.
pub enum Sign<'a> {
    /// Empty signature (alg `none`).
    Nothing,
    Ed25519(&'a SigningKey),
    /// HMAC-SHA256 with these bytes as the secret.
    Hs256(&'a [u8]),
}

pub fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// `header.claims.signature` from JSON values.
pub fn forge(header: &Value, claims: &Value, sign: Sign<'_>) -> String {
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = match sign {
        Sign::Nothing => String::new(),
        Sign::Ed25519(key) => b64(&key.sign(signing_input.as_bytes()).to_bytes()),
        Sign::Hs256(secret) => jsonwebtoken::crypto::sign(
            signing_input.as_bytes(),
            &jsonwebtoken::EncodingKey::from_secret(secret),
            jsonwebtoken::Algorithm::HS256,
        )
        .expect("hmac"),
    };
    format!("{signing_input}.{signature}")
}

fn part(token: &str, index: usize) -> Value {
    let seg = token.split('.').nth(index).expect("JWT has three parts");
    let bytes = URL_SAFE_NO_PAD.decode(seg).expect("JWT part is base64url");
    serde_json::from_slice(&bytes).expect("JWT part is JSON")
}

/// A token's header, unverified.
pub fn header(token: &str) -> Value {
    part(token, 0)
}

/// A token's claims, unverified.
pub fn claims(token: &str) -> Value {
    part(token, 1)
}

/// The gateway's Ed25519 signing key from its PKCS#8 PEM file.
pub fn load_signing_key(path: &std::path::Path) -> SigningKey {
    let pem = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read signing key {}: {e}", path.display()));
    SigningKey::from_pkcs8_pem(&pem).expect("Ed25519 PKCS#8 PEM")
}

/// A fresh Ed25519 key nobody trusts.
pub fn stranger_key() -> SigningKey {
    SigningKey::from_bytes(&rand::random::<[u8; 32]>())
}

/// Unix time, seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
