//! Shared gateway state: the static config, the reloadable part (policy and
//! users, swapped whole on SIGHUP), the signing keys and the store handle.

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::OnceCell;

use crate::auth::external::TrustedIssuers;
use crate::auth::identity::IdentityNames;
use crate::auth::keys::KeySet;
use crate::auth::oidc::Providers;
use crate::auth::tokens::TokenService;
use crate::auth::Authenticator;
use crate::config::users::{load_configured, UserDirectory};
use crate::config::{self, Config, ConfigError, Diagnostic};
use crate::metrics::RequestCounts;
use crate::policy::ratelimit::Limiter;
use crate::policy::redirect::RedirectHosts;
use crate::policy::Policy;
use crate::store::memory::MemoryStore;
use crate::store::{Store, StoreError};
use crate::upstream::Pools;

/// What SIGHUP replaces: routes, roles, rate limits, upstreams and users.
pub struct Live {
    pub policy: Policy,
    pub users: UserDirectory,
    /// One pool per upstream, indexed like `policy.upstreams`.
    pub pools: Pools,
    /// `gatehouse_requests_total` by this policy's routes.
    pub request_counts: RequestCounts,
}

impl Live {
    fn new(
        policy: Policy,
        users: UserDirectory,
        path: &Path,
        previous: Option<&Live>,
    ) -> Result<Live, ConfigError> {
        let pools = pools(&policy, path, previous.map(|l| &l.pools))?;
        let request_counts = RequestCounts::new(
            policy
                .routes
                .routes
                .iter()
                .map(|r| r.pattern.as_str().to_string()),
        );
        Ok(Live {
            request_counts,
            policy,
            users,
            pools,
        })
    }
}

/// The upstream pools. Names are resolved here, at start-up and on each
/// reload, and then every `resolve_every` by the pools themselves: a name
/// that does not resolve at load is a configuration error, never a panic
/// inside Pingora. Pools whose config did not change are kept (and their
/// health state with them).
pub fn pools(policy: &Policy, path: &Path, previous: Option<&Pools>) -> Result<Pools, ConfigError> {
    Pools::new(&policy.upstreams, previous).map_err(|(name, message)| {
        ConfigError(vec![Diagnostic {
            file: path.to_path_buf(),
            line: addr_line(path, &name).unwrap_or(0),
            key: format!("upstreams.{name}.addr"),
            message,
        }])
    })
}

/// Everything the proxy and the endpoints share, behind one `Arc`.
pub struct AppState {
    pub config: Config,
    pub live: ArcSwap<Live>,
    /// The one way an identity is made (`auth::Authenticator`).
    pub auth: Authenticator,
    /// `[headers]` user/email/roles names, as written (built once).
    pub identity_names: IdentityNames,
    /// Where a post-login `rd` may point: same-origin paths, and with
    /// forward-auth absolute URLs to our own hosts (SPEC §10).
    pub redirects: RedirectHosts,
    /// Rate limiter, with a local fallback for when the store is down.
    pub limiter: Limiter,
    /// `[[oidc]]` providers and what their discovery found (SPEC §13).
    pub oidc: Arc<Providers>,
    /// Connected lazily inside the serving runtime: a Redis connection's
    /// driver task must live on the runtime that uses it, and a Redis that is
    /// down at start-up must not stop the gateway from starting (it answers
    /// 503 until Redis comes back).
    store: OnceCell<Arc<dyn Store>>,
}

/// Load everything `run` and `check` need: config, users, signing key.
pub fn load_all(path: &std::path::Path) -> Result<(Config, UserDirectory, KeySet), ConfigError> {
    let config = config::load(path)?;
    let users = load_configured(config.users_file.as_deref(), &|r| {
        config.policy.roles.contains(r)
    });
    let keys = load_keys(&config);
    let mut problems = Vec::new();
    if let (Some(cert), Some(key)) = (&config.server.tls_cert, &config.server.tls_key) {
        if let Err(message) = crate::tls::check_cert_and_key(cert, key) {
            problems.push(Diagnostic {
                file: config.path.clone(),
                line: key_line(&config.path, "tls_cert").unwrap_or(0),
                key: "server.tls_cert".into(),
                message,
            });
        }
    }
    let users = users.map_err(|e| problems.extend(e.0)).ok();
    let keys = keys.map_err(|e| problems.extend(e.0)).ok();
    match (users, keys) {
        (Some(users), Some(keys)) if problems.is_empty() => Ok((config, users, keys)),
        _ => Err(ConfigError(problems)),
    }
}

/// The signing key and the previous ones, problems placed in the config.
fn load_keys(config: &Config) -> Result<KeySet, ConfigError> {
    KeySet::load(&config.tokens).map_err(|message| {
        let line = if message.starts_with("previous") {
            key_line(&config.path, "previous_keys")
        } else {
            None
        };
        ConfigError(vec![Diagnostic {
            file: config.path.clone(),
            line: line
                .or_else(|| key_line(&config.path, "signing_key_file"))
                .or_else(|| key_line(&config.path, "secret_env"))
                .unwrap_or(0),
            key: "tokens".into(),
            message,
        }])
    })
}

/// Line of `addr` in `[upstreams.NAME]`, to place a resolution error.
fn addr_line(path: &Path, name: &str) -> Option<usize> {
    let text = std::fs::read_to_string(path).ok()?;
    let header = format!("[upstreams.{name}]");
    let start = text.lines().position(|l| l.trim() == header)?;
    let offset = text
        .lines()
        .skip(start + 1)
        .position(|l| l.trim_start().starts_with("addr"))?;
    Some(start + offset + 2)
}

/// Line of the first `key =` in a file, to place key-loading errors.
fn key_line(path: &std::path::Path, key: &str) -> Option<usize> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .position(|l| l.trim_start().starts_with(key))
        .map(|i| i + 1)
}

impl AppState {
    /// Fails only if an upstream name does not resolve.
    pub fn new(
        config: Config,
        users: UserDirectory,
        keys: KeySet,
    ) -> Result<AppState, ConfigError> {
        let tokens = TokenService::new(
            keys,
            config.tokens.issuer.clone(),
            config.tokens.audience.clone(),
            config.tokens.access_ttl.as_secs() as i64,
        );
        let external = TrustedIssuers::new(
            &config.tokens.issuer,
            &config.trusted_issuers,
            config.policy.roles.names().clone(),
        );
        let auth = Authenticator::new(tokens, external, &config.session);
        let h = &config.headers;
        let identity_names = IdentityNames::new(&h.user, &h.email, &h.roles);
        let redirects = if config.forward_auth.enabled {
            let public = config.server.public_origin.as_deref();
            RedirectHosts::new(public, config.session.cookie_domain.as_deref())
        } else {
            RedirectHosts::default()
        };
        let store = OnceCell::new();
        let live =
            ArcSwap::from_pointee(Live::new(config.policy.clone(), users, &config.path, None)?);
        let limiter = Limiter::new(Arc::new(MemoryStore::new()));
        let oidc = Arc::new(Providers::new(&config.oidc));
        Ok(AppState {
            oidc,
            config,
            live,
            auth,
            identity_names,
            redirects,
            limiter,
            store,
        })
    }

    /// The store, connecting to Redis on first use (and again after a
    /// failed attempt). Bounded by the store timeout.
    pub async fn store(&self) -> Result<&Arc<dyn Store>, StoreError> {
        self.store
            .get_or_try_init(|| async {
                let cfg = &self.config.store;
                tokio::time::timeout(cfg.timeout, crate::store::connect(cfg))
                    .await
                    .map_err(|_| StoreError::Timeout)?
            })
            .await
    }

    /// The store if it answers, for callers that can do without it.
    pub async fn store_if_up(&self) -> Option<&dyn Store> {
        self.store().await.ok().map(|s| s.as_ref())
    }

    /// SIGHUP: compile the new policy and users beside the old ones and swap
    /// them in only if everything is valid; read the signing key and the
    /// previous ones again from the files the start-up config named (key
    /// rotation, SPEC §14). Listeners, store and the rest of `[tokens]` stay.
    pub fn reload(&self) -> Result<(), ConfigError> {
        let fresh = config::load(&self.config.path)?;
        let keys = load_keys(&self.config)?;
        let users = load_configured(fresh.users_file.as_deref(), &|r| {
            fresh.policy.roles.contains(r)
        })?;
        let live = Live::new(
            fresh.policy,
            users,
            &self.config.path,
            Some(&self.live.load()),
        )?;
        // Trusted issuers keep their keys; their claim mapping and roles
        // follow the reloaded config (nothing about their tokens is cached).
        if let Some(external) = self.auth.external() {
            external.reconfigure(&fresh.trusted_issuers, live.policy.roles.names().clone());
        }
        self.live.store(Arc::new(live));
        // SPEC §13: providers are discovered again (their config stays).
        self.oidc.rediscover();
        self.auth.tokens().replace_keys(keys).map_err(|message| {
            ConfigError(vec![Diagnostic {
                file: self.config.path.clone(),
                line: key_line(&self.config.path, "signing_key_file").unwrap_or(0),
                key: "tokens.signing_key_file".into(),
                message,
            }])
        })?;
        Ok(())
    }
}
