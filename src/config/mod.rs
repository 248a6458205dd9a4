//! gateway.toml: parsed once (`raw`), checked and compiled once (`compile`)
//! into the types below, which the hot path reads without parsing anything.
//! Every problem is reported as `file:line: key: message` (`diag`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::header::HeaderName;
use ipnet::IpNet;
use jsonwebtoken::Algorithm;

pub mod compile;
pub mod diag;
pub mod duration;
pub mod raw;
pub mod users;

pub use compile::load;
pub use diag::{ConfigError, Diagnostic};

use crate::auth::external::jwks::IssuerKeys;
use crate::policy::Policy;

/// The whole compiled configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The gateway.toml this came from (for reload and messages).
    pub path: PathBuf,
    pub server: ServerConfig,
    pub admin: Option<AdminConfig>,
    pub store: StoreConfig,
    pub users_file: PathBuf,
    pub tokens: TokenConfig,
    pub session: SessionConfig,
    pub login: LoginConfig,
    pub headers: HeaderConfig,
    /// `[[tokens.trusted_issuers]]`: external IdPs whose JWTs are accepted.
    /// Like the rest of `[tokens]`, not reloaded on SIGHUP.
    pub trusted_issuers: Vec<TrustedIssuerConfig>,
    /// Routes, roles, upstreams, rate limits: what SIGHUP swaps.
    pub policy: Policy,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: Option<SocketAddr>,
    pub tls_listen: Option<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub threads: usize,
    /// Pingora's work-stealing runtime (true) or, the default, one
    /// single-threaded service per thread with its own listener and upstream
    /// pool (false: nothing shared between threads on a request's path).
    pub work_stealing: bool,
    pub trusted_proxies: Vec<IpNet>,
    /// `scheme://host[:port]` with no trailing slash, when configured.
    pub public_origin: Option<String>,
    pub shutdown_timeout: Duration,
    /// Prefix of the gateway's own endpoints, default `/auth`.
    pub auth_prefix: String,
    /// Slow clients (slowloris): the whole request head must arrive within
    /// this, and a kept-alive connection may sit idle between requests this
    /// long; then it is closed.
    pub header_timeout: Duration,
    pub keepalive_timeout: Duration,
    /// Open client connections per process, and per client address, beyond
    /// which new ones are closed at once: one client cannot hold every
    /// descriptor.
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
}

#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreBackend {
    Memory,
    Redis,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub backend: StoreBackend,
    /// `redis://` or `rediss://` URL (redis backend only).
    pub url: String,
    pub key_prefix: String,
    /// Bound on any one store call, so no request hangs on a dead store.
    pub timeout: Duration,
    /// Redis only: lifetime of locally cached positive session lookups,
    /// invalidated over pub/sub (`0s`, the default: every request asks Redis).
    pub local_cache: Duration,
}

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
    /// Name of the refresh-token cookie (derived: `<cookie_name>-refresh`).
    pub refresh_cookie_name: String,
    /// Name of the login form's CSRF cookie (derived: `<cookie_name>-csrf`).
    pub csrf_cookie_name: String,
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
    /// Cookies always carry `Secure`: browsers (and cookie jars) treat
    /// loopback as a secure context, so even the plain-HTTP demo works.
    pub same_site: SameSite,
}

#[derive(Debug, Clone)]
pub struct LoginConfig {
    pub max_failures: u32,
    pub lockout: Duration,
}

#[derive(Debug, Clone)]
pub struct HeaderConfig {
    pub user: HeaderName,
    pub email: HeaderName,
    pub roles: HeaderName,
    /// Lower-case, `_` folded to `-`: compared against folded header names.
    pub strip_prefixes: Vec<String>,
    /// Add nosniff, frame and referrer headers to proxied answers that lack
    /// them (`[headers] security`, default true). HSTS over TLS is always added.
    pub security: bool,
}
