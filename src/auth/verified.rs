//! A cache of access tokens whose signature and claims have been verified.
//!
//! A signature over an exact token string never stops being valid, so a
//! token seen before need not be verified again (an Ed25519 or RSA check
//! costs tens of microseconds, more than the rest of the request). Only the
//! time checks (`exp`, `nbf`) are repeated on every use, and the session the
//! token names is still looked up in the store on every request, so logout
//! and revocation keep taking effect at once. Keyed by the whole token, so no
//! other string can hit an entry.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

use crate::auth::tokens::AccessClaims;

/// Shards, so the proxy's threads rarely wait on one another.
const SHARDS: usize = 16;
/// Entries per shard before it is emptied (a crude but bounded eviction).
const SHARD_CAPACITY: usize = 1024;

type Shard = Mutex<HashMap<Box<str>, Arc<AccessClaims>>>;

pub struct VerifiedTokens {
    shards: Vec<Shard>,
    hasher: RandomState,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        VerifiedTokens {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl VerifiedTokens {
    fn shard(&self, token: &str) -> &Shard {
        let i = self.hasher.hash_one(token) as usize % SHARDS;
        &self.shards[i]
    }

    /// The claims of a token verified before, if any.
    pub fn get(&self, token: &str) -> Option<Arc<AccessClaims>> {
        self.shard(token).lock().ok()?.get(token).cloned()
    }

    /// Remember a token that has just passed full verification.
    pub fn insert(&self, token: &str, claims: Arc<AccessClaims>) {
        if let Ok(mut shard) = self.shard(token).lock() {
            if shard.len() >= SHARD_CAPACITY {
                shard.clear();
            }
            shard.insert(token.into(), claims);
        }
    }

    /// Forget a token (expired).
    pub fn remove(&self, token: &str) {
        if let Ok(mut shard) = self.shard(token).lock() {
            shard.remove(token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sid: &str) -> Arc<AccessClaims> {
        Arc::new(AccessClaims {
            iss: "i".into(),
            aud: "a".into(),
            sub: "s".into(),
            email: String::new(),
            roles: vec![],
            sid: sid.into(),
            jti: "j".into(),
            iat: 0,
            exp: 10,
            nbf: None,
        })
    }

    #[test]
    fn exact_token_only_and_bounded() {
        let c = VerifiedTokens::default();
        c.insert("a.b.c", claims("1"));
        assert_eq!(c.get("a.b.c").map(|x| x.sid.clone()), Some("1".into()));
        assert!(c.get("a.b.c ").is_none());
        assert!(c.get("a.b.C").is_none());
        c.remove("a.b.c");
        assert!(c.get("a.b.c").is_none());
        for i in 0..(SHARDS * SHARD_CAPACITY * 2) {
            c.insert(&format!("t{i}"), claims("x"));
        }
        let total: usize = c.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(total <= SHARDS * SHARD_CAPACITY);
    }
}
