//! The Redis backend's OpenID Connect state (`OidcStore`). Every call is
//! one command, or one MULTI on one key, so each touches one slot:
//! - `{p}ol:{hash}`  pending login (the start's state), taken by GETDEL;
//!   TTL the pre-login lifetime.
//! - `{p}once:{key}` one-time marker (a logout token's `jti`, an
//!   authorization code), SET NX; TTL the marker's life.
//! - `{p}ps:{provider}:{sid}` and `{p}pu:{provider}:{sub}`  hash gatehouse
//!   sid → user id; TTL at least that of the latest session indexed.

use std::time::Duration;

use async_trait::async_trait;

use super::{ms, RedisStore};
use crate::store::{OidcStore, ProviderKey, StoreError};

impl RedisStore {
    /// The index key of `(provider, key)`: the one place it is named.
    fn provider_index_key(&self, provider: &str, key: ProviderKey<'_>) -> String {
        match key {
            ProviderKey::Sid(v) => self.key("ps", &format!("{provider}:{v}")),
            ProviderKey::Sub(v) => self.key("pu", &format!("{provider}:{v}")),
        }
    }
}

#[async_trait]
impl OidcStore for RedisStore {
    async fn put_pending_login(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key("ol", key))
            .arg(value)
            .arg("PX")
            .arg(ms(ttl));
        self.query::<()>(&cmd).await
    }

    async fn take_pending_login(&self, key: &str) -> Result<Option<String>, StoreError> {
        let mut cmd = redis::cmd("GETDEL");
        cmd.arg(self.key("ol", key));
        self.query(&cmd).await
    }

    async fn first_use(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key("once", key))
            .arg("1")
            .arg("NX")
            .arg("PX")
            .arg(ms(ttl));
        let set: Option<String> = self.query(&cmd).await?;
        Ok(set.is_some())
    }

    async fn index_provider_session(
        &self,
        provider: &str,
        key: ProviderKey<'_>,
        sid: &str,
        user_id: &str,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let name = self.provider_index_key(provider, key);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("HSET")
            .arg(&name)
            .arg(sid)
            .arg(user_id)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&name)
            .arg(ms(ttl))
            .ignore();
        let (generation, mut conn) = self.conn().await?;
        self.bounded(generation, pipe.query_async::<()>(&mut conn))
            .await
    }

    async fn unindex_provider_sessions(
        &self,
        provider: &str,
        key: ProviderKey<'_>,
        sids: &[String],
    ) -> Result<(), StoreError> {
        if sids.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("HDEL");
        cmd.arg(self.provider_index_key(provider, key)).arg(sids);
        self.query::<i64>(&cmd).await.map(drop)
    }

    async fn provider_sessions(
        &self,
        provider: &str,
        key: ProviderKey<'_>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(self.provider_index_key(provider, key));
        let map: std::collections::HashMap<String, String> = self.query(&cmd).await?;
        Ok(map.into_iter().collect())
    }
}
