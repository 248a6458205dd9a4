//! Login through OpenID Connect providers (SPEC §13): the `[[oidc]]`
//! settings, each provider's discovered metadata and keys, the mapping of
//! ID-token claims to an identity, and back-channel logout tokens. HTTP
//! lives in `endpoints::oidc`; the session is made by the local login's
//! code (`endpoints::login::sign_in`).

pub mod claims;
pub mod logout_token;
pub mod provider;
pub mod settings;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

pub use provider::Provider;
use settings::OidcProviderConfig;

use crate::store::{ProviderKey, ProviderLogin, SessionRecord, Store, StoreError};

/// Index a new session under its provider session (`sid`) and subject, for
/// back-channel logout; `ttl` at least the session's life. The subject's
/// index outlives its sessions while the subject keeps signing in, so the
/// ended ones are pruned here: it stays as small as the live ones.
pub async fn index_session(
    store: &dyn Store,
    origin: &ProviderLogin,
    session: &SessionRecord,
    ttl: Duration,
) -> Result<(), StoreError> {
    let provider = &origin.provider;
    if let Some(psid) = &origin.sid {
        store
            .index_provider_session(
                provider,
                ProviderKey::Sid(psid),
                &session.sid,
                &session.user_id,
                ttl,
            )
            .await?;
    }
    let sub = ProviderKey::Sub(&origin.sub);
    let mut ended = Vec::new();
    for (sid, _) in store.provider_sessions(provider, sub).await? {
        if store.get_session(&sid).await?.is_none() {
            ended.push(sid);
        }
    }
    store
        .unindex_provider_sessions(provider, sub, &ended)
        .await?;
    store
        .index_provider_session(provider, sub, &session.sid, &session.user_id, ttl)
        .await
}

/// First retry of a failed discovery; doubles up to `RETRY_MAX`.
const RETRY_MIN: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// Every configured provider, in config order.
pub struct Providers {
    list: Vec<Arc<Provider>>,
    /// Wakes the discovery loop to discover everything again (SIGHUP).
    kick: Notify,
}

impl Providers {
    pub fn new(cfgs: &[OidcProviderConfig]) -> Self {
        Providers {
            list: cfgs
                .iter()
                .map(|c| Arc::new(Provider::new(c.clone())))
                .collect(),
            kick: Notify::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn all(&self) -> &[Arc<Provider>] {
        &self.list
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Provider>> {
        self.list.iter().find(|p| p.cfg.id == id)
    }

    /// Discover every provider again (SIGHUP). A failure keeps what an
    /// earlier discovery found.
    pub fn rediscover(&self) {
        self.kick.notify_one();
    }

    /// Discover at start; retry the unreachable ones in the background
    /// (1 s, doubling to 10 s) so the gateway never waits for a provider;
    /// again for all on `rediscover`. Runs until dropped.
    pub async fn discover_forever(&self) {
        let mut all = true;
        let mut wait = RETRY_MIN;
        loop {
            let mut pending = false;
            for p in &self.list {
                if !all && p.discovered().is_some() {
                    continue;
                }
                match p.discover().await {
                    Ok(()) => {
                        tracing::info!(provider = %p.cfg.id, "oidc provider discovered")
                    }
                    Err(e) => {
                        pending |= p.discovered().is_none();
                        tracing::warn!(provider = %p.cfg.id, error = %e, "oidc provider unreachable; retrying in the background")
                    }
                }
            }
            all = false;
            if pending {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = self.kick.notified() => all = true,
                }
                wait = (wait * 2).min(RETRY_MAX);
            } else {
                self.kick.notified().await;
                all = true;
                wait = RETRY_MIN;
            }
        }
    }
}
