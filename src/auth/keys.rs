//! Signing keys: loaded and pre-parsed once at start-up (PEM private key for
//! EdDSA/ES256/RS256, an environment secret for HS256), the `kid`, and the
//! public JWKS document. Also `gatehouse keys generate`.

use std::path::{Path, PathBuf};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

use crate::config::TokenConfig;

/// Gatehouse's signing key, ready for the hot path.
pub struct KeySet {
    pub algorithm: Algorithm,
    /// Key id: derived from the public key (RFC 7638 thumbprint) or, for
    /// HS256, from a hash of the secret; never reveals the secret.
    pub kid: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    /// `{"keys":[...]}` for `/.well-known/jwks.json`; empty list for HS256.
    pub jwks_json: String,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet").field("algorithm", &self.algorithm).field("kid", &self.kid).finish()
    }
}

impl KeySet {
    /// Load the configured key. Errors are plain messages; the caller adds
    /// file and key context.
    pub fn load(_cfg: &TokenConfig) -> Result<KeySet, String> {
        todo!("auth: KeySet::load")
    }
}

/// `gatehouse keys generate --out DIR`: write `signing.pem` (Ed25519 PKCS#8
/// private key, mode 0600) and `signing.pub.pem` in `dir`; refuse to overwrite.
/// Returns the private key path.
pub fn generate_ed25519(_dir: &Path) -> Result<PathBuf, String> {
    todo!("auth: generate_ed25519")
}
