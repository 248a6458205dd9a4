//! gateway.toml as written (SPEC §2): serde structs with `deny_unknown_fields`
//! so a typo is an error, not a silently ignored key.
//!
//! Nearly every value is optional and `Spanned` here: defaults and checks live
//! in `compile`, which can then report *all* problems (a missing required key
//! too) with the line they are on, instead of stopping at serde's first one.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A string value with its place in the file.
pub type Str = Spanned<String>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub server: Option<Spanned<RawServer>>,
    pub admin: Option<Spanned<RawAdmin>>,
    pub store: Option<Spanned<RawStore>>,
    pub users: Option<Spanned<RawUsers>>,
    pub tokens: Option<Spanned<RawTokens>>,
    pub session: Option<Spanned<RawSession>>,
    pub login: Option<Spanned<RawLogin>>,
    pub passwords: Option<Spanned<RawPasswords>>,
    pub headers: Option<Spanned<RawHeaders>>,
    pub forward_auth: Option<Spanned<RawForwardAuth>>,
    pub log: Option<Spanned<RawLog>>,
    pub upstreams: Option<BTreeMap<String, Spanned<RawUpstream>>>,
    pub roles: Option<BTreeMap<String, Spanned<Vec<Str>>>>,
    pub rate_limits: Option<BTreeMap<String, Spanned<RawRateLimit>>>,
    pub routes: Option<Spanned<Vec<Spanned<RawRoute>>>>,
    /// `[[oidc]]`: OpenID Connect providers for browser login (SPEC §13).
    pub oidc: Option<Vec<Spanned<RawOidc>>>,
}

/// One `[[oidc]]` provider (SPEC §13).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOidc {
    /// Required: `[a-z0-9-]+`, used in the endpoint URLs.
    pub id: Option<Str>,
    /// Button label (default: the id).
    pub name: Option<Str>,
    /// Required: https (http on loopback only); discovery is at
    /// `<issuer>/.well-known/openid-configuration`.
    pub issuer: Option<Str>,
    pub client_id: Option<Str>,
    /// Environment variable holding the client secret.
    pub client_secret_env: Option<Str>,
    pub scopes: Option<Spanned<Vec<Str>>>,
    pub username_claim: Option<Str>,
    pub roles_claim: Option<Str>,
    pub role_map: Option<BTreeMap<String, Str>>,
    pub default_roles: Option<Vec<Str>>,
    pub allowed_email_domains: Option<Vec<Str>>,
    pub post_logout_redirect: Option<Str>,
    pub ca_file: Option<Str>,
    pub link_local: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<Str>,
    pub tls_listen: Option<Str>,
    pub tls_cert: Option<Str>,
    pub tls_key: Option<Str>,
    pub threads: Option<Spanned<i64>>,
    pub work_stealing: Option<bool>,
    pub trusted_proxies: Option<Vec<Str>>,
    pub public_url: Option<Str>,
    pub shutdown_timeout: Option<Str>,
    /// Prefix of the gateway's own endpoints (SPEC §4, "configurable").
    pub auth_prefix: Option<Str>,
    /// Slow clients (issue 10): total time for a request head, idle time
    /// between requests, open connections per process and per client IP.
    pub header_timeout: Option<Str>,
    pub keepalive_timeout: Option<Str>,
    pub max_connections: Option<Spanned<i64>>,
    pub max_connections_per_ip: Option<Spanned<i64>>,
    /// Largest request body a proxied request may carry (SPEC §11).
    pub max_body: Option<Str>,
    /// HTTP/2 (SPEC §11): ALPN h2 on the TLS listener, h2c prior
    /// knowledge on the plain one, streams and header list per connection.
    pub h2: Option<bool>,
    pub h2c: Option<Spanned<bool>>,
    pub h2_max_streams: Option<Spanned<i64>>,
    pub h2_max_header_list: Option<Str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    pub listen: Option<Str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub backend: Option<Str>,
    pub url: Option<Str>,
    pub key_prefix: Option<Str>,
    /// Bound on one store call.
    pub timeout: Option<Str>,
    /// Redis session cache lifetime ("0s": off).
    pub local_cache: Option<Str>,
    /// Redis Sentinel (SPEC §12): `host:port` of each sentinel, instead of url.
    pub sentinels: Option<Spanned<Vec<Str>>>,
    pub sentinel_master: Option<Str>,
    /// Redis Cluster (SPEC §12): seed nodes' `host:port`, instead of url.
    pub cluster: Option<Spanned<Vec<Str>>>,
    /// TLS to the data nodes (and sentinels) given as host:port lists.
    pub tls: Option<Spanned<bool>>,
    /// PEM CA certificate(s) to trust for the store's TLS (default: the
    /// system's roots).
    pub ca_file: Option<Str>,
    /// Replicas that must confirm a revocation or creation (`WAIT`).
    pub wait_replicas: Option<Spanned<i64>>,
    /// ACL user and the variable holding the password, for the data nodes.
    pub username: Option<Str>,
    pub password_env: Option<Str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUsers {
    pub file: Option<Str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokens {
    pub issuer: Option<Str>,
    pub audience: Option<Str>,
    pub algorithm: Option<Str>,
    pub signing_key_file: Option<Str>,
    pub secret_env: Option<Str>,
    pub access_ttl: Option<Str>,
    pub refresh_ttl: Option<Str>,
    pub refresh_reuse_grace: Option<Str>,
    /// Rotated-out public keys still accepted (SPEC §14): files or dirs.
    pub previous_keys: Option<Vec<Str>>,
    /// HS256: the secret before the current one.
    pub previous_secret_env: Option<Str>,
    /// `[[tokens.trusted_issuers]]`: external identity providers (see
    /// `RawTrustedIssuer`).
    pub trusted_issuers: Option<Vec<Spanned<RawTrustedIssuer>>>,
}

/// One `[[tokens.trusted_issuers]]` entry: an identity provider whose bearer
/// JWTs are accepted alongside gatehouse's own.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrustedIssuer {
    /// Required: the exact `iss` of the IdP's tokens.
    pub issuer: Option<Str>,
    /// Required: the `aud` tokens must carry (the string, or one of the array).
    pub audience: Option<Str>,
    /// The IdP's public keys as a JWKS file (relative to the config dir);
    /// exactly one of `jwks_file` and `jwks_url`.
    pub jwks_file: Option<Str>,
    /// The IdP's JWKS endpoint: https, or http on loopback only.
    pub jwks_url: Option<Str>,
    /// Required: the signing algorithms accepted from this IdP; asymmetric
    /// only (RS256/384/512, PS256/384/512, ES256/384, EdDSA).
    pub algorithms: Option<Spanned<Vec<Str>>>,
    /// Claim holding the roles: a top-level name or a dotted path to an
    /// array of strings or a space/comma separated string. Default "roles".
    pub roles_claim: Option<Str>,
    /// IdP role value -> gatehouse role. When set, only mapped values count.
    pub role_map: Option<BTreeMap<String, Str>>,
    /// Claim giving the username (X-Auth-User). Default "sub".
    pub username_claim: Option<Str>,
    /// Claim giving the email (X-Auth-Email). Default "email".
    pub email_claim: Option<Str>,
    /// How often `jwks_url` is fetched again. Default "10m".
    pub refresh: Option<Str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSession {
    pub cookie_name: Option<Str>,
    /// Parent domain for the session cookie (forward-auth, SPEC §10).
    pub cookie_domain: Option<Str>,
    pub idle_timeout: Option<Str>,
    pub absolute_timeout: Option<Str>,
    pub same_site: Option<Str>,
    /// How often an open WebSocket or long stream re-checks its session.
    pub stream_recheck: Option<Str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawForwardAuth {
    pub enabled: Option<Spanned<bool>>,
}

/// `[log]` (SPEC §11): the access log.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub access: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogin {
    pub max_failures: Option<Spanned<i64>>,
    pub lockout: Option<Str>,
}

/// `[passwords]`: the policy for passwords users set (SPEC §14).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPasswords {
    pub min_length: Option<Spanned<i64>>,
    pub max_length: Option<Spanned<i64>>,
    pub min_score: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeaders {
    pub user: Option<Str>,
    pub email: Option<Str>,
    pub roles: Option<Str>,
    pub strip_prefixes: Option<Vec<Str>>,
    pub security: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    pub addr: Option<Str>,
    pub addrs: Option<Spanned<Vec<Str>>>,
    pub tls: Option<bool>,
    pub sni: Option<Str>,
    /// PEM CA certificates trusted for this TLS upstream instead of the
    /// system's roots.
    pub ca_file: Option<Str>,
    pub balance: Option<Str>,
    pub health: Option<Spanned<RawHealth>>,
    pub resolve_every: Option<Str>,
    pub connect_timeout: Option<Str>,
    pub read_timeout: Option<Str>,
    pub write_timeout: Option<Str>,
    pub idle_timeout: Option<Str>,
    /// `"http1"` (default), `"h2"` (TLS, ALPN h2) or `"h2c"` (SPEC §11).
    pub protocol: Option<Str>,
}

/// `[upstreams.NAME.health]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    pub path: Option<Str>,
    pub interval: Option<Str>,
    pub timeout: Option<Str>,
    pub unhealthy_after: Option<Spanned<i64>>,
    pub healthy_after: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    pub key: Option<Str>,
    pub limit: Option<Spanned<i64>>,
    pub per: Option<Str>,
    pub burst: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub path: Option<Str>,
    pub methods: Option<Spanned<Vec<Str>>>,
    pub host: Option<Str>,
    pub upstream: Option<Str>,
    pub auth: Option<Str>,
    pub roles: Option<Vec<Str>>,
    pub permissions: Option<Vec<Str>>,
    pub rate_limit: Option<Str>,
    /// Replaces the upstream's `read_timeout` for this route.
    pub timeout: Option<Str>,
    pub forward_authorization: Option<bool>,
    pub cors_origins: Option<Vec<Str>>,
    pub cors_credentials: Option<bool>,
    /// `{ capture = "id" | "username" | "email" }`.
    pub owner: Option<Spanned<BTreeMap<Str, Str>>>,
    pub owner_bypass_roles: Option<Vec<Str>>,
    /// Replaces `[server] max_body` for this route, larger or smaller.
    pub max_body: Option<Str>,
}

/// The users file (SPEC §3).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUsersFile {
    pub users: Option<Vec<Spanned<RawUser>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    pub username: Option<Str>,
    pub id: Option<Str>,
    pub email: Option<Str>,
    pub password_hash: Option<Str>,
    pub roles: Option<Vec<Str>>,
    pub disabled: Option<bool>,
}
