//! Rotated-out keys (SPEC §14): `tokens.previous_keys` names public key
//! files or directories of them (by default the `previous/` directory
//! beside the signing key, where `gatehouse keys rotate` puts the old
//! one). Tokens signed by them still verify, and they are published in the
//! JWKS, so a rotation signs nobody out; deleting a file (and SIGHUP) ends
//! its tokens. HS256 has one previous secret, `previous_secret_env`.

use std::fs;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::der::pem;
use rsa::traits::PublicKeyParts;

use super::{hmac_kid, public_jwk, MIN_RSA_BITS};
use crate::auth::settings::TokenConfig;

/// A key that verifies but no longer signs.
pub struct PreviousKey {
    pub kid: String,
    pub decoding: DecodingKey,
    /// Its JWKS entry (none for an HS256 secret).
    pub jwk: Option<Jwk>,
}

/// Every previous key the config names, for `algorithm`.
pub fn load(cfg: &TokenConfig, algorithm: Algorithm) -> Result<Vec<PreviousKey>, String> {
    if algorithm == Algorithm::HS256 {
        return Ok(cfg
            .previous_secret
            .iter()
            .map(|s| PreviousKey {
                kid: hmac_kid(&s.0),
                decoding: DecodingKey::from_secret(&s.0),
                jwk: None,
            })
            .collect());
    }
    let mut out: Vec<PreviousKey> = Vec::new();
    for file in files(&cfg.previous_keys.paths, cfg.previous_keys.explicit)? {
        let text = fs::read_to_string(&file)
            .map_err(|e| format!("cannot read previous key {}: {e}", file.display()))?;
        let key = from_public_pem(algorithm, &text)
            .map_err(|e| format!("previous key {}: {e}", file.display()))?;
        if !out.iter().any(|k| k.kid == key.kid) {
            out.push(key);
        }
    }
    Ok(out)
}

/// The `.pem` files named, directories expanded (sorted). A missing path
/// is an error only when the config named it.
fn files(paths: &[PathBuf], explicit: bool) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for path in paths {
        match fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                let mut found: Vec<PathBuf> = fs::read_dir(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "pem") && p.is_file())
                    .collect();
                found.sort();
                out.extend(found);
            }
            Ok(_) => out.push(path.clone()),
            Err(_) if !explicit => {}
            Err(e) => return Err(format!("previous_keys: {}: {e}", path.display())),
        }
    }
    Ok(out)
}

/// A `PUBLIC KEY` (SPKI) PEM of the configured algorithm's key type.
pub fn from_public_pem(algorithm: Algorithm, text: &str) -> Result<PreviousKey, String> {
    let block = public_block(text).ok_or("no PEM public key (-----BEGIN PUBLIC KEY-----)")?;
    let (label, der) =
        pem::decode_vec(block.as_bytes()).map_err(|_| "the PEM public key is malformed")?;
    if label != "PUBLIC KEY" {
        return Err("expected a PUBLIC KEY block".into());
    }
    let wrong = |what: &str| format!("not {what} public key, as algorithm {algorithm:?} needs");
    let decoding = match algorithm {
        Algorithm::EdDSA => {
            use ed25519_dalek::pkcs8::DecodePublicKey;
            let vk = ed25519_dalek::VerifyingKey::from_public_key_der(&der)
                .map_err(|_| wrong("an Ed25519"))?;
            DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(vk.as_bytes()))
                .map_err(|_| "cannot use the Ed25519 key".to_string())?
        }
        Algorithm::ES256 => {
            use p256::pkcs8::DecodePublicKey;
            let pk = p256::PublicKey::from_public_key_der(&der).map_err(|_| wrong("a P-256"))?;
            let point = pk.to_encoded_point(false);
            let (Some(x), Some(y)) = (point.x(), point.y()) else {
                return Err("cannot use the P-256 key".into());
            };
            DecodingKey::from_ec_components(&URL_SAFE_NO_PAD.encode(x), &URL_SAFE_NO_PAD.encode(y))
                .map_err(|_| "cannot use the P-256 key".to_string())?
        }
        Algorithm::RS256 => {
            use rsa::pkcs8::DecodePublicKey;
            let pk = rsa::RsaPublicKey::from_public_key_der(&der).map_err(|_| wrong("an RSA"))?;
            if pk.n().bits() < MIN_RSA_BITS {
                return Err(format!("RSA key below {MIN_RSA_BITS} bits"));
            }
            DecodingKey::from_rsa_raw_components(&pk.n().to_bytes_be(), &pk.e().to_bytes_be())
        }
        other => return Err(format!("algorithm {other:?} has no public keys")),
    };
    let (kid, jwk) = public_jwk(&decoding, algorithm)?;
    Ok(PreviousKey {
        kid,
        decoding,
        jwk: Some(jwk),
    })
}

/// The first `PUBLIC KEY` block of a file.
fn public_block(text: &str) -> Option<&str> {
    const BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
    const END: &str = "-----END PUBLIC KEY-----";
    let start = text.find(BEGIN)?;
    let end = start + text[start..].find(END)? + END.len();
    Some(&text[start..end])
}

/// `<dir>/<kid>.pub.pem`: where `keys rotate` keeps a rotated-out key.
pub fn file_for(dir: &Path, kid: &str) -> PathBuf {
    dir.join(format!("{kid}.pub.pem"))
}
