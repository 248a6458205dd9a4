//! The memory backend's self-service records: self-set passwords (no TTL,
//! like TOTP) and the per-user sign-in history (bounded, with a TTL).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::lock;
use crate::store::ttl_map::TtlMap;
use crate::store::{LoginEvent, PasswordRecord};

#[derive(Debug, Default)]
pub(super) struct SelfService {
    passwords: Mutex<HashMap<String, PasswordRecord>>,
    /// user id → events, newest first.
    history: TtlMap<String, VecDeque<LoginEvent>>,
}

impl SelfService {
    pub fn set_password(&self, user_id: &str, rec: &PasswordRecord) {
        lock(&self.passwords).insert(user_id.to_owned(), rec.clone());
    }

    pub fn get_password(&self, user_id: &str) -> Option<PasswordRecord> {
        lock(&self.passwords).get(user_id).cloned()
    }

    pub fn push_login(&self, user_id: &str, event: &LoginEvent, keep: usize, ttl: Duration) {
        let now = Instant::now();
        let mut shard = self.history.lock(user_id);
        match shard.live(user_id, now) {
            Some(e) => {
                e.value.push_front(event.clone());
                e.value.truncate(keep);
                e.deadline = now + ttl;
            }
            None => {
                let mut list = VecDeque::from([event.clone()]);
                list.truncate(keep);
                shard.insert(user_id.to_owned(), list, now + ttl, now);
            }
        }
    }

    pub fn login_history(&self, user_id: &str, limit: usize) -> Vec<LoginEvent> {
        let now = Instant::now();
        self.history
            .lock(user_id)
            .live(user_id, now)
            .map(|e| e.value.iter().take(limit).cloned().collect())
            .unwrap_or_default()
    }
}
