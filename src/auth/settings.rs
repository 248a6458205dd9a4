//! What `[tokens]`, `[[tokens.trusted_issuers]]` and `[session]` compile
//! into: the settings authentication runs on. `config` builds them; `auth`
//! reads them and depends on nothing above it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;

use crate::auth::external::jwks::IssuerKeys;

/// JWT signing algorithm; the only one ever accepted (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAlgorithm {
    EdDSA,
    ES256,
    RS256,
    HS256,
}

/// Where the signing secret comes from.
#[derive(Clone)]
pub enum SigningSecret {
    /// PEM private key file (asymmetric algorithms).
    KeyFile(PathBuf),
    /// HS256 secret bytes read from the named environment variable at load.
    Hmac { env: String, secret: Secret },
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigningSecret::KeyFile(p) => f.debug_tuple("KeyFile").field(p).finish(),
            SigningSecret::Hmac { env, .. } => {
                write!(f, "Hmac {{ env: {env:?}, secret: [redacted] }}")
            }
        }
    }
}

/// Secret bytes whose `Debug` never prints them.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone)]
pub struct TokenConfig {
    pub issuer: String,
    pub audience: String,
    pub algorithm: TokenAlgorithm,
    pub signing: SigningSecret,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub refresh_reuse_grace: Duration,
    /// `previous_keys` (SPEC §14): public key files or directories still
    /// accepted for verification and published; by default the
    /// `previous/` directory beside the signing key, when it exists.
    pub previous_keys: PreviousKeys,
    /// HS256: `previous_secret_env`'s secret, read at start.
    pub previous_secret: Option<Secret>,
}

/// Where the previous (rotated-out) public keys are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreviousKeys {
    pub paths: Vec<PathBuf>,
    /// Named in the config: each must exist. The default directory may not.
    pub explicit: bool,
}

/// One trusted external issuer, checked and with its keys file parsed.
#[derive(Debug, Clone)]
pub struct TrustedIssuerConfig {
    /// The exact `iss` of its tokens; never gatehouse's own issuer.
    pub issuer: String,
    /// The `aud` its tokens must carry.
    pub audience: String,
    pub jwks: JwksSource,
    /// Accepted signing algorithms, asymmetric only; never the token's choice.
    pub algorithms: Vec<Algorithm>,
    /// Top-level claim name or dotted path of the roles.
    pub roles_claim: String,
    /// IdP value -> gatehouse role; `None` passes values through unchanged.
    /// Either way only names of `[roles]` entries survive.
    pub role_map: Option<BTreeMap<String, String>>,
    pub username_claim: String,
    pub email_claim: String,
}

/// Where a trusted issuer's public keys come from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// Read and parsed at load.
    File {
        path: PathBuf,
        keys: Arc<IssuerKeys>,
    },
    /// Fetched at start, every `refresh`, and on an unknown `kid`.
    Url { url: String, refresh: Duration },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
}

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub cookie_name: String,
    /// `Domain=` for our cookies (`[session] cookie_domain`, lower-case):
    /// one login for every host under it (forward-auth, SPEC §10). None:
    /// host-only cookies (the `__Host-` default).
    pub cookie_domain: Option<String>,
    /// Name of the refresh-token cookie (derived: `<cookie_name>-refresh`).
    pub refresh_cookie_name: String,
    /// Name of the login form's CSRF cookie (derived: `<cookie_name>-csrf`).
    pub csrf_cookie_name: String,
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
    /// SPEC §11: a WebSocket or long stream re-checks its session or API
    /// key at least this often, and is closed once it is gone.
    pub stream_recheck: Duration,
    /// Cookies always carry `Secure`: browsers (and cookie jars) treat
    /// loopback as a secure context, so even the plain-HTTP demo works.
    pub same_site: SameSite,
}
