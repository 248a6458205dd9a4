//! The memory store's OpenID Connect state (`OidcStore`): pending logins
//! taken once, one-time markers, and the provider-session indexes, each a
//! TTL map like the rest of the store.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::MemoryStore;
use crate::store::ttl_map::TtlMap;
use crate::store::{OidcStore, ProviderKey, StoreError};

#[derive(Debug, Default)]
pub(super) struct OidcState {
    pending: TtlMap<String, String>,
    once: TtlMap<String, ()>,
    /// `provider:sid:X` / `provider:sub:X` -> gatehouse sid -> user id.
    index: TtlMap<String, HashMap<String, String>>,
}

/// The index name of `(provider, key)`: the one place it is built.
fn index_name(provider: &str, key: ProviderKey<'_>) -> String {
    match key {
        ProviderKey::Sid(v) => format!("{provider}:sid:{v}"),
        ProviderKey::Sub(v) => format!("{provider}:sub:{v}"),
    }
}

#[async_trait]
impl OidcStore for MemoryStore {
    async fn put_pending_login(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = Instant::now();
        self.oidc
            .pending
            .lock(key)
            .insert(key.to_owned(), value.to_owned(), now + ttl, now);
        Ok(())
    }

    async fn take_pending_login(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.oidc.pending.lock(key).remove(key, Instant::now()))
    }

    async fn first_use(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut shard = self.oidc.once.lock(key);
        if shard.live(key, now).is_some() {
            return Ok(false);
        }
        shard.insert(key.to_owned(), (), now + ttl, now);
        Ok(true)
    }

    async fn index_provider_session(
        &self,
        provider: &str,
        key: ProviderKey<'_>,
        sid: &str,
        user_id: &str,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let name = index_name(provider, key);
        let now = Instant::now();
        let mut shard = self.oidc.index.lock(&name);
        let mut map = shard.remove(&name, now).unwrap_or_default();
        map.insert(sid.to_owned(), user_id.to_owned());
        shard.insert(name, map, now + ttl, now);
        Ok(())
    }

    async fn unindex_provider_sessions(
        &self,
        provider: &str,
        key: ProviderKey<'_>,
        sids: &[String],
    ) -> Result<(), StoreError> {
        let name = index_name(provider, key);
        let now = Instant::now();
        let mut shard = self.oidc.index.lock(&name);
        if let Some(e) = shard.live(&name, now) {
            for sid in sids {
                e.value.remove(sid);
            }
        }
        Ok(())
    }

    async fn provider_sessions(
        &self,
        provider: &str,
        key: ProviderKey<'_>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let name = index_name(provider, key);
        let now = Instant::now();
        let mut shard = self.oidc.index.lock(&name);
        Ok(shard
            .live(&name, now)
            .map(|e| {
                e.value
                    .iter()
                    .map(|(s, u)| (s.clone(), u.clone()))
                    .collect()
            })
            .unwrap_or_default())
    }
}
