//! The memory backend's long-lived records: API keys, admin user locks and
//! TOTP enrolments. No TTL except a pending enrolment's window and an API
//! key's optional expiry, both checked when read.
//!
//! Each map sits behind one lock: they are touched at login, enrolment and
//! admin time, and per request only by API-key clients. With the memory
//! backend API keys cannot come from the CLI at all (another process), so
//! this path is never hot.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::lock;
use crate::store::{ApiKeyRecord, TotpRecord};

#[derive(Debug, Default)]
struct ApiKeys {
    by_hash: HashMap<String, ApiKeyRecord>,
    /// name → key hash.
    by_name: HashMap<String, String>,
}

impl ApiKeys {
    /// The live record under `hash`; an expired one is removed on the way.
    fn live(&mut self, hash: &str, now: i64) -> Option<&mut ApiKeyRecord> {
        if self
            .by_hash
            .get(hash)
            .is_some_and(|r| r.expires_at.is_some_and(|e| e <= now))
        {
            if let Some(r) = self.by_hash.remove(hash) {
                self.by_name.remove(&r.name);
            }
        }
        self.by_hash.get_mut(hash)
    }
}

#[derive(Debug)]
struct TotpEntry {
    secret: String,
    active: bool,
    last_step: i64,
    backup: HashSet<String>,
    /// Pending enrolments lapse; active ones do not.
    pending_until: Option<Instant>,
}

impl TotpEntry {
    fn lapsed(&self, now: Instant) -> bool {
        self.pending_until.is_some_and(|t| t <= now)
    }
}

#[derive(Debug, Default)]
pub(super) struct Accounts {
    api_keys: Mutex<ApiKeys>,
    locked: Mutex<HashSet<String>>,
    totp: Mutex<HashMap<String, TotpEntry>>,
}

impl Accounts {
    pub fn create_api_key(&self, hash: &str, rec: &ApiKeyRecord, now: i64) -> bool {
        let mut keys = lock(&self.api_keys);
        if let Some(old) = keys.by_name.get(&rec.name).cloned() {
            if keys.live(&old, now).is_some() {
                return false;
            }
        }
        keys.by_hash.insert(hash.to_string(), rec.clone());
        keys.by_name.insert(rec.name.clone(), hash.to_string());
        true
    }

    pub fn use_api_key(&self, hash: &str, now: i64, touch_every: Duration) -> Option<ApiKeyRecord> {
        let mut keys = lock(&self.api_keys);
        let rec = keys.live(hash, now)?;
        let every = i64::try_from(touch_every.as_secs()).unwrap_or(i64::MAX);
        if rec.last_used.is_none_or(|t| now.saturating_sub(t) >= every) {
            rec.last_used = Some(now);
        }
        Some(rec.clone())
    }

    pub fn list_api_keys(&self, now: i64) -> Vec<ApiKeyRecord> {
        let mut keys = lock(&self.api_keys);
        let hashes: Vec<String> = keys.by_name.values().cloned().collect();
        let mut out: Vec<ApiKeyRecord> = hashes
            .iter()
            .filter_map(|h| keys.live(h, now).map(|r| r.clone()))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    pub fn revoke_api_key(&self, name: &str, now: i64) -> bool {
        let mut keys = lock(&self.api_keys);
        let Some(hash) = keys.by_name.get(name).cloned() else {
            return false;
        };
        let live = keys.live(&hash, now).is_some();
        keys.by_name.remove(name);
        keys.by_hash.remove(&hash);
        live
    }

    pub fn set_locked(&self, user_id: &str, locked: bool) -> bool {
        let mut set = lock(&self.locked);
        if locked {
            !set.insert(user_id.to_string())
        } else {
            set.remove(user_id)
        }
    }

    pub fn is_locked(&self, user_id: &str) -> bool {
        lock(&self.locked).contains(user_id)
    }

    pub fn begin_totp(&self, user_id: &str, secret: &str, ttl: Duration) -> bool {
        let now = Instant::now();
        let mut map = lock(&self.totp);
        if map.get(user_id).is_some_and(|e| e.active && !e.lapsed(now)) {
            return false;
        }
        let entry = TotpEntry {
            secret: secret.to_string(),
            active: false,
            last_step: 0,
            backup: HashSet::new(),
            pending_until: Some(now.checked_add(ttl).unwrap_or(now)),
        };
        map.insert(user_id.to_string(), entry);
        true
    }

    pub fn get_totp(&self, user_id: &str) -> Option<TotpRecord> {
        let now = Instant::now();
        let mut map = lock(&self.totp);
        if map.get(user_id).is_some_and(|e| e.lapsed(now)) {
            map.remove(user_id);
        }
        map.get(user_id).map(|e| TotpRecord {
            secret: e.secret.clone(),
            active: e.active,
            last_step: e.last_step,
            backup_codes_left: e.backup.len(),
        })
    }

    pub fn activate_totp(
        &self,
        user_id: &str,
        secret: &str,
        step: i64,
        backups: &[String],
    ) -> bool {
        let now = Instant::now();
        let mut map = lock(&self.totp);
        let Some(e) = map.get_mut(user_id) else {
            return false;
        };
        if e.active || e.lapsed(now) || e.secret != secret {
            return false;
        }
        e.active = true;
        e.last_step = step;
        e.backup = backups.iter().cloned().collect();
        e.pending_until = None;
        true
    }

    pub fn use_totp_step(&self, user_id: &str, step: i64) -> bool {
        let mut map = lock(&self.totp);
        match map.get_mut(user_id) {
            Some(e) if e.active && step > e.last_step => {
                e.last_step = step;
                true
            }
            _ => false,
        }
    }

    pub fn use_backup_code(&self, user_id: &str, code_hash: &str) -> bool {
        let mut map = lock(&self.totp);
        map.get_mut(user_id)
            .is_some_and(|e| e.active && e.backup.remove(code_hash))
    }

    pub fn delete_totp(&self, user_id: &str) -> bool {
        let now = Instant::now();
        lock(&self.totp)
            .remove(user_id)
            .is_some_and(|e| !e.lapsed(now))
    }
}
