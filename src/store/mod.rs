//! The session store: one trait, two real backends (`memory`, the embedded
//! default, and `redis`). Knows nothing about HTTP.
//!
//! Every ephemeral key has a TTL (sessions, refresh tokens, rate limits,
//! login failures, pending TOTP enrolments, sign-in histories). Four kinds
//! of record are long-lived on purpose and carry none: API keys (until
//! revoked, unless created with a TTL), admin user locks (until unlocked),
//! active TOTP enrolments (until reset) and self-set passwords (until the
//! next change; ignored once the users file's hash changes). Their number is bounded by what operators and
//! users create, not by traffic.
//!
//! Sessions are stored under their public id (`sid`, a hash of the cookie
//! secret), so a dump of the store never holds a usable cookie; refresh tokens,
//! API keys and TOTP backup codes are stored under their SHA-256 hash only.
//! TOTP secrets are the exception: the server needs them to compute codes, so
//! they are kept as issued (a shared secret: protect the store like a key file).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod contract;
pub mod gcra;
pub mod memory;
pub mod redis;
pub mod slot;
pub mod ttl_map;

pub use gcra::{GcraRule, LimitDecision, LimitInfo};
pub use memory::MemoryStore;
pub use redis::RedisStore;

/// `[store]`: which backend, and how to reach it.
#[derive(Debug, Clone, Default)]
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
    /// Redis Sentinel instead of `url`: `host:port` of each sentinel (empty:
    /// use `url`) and the monitored master's name.
    pub sentinels: Vec<String>,
    pub sentinel_master: String,
    /// Redis Cluster seed nodes (`host:port`) instead of `url` (empty: not
    /// a cluster).
    pub cluster: Vec<String>,
    /// TLS to the nodes named by `sentinels` or `cluster` (a `url` says
    /// `rediss://` itself).
    pub tls: bool,
    /// `ca_file`'s PEM: the CA the store's TLS trusts instead of the
    /// system's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Replicas that must have a session creation, logout, revocation, lock
    /// or API-key revocation before it is acknowledged (`WAIT`; 0: none).
    pub wait_replicas: u32,
    /// ACL user and password on the data nodes (override the URL's).
    pub username: Option<String>,
    pub password: Option<RedisPassword>,
}

/// The Redis password (from `password_env`): never printed.
#[derive(Clone)]
pub struct RedisPassword(pub String);

impl std::fmt::Debug for RedisPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreBackend {
    #[default]
    Memory,
    Redis,
}

/// Failure talking to the store. Never shown to clients (SPEC §6: 503).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store timed out")]
    Timeout,
    #[error("corrupt store record: {0}")]
    Corrupt(String),
    /// `[store] wait_replicas`: the change is applied on the master, but
    /// fewer replicas than asked confirmed it in time (SPEC §12: 503).
    #[error(
        "store change applied on the master, confirmed by {confirmed} of {wanted} replicas in time"
    )]
    Unconfirmed { wanted: u32, confirmed: i64 },
}

/// A live login session, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Public session id: never the cookie value itself.
    pub sid: String,
    pub user_id: String,
    pub username: String,
    pub email: String,
    pub roles: Vec<String>,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds; slides on use.
    pub last_seen: i64,
    /// Unix seconds of the absolute timeout; never slides.
    pub expires_at: i64,
    pub ip: String,
    pub user_agent: String,
    /// Set when the session came from an OpenID Connect login (SPEC §13):
    /// what back-channel and RP-initiated logout need.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<ProviderLogin>,
}

/// Where an OIDC session came from (SPEC §13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderLogin {
    /// `[[oidc]] id`.
    pub provider: String,
    /// The provider's session id (`sid` claim of the ID token), if it sent one.
    #[serde(default)]
    pub sid: Option<String>,
    /// The provider's subject (`sub`).
    pub sub: String,
    /// The ID token, for `id_token_hint` at RP-initiated logout.
    pub id_token: String,
    /// `link_local`: the session is a local user's, described by the users
    /// file like any other; otherwise by this record alone.
    #[serde(default)]
    pub linked: bool,
}

/// Which index of provider sessions to read (back-channel logout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKey<'a> {
    /// The provider's session id (`sid`).
    Sid(&'a str),
    /// The provider's subject (`sub`).
    Sub(&'a str),
}

/// A refresh token, stored under the SHA-256 of the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    /// The session (= token family) this token belongs to.
    pub sid: String,
    pub user_id: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Result of presenting a refresh token for rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was live; it is now rotated and the successor is live.
    Rotated(RefreshRecord),
    /// The token was rotated less than `grace` ago: the successor recorded
    /// then (sealed with the old token, see `auth::refresh`) is returned.
    Grace {
        record: RefreshRecord,
        sealed_successor: String,
    },
    /// A rotated token came back after the grace window: the whole family
    /// (its session) has been revoked.
    Reused { sid: String, user_id: String },
    /// Unknown or expired token.
    Invalid,
}

/// An API key (SPEC §5), stored under the SHA-256 of the key, never the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// Unique; what `apikey list` and `revoke` use, and the identity's name.
    pub name: String,
    pub roles: Vec<String>,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds of the last recorded use (written at most once per
    /// `touch_every`, see `Store::use_api_key`); None: never used.
    #[serde(default)]
    pub last_used: Option<i64>,
    /// Unix seconds; None: valid until revoked.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// A user's TOTP enrolment (SPEC §4), pending until confirmed with a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpRecord {
    /// Base32 shared secret, as given to the authenticator app.
    pub secret: String,
    pub active: bool,
    /// Highest time step already used (replay guard); 0 before any.
    pub last_step: i64,
    /// Backup codes not used yet.
    pub backup_codes_left: usize,
}

/// Everything gatehouse keeps in its store, one trait per concern; a
/// backend implements each (`memory/`, `redis/`). Callers hold a
/// `dyn Store` and call any of them.
#[async_trait]
pub trait Store:
    SessionStore
    + RefreshStore
    + LimitStore
    + ApiKeyStore
    + AccountStore
    + OidcStore
    + SelfServiceStore
    + Send
    + Sync
    + 'static
{
    /// Reachability check for `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Login sessions (SPEC §5): created at login, looked up and slid on every request.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Store a new session; its TTL is `min(idle, expires_at - now)`.
    async fn create_session(&self, s: &SessionRecord, idle: Duration) -> Result<(), StoreError>;
    /// Look a session up and, when live, slide its idle timeout to
    /// `now + idle` (never past `expires_at`) and set `last_seen = now`, in one
    /// atomic step (one round trip on Redis). Shared (`Arc`): the memory
    /// store hands out its own record instead of copying it per request.
    async fn touch_session(
        &self,
        sid: &str,
        now: i64,
        idle: Duration,
    ) -> Result<Option<Arc<SessionRecord>>, StoreError>;
    /// Look a session up without sliding it.
    async fn get_session(&self, sid: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// End one session. Returns whether it existed.
    async fn delete_session(&self, sid: &str) -> Result<bool, StoreError>;
    /// A user's live sessions, oldest first.
    async fn list_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError>;
    /// End all of a user's sessions. Returns how many were ended.
    async fn delete_user_sessions(&self, user_id: &str) -> Result<usize, StoreError>;
}

/// Refresh-token families (SPEC §5), rotated atomically.
#[async_trait]
pub trait RefreshStore: Send + Sync {
    /// Store a fresh refresh token (at login).
    async fn put_refresh(
        &self,
        token_hash: &str,
        rec: &RefreshRecord,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    /// Atomically rotate `old_hash` to `new_hash` (SPEC §5): a live token is
    /// marked rotated (kept until its own expiry, so later reuse is seen) and
    /// a successor record (same `sid` and `user_id`, `expires_at = now +
    /// new_ttl`) stored under `new_hash` with `new_ttl`; a token rotated less
    /// than `grace` ago answers `Grace`; one rotated earlier revokes its
    /// session and answers `Reused`. N concurrent calls with one token rotate
    /// it once. `Rotated` and `Grace` carry the successor's record. A token
    /// whose session has ended (logout, revocation, expiry) is `Invalid`: the
    /// family ends with its session.
    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        new_ttl: Duration,
        sealed_successor: &str,
        now: i64,
        grace: Duration,
    ) -> Result<RotateOutcome, StoreError>;
}

/// Rate limits (SPEC §8) and the per-username login failure count.
#[async_trait]
pub trait LimitStore: Send + Sync {
    /// One GCRA step for `key` (SPEC §8), atomic; Redis uses its own clock.
    async fn rate_limit(&self, key: &str, rule: &GcraRule) -> Result<LimitDecision, StoreError>;
    /// Failed logins counted for `key` within the lockout window.
    async fn login_failures(&self, key: &str) -> Result<u32, StoreError>;
    /// Count one more failure; the window restarts at every failure.
    async fn record_login_failure(&self, key: &str, window: Duration) -> Result<u32, StoreError>;
    /// Forget failures for `key` (after a successful login).
    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError>;
    /// How long the failure count for `key` still lasts (the lockout page
    /// tells the minutes left, SPEC §14); None when there is none.
    async fn login_failures_left(&self, key: &str) -> Result<Option<Duration>, StoreError>;
}

/// API keys (SPEC §5), stored under their SHA-256 only.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Store a new API key under `key_hash`, unless a live key already has
    /// its name: false then, and nothing is written. No TTL unless
    /// `expires_at` is set.
    async fn create_api_key(&self, key_hash: &str, rec: &ApiKeyRecord) -> Result<bool, StoreError>;
    /// The live key under `key_hash`, in one atomic step with recording its
    /// use: `last_used` is set to `now` when it is unset or at least
    /// `touch_every` old, so a busy key costs no write per request.
    async fn use_api_key(
        &self,
        key_hash: &str,
        now: i64,
        touch_every: Duration,
    ) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// All live keys, by name.
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Revoke the key called `name`. Returns whether a live key was revoked.
    async fn revoke_api_key(&self, name: &str) -> Result<bool, StoreError>;
}

/// Per-user account state: admin locks and TOTP enrolments (SPEC §4).
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Lock a user out (admin): set the lock flag and end all their sessions
    /// (which also ends their refresh-token families and refuses their JWTs,
    /// so the per-request check needs no extra lookup). Returns how many
    /// sessions were ended.
    async fn lock_user(&self, user_id: &str) -> Result<usize, StoreError>;
    /// Lift the lock. Returns whether the user was locked.
    async fn unlock_user(&self, user_id: &str) -> Result<bool, StoreError>;
    /// Whether an admin has locked the user (checked at login).
    async fn user_locked(&self, user_id: &str) -> Result<bool, StoreError>;
    /// Start a TOTP enrolment: a pending record with `secret`, kept for
    /// `ttl`, replacing any earlier pending one. False (nothing written)
    /// when the user already has active TOTP.
    async fn begin_totp(
        &self,
        user_id: &str,
        secret: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError>;
    /// The user's TOTP record, pending or active.
    async fn get_totp(&self, user_id: &str) -> Result<Option<TotpRecord>, StoreError>;
    /// Activate a pending enrolment whose secret is still `secret`, with
    /// `step` as the last used step and the backup-code hashes; the record
    /// loses its TTL. False when there is no such pending enrolment.
    async fn activate_totp(
        &self,
        user_id: &str,
        secret: &str,
        step: i64,
        backup_hashes: &[String],
    ) -> Result<bool, StoreError>;
    /// Use time step `step` of active TOTP: true, and recorded, only when
    /// it is above the last used step (each code works once), atomically.
    async fn use_totp_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError>;
    /// Use a backup code (by hash) of active TOTP: true at most once per code.
    async fn use_backup_code(&self, user_id: &str, code_hash: &str) -> Result<bool, StoreError>;
    /// Remove the user's TOTP (admin reset). Returns whether there was one.
    async fn delete_totp(&self, user_id: &str) -> Result<bool, StoreError>;
}

/// OpenID Connect login state (SPEC §13): pending logins (one callback
/// each), one-time markers (logout-token `jti`s, authorization codes), and
/// the index of gatehouse sessions by provider session and subject. In
/// Redis each call touches one key.
#[async_trait]
pub trait OidcStore: Send + Sync {
    /// Keep a pending login under `key` (a hash of its `state`) for `ttl`.
    async fn put_pending_login(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    /// Take a pending login: it is answered once, atomically, on whichever
    /// gateway asks first; None after (a used or expired `state`).
    async fn take_pending_login(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Mark `key` used for `ttl`: true the first time, false while marked.
    async fn first_use(&self, key: &str, ttl: Duration) -> Result<bool, StoreError>;
    /// Index gatehouse session `sid` (of `user_id`) under `(provider, key)`;
    /// the index lives `ttl` from this call (at least the session's life).
    async fn index_provider_session(
        &self,
        provider: &str,
        key: ProviderKey<'_>,
        sid: &str,
        user_id: &str,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    /// Remove `sids` from the index under `(provider, key)` (sessions that
    /// ended, pruned at the next login of the subject).
    async fn unindex_provider_sessions(
        &self,
        provider: &str,
        key: ProviderKey<'_>,
        sids: &[String],
    ) -> Result<(), StoreError>;
    /// The gatehouse sessions `(sid, user_id)` indexed under `(provider,
    /// key)`, dead ones included (the caller ends each; ending one twice is
    /// harmless).
    async fn provider_sessions(
        &self,
        provider: &str,
        key: ProviderKey<'_>,
    ) -> Result<Vec<(String, String)>, StoreError>;
}

/// A password a user set themselves (`POST /auth/password`, SPEC §14).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordRecord {
    /// The new argon2id PHC string.
    pub hash: String,
    /// SHA-256 (hex) of the users file's hash it overrode: the record counts
    /// only while the file still holds that hash, so an operator's reset in
    /// the file wins.
    pub replaces: String,
}

/// One sign-in attempt in a user's history (SPEC §14).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginEvent {
    /// Unix seconds.
    pub time: i64,
    pub ip: String,
    pub user_agent: String,
    /// `ok`, `failed`, `lockout` or `mfa_failed`.
    pub result: String,
    /// `local`, or the identity provider's id.
    pub provider: String,
    /// A successful sign-in from a device key never seen before.
    #[serde(default)]
    pub new_device: bool,
    /// IP prefix and user-agent family (`auth::history::device_key`).
    #[serde(default)]
    pub device: String,
}

/// Self-service state kept per user: passwords set through the account
/// page and the sign-in history. Both are one key per user in Redis.
#[async_trait]
pub trait SelfServiceStore: Send + Sync {
    /// Keep `rec` as the user's password (long-lived, like TOTP: until the
    /// next change, or until the users file's hash changes).
    async fn set_password(&self, user_id: &str, rec: &PasswordRecord) -> Result<(), StoreError>;
    /// The user's self-set password, if any.
    async fn get_password(&self, user_id: &str) -> Result<Option<PasswordRecord>, StoreError>;
    /// Record a sign-in attempt, newest first: at most `keep` are kept, and
    /// the history lives `ttl` after its latest entry. One atomic step.
    async fn push_login(
        &self,
        user_id: &str,
        event: &LoginEvent,
        keep: usize,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    /// The user's last `limit` sign-in attempts, newest first.
    async fn login_history(
        &self,
        user_id: &str,
        limit: usize,
    ) -> Result<Vec<LoginEvent>, StoreError>;
}

/// A session's store TTL at `now`: `min(idle, expires_at - now)`, or None
/// once the absolute timeout has passed.
pub(crate) fn session_ttl(idle: Duration, expires_at: i64, now: i64) -> Option<Duration> {
    let left = expires_at.saturating_sub(now);
    if left <= 0 || idle.is_zero() {
        return None;
    }
    Some(idle.min(Duration::from_secs(left as u64)))
}

/// Current Unix time in seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Connect the configured backend. Does no network I/O: a Redis that is
/// down at start makes calls fail (503 on protected routes) until it is back.
/// Call it inside the Tokio runtime (the Redis backend spawns a task).
pub async fn connect(cfg: &StoreConfig) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    Ok(match cfg.backend {
        StoreBackend::Memory => std::sync::Arc::new(MemoryStore::new()),
        StoreBackend::Redis => std::sync::Arc::new(RedisStore::from_config(cfg)?),
    })
}
