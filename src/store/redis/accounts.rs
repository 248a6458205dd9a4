//! The Redis backend's long-lived records: API keys, admin user locks and
//! TOTP enrolments (layout in the parent module's doc). Atomic steps are Lua
//! scripts; plain reads are single commands.

use std::time::Duration;

use redis::Script;

use super::{ms, parse_i64, RedisStore};
use crate::store::{slot, ApiKeyRecord, StoreError, TotpRecord};

/// The hash tag of every API-key key.
const API_KEY_TAG: &str = "ak";

/// Confirmed by `wait_replicas` (`RedisStore::script_confirmed`).
const APIKEY_REVOKE: &str = include_str!("../apikey_revoke.lua");
const USER_LOCK: &str = include_str!("../user_lock.lua");

pub(super) struct Scripts {
    apikey_create: Script,
    apikey_use: Script,
    apikey_list: Script,
    apikey_revoke: Script,
    user_lock: Script,
    totp_begin: Script,
    totp_activate: Script,
    totp_step: Script,
    totp_backup: Script,
}

impl Scripts {
    pub fn new() -> Self {
        Scripts {
            apikey_create: Script::new(include_str!("../apikey_create.lua")),
            apikey_use: Script::new(include_str!("../apikey_use.lua")),
            apikey_list: Script::new(include_str!("../apikey_list.lua")),
            apikey_revoke: Script::new(APIKEY_REVOKE),
            user_lock: Script::new(USER_LOCK),
            totp_begin: Script::new(include_str!("../totp_begin.lua")),
            totp_activate: Script::new(include_str!("../totp_activate.lua")),
            totp_step: Script::new(include_str!("../totp_step.lua")),
            totp_backup: Script::new(include_str!("../totp_backup.lua")),
        }
    }
}

/// Backup-code fields in the TOTP hash: `bk:<sha256 hex>`.
const BACKUP_FIELD: &str = "bk:";

fn decode_api_key(rec: &str, last_used: &str) -> Result<ApiKeyRecord, StoreError> {
    let mut r: ApiKeyRecord =
        serde_json::from_str(rec).map_err(|e| StoreError::Corrupt(format!("api key: {e}")))?;
    r.last_used = if last_used.is_empty() {
        None
    } else {
        Some(parse_i64(last_used)?)
    };
    Ok(r)
}

/// A TOTP record from `HGETALL`'s field/value pairs; None when empty.
fn decode_totp(flat: &[String]) -> Result<Option<TotpRecord>, StoreError> {
    if flat.is_empty() {
        return Ok(None);
    }
    let (mut secret, mut active, mut step, mut left) = (None, false, 0, 0);
    for pair in flat.chunks(2) {
        match pair {
            [k, v] if k == "secret" => secret = Some(v.clone()),
            [k, v] if k == "active" => active = v == "1",
            [k, v] if k == "step" => step = parse_i64(v)?,
            [k, _] if k.starts_with(BACKUP_FIELD) => left += 1,
            [_, _] => {}
            _ => return Err(StoreError::Corrupt("odd TOTP reply".into())),
        }
    }
    let secret = secret.ok_or_else(|| StoreError::Corrupt("TOTP record without secret".into()))?;
    Ok(Some(TotpRecord {
        secret,
        active,
        last_step: step,
        backup_codes_left: left,
    }))
}

impl RedisStore {
    /// All API keys and their name index share one slot (`{ak}`).
    fn api_key_prefix(&self) -> String {
        self.tagged_key(API_KEY_TAG, "ak", "")
    }

    fn api_key_index(&self) -> String {
        format!("{}{{{API_KEY_TAG}}}:akn", self.prefix)
    }

    fn api_key(&self, key_hash: &str) -> String {
        self.tagged_key(API_KEY_TAG, "ak", key_hash)
    }

    pub(super) async fn create_api_key_impl(
        &self,
        key_hash: &str,
        rec: &ApiKeyRecord,
    ) -> Result<bool, StoreError> {
        let stored = ApiKeyRecord {
            last_used: None,
            ..rec.clone()
        };
        let json =
            serde_json::to_string(&stored).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let ttl_ms = match rec.expires_at {
            None => "0".to_string(),
            Some(exp) => {
                let left = exp.saturating_sub(super::unix_now());
                if left <= 0 {
                    return Ok(true); // already expired: nothing to keep
                }
                ms(Duration::from_secs(left as u64))
            }
        };
        let keys = [self.api_key_index(), self.api_key(key_hash)];
        let n: i64 = self
            .script(
                &self.account_scripts.apikey_create,
                &[&keys[0], &keys[1]],
                &[&rec.name, key_hash, &json, &ttl_ms, &self.api_key_prefix()],
            )
            .await?;
        Ok(n == 1)
    }

    pub(super) async fn use_api_key_impl(
        &self,
        key_hash: &str,
        now: i64,
        touch_every: Duration,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        let key = self.api_key(key_hash);
        let reply: Option<(String, String)> = self
            .script(
                &self.account_scripts.apikey_use,
                &[&key],
                &[&now.to_string(), &touch_every.as_secs().to_string()],
            )
            .await?;
        let Some((rec, lu)) = reply else {
            return Ok(None);
        };
        let rec = decode_api_key(&rec, &lu)?;
        // Redis expires the key itself; this covers the last second of it.
        Ok(rec.expires_at.is_none_or(|e| e > now).then_some(rec))
    }

    pub(super) async fn list_api_keys_impl(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let flat: Vec<String> = self
            .script(
                &self.account_scripts.apikey_list,
                &[&self.api_key_index()],
                &[&self.api_key_prefix()],
            )
            .await?;
        let mut out = flat
            .chunks(2)
            .map(|pair| match pair {
                [rec, lu] => decode_api_key(rec, lu),
                _ => Err(StoreError::Corrupt("odd api key list reply".into())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub(super) async fn revoke_api_key_impl(&self, name: &str) -> Result<bool, StoreError> {
        self.script_confirmed(
            "apikey_revoke",
            (&self.account_scripts.apikey_revoke, APIKEY_REVOKE),
            &[&self.api_key_index()],
            &[name, &self.api_key_prefix()],
            |n: &i64| *n > 0,
        )
        .await?
        .finish()
        .map(|n| n > 0)
    }

    pub(super) async fn lock_user_impl(&self, user_id: &str) -> Result<usize, StoreError> {
        let keys = [self.user_key("lock", user_id), self.user_key("u", user_id)];
        self.script_confirmed(
            "user_lock",
            (&self.account_scripts.user_lock, USER_LOCK),
            &[&keys[0], &keys[1]],
            &[&self.session_prefix(&slot::user_tag(user_id))],
            |_: &i64| true,
        )
        .await?
        .finish()
        .map(|n| usize::try_from(n).unwrap_or(0))
    }

    pub(super) async fn unlock_user_impl(&self, user_id: &str) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.user_key("lock", user_id));
        Ok(self.query::<i64>(&cmd).await? > 0)
    }

    pub(super) async fn user_locked_impl(&self, user_id: &str) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("EXISTS");
        cmd.arg(self.user_key("lock", user_id));
        Ok(self.query::<i64>(&cmd).await? > 0)
    }

    pub(super) async fn begin_totp_impl(
        &self,
        user_id: &str,
        secret: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let key = self.user_key("totp", user_id);
        let n: i64 = self
            .script(
                &self.account_scripts.totp_begin,
                &[&key],
                &[secret, &ms(ttl)],
            )
            .await?;
        Ok(n == 1)
    }

    pub(super) async fn get_totp_impl(
        &self,
        user_id: &str,
    ) -> Result<Option<TotpRecord>, StoreError> {
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(self.user_key("totp", user_id));
        let flat: Vec<String> = self.query(&cmd).await?;
        decode_totp(&flat)
    }

    pub(super) async fn activate_totp_impl(
        &self,
        user_id: &str,
        secret: &str,
        step: i64,
        backup_hashes: &[String],
    ) -> Result<bool, StoreError> {
        let key = self.user_key("totp", user_id);
        let step = step.to_string();
        let mut args: Vec<&str> = vec![secret, &step];
        args.extend(backup_hashes.iter().map(String::as_str));
        let n: i64 = self
            .script(&self.account_scripts.totp_activate, &[&key], &args)
            .await?;
        Ok(n == 1)
    }

    pub(super) async fn use_totp_step_impl(
        &self,
        user_id: &str,
        step: i64,
    ) -> Result<bool, StoreError> {
        let key = self.user_key("totp", user_id);
        let n: i64 = self
            .script(
                &self.account_scripts.totp_step,
                &[&key],
                &[&step.to_string()],
            )
            .await?;
        Ok(n == 1)
    }

    pub(super) async fn use_backup_code_impl(
        &self,
        user_id: &str,
        code_hash: &str,
    ) -> Result<bool, StoreError> {
        let key = self.user_key("totp", user_id);
        let n: i64 = self
            .script(&self.account_scripts.totp_backup, &[&key], &[code_hash])
            .await?;
        Ok(n == 1)
    }

    pub(super) async fn delete_totp_impl(&self, user_id: &str) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.user_key("totp", user_id));
        Ok(self.query::<i64>(&cmd).await? > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn totp_hash_decodes() {
        assert_eq!(decode_totp(&[]).ok(), Some(None));
        let r = decode_totp(&s(&[
            "secret", "ABC", "active", "1", "step", "7", "bk:aa", "1", "bk:bb", "1",
        ]));
        assert_eq!(
            r.ok().flatten(),
            Some(TotpRecord {
                secret: "ABC".into(),
                active: true,
                last_step: 7,
                backup_codes_left: 2
            })
        );
        assert!(decode_totp(&s(&["active", "1"])).is_err(), "no secret");
        assert!(
            decode_totp(&s(&["secret", "A", "step", "x"])).is_err(),
            "bad step"
        );
        assert!(decode_totp(&s(&["secret"])).is_err(), "odd reply");
    }

    #[test]
    fn api_key_decodes_with_last_used_from_its_field() {
        let json = r#"{"name":"ci","roles":["service"],"created":5,"expires_at":null}"#;
        let r = decode_api_key(json, "").ok();
        assert_eq!(r.as_ref().map(|r| r.last_used), Some(None));
        assert_eq!(
            decode_api_key(json, "9").ok().and_then(|r| r.last_used),
            Some(9)
        );
        assert!(decode_api_key(json, "x").is_err());
        assert!(decode_api_key("{", "").is_err());
    }
}
