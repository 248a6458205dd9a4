//! `gatehouse keys rotate --dir DIR` (SPEC §14): a new `signing.pem` of the
//! same key type, and the old public key kept as
//! `DIR/previous/<kid>.pub.pem`, where the default `previous_keys` finds
//! it. Then SIGHUP: new tokens are signed with the new key, and the old
//! ones still verify until their key file is removed.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::{EncodePublicKey as _, KeypairBytes};
use p256::pkcs8::der::pem::LineEnding;
use p256::pkcs8::der::zeroize::Zeroizing;
use p256::pkcs8::EncodePrivateKey as _;
use rand::rngs::OsRng;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;

use super::{parse_private_key, previous, write_new, KeySet, PrivateKey};
use crate::auth::settings::TokenAlgorithm;

/// What a rotation did.
#[derive(Debug)]
pub struct Rotated {
    pub old_kid: String,
    pub new_kid: String,
    /// Where the old public key now is.
    pub kept: PathBuf,
}

pub fn rotate(dir: &Path) -> Result<Rotated, String> {
    let private = dir.join("signing.pem");
    let pem = Zeroizing::new(
        fs::read(&private).map_err(|e| format!("cannot read {}: {e}", private.display()))?,
    );
    let key = parse_private_key(&pem)?;
    let algorithm = match &key {
        PrivateKey::Ed25519(_) => TokenAlgorithm::EdDSA,
        PrivateKey::P256(_) => TokenAlgorithm::ES256,
        PrivateKey::Rsa(_) => TokenAlgorithm::RS256,
    };
    let old_kid = KeySet::from_pem(algorithm, &pem)?.kid;
    let previous_dir = dir.join("previous");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(&previous_dir)
        .map_err(|e| format!("cannot create {}: {e}", previous_dir.display()))?;
    // The old public key first: if anything below fails, nothing is lost.
    let kept = previous::file_for(&previous_dir, &old_kid);
    if fs::symlink_metadata(&kept).is_err() {
        write_new(&kept, public_pem(&key)?.as_bytes(), 0o644)?;
    }
    let (new_private, new_public) = generate_like(&key)?;
    let new_kid = KeySet::from_pem(algorithm, new_private.as_bytes())?.kid;
    replace(&private, new_private.as_bytes(), 0o600)?;
    replace(&dir.join("signing.pub.pem"), new_public.as_bytes(), 0o644)?;
    Ok(Rotated {
        old_kid,
        new_kid,
        kept,
    })
}

/// Write `path` whole or not at all: a new file beside it, renamed over it.
fn replace(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let tmp = path.with_extension("pem.new");
    let _ = fs::remove_file(&tmp);
    write_new(&tmp, bytes, mode)?;
    fs::rename(&tmp, path).map_err(|e| format!("cannot replace {}: {e}", path.display()))
}

/// The SPKI PEM of a private key's public half.
fn public_pem(key: &PrivateKey) -> Result<String, String> {
    let fail = |_| "cannot encode the public key".to_string();
    match key {
        PrivateKey::Ed25519(sk) => sk.verifying_key().to_public_key_pem(LineEnding::LF),
        PrivateKey::P256(sk) => {
            use p256::pkcs8::EncodePublicKey;
            sk.public_key().to_public_key_pem(LineEnding::LF)
        }
        PrivateKey::Rsa(sk) => {
            use rsa::pkcs8::EncodePublicKey;
            rsa::RsaPublicKey::from(sk.as_ref()).to_public_key_pem(LineEnding::LF)
        }
    }
    .map_err(fail)
}

/// A new key of the same type (and RSA size): private PKCS#8 PEM and public PEM.
fn generate_like(key: &PrivateKey) -> Result<(Zeroizing<String>, String), String> {
    let fail = |_| "cannot encode the new key".to_string();
    let new = match key {
        PrivateKey::Ed25519(_) => {
            PrivateKey::Ed25519(ed25519_dalek::SigningKey::generate(&mut OsRng))
        }
        PrivateKey::P256(_) => PrivateKey::P256(p256::SecretKey::random(&mut OsRng)),
        PrivateKey::Rsa(old) => {
            let bits = old.n().bits().max(super::MIN_RSA_BITS);
            let sk = RsaPrivateKey::new(&mut OsRng, bits)
                .map_err(|_| "cannot generate an RSA key".to_string())?;
            PrivateKey::Rsa(Box::new(sk))
        }
    };
    let private = match &new {
        PrivateKey::Ed25519(sk) => KeypairBytes {
            secret_key: sk.to_bytes(),
            public_key: None,
        }
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(fail)?,
        PrivateKey::P256(sk) => sk.to_pkcs8_pem(LineEnding::LF).map_err(fail)?,
        PrivateKey::Rsa(sk) => sk.to_pkcs8_pem(LineEnding::LF).map_err(fail)?,
    };
    Ok((private, public_pem(&new)?))
}
