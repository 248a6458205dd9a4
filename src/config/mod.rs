//! gateway.toml: parsed once (`raw`), checked and compiled once (`compile`)
//! into the types below, which the hot path reads without parsing anything.
//! Every problem is reported as `file:line: key: message` (`diag`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::header::HeaderName;
use ipnet::IpNet;

pub mod compile;
pub mod diag;
pub mod duration;
pub mod raw;
pub mod size;
pub mod users;

pub use compile::load;
pub use diag::{ConfigError, Diagnostic};

pub use crate::auth::settings::{
    JwksSource, SameSite, Secret, SessionConfig, SigningSecret, TokenAlgorithm, TokenConfig,
    TrustedIssuerConfig,
};
use crate::policy::Policy;
pub use crate::store::{StoreBackend, StoreConfig};

/// The whole compiled configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The gateway.toml this came from (for reload and messages).
    pub path: PathBuf,
    pub server: ServerConfig,
    pub admin: Option<AdminConfig>,
    pub store: StoreConfig,
    /// `[users] file`; None when there is no `[users]` section, allowed
    /// only with `[[oidc]]` providers (SPEC §13).
    pub users_file: Option<PathBuf>,
    pub tokens: TokenConfig,
    pub session: SessionConfig,
    pub login: LoginConfig,
    /// `[passwords]` (SPEC §14).
    pub passwords: crate::auth::password_policy::PasswordPolicy,
    pub headers: HeaderConfig,
    pub forward_auth: ForwardAuthConfig,
    pub log: LogConfig,
    /// `[[tokens.trusted_issuers]]`: external IdPs whose JWTs are accepted.
    /// Like the rest of `[tokens]`, not reloaded on SIGHUP.
    pub trusted_issuers: Vec<TrustedIssuerConfig>,
    /// `[[oidc]]` providers (SPEC §13); not reloaded on SIGHUP (discovery is).
    pub oidc: Vec<crate::auth::oidc::settings::OidcProviderConfig>,
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
    /// Largest request body of a proxied request, in bytes (SPEC §11); a
    /// route's own `max_body` replaces it.
    pub max_body: u64,
    /// HTTP/2 from clients (SPEC §11): offer `h2` by ALPN on the TLS
    /// listener (default on); accept cleartext prior-knowledge HTTP/2 on
    /// the plain listener (default off).
    pub h2: bool,
    pub h2c: bool,
    /// Concurrent streams per HTTP/2 connection (SETTINGS_MAX_CONCURRENT_STREAMS).
    pub h2_max_streams: u32,
    /// Decoded request header list per stream, bytes (SETTINGS_MAX_HEADER_LIST_SIZE).
    pub h2_max_header_list: u32,
}

#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub listen: SocketAddr,
}

/// `[forward_auth]` (SPEC §10): `/auth/verify` and `/auth/ext-authz/`
/// answer only when enabled (404 otherwise).
#[derive(Debug, Clone, Default)]
pub struct ForwardAuthConfig {
    pub enabled: bool,
}

/// `[log]` (SPEC §11): one JSON access line per request on stderr.
#[derive(Debug, Clone)]
pub struct LogConfig {
    pub access: bool,
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
