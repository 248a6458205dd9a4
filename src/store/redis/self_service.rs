//! The Redis backend's self-service records, one key per user each, in
//! the user's slot: `{p}{t}:pw:{uid}` (hash `hash`, `replaces`; no TTL,
//! like TOTP) and `{p}{t}:lh:{uid}` (list of event JSON, newest first; TTL
//! `refresh_ttl` after the latest entry, bounded by `login_push.lua`).

use std::time::Duration;

use redis::Script;

use super::{ms, RedisStore};
use crate::store::{LoginEvent, PasswordRecord, StoreError};

pub(super) struct Scripts {
    login_push: Script,
}

impl Scripts {
    pub fn new() -> Self {
        Scripts {
            login_push: Script::new(include_str!("../login_push.lua")),
        }
    }
}

impl RedisStore {
    pub(super) async fn set_password_impl(
        &self,
        user_id: &str,
        rec: &PasswordRecord,
    ) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(self.user_key("pw", user_id))
            .arg("hash")
            .arg(&rec.hash)
            .arg("replaces")
            .arg(&rec.replaces);
        self.query::<i64>(&cmd).await.map(drop)
    }

    pub(super) async fn get_password_impl(
        &self,
        user_id: &str,
    ) -> Result<Option<PasswordRecord>, StoreError> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.user_key("pw", user_id))
            .arg("hash")
            .arg("replaces");
        let (hash, replaces): (Option<String>, Option<String>) = self.query(&cmd).await?;
        Ok(match (hash, replaces) {
            (Some(hash), Some(replaces)) => Some(PasswordRecord { hash, replaces }),
            _ => None,
        })
    }

    pub(super) async fn push_login_impl(
        &self,
        user_id: &str,
        event: &LoginEvent,
        keep: usize,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let key = self.user_key("lh", user_id);
        let keep = keep.max(1).to_string();
        self.script::<i64>(
            &self.self_service_scripts.login_push,
            &[&key],
            &[&json, &keep, &ms(ttl)],
        )
        .await
        .map(drop)
    }

    pub(super) async fn login_history_impl(
        &self,
        user_id: &str,
        limit: usize,
    ) -> Result<Vec<LoginEvent>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut cmd = redis::cmd("LRANGE");
        cmd.arg(self.user_key("lh", user_id)).arg(0).arg(limit - 1);
        let items: Vec<String> = self.query(&cmd).await?;
        items
            .iter()
            .map(|j| {
                serde_json::from_str(j)
                    .map_err(|e| StoreError::Corrupt(format!("login event: {e}")))
            })
            .collect()
    }
}
