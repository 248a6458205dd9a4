//! A `Store` decorator that times every call and counts failures for the
//! metrics, and bounds every call by the configured timeout, so no backend
//! can hang a request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::metrics::METRICS;
use crate::store::{
    ApiKeyRecord, GcraRule, LimitDecision, RotateOutcome, SessionRecord, Store, StoreError,
    TotpRecord,
};

pub struct Instrumented {
    inner: Arc<dyn Store>,
    timeout: Duration,
}

impl Instrumented {
    pub fn new(inner: Arc<dyn Store>, timeout: Duration) -> Self {
        Instrumented { inner, timeout }
    }

    async fn timed<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let start = Instant::now();
        let result = match tokio::time::timeout(self.timeout, f).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Timeout),
        };
        METRICS.store_latency.observe(start.elapsed().as_secs_f64());
        if result.is_err() {
            METRICS.store_errors.inc();
        }
        result
    }
}

#[async_trait]
impl Store for Instrumented {
    async fn ping(&self) -> Result<(), StoreError> {
        self.timed(self.inner.ping()).await
    }
    async fn create_session(&self, s: &SessionRecord, idle: Duration) -> Result<(), StoreError> {
        self.timed(self.inner.create_session(s, idle)).await
    }
    async fn touch_session(
        &self,
        sid: &str,
        now: i64,
        idle: Duration,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.timed(self.inner.touch_session(sid, now, idle)).await
    }
    async fn get_session(&self, sid: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.timed(self.inner.get_session(sid)).await
    }
    async fn delete_session(&self, sid: &str) -> Result<bool, StoreError> {
        self.timed(self.inner.delete_session(sid)).await
    }
    async fn list_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        self.timed(self.inner.list_sessions(user_id)).await
    }
    async fn delete_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
        self.timed(self.inner.delete_user_sessions(user_id)).await
    }
    async fn put_refresh(
        &self,
        token_hash: &str,
        rec: &crate::store::RefreshRecord,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.timed(self.inner.put_refresh(token_hash, rec, ttl))
            .await
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
        self.timed(self.inner.rotate_refresh(
            old_hash,
            new_hash,
            new_ttl,
            sealed_successor,
            now,
            grace,
        ))
        .await
    }
    async fn rate_limit(&self, key: &str, rule: &GcraRule) -> Result<LimitDecision, StoreError> {
        self.timed(self.inner.rate_limit(key, rule)).await
    }
    async fn login_failures(&self, key: &str) -> Result<u32, StoreError> {
        self.timed(self.inner.login_failures(key)).await
    }
    async fn record_login_failure(&self, key: &str, window: Duration) -> Result<u32, StoreError> {
        self.timed(self.inner.record_login_failure(key, window))
            .await
    }
    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        self.timed(self.inner.clear_login_failures(key)).await
    }
    async fn create_api_key(&self, key_hash: &str, rec: &ApiKeyRecord) -> Result<bool, StoreError> {
        self.timed(self.inner.create_api_key(key_hash, rec)).await
    }
    async fn use_api_key(
        &self,
        key_hash: &str,
        now: i64,
        touch_every: Duration,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.timed(self.inner.use_api_key(key_hash, now, touch_every))
            .await
    }
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.timed(self.inner.list_api_keys()).await
    }
    async fn revoke_api_key(&self, name: &str) -> Result<bool, StoreError> {
        self.timed(self.inner.revoke_api_key(name)).await
    }
    async fn lock_user(&self, user_id: &str) -> Result<usize, StoreError> {
        self.timed(self.inner.lock_user(user_id)).await
    }
    async fn unlock_user(&self, user_id: &str) -> Result<bool, StoreError> {
        self.timed(self.inner.unlock_user(user_id)).await
    }
    async fn user_locked(&self, user_id: &str) -> Result<bool, StoreError> {
        self.timed(self.inner.user_locked(user_id)).await
    }
    async fn begin_totp(
        &self,
        user_id: &str,
        secret: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.timed(self.inner.begin_totp(user_id, secret, ttl))
            .await
    }
    async fn get_totp(&self, user_id: &str) -> Result<Option<TotpRecord>, StoreError> {
        self.timed(self.inner.get_totp(user_id)).await
    }
    async fn activate_totp(
        &self,
        user_id: &str,
        secret: &str,
        step: i64,
        backup_hashes: &[String],
    ) -> Result<bool, StoreError> {
        self.timed(
            self.inner
                .activate_totp(user_id, secret, step, backup_hashes),
        )
        .await
    }
    async fn use_totp_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError> {
        self.timed(self.inner.use_totp_step(user_id, step)).await
    }
    async fn use_backup_code(&self, user_id: &str, code_hash: &str) -> Result<bool, StoreError> {
        self.timed(self.inner.use_backup_code(user_id, code_hash))
            .await
    }
    async fn delete_totp(&self, user_id: &str) -> Result<bool, StoreError> {
        self.timed(self.inner.delete_totp(user_id)).await
    }
}
