//! The embedded in-memory store: the same semantics as Redis, in one process.
//!
//! Every entry carries a monotonic deadline (its TTL), in `store::ttl_map`:
//! expired entries are dropped when read and swept as new ones come, so
//! memory tracks the live set.
//!
//! Locking: sessions, user indexes, rate limits and login failures live in
//! sharded `Mutex<HashMap>`s, so the per-request `touch_session` and
//! `rate_limit` only ever contend on one of `ttl_map::SHARDS` locks, each held for a
//! few map operations. Refresh tokens sit behind one lock: rotation is rare
//! (once per access-token lifetime) and must be atomic (SPEC §5). Lock order,
//! to rule out deadlocks: refresh → user → session; `touch_session` takes only
//! a session shard. API keys, user locks and TOTP live in `accounts`, each
//! behind its own lock, never held together with another.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{
    gcra, session_ttl, unix_now, AccountStore, ApiKeyRecord, ApiKeyStore, GcraRule, LimitDecision,
    LimitStore, LoginEvent, PasswordRecord, RefreshRecord, RefreshStore, RotateOutcome,
    SelfServiceStore, SessionRecord, SessionStore, Store, StoreError, TotpRecord,
};

use super::ttl_map::{lock, Shard, TtlMap};

mod accounts;
mod oidc;
mod self_service;

/// A refresh token and, once rotated, what the grace window answers.
#[derive(Debug, Clone)]
struct RefreshEntry {
    rec: RefreshRecord,
    rotated: Option<Rotation>,
}

#[derive(Debug, Clone)]
struct Rotation {
    /// Unix seconds (the caller's clock, as on Redis).
    at: i64,
    successor: RefreshRecord,
    sealed_successor: String,
}

/// The embedded store (`[store] backend = "memory"`).
#[derive(Debug)]
pub struct MemoryStore {
    /// Shared with the requests that looked them up (`touch_session`).
    sessions: TtlMap<String, Arc<SessionRecord>>,
    /// user id → sids; pruned of dead sids on create, list and delete.
    users: TtlMap<String, HashSet<String>>,
    refresh: Mutex<Shard<String, RefreshEntry>>,
    /// GCRA theoretical arrival times, µs on `clock`.
    limits: TtlMap<String, i64>,
    failures: TtlMap<String, u32>,
    /// API keys, admin locks, TOTP: the long-lived records.
    accounts: accounts::Accounts,
    /// OIDC pending logins, one-time markers and provider-session indexes.
    oidc: oidc::OidcState,
    /// Self-set passwords and sign-in histories.
    self_service: self_service::SelfService,
    /// Origin of the monotonic µs clock used for GCRA.
    clock: Instant,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore {
            sessions: TtlMap::default(),
            users: TtlMap::default(),
            refresh: Mutex::new(Shard::default()),
            limits: TtlMap::default(),
            failures: TtlMap::default(),
            accounts: accounts::Accounts::default(),
            oidc: oidc::OidcState::default(),
            self_service: self_service::SelfService::default(),
            clock: Instant::now(),
        }
    }

    fn clock_us(&self, at: Instant) -> i64 {
        i64::try_from(at.duration_since(self.clock).as_micros()).unwrap_or(i64::MAX)
    }

    fn session_live(&self, sid: &str, now: Instant) -> bool {
        self.sessions.lock(sid).live(sid, now).is_some()
    }

    /// Remove a session and its user-index membership; whether it was live.
    fn remove_session(&self, sid: &str, now: Instant) -> bool {
        let Some(rec) = self.sessions.lock(sid).remove(sid, now) else {
            return false;
        };
        let mut users = self.users.lock(&rec.user_id);
        if let Some(set) = users.live(&rec.user_id, now) {
            set.value.remove(sid);
        }
        true
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl SelfServiceStore for MemoryStore {
    async fn set_password(&self, user_id: &str, rec: &PasswordRecord) -> Result<(), StoreError> {
        self.self_service.set_password(user_id, rec);
        Ok(())
    }
    async fn get_password(&self, user_id: &str) -> Result<Option<PasswordRecord>, StoreError> {
        Ok(self.self_service.get_password(user_id))
    }
    async fn push_login(
        &self,
        user_id: &str,
        event: &LoginEvent,
        keep: usize,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.self_service.push_login(user_id, event, keep, ttl);
        Ok(())
    }
    async fn login_history(
        &self,
        user_id: &str,
        limit: usize,
    ) -> Result<Vec<LoginEvent>, StoreError> {
        Ok(self.self_service.login_history(user_id, limit))
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(&self, s: &SessionRecord, idle: Duration) -> Result<(), StoreError> {
        let unix = unix_now();
        let Some(ttl) = session_ttl(idle, s.expires_at, unix) else {
            return Ok(()); // already past its absolute timeout: nothing to keep
        };
        let now = Instant::now();
        // The index lives as long as the longest possible session of the user.
        let index_deadline = now + Duration::from_secs((s.expires_at - unix).max(0) as u64);
        let mut users = self.users.lock(&s.user_id);
        match users.live(&s.user_id, now) {
            Some(e) => {
                e.value.retain(|sid| self.session_live(sid, now));
                e.value.insert(s.sid.clone());
                e.deadline = e.deadline.max(index_deadline);
            }
            None => {
                let set = HashSet::from([s.sid.clone()]);
                users.insert(s.user_id.clone(), set, index_deadline, now);
            }
        }
        self.sessions
            .lock(&s.sid)
            .insert(s.sid.clone(), Arc::new(s.clone()), now + ttl, now);
        Ok(())
    }
    async fn touch_session(
        &self,
        sid: &str,
        now: i64,
        idle: Duration,
    ) -> Result<Option<Arc<SessionRecord>>, StoreError> {
        let at = Instant::now();
        let mut shard = self.sessions.lock(sid);
        let Some(e) = shard.live(sid, at) else {
            return Ok(None);
        };
        let Some(ttl) = session_ttl(idle, e.value.expires_at, now) else {
            shard.remove(sid, at); // past the absolute timeout
            return Ok(None);
        };
        // In place unless a request still holds the record: then a copy.
        Arc::make_mut(&mut e.value).last_seen = now;
        e.deadline = at + ttl;
        Ok(Some(e.value.clone()))
    }
    async fn get_session(&self, sid: &str) -> Result<Option<SessionRecord>, StoreError> {
        let now = Instant::now();
        Ok(self
            .sessions
            .lock(sid)
            .live(sid, now)
            .map(|e| SessionRecord::clone(&e.value)))
    }
    async fn delete_session(&self, sid: &str) -> Result<bool, StoreError> {
        Ok(self.remove_session(sid, Instant::now()))
    }
    async fn list_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let now = Instant::now();
        let mut users = self.users.lock(user_id);
        let Some(e) = users.live(user_id, now) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        e.value
            .retain(|sid| match self.sessions.lock(sid).live(sid, now) {
                Some(s) => {
                    out.push(SessionRecord::clone(&s.value));
                    true
                }
                None => false,
            });
        if e.value.is_empty() {
            users.remove(user_id, now);
        }
        out.sort_by(|a, b| (a.created, &a.sid).cmp(&(b.created, &b.sid)));
        Ok(out)
    }
    async fn delete_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
        let now = Instant::now();
        let mut users = self.users.lock(user_id);
        let sids = users.remove(user_id, now).unwrap_or_default();
        Ok(sids
            .iter()
            .filter(|sid| self.sessions.lock(sid).remove(sid.as_str(), now).is_some())
            .count())
    }
}

#[async_trait]
impl RefreshStore for MemoryStore {
    async fn put_refresh(
        &self,
        token_hash: &str,
        rec: &RefreshRecord,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = Instant::now();
        let entry = RefreshEntry {
            rec: rec.clone(),
            rotated: None,
        };
        lock(&self.refresh).insert(token_hash.to_string(), entry, now + ttl, now);
        Ok(())
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
        let at = Instant::now();
        // One lock over the whole decision: N concurrent calls rotate once.
        let mut tokens = lock(&self.refresh);
        let Some(old) = tokens.live(old_hash, at) else {
            return Ok(RotateOutcome::Invalid);
        };
        let family = old.value.rec.clone();
        match old.value.rotated.clone() {
            Some(r) if in_grace(now, r.at, grace) => {
                if !self.session_live(&family.sid, at) {
                    return Ok(RotateOutcome::Invalid);
                }
                Ok(RotateOutcome::Grace {
                    record: r.successor,
                    sealed_successor: r.sealed_successor,
                })
            }
            Some(_) => {
                // Reuse after the grace window: assume theft, end the family.
                self.remove_session(&family.sid, at);
                Ok(RotateOutcome::Reused {
                    sid: family.sid,
                    user_id: family.user_id,
                })
            }
            None => {
                if !self.session_live(&family.sid, at) {
                    // Logged out or revoked: the family ended with its session.
                    tokens.remove(old_hash, at);
                    return Ok(RotateOutcome::Invalid);
                }
                let successor = RefreshRecord {
                    expires_at: now.saturating_add(secs(new_ttl)),
                    ..family
                };
                old.value.rotated = Some(Rotation {
                    at: now,
                    successor: successor.clone(),
                    sealed_successor: sealed_successor.to_string(),
                });
                let entry = RefreshEntry {
                    rec: successor.clone(),
                    rotated: None,
                };
                tokens.insert(new_hash.to_string(), entry, at + new_ttl, at);
                Ok(RotateOutcome::Rotated(successor))
            }
        }
    }
}

#[async_trait]
impl LimitStore for MemoryStore {
    async fn rate_limit(&self, key: &str, rule: &GcraRule) -> Result<LimitDecision, StoreError> {
        let at = Instant::now();
        let now = self.clock_us(at);
        let mut shard = self.limits.lock(key);
        let tat = shard.live(key, at).map(|e| e.value);
        let (decision, new_tat) = gcra::step(tat, now, rule);
        if let Some(t) = new_tat {
            // Kept until the budget is full again; after that it equals absence.
            let deadline = self.clock + Duration::from_micros(t.max(0) as u64);
            shard.insert(key.to_string(), t, deadline, at);
        }
        Ok(decision)
    }
    async fn login_failures(&self, key: &str) -> Result<u32, StoreError> {
        let now = Instant::now();
        Ok(self
            .failures
            .lock(key)
            .live(key, now)
            .map_or(0, |e| e.value))
    }
    async fn record_login_failure(&self, key: &str, window: Duration) -> Result<u32, StoreError> {
        let now = Instant::now();
        let mut shard = self.failures.lock(key);
        let count = shard
            .live(key, now)
            .map_or(0, |e| e.value)
            .saturating_add(1);
        shard.insert(key.to_string(), count, now + window, now);
        Ok(count)
    }
    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        self.failures.lock(key).remove(key, Instant::now());
        Ok(())
    }
    async fn login_failures_left(&self, key: &str) -> Result<Option<Duration>, StoreError> {
        let now = Instant::now();
        Ok(self
            .failures
            .lock(key)
            .live(key, now)
            .map(|e| e.deadline.saturating_duration_since(now)))
    }
}

#[async_trait]
impl ApiKeyStore for MemoryStore {
    async fn create_api_key(&self, key_hash: &str, rec: &ApiKeyRecord) -> Result<bool, StoreError> {
        Ok(self.accounts.create_api_key(key_hash, rec, unix_now()))
    }
    async fn use_api_key(
        &self,
        key_hash: &str,
        now: i64,
        touch_every: Duration,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self.accounts.use_api_key(key_hash, now, touch_every))
    }
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        Ok(self.accounts.list_api_keys(unix_now()))
    }
    async fn revoke_api_key(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.accounts.revoke_api_key(name, unix_now()))
    }
}

#[async_trait]
impl AccountStore for MemoryStore {
    async fn lock_user(&self, user_id: &str) -> Result<usize, StoreError> {
        // Flag first: a login that checks after this point is refused.
        self.accounts.set_locked(user_id, true);
        self.delete_user_sessions(user_id).await
    }
    async fn unlock_user(&self, user_id: &str) -> Result<bool, StoreError> {
        Ok(self.accounts.set_locked(user_id, false))
    }
    async fn user_locked(&self, user_id: &str) -> Result<bool, StoreError> {
        Ok(self.accounts.is_locked(user_id))
    }
    async fn begin_totp(
        &self,
        user_id: &str,
        secret: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        Ok(self.accounts.begin_totp(user_id, secret, ttl))
    }
    async fn get_totp(&self, user_id: &str) -> Result<Option<TotpRecord>, StoreError> {
        Ok(self.accounts.get_totp(user_id))
    }
    async fn activate_totp(
        &self,
        user_id: &str,
        secret: &str,
        step: i64,
        backup_hashes: &[String],
    ) -> Result<bool, StoreError> {
        Ok(self
            .accounts
            .activate_totp(user_id, secret, step, backup_hashes))
    }
    async fn use_totp_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError> {
        Ok(self.accounts.use_totp_step(user_id, step))
    }
    async fn use_backup_code(&self, user_id: &str, code_hash: &str) -> Result<bool, StoreError> {
        Ok(self.accounts.use_backup_code(user_id, code_hash))
    }
    async fn delete_totp(&self, user_id: &str) -> Result<bool, StoreError> {
        Ok(self.accounts.delete_totp(user_id))
    }
}

pub(crate) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Whether a rotation at `rotated_at` is less than `grace` before `now`
/// (the same comparison as `refresh_rotate.lua`). A zero grace turns it off.
pub(crate) fn in_grace(now: i64, rotated_at: i64, grace: Duration) -> bool {
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    grace_ms > 0 && now.saturating_sub(rotated_at).saturating_mul(1000) < grace_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_window_table() {
        let g = Duration::from_secs(10);
        let cases = [
            (100, 100, g, true),
            (109, 100, g, true),
            (110, 100, g, false),
            (500, 100, g, false),
            (100, 100, Duration::ZERO, false),
            (99, 100, Duration::ZERO, false),
            (100, 100, Duration::from_millis(500), true),
            (101, 100, Duration::from_millis(500), false),
        ];
        for (now, at, grace, want) in cases {
            assert_eq!(
                in_grace(now, at, grace),
                want,
                "now={now} at={at} grace={grace:?}"
            );
        }
    }
}
