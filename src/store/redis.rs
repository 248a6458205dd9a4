//! The Redis store: redis-rs ConnectionManager (multiplexed, reconnecting),
//! key prefix, a TTL on every key, Lua scripts (EVALSHA) for atomic steps.
//!
//! Key layout, all under the configured prefix `{p}`. `{t}` is the user's
//! slot tag (`store::slot`): one user's records share a Redis Cluster slot,
//! so every script runs on one slot (SPEC §12); session ids and refresh
//! token hashes start with it.
//! - `{p}{t}:s:{sid}`  hash `rec` (record JSON), `ls` (last_seen), `exp`,
//!   `uid`; TTL `min(idle, expires_at - now)`, slid by `session_touch.lua`.
//! - `{p}{t}:u:{uid}`  set of sids; TTL until the user's latest
//!   `expires_at`; dead members pruned on create, list and delete.
//! - `{p}{t}:r:{hash}` hash `sid`, `uid`, `exp` (+ `rot`, `nexp`, `sealed`
//!   once rotated); TTL of the token, unchanged by rotation.
//! - `{p}rl:{key}` GCRA TAT in µs; TTL until the budget is full again.
//! - `{p}lf:{key}` failed-login counter; TTL the lockout window.
//!
//! - `{p}ol:`, `{p}once:`, `{p}ps:`, `{p}pu:` OpenID Connect state, see
//!   `oidc.rs`.
//!
//! Long-lived, no TTL (see the `store` module doc; `accounts.rs`):
//! - `{p}{ak}:ak:{hash}` API key: hash `rec` (record JSON), `lu` (last used,
//!   written at most once per minute); a TTL only if created with one.
//! - `{p}{ak}:akn`      hash name → key hash; entries of expired keys are
//!   pruned by `list` and replaced by `create` (all API keys in one slot:
//!   they are few, and the name index must move with them).
//! - `{p}{t}:lock:{uid}` admin lock flag.
//! - `{p}{t}:totp:{uid}` hash `secret`, `active`, `step` (last used time
//!   step), `bk:{hash}` per unused backup code; TTL only while pending.
//!
//! - `{p}{t}:pw:{uid}` self-set password (`self_service.rs`): hash `hash`,
//!   `replaces`; no TTL.
//! - `{p}{t}:lh:{uid}` sign-in history, newest first, at most 50; TTL
//!   `refresh_ttl` after the latest entry.
//!
//! Scripts that walk a user's index build that user's session keys from a
//! prefix carrying the same tag, so they stay on the slot of their keys.
//!
//! Connections come from a `source::Source`: a fixed URL, or the master
//! the sentinels name (`sentinel.rs`), re-asked after failed calls.
//!
//! Availability (SPEC §6, §8): construction does no I/O, so the gateway
//! starts while Redis is down; every call is bounded by `timeout` and fails
//! with `Unavailable`/`Timeout` (→ 503, fail closed); the manager reconnects
//! on the next calls once Redis is back.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::{ErrorKind, RedisError, Script};
use thread_local::ThreadLocal;

use crate::metrics::METRICS;

use super::memory::secs;
use super::{
    gcra, session_ttl, slot, unix_now, AccountStore, ApiKeyRecord, ApiKeyStore, GcraRule,
    LimitDecision, LimitStore, LoginEvent, PasswordRecord, RefreshRecord, RefreshStore,
    RotateOutcome, SelfServiceStore, SessionRecord, SessionStore, Store, StoreConfig, StoreError,
    TotpRecord,
};

mod accounts;
pub mod cache;
pub mod conn;
mod oidc;
mod self_service;
pub mod sentinel;
pub mod source;

use cache::SessionCache;
use conn::{ClusterConnector, Conn};
use sentinel::{SentinelSettings, SentinelSource};
use source::{Fixed, Seeds, Source};

/// Reconnect attempts per reconnection round, kept short so a Redis that
/// comes back is noticed within a second or so; callers drive new rounds.
const CONNECT_RETRIES: usize = 2;
const CONNECT_MIN_DELAY: Duration = Duration::from_millis(50);
const CONNECT_MAX_DELAY: Duration = Duration::from_millis(500);

/// The scripts whose changes `wait_replicas` confirms: their source is sent
/// with `EVAL` beside the `WAIT` (`script_confirmed`).
const SESSION_CREATE: &str = include_str!("session_create.lua");
const SESSION_DELETE: &str = include_str!("session_delete.lua");
const SESSION_DELETE_USER: &str = include_str!("session_delete_user.lua");
const REFRESH_ROTATE: &str = include_str!("refresh_rotate.lua");

/// The Lua scripts, hashed once (EVALSHA, reloaded on NOSCRIPT after a restart).
struct Scripts {
    gcra: Script,
    session_create: Script,
    session_touch: Script,
    session_list: Script,
    session_delete: Script,
    session_delete_user: Script,
    refresh_rotate: Script,
}

impl Scripts {
    fn new() -> Self {
        Scripts {
            gcra: Script::new(include_str!("gcra.lua")),
            session_create: Script::new(SESSION_CREATE),
            session_touch: Script::new(include_str!("session_touch.lua")),
            session_list: Script::new(include_str!("session_list.lua")),
            session_delete: Script::new(SESSION_DELETE),
            session_delete_user: Script::new(SESSION_DELETE_USER),
            refresh_rotate: Script::new(REFRESH_ROTATE),
        }
    }
}

/// The Redis store (`[store] backend = "redis"`).
pub struct RedisStore {
    /// Where node connections go; for a cluster, its seeds (used only by
    /// the invalidation subscriber).
    source: Arc<dyn Source>,
    /// `[store] cluster`: every call goes through the cluster connection.
    cluster: Option<ClusterConnector>,
    /// `[store] wait_replicas` (0: acknowledge once the master has it).
    wait_replicas: u32,
    config: ConnectionManagerConfig,
    /// One multiplexed connection per proxy thread, made lazily on first use
    /// there: its driver task then runs on that thread's runtime, so a store
    /// call never waits for a wake-up from another thread. Tagged with the
    /// source's generation: a connection to a former target is replaced.
    conns: ThreadLocal<Mutex<Option<(u64, ConnectionManager)>>>,
    /// `[store] local_cache`: positive session lookups, invalidated over pub/sub.
    pub(super) cache: Option<Arc<SessionCache>>,
    /// The invalidation subscriber, stopped with the store.
    subscriber: Option<tokio::task::JoinHandle<()>>,
    prefix: String,
    timeout: Duration,
    scripts: Scripts,
    account_scripts: accounts::Scripts,
    self_service_scripts: self_service::Scripts,
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        if let Some(task) = &self.subscriber {
            task.abort();
        }
    }
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: never print the client.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store on `url` (`redis://` or `rediss://`). Does no network I/O: the
    /// first call connects, so a Redis that is down at start only makes calls
    /// fail until it is back. Fails only on a malformed URL. Must run inside
    /// a Tokio runtime (the manager spawns a task).
    /// Connect lazily; `local_cache` > 0 turns the session cache on (it
    /// starts a subscriber task on the current runtime).
    pub async fn connect(
        url: &str,
        key_prefix: &str,
        timeout: Duration,
        local_cache: Duration,
    ) -> Result<Self, StoreError> {
        let source = fixed(
            url,
            None,
            None,
            &StoreConfig {
                timeout,
                ..StoreConfig::default()
            },
        )?;
        Self::with_source(source, key_prefix, timeout, local_cache)
    }

    /// The store `[store]` describes: one node (`url`), the master the
    /// sentinels name, or a cluster. No network I/O, as for `connect`.
    pub fn from_config(cfg: &StoreConfig) -> Result<Self, StoreError> {
        let password = cfg.password.as_ref().map(|p| p.0.as_str());
        let mut cluster = None;
        let source: Arc<dyn Source> = if !cfg.cluster.is_empty() {
            let (client, seeds) = cluster_clients(cfg)?;
            cluster = Some(ClusterConnector::new(client));
            Arc::new(Seeds::new(seeds))
        } else if cfg.sentinels.is_empty() {
            fixed(&cfg.url, cfg.username.as_deref(), password, cfg)?
        } else {
            SentinelSource::start(&SentinelSettings {
                sentinels: &cfg.sentinels,
                master: &cfg.sentinel_master,
                username: cfg.username.as_deref(),
                password,
                tls: cfg.tls,
                timeout: cfg.timeout,
            })?
        };
        let mut store = Self::with_source(source, &cfg.key_prefix, cfg.timeout, cfg.local_cache)?;
        store.cluster = cluster;
        store.wait_replicas = cfg.wait_replicas;
        Ok(store)
    }

    /// A store whose connections go where `source` says (no I/O here
    /// either). Must run inside a Tokio runtime when `local_cache` is on.
    pub fn with_source(
        source: Arc<dyn Source>,
        key_prefix: &str,
        timeout: Duration,
        local_cache: Duration,
    ) -> Result<Self, StoreError> {
        let config = manager_config(timeout);
        let (cache, subscriber) = if local_cache.is_zero() {
            (None, None)
        } else {
            let cache = SessionCache::new(local_cache);
            let channel = format!("{key_prefix}revoked");
            let task = tokio::spawn(cache::subscribe_forever(
                source.clone(),
                channel,
                cache.clone(),
            ));
            (Some(cache), Some(task))
        };
        Ok(RedisStore {
            source,
            cluster: None,
            wait_replicas: 0,
            config,
            conns: ThreadLocal::new(),
            cache,
            subscriber,
            prefix: key_prefix.to_string(),
            timeout,
            scripts: Scripts::new(),
            account_scripts: accounts::Scripts::new(),
            self_service_scripts: self_service::Scripts::new(),
        })
    }

    /// Tell every gateway's session cache (this one's at once) that
    /// sessions ended: `s:<sid>` or `u:<user id>`. A lost message is bounded
    /// by the cache's entry lifetime.
    async fn publish_revoked(&self, message: String) {
        if let Some(cache) = &self.cache {
            cache.invalidate(&message);
        }
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(format!("{}revoked", self.prefix)).arg(message);
        if let Err(e) = self.query::<i64>(&cmd).await {
            tracing::warn!(error = %e, "cannot publish a session revocation to other gateways' caches");
        }
    }

    /// The connection for one call: the cluster's, or this thread's to the
    /// source's current target with the target's generation (for `bounded`
    /// to report a failure against). With no target known yet, waits up to
    /// the store timeout for one.
    async fn conn(&self) -> Result<(Option<u64>, Conn), StoreError> {
        if let Some(cluster) = &self.cluster {
            return Ok((None, Conn::Cluster(cluster.get(self.timeout).await?)));
        }
        let Some(target) = self.source.target_within(self.timeout).await else {
            return Err(StoreError::Unavailable("no redis master known".into()));
        };
        let cell = self.conns.get_or(|| Mutex::new(None));
        let mut slot = cell.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((generation, conn)) = slot.as_ref() {
            if *generation == target.generation {
                return Ok((Some(*generation), Conn::Node(conn.clone())));
            }
        }
        let conn =
            ConnectionManager::new_lazy_with_config(target.client.clone(), self.config.clone())
                .map_err(store_err)?;
        *slot = Some((target.generation, conn.clone()));
        Ok((Some(target.generation), Conn::Node(conn)))
    }

    /// A script whose change must survive a failover (SPEC §12). With
    /// `[store] wait_replicas`, it is sent together with `WAIT` on one
    /// connection (`Conn::write_and_wait`); fewer replicas in time is
    /// `Unconfirmed` (503; the change stays applied on the master), and the
    /// audit line says so. `changed` tells from the reply whether there was
    /// a change to confirm. The caller gets the reply either way, so it can
    /// still tell other gateways' caches (`Confirmed::finish`).
    async fn script_confirmed<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        (script, code): (&Script, &'static str),
        keys: &[&str],
        args: &[&str],
        changed: impl Fn(&T) -> bool,
    ) -> Result<Confirmed<T>, StoreError> {
        let wanted = self.wait_replicas;
        if wanted == 0 {
            let value = self.script(script, keys, args).await?;
            return Ok(Confirmed {
                value,
                unconfirmed: None,
            });
        }
        self.check_slots(script, keys, args);
        // EVAL, not EVALSHA: a NOSCRIPT answer would come after the WAIT it
        // is paired with had already waited, and a retry would wait again.
        let mut write = redis::pipe();
        write
            .cmd("EVAL")
            .arg(code)
            .arg(keys.len())
            .arg(keys)
            .arg(args);
        // WAIT's own bound leaves room for the reply inside the call's.
        let within = self.timeout.mul_f32(0.75);
        let key = keys.first().copied().unwrap_or_default().to_string();
        let (generation, mut conn) = self.conn().await?;
        let (reply, confirmed) = self
            .bounded(generation, async move {
                conn.write_and_wait(&key, write, wanted, within).await
            })
            .await?;
        let value = T::from_redis_value(reply).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let unconfirmed = (changed(&value) && confirmed < i64::from(wanted)).then(|| {
            tracing::warn!(event = "store_unconfirmed", op, wanted, confirmed, "store change applied on the master but not confirmed by enough replicas: answered 503");
            StoreError::Unconfirmed { wanted, confirmed }
        });
        Ok(Confirmed { value, unconfirmed })
    }

    /// A key of a record that no script shares with another: anywhere.
    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    /// A key in the slot of `tag` (`store::slot`): `{p}{tag}:kind:id`.
    fn tagged_key(&self, tag: &str, kind: &str, id: &str) -> String {
        format!("{}{{{tag}}}:{kind}:{id}", self.prefix)
    }

    /// A user's own records (index, lock, TOTP), in the user's slot.
    fn user_key(&self, kind: &str, user_id: &str) -> String {
        self.tagged_key(&slot::user_tag(user_id), kind, user_id)
    }

    /// A record found by an id minted with its user's tag (sid, token hash).
    fn minted_key(&self, kind: &str, id: &str) -> String {
        self.tagged_key(slot::tag_of(id), kind, id)
    }

    /// What scripts put a sid behind to name a session key in `tag`'s slot.
    fn session_prefix(&self, tag: &str) -> String {
        self.tagged_key(tag, "s", "")
    }

    /// What scripts put a user id behind to name an index key in `tag`'s slot.
    fn user_prefix(&self, tag: &str) -> String {
        self.tagged_key(tag, "u", "")
    }

    /// Run one Redis exchange: the one place every call passes, so the one
    /// bound (the store timeout: a dead or stalled Redis never holds a
    /// request) and the latency and error metrics (SPEC §9).
    /// A failure that a moved master could explain (anything but a reply
    /// we could not decode) is reported to the source (SPEC §12).
    async fn bounded<T, F>(&self, generation: Option<u64>, fut: F) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = Result<T, RedisError>>,
    {
        let start = std::time::Instant::now();
        let result = match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r.map_err(store_err),
            Err(_) => Err(StoreError::Timeout),
        };
        METRICS.store_latency.observe(start.elapsed().as_secs_f64());
        if let Err(e) = &result {
            METRICS.store_errors.inc();
            if let (false, Some(generation)) = (matches!(e, StoreError::Corrupt(_)), generation) {
                self.source.failed(generation);
            }
        }
        result
    }

    async fn script<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        keys: &[&str],
        args: &[&str],
    ) -> Result<T, StoreError> {
        self.check_slots(script, keys, args);
        let mut inv = script.prepare_invoke();
        for k in keys {
            inv.key(*k);
        }
        for a in args {
            inv.arg(*a);
        }
        let (generation, mut conn) = self.conn().await?;
        self.bounded(generation, async move { inv.invoke_async(&mut conn).await })
            .await
    }

    /// Before a script call: its keys on one slot (debug builds), and the
    /// script noted as run (tests).
    fn check_slots(&self, script: &Script, keys: &[&str], args: &[&str]) {
        debug_assert!(
            self.one_slot(keys, args),
            "a script's keys span Redis Cluster slots: {keys:?} {args:?}"
        );
        #[cfg(test)]
        slot_audit::record(script.get_hash());
        #[cfg(not(test))]
        let _ = script;
    }

    /// Whether a script's keys, and the keys it builds from prefixes it is
    /// handed (`{p}{tag}:s:` + sid), all hash to one slot: what a cluster
    /// needs to run it (SPEC §12). Checked on every call in debug builds,
    /// so every test that runs a script checks it.
    fn one_slot(&self, keys: &[&str], args: &[&str]) -> bool {
        use redis::cluster_routing::Slot;
        let Some(first) = keys.first() else {
            return true;
        };
        let slot = Slot::for_key(first);
        let tagged_prefix = format!("{}{{", self.prefix);
        keys.iter().all(|k| Slot::for_key(k) == slot)
            && args
                .iter()
                .filter(|a| a.starts_with(&tagged_prefix))
                .all(|a| Slot::for_key(format!("{a}x")) == slot)
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StoreError> {
        let (generation, mut conn) = self.conn().await?;
        self.bounded(generation, cmd.query_async(&mut conn)).await
    }
}

/// A fixed source on `url`, with `username`/`password` overriding the URL's
/// and `cfg`'s timeout and CA.
fn fixed(
    url: &str,
    username: Option<&str>,
    password: Option<&str>,
    cfg: &StoreConfig,
) -> Result<Arc<dyn Source>, StoreError> {
    use redis::IntoConnectionInfo;
    // The error text may quote the URL, and with it a password: drop it.
    let invalid =
        |e: RedisError| StoreError::Unavailable(format!("invalid redis url ({:?})", e.kind()));
    let info = url.into_connection_info().map_err(invalid)?;
    let client = open_client(with_credentials(info, username, password), cfg).map_err(invalid)?;
    // Fails now, not on first use, if the URL or settings are unusable.
    ConnectionManager::new_lazy_with_config(client.clone(), manager_config(cfg.timeout))
        .map_err(store_err)?;
    Ok(Arc::new(Fixed::new(client)))
}

/// `info` with `username` / `password` overriding its own.
fn with_credentials(
    info: redis::ConnectionInfo,
    username: Option<&str>,
    password: Option<&str>,
) -> redis::ConnectionInfo {
    let mut settings = info.redis_settings().clone();
    if let Some(u) = username {
        settings = settings.set_username(u);
    }
    if let Some(p) = password {
        settings = settings.set_password(p);
    }
    info.set_redis_settings(settings)
}

/// A client on `info`, trusting `[store] ca_file` when set.
fn open_client(
    info: redis::ConnectionInfo,
    cfg: &StoreConfig,
) -> redis::RedisResult<redis::Client> {
    match trusted_ca(cfg) {
        Some(certs) => redis::Client::build_with_tls(info, certs),
        None => redis::Client::open(info),
    }
}

/// `[store] ca_file`: trust that CA instead of the system's roots.
fn trusted_ca(cfg: &StoreConfig) -> Option<redis::TlsCertificates> {
    cfg.ca_pem.as_ref().map(|pem| redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(pem.clone()),
    })
}

/// The cluster client on the seed nodes, and one plain client per seed.
fn cluster_clients(cfg: &StoreConfig) -> Result<(ClusterClient, Vec<redis::Client>), StoreError> {
    let scheme = if cfg.tls { "rediss" } else { "redis" };
    let invalid =
        |e: RedisError| StoreError::Unavailable(format!("redis cluster seeds ({:?})", e.kind()));
    let mut infos = Vec::new();
    for seed in &cfg.cluster {
        use redis::IntoConnectionInfo;
        let info = format!("{scheme}://{seed}/")
            .into_connection_info()
            .map_err(invalid)?;
        let password = cfg.password.as_ref().map(|p| p.0.as_str());
        infos.push(with_credentials(info, cfg.username.as_deref(), password));
    }
    let seeds = infos
        .iter()
        .map(|i| open_client(i.clone(), cfg).map_err(invalid))
        .collect::<Result<Vec<_>, _>>()?;
    let mut builder = ClusterClientBuilder::new(infos)
        .connection_timeout(cfg.timeout)
        .response_timeout(cfg.timeout);
    if let Some(certs) = trusted_ca(cfg) {
        builder = builder.certs(certs);
    }
    if let Some(u) = &cfg.username {
        builder = builder.username(u);
    }
    if let Some(p) = &cfg.password {
        builder = builder.password(&p.0);
    }
    let client = builder.build().map_err(invalid)?;
    Ok((client, seeds))
}

fn manager_config(timeout: Duration) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(CONNECT_RETRIES)
        .set_min_delay(CONNECT_MIN_DELAY)
        .set_max_delay(CONNECT_MAX_DELAY)
}

fn store_err(e: RedisError) -> StoreError {
    if e.is_timeout() {
        return StoreError::Timeout;
    }
    match e.kind() {
        ErrorKind::Parse | ErrorKind::UnexpectedReturnType => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Unavailable(e.to_string()),
    }
}

/// A confirmed script's reply, and whether too few replicas confirmed it.
struct Confirmed<T> {
    value: T,
    unconfirmed: Option<StoreError>,
}

impl<T> Confirmed<T> {
    /// The reply, or `Unconfirmed` (after the caller did what must happen
    /// either way, such as telling other gateways' caches).
    fn finish(self) -> Result<T, StoreError> {
        match self.unconfirmed {
            Some(e) => Err(e),
            None => Ok(self.value),
        }
    }
}

/// Milliseconds for PEXPIRE/PX: at least 1 (0 is an error in Redis).
fn ms(d: Duration) -> String {
    d.as_millis().clamp(1, i64::MAX as u128).to_string()
}

fn decode_session(rec: &str, last_seen: Option<&str>) -> Result<SessionRecord, StoreError> {
    let mut s: SessionRecord =
        serde_json::from_str(rec).map_err(|e| StoreError::Corrupt(format!("session: {e}")))?;
    if let Some(ls) = last_seen.filter(|v| !v.is_empty()) {
        s.last_seen = parse_i64(ls)?;
    }
    Ok(s)
}

fn parse_i64(v: &str) -> Result<i64, StoreError> {
    v.parse()
        .map_err(|_| StoreError::Corrupt(format!("not an integer: {v:?}")))
}

/// Decode `refresh_rotate.lua`'s reply.
fn decode_rotate(reply: &[String]) -> Result<RotateOutcome, StoreError> {
    let rec = |sid: &String, uid: &String, exp: &String| -> Result<RefreshRecord, StoreError> {
        Ok(RefreshRecord {
            sid: sid.clone(),
            user_id: uid.clone(),
            expires_at: parse_i64(exp)?,
        })
    };
    match reply {
        [tag] if tag == "invalid" => Ok(RotateOutcome::Invalid),
        [tag, sid, uid, exp] if tag == "rotated" => Ok(RotateOutcome::Rotated(rec(sid, uid, exp)?)),
        [tag, sid, uid, exp, sealed] if tag == "grace" => Ok(RotateOutcome::Grace {
            record: rec(sid, uid, exp)?,
            sealed_successor: sealed.clone(),
        }),
        [tag, sid, uid] if tag == "reused" => Ok(RotateOutcome::Reused {
            sid: sid.clone(),
            user_id: uid.clone(),
        }),
        other => Err(StoreError::Corrupt(format!(
            "rotate reply of {} items",
            other.len()
        ))),
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.query::<String>(&redis::cmd("PING")).await.map(drop)
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create_session(&self, s: &SessionRecord, idle: Duration) -> Result<(), StoreError> {
        let now = unix_now();
        let Some(ttl) = session_ttl(idle, s.expires_at, now) else {
            return Ok(()); // already past its absolute timeout: nothing to keep
        };
        let json = serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let index_ttl = Duration::from_secs((s.expires_at - now).max(0) as u64);
        let keys = [self.minted_key("s", &s.sid), self.user_key("u", &s.user_id)];
        let args = [
            json,
            s.last_seen.to_string(),
            s.expires_at.to_string(),
            s.user_id.clone(),
            ms(ttl),
            ms(index_ttl),
            self.session_prefix(&slot::user_tag(&s.user_id)),
            s.sid.clone(),
        ];
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.script_confirmed(
            "session_create",
            (&self.scripts.session_create, SESSION_CREATE),
            &keys,
            &args,
            |_: &i64| true,
        )
        .await?
        .finish()
        .map(drop)
    }
    async fn touch_session(
        &self,
        sid: &str,
        now: i64,
        idle: Duration,
    ) -> Result<Option<Arc<SessionRecord>>, StoreError> {
        if let Some(hit) = self.cache.as_ref().and_then(|c| c.get(sid, now)) {
            return Ok(Some(Arc::new(SessionRecord {
                last_seen: now,
                ..hit
            })));
        }
        let epoch = self.cache.as_ref().map(|c| c.epoch());
        let key = self.minted_key("s", sid);
        let idle_ms = idle.as_millis().min(i64::MAX as u128).to_string();
        let rec: Option<String> = self
            .script(
                &self.scripts.session_touch,
                &[&key],
                &[&now.to_string(), &idle_ms],
            )
            .await?;
        let rec = rec
            .map(|r| {
                let mut s = decode_session(&r, None)?;
                s.last_seen = now;
                Ok(s)
            })
            .transpose()?;
        if let (Some(cache), Some(epoch), Some(rec)) = (&self.cache, epoch, &rec) {
            cache.insert(epoch, rec);
        }
        Ok(rec.map(Arc::new))
    }
    async fn get_session(&self, sid: &str) -> Result<Option<SessionRecord>, StoreError> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.minted_key("s", sid)).arg("rec").arg("ls");
        let (rec, ls): (Option<String>, Option<String>) = self.query(&cmd).await?;
        rec.map(|r| decode_session(&r, ls.as_deref())).transpose()
    }
    async fn delete_session(&self, sid: &str) -> Result<bool, StoreError> {
        let key = self.minted_key("s", sid);
        let done = self
            .script_confirmed(
                "session_delete",
                (&self.scripts.session_delete, SESSION_DELETE),
                &[&key],
                &[&self.user_prefix(slot::tag_of(sid)), sid],
                |n: &i64| *n > 0,
            )
            .await?;
        if done.value > 0 {
            self.publish_revoked(format!("s:{sid}")).await;
        }
        done.finish().map(|n| n > 0)
    }
    async fn list_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let key = self.user_key("u", user_id);
        let flat: Vec<String> = self
            .script(
                &self.scripts.session_list,
                &[&key],
                &[&self.session_prefix(&slot::user_tag(user_id))],
            )
            .await?;
        let mut out = flat
            .chunks(2)
            .map(|pair| match pair {
                [rec, ls] => decode_session(rec, Some(ls)),
                _ => Err(StoreError::Corrupt("odd session list reply".into())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| (a.created, &a.sid).cmp(&(b.created, &b.sid)));
        Ok(out)
    }
    async fn delete_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
        let key = self.user_key("u", user_id);
        let done = self
            .script_confirmed(
                "session_delete_user",
                (&self.scripts.session_delete_user, SESSION_DELETE_USER),
                &[&key],
                &[&self.session_prefix(&slot::user_tag(user_id))],
                |_: &i64| true,
            )
            .await?;
        self.publish_revoked(format!("u:{user_id}")).await;
        done.finish().map(|n| usize::try_from(n).unwrap_or(0))
    }
}

#[async_trait]
impl RefreshStore for RedisStore {
    async fn put_refresh(
        &self,
        token_hash: &str,
        rec: &RefreshRecord,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let key = self.minted_key("r", token_hash);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .del(&key)
            .ignore()
            .hset_multiple(
                &key,
                &[
                    ("sid", rec.sid.as_str()),
                    ("uid", &rec.user_id),
                    ("exp", &rec.expires_at.to_string()),
                ],
            )
            .ignore()
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(ms(ttl))
            .ignore();
        let (generation, mut conn) = self.conn().await?;
        self.bounded(generation, pipe.exec_async(&mut conn)).await
    }
    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        new_ttl: Duration,
        sealed_successor: &str,
        now: i64,
        grace: Duration,
    ) -> Result<RotateOutcome, StoreError> {
        let keys = [
            self.minted_key("r", old_hash),
            self.minted_key("r", new_hash),
        ];
        let tag = slot::tag_of(old_hash);
        let args = [
            now.saturating_add(secs(new_ttl)).to_string(),
            ms(new_ttl),
            sealed_successor.to_string(),
            now.to_string(),
            grace.as_millis().min(i64::MAX as u128).to_string(),
            self.session_prefix(tag),
            self.user_prefix(tag),
        ];
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // A rotation is not waited for; a reuse that ends the family is.
        let done = self
            .script_confirmed(
                "refresh_reuse_revoke",
                (&self.scripts.refresh_rotate, REFRESH_ROTATE),
                &keys,
                &args,
                |reply: &Vec<String>| reply.first().is_some_and(|t| t == "reused"),
            )
            .await?;
        let outcome = decode_rotate(&done.value)?;
        if let RotateOutcome::Reused { sid, .. } = &outcome {
            self.publish_revoked(format!("s:{sid}")).await;
        }
        done.finish().map(|_| outcome)
    }
}

#[async_trait]
impl LimitStore for RedisStore {
    async fn rate_limit(&self, key: &str, rule: &GcraRule) -> Result<LimitDecision, StoreError> {
        let key = self.key("rl", key);
        let args = [
            rule.interval_us().to_string(),
            rule.capacity_us().to_string(),
        ];
        let (now, stored): (String, String) = self
            .script(&self.scripts.gcra, &[&key], &[&args[0], &args[1]])
            .await?;
        let now = parse_i64(&now)?;
        let tat = if stored.is_empty() {
            None
        } else {
            Some(parse_i64(&stored)?)
        };
        // The script stored the new TAT under the same test; `step` gives the
        // numbers for the headers from the state the script saw.
        Ok(gcra::step(tat, now, rule).0)
    }
    async fn login_failures(&self, key: &str) -> Result<u32, StoreError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.key("lf", key));
        let n: Option<u32> = self.query(&cmd).await?;
        Ok(n.unwrap_or(0))
    }
    async fn record_login_failure(&self, key: &str, window: Duration) -> Result<u32, StoreError> {
        let key = self.key("lf", key);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .incr(&key, 1)
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(ms(window))
            .ignore();
        let (generation, mut conn) = self.conn().await?;
        let (n,): (u32,) = self
            .bounded(generation, pipe.query_async(&mut conn))
            .await?;
        Ok(n)
    }
    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.key("lf", key));
        self.query::<i64>(&cmd).await.map(drop)
    }
    async fn login_failures_left(&self, key: &str) -> Result<Option<Duration>, StoreError> {
        let mut cmd = redis::cmd("PTTL");
        cmd.arg(self.key("lf", key));
        let ms: i64 = self.query(&cmd).await?;
        // -2: no key; -1: no TTL (never written so).
        Ok(u64::try_from(ms).ok().map(Duration::from_millis))
    }
}

#[async_trait]
impl ApiKeyStore for RedisStore {
    async fn create_api_key(&self, key_hash: &str, rec: &ApiKeyRecord) -> Result<bool, StoreError> {
        self.create_api_key_impl(key_hash, rec).await
    }
    async fn use_api_key(
        &self,
        key_hash: &str,
        now: i64,
        touch_every: Duration,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.use_api_key_impl(key_hash, now, touch_every).await
    }
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.list_api_keys_impl().await
    }
    async fn revoke_api_key(&self, name: &str) -> Result<bool, StoreError> {
        self.revoke_api_key_impl(name).await
    }
}

#[async_trait]
impl AccountStore for RedisStore {
    async fn lock_user(&self, user_id: &str) -> Result<usize, StoreError> {
        let n = self.lock_user_impl(user_id).await?;
        self.publish_revoked(format!("u:{user_id}")).await;
        Ok(n)
    }
    async fn unlock_user(&self, user_id: &str) -> Result<bool, StoreError> {
        self.unlock_user_impl(user_id).await
    }
    async fn user_locked(&self, user_id: &str) -> Result<bool, StoreError> {
        self.user_locked_impl(user_id).await
    }
    async fn begin_totp(
        &self,
        user_id: &str,
        secret: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.begin_totp_impl(user_id, secret, ttl).await
    }
    async fn get_totp(&self, user_id: &str) -> Result<Option<TotpRecord>, StoreError> {
        self.get_totp_impl(user_id).await
    }
    async fn activate_totp(
        &self,
        user_id: &str,
        secret: &str,
        step: i64,
        backup_hashes: &[String],
    ) -> Result<bool, StoreError> {
        self.activate_totp_impl(user_id, secret, step, backup_hashes)
            .await
    }
    async fn use_totp_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError> {
        self.use_totp_step_impl(user_id, step).await
    }
    async fn use_backup_code(&self, user_id: &str, code_hash: &str) -> Result<bool, StoreError> {
        self.use_backup_code_impl(user_id, code_hash).await
    }
    async fn delete_totp(&self, user_id: &str) -> Result<bool, StoreError> {
        self.delete_totp_impl(user_id).await
    }
}

#[async_trait]
impl SelfServiceStore for RedisStore {
    async fn set_password(&self, user_id: &str, rec: &PasswordRecord) -> Result<(), StoreError> {
        self.set_password_impl(user_id, rec).await
    }
    async fn get_password(&self, user_id: &str) -> Result<Option<PasswordRecord>, StoreError> {
        self.get_password_impl(user_id).await
    }
    async fn push_login(
        &self,
        user_id: &str,
        event: &LoginEvent,
        keep: usize,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.push_login_impl(user_id, event, keep, ttl).await
    }
    async fn login_history(
        &self,
        user_id: &str,
        limit: usize,
    ) -> Result<Vec<LoginEvent>, StoreError> {
        self.login_history_impl(user_id, limit).await
    }
}

/// Which scripts the tests ran (their SHA-1s), so a test can tell that
/// every script was run, and so checked by `one_slot`.
#[cfg(test)]
pub(crate) mod slot_audit {
    use std::collections::HashSet;
    use std::sync::Mutex;

    static RUN: Mutex<Option<HashSet<String>>> = Mutex::new(None);

    pub fn record(sha: &str) {
        let mut run = RUN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        run.get_or_insert_with(HashSet::new).insert(sha.to_string());
    }

    pub fn ran(sha: &str) -> bool {
        let run = RUN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        run.as_ref().is_some_and(|r| r.contains(sha))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn rotate_replies_decode() {
        let rec = RefreshRecord {
            sid: "s1".into(),
            user_id: "u1".into(),
            expires_at: 42,
        };
        let cases: Vec<(Vec<String>, Option<RotateOutcome>)> = vec![
            (s(&["invalid"]), Some(RotateOutcome::Invalid)),
            (
                s(&["rotated", "s1", "u1", "42"]),
                Some(RotateOutcome::Rotated(rec.clone())),
            ),
            (
                s(&["grace", "s1", "u1", "42", "sealed"]),
                Some(RotateOutcome::Grace {
                    record: rec,
                    sealed_successor: "sealed".into(),
                }),
            ),
            (
                s(&["reused", "s1", "u1"]),
                Some(RotateOutcome::Reused {
                    sid: "s1".into(),
                    user_id: "u1".into(),
                }),
            ),
            (s(&["rotated", "s1", "u1", "x"]), None),
            (s(&["rotated", "s1"]), None),
            (s(&[]), None),
            (s(&["bogus"]), None),
        ];
        for (reply, want) in cases {
            assert_eq!(decode_rotate(&reply).ok(), want, "{reply:?}");
        }
    }

    #[test]
    fn session_decode_takes_last_seen_from_its_field() {
        let rec = SessionRecord {
            sid: "s".into(),
            user_id: "u".into(),
            username: "n".into(),
            email: "e".into(),
            roles: vec![],
            created: 1,
            last_seen: 1,
            expires_at: 9,
            ip: "127.0.0.1".into(),
            user_agent: "ua".into(),
            oidc: None,
        };
        let json = serde_json::to_string(&rec).unwrap_or_default();
        assert_eq!(
            decode_session(&json, Some("5")).ok().map(|r| r.last_seen),
            Some(5)
        );
        assert_eq!(
            decode_session(&json, None).ok().map(|r| r.last_seen),
            Some(1)
        );
        assert!(matches!(
            decode_session(&json, Some("x")),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            decode_session("{", None),
            Err(StoreError::Corrupt(_))
        ));
    }
}
